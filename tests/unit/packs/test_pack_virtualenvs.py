"""Pack virtualenvs for real (one made per test module): pip installs a pack's requirements offline from
a wheel directory built by the test, reached through [actionrunner] pip_opts (StackStorm's st2#5910: its
`-i URL` items reached pip as one argument) or through the environment (packs.install's `env`); a
requirement missing from the mirror is one line naming it; StackStorm's modules import in the virtualenv."""

from __future__ import annotations

import os
import subprocess

import pytest

from appliance import config
from appliance.pack_env import COMPAT_PATH
from appliance.packs import PackError, virtualenvs
from appliance.packs.virtualenvs import PTH_FILE, VirtualenvSettings
from tests.support.pack_repos import build_wheel, write_pack


@pytest.fixture(autouse=True)
def no_pip_settings(monkeypatch):
    """Only what a test gives reaches pip: not the PIP_* of whoever runs the tests."""
    for name in list(os.environ):
        if name.startswith("PIP_"):
            monkeypatch.delenv(name)


def run_python(venv: str, code: str) -> str:
    done = subprocess.run([os.path.join(venv, "bin", "python"), "-c", code], capture_output=True, text=True,
                          env={"PATH": os.environ["PATH"]}, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_requirements_from_an_offline_mirror_by_pip_opts_and_by_env(tmp_path):
    wheels = str(tmp_path / "py_repo")
    build_wheel(wheels, "pkv_first", source="VALUE = 1\n")
    build_wheel(wheels, "pkv_second", source="VALUE = 2\n")
    pack = str(tmp_path / "packs" / "pkv")
    write_pack(pack, "pkv", "1.0.0", {"requirements.txt": "pkv_first\n"})
    conf = tmp_path / "st2.conf"
    conf.write_text(f"[system]\nbase_path = {tmp_path}\n[actionrunner]\npip_opts = --no-index,--find-links {wheels}\n")
    settings = VirtualenvSettings.from_config(config.load(str(conf)))
    assert settings.pip_opts == ("--no-index", "--find-links", wheels)
    logged = []

    venv = virtualenvs.setup("pkv", pack, settings, log=logged.append)
    assert venv == str(tmp_path / "virtualenvs" / "pkv")
    assert run_python(venv, "import pkv_first, st2common.runners.base_action, sys; print(pkv_first.VALUE, "
                            "sys.prefix)") == f"1 {venv}"
    with open(os.path.join(virtualenvs.site_packages(venv), PTH_FILE), encoding="utf-8") as handle:
        assert COMPAT_PATH in handle.read().splitlines()
    assert any("--find-links" in line for line in logged)

    plain = VirtualenvSettings(root=settings.root)  # no pip_opts: the environment names the mirror
    second = tmp_path / "second.txt"
    second.write_text("pkv_second\n")
    with pytest.raises(PackError):  # no index reachable without the mirror (PIP_NO_INDEX: nothing is fetched)
        virtualenvs.install_requirements(venv, str(second), plain, env={"PIP_NO_INDEX": "yes"})
    virtualenvs.install_requirements(venv, str(second), plain,
                                     env={"PIP_NO_INDEX": "yes", "PIP_FIND_LINKS": f"file://{wheels}"})
    assert run_python(venv, "import pkv_second; print(pkv_second.VALUE)") == "2"

    missing = tmp_path / "missing.txt"
    missing.write_text("pkv_first\nnot-in-the-mirror==1.0\n")
    with pytest.raises(PackError) as caught:
        virtualenvs.install_requirements(venv, str(missing), settings)
    assert str(caught.value) == (f'Failed to install requirements from "{missing}": No matching distribution found '
                                 "for not-in-the-mirror==1.0")

    again = virtualenvs.setup("pkv", pack, settings, update=True)  # update: installs into the same one
    assert again == venv and run_python(venv, "import pkv_second") == ""


def test_pip_failures_in_one_line():
    assert virtualenvs.pip_problem("ERROR: Could not find a version that satisfies the requirement x (from versions: "
                                   "none)\nERROR: No matching distribution found for x\n") == \
        "No matching distribution found for x"
    assert virtualenvs.pip_problem("Processing ...\nERROR: Invalid requirement: '!!'\n") == "Invalid requirement: '!!'"
    assert virtualenvs.pip_problem("\nno such option: --bad\n") == "no such option: --bad"


def test_options_and_names(tmp_path):
    conf = tmp_path / "st2.conf"
    conf.write_text("[actionrunner]\npip_opts = -i https://mirror.example/simple,--no-cache-dir "
                    "--trusted-host=mirror.example\n[content]\nindex_url = file:///srv/index.json\n")
    loaded = config.load(str(conf))
    assert loaded.get("actionrunner", "pip_opts") == ["-i", "https://mirror.example/simple", "--no-cache-dir",
                                                      "--trusted-host=mirror.example"]
    assert loaded.get("actionrunner", "virtualenv_opts") == ["--system-site-packages"]
    assert loaded.get("content", "index_url") == ["file:///srv/index.json"]
    conf.write_text("[content]\nindex_url = ftp://x/index.json\n")
    with pytest.raises(config.ConfigError, match=r"\[content\] index_url: 'ftp://x/index.json' is not a file://"):
        config.load(str(conf))
    settings = VirtualenvSettings(root=str(tmp_path))
    for bad in ("../x", "Core", "_global", ""):
        with pytest.raises(PackError):
            settings.path_of(bad)
    with pytest.raises(PackError, match="Python binary .* doesn't exist"):
        virtualenvs.create(str(tmp_path / "v"), VirtualenvSettings(root=str(tmp_path), python_binary="/nope/python"))
