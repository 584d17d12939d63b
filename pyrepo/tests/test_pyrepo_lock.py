"""pyrepo lock: real pip-compile, and the lock keeps none of this machine's index settings."""

from __future__ import annotations

import os
import sys

from pyrepo_testlib import assert_one_error_line, make_wheel, run_cli, sha256

from pyrepo.cli import tools_dir
from pyrepo.lock import tool_python
from pyrepo.lockfile import read_lock

NAME = "pyrepo-test-tinydep-q7"  # a name no index has, so only the find-links wheel can satisfy it


def test_lock_pins_with_hashes_and_no_index_options(tmp_path):
    """The pip config may hold find-links and extra index URLs; pip-compile must not copy them into the lock."""
    wheels = tmp_path / "wheels"
    wheel = make_wheel(wheels, NAME, "1.2")
    requirements = tmp_path / "site.in"
    requirements.write_text(f"{NAME}>=1\n")
    config = tmp_path / "pip.conf"
    config.write_text(f"[global]\nfind-links = {wheels}\nextra-index-url = {(tmp_path / 'simple').as_uri()}\n")
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    tool_python(sys.executable, version, tools_dir())  # set up pip-tools with this machine's own pip settings
    env = dict(os.environ, PIP_CONFIG_FILE=str(config), PIP_FIND_LINKS=str(wheels), PIP_NO_INDEX="1")
    result = run_cli("lock", "--python", sys.executable, "--input", requirements, "--locks-dir", tmp_path / "locks",
                     env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    lock = tmp_path / "locks" / f"py{version}.txt"
    text = lock.read_text()
    for needle in ("--find-links", "--index-url", "--extra-index-url", "--trusted-host", "--no-index", str(wheels),
                   "file://"):
        assert needle not in text
    (pin,) = read_lock(lock)
    assert (pin.name, pin.version, pin.hashes) == (NAME, "1.2", frozenset({sha256(wheel)}))
    assert "pyrepo lock" in text  # how to regenerate it


def test_lock_bad_input(tmp_path):
    assert_one_error_line(run_cli("lock", "--python", sys.executable, "--input", tmp_path / "missing.in",
                                  "--locks-dir", tmp_path), "requirements file not found")
    assert_one_error_line(run_cli("lock", "--python", "2.5", "--input", tmp_path / "x.in"), "no Python 2.5")
