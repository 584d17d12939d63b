"""appliance.st2client_compat: st2client 3.9.0's interactive questions (`st2 pack config`, `st2 inquiry
respond` without -r) on the prompt_toolkit 3 it pins, which refuses their get_bottom_toolbar_tokens."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig

import pytest

from appliance import st2client_compat

QUESTION = """
import appliance.st2client_compat as compat
compat.install()
from prompt_toolkit.application import create_app_session
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from pygments import token
import st2client.utils.interactive as interactive
assert interactive.prompt.__st2_appliance__
with create_pipe_input() as keys, create_app_session(input=keys, output=DummyOutput()):
    keys.send_text("eu-west\\r")
    answer = interactive.prompt("region: ", is_password=False,
                                get_bottom_toolbar_tokens=lambda cli: [(token.Token.Toolbar, "Region")])
print(answer)
"""


def test_the_cli_prompt_takes_its_toolbar_once_installed():
    """The released CLI module, imported after install(), asks its question with a description."""
    pytest.importorskip("st2client")
    done = subprocess.run([sys.executable, "-c", QUESTION], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "eu-west"


def test_the_toolbar_tokens_become_prompt_toolkit_3s_bottom_toolbar():
    seen = {}

    def prompt(message, **options):
        seen.update(options, message=message)
        return "answer"

    wrapped = st2client_compat.compatible(prompt)
    assert wrapped("q: ", is_password=True, get_bottom_toolbar_tokens=lambda cli: [("tok", "A "), ("tok", "hint")]) \
        == "answer"
    assert seen == {"message": "q: ", "is_password": True, "bottom_toolbar": "A hint"}
    assert st2client_compat.compatible(wrapped) is not None

    def old_prompt(message, get_bottom_toolbar_tokens=None):
        return message

    assert st2client_compat.compatible(old_prompt) is old_prompt  # prompt_toolkit 1 needs nothing


def test_the_pth_file_is_written_where_asked(tmp_path):
    path = st2client_compat.write_pth(str(tmp_path))
    with open(path, encoding="utf-8") as handle:
        assert handle.read() == st2client_compat.PTH_LINE
    assert os.path.basename(path) == st2client_compat.PTH_NAME


def test_this_virtualenv_has_it():
    """`make install` writes it; without it `st2 pack config` fails in the end-to-end tests."""
    pytest.importorskip("st2client")
    assert os.path.exists(os.path.join(sysconfig.get_paths()["purelib"], st2client_compat.PTH_NAME)), \
        "run `make install` (or python -m appliance.st2client_compat) in this virtualenv"
