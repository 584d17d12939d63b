"""Installing packs offline with the real st2 CLI, on both wirings: the sites' handbook command (`st2 run
packs.install packs=file:///<git repo> env='{"PIP_NO_INDEX": ..., "PIP_FIND_LINKS": ...}'`) for a pack with a
Python requirement from a wheel directory built here, its action then running in the pack's virtualenv;
`st2 pack install` at a tag, then at another to upgrade; `st2 pack remove`; and bad input, each a clear
error leaving nothing half-installed (a failed upgrade keeps the previous version)."""

from __future__ import annotations

import os

import pytest
from e2e_harness import actions_of, ok, probe, refused, registered

from tests.support.pack_repos import PackRepo, build_wheel, offline_env, probe_action, write_pack

pytestmark = pytest.mark.e2e

INSTALL_TIMEOUT = 240.0  # a virtualenv, pip from a local directory, registration: well under a minute


def test_packs_install_from_git_with_an_offline_mirror_runs_the_action_in_its_virtualenv(appliance, tmp_path):
    wheels = str(tmp_path / "py_repo")
    build_wheel(wheels, "pkvenv_dep", source="VALUE = 'from the mirror'\n")
    repo = PackRepo(str(tmp_path / "pkvenv"), "pkvenv")
    repo.commit("1.0.0", {**probe_action("pkvenv_dep"),
                          "requirements.txt": "pkvenv_dep\n"})

    done = appliance.st2("run", "packs.install", f"packs={repo.url}", f"env={offline_env(wheels)}", "-j",
                         timeout=INSTALL_TIMEOUT)
    assert done.returncode == 0, done.stdout + done.stderr + appliance.log_tail()
    assert '"status": "succeeded"' in done.stdout, done.stdout
    assert '"packs_list": [\n' in done.stdout and '"pkvenv"' in done.stdout, done.stdout

    venv = os.path.join(appliance.base, "virtualenvs", "pkvenv")
    assert probe(appliance, "pkvenv") == {"value": "from the mirror", "prefix": venv}
    assert registered(appliance, "pkvenv")["version"] == "1.0.0"


def test_pack_install_at_a_tag_then_another_upgrades_and_remove_removes_everything(appliance, tmp_path):
    repo = PackRepo(str(tmp_path / "pkrefs"), "pkrefs")
    one = {"actions/first.yaml": "name: first\nrunner_type: local-shell-cmd\nparameters:\n  cmd:\n"
                                 "    default: echo one\n"}
    repo.commit("1.0.0", one)
    repo.commit("2.0.0", {"actions/first.yaml": None, "actions/second.yaml": "name: second\nrunner_type: "
                          "local-shell-cmd\nparameters:\n  cmd:\n    default: echo two\n"})

    text = ok(appliance.st2("pack", "install", f"{repo.url}=1.0.0", timeout=INSTALL_TIMEOUT))
    assert "pkrefs" in text and "1.0.0" in text, text
    for stage in ("download_pack", "install_pack_requirements", "register_pack"):  # the CLI's progress lines
        assert stage in text, text
    assert actions_of(appliance, "pkrefs") == {"first"}

    text = ok(appliance.st2("pack", "install", f"{repo.url}=2.0.0", timeout=INSTALL_TIMEOUT))
    assert "2.0.0" in text, text
    assert registered(appliance, "pkrefs")["version"] == "2.0.0"
    assert actions_of(appliance, "pkrefs") == {"second"}  # the old version's action went with it
    assert not os.path.exists(os.path.join(appliance.packs, ".st2-install", "pkrefs"))  # nothing kept aside

    text = ok(appliance.st2("pack", "remove", "pkrefs", timeout=INSTALL_TIMEOUT))
    assert "pkrefs" in text, text
    assert registered(appliance, "pkrefs") is None and actions_of(appliance, "pkrefs") == set()
    assert not os.path.exists(os.path.join(appliance.packs, "pkrefs"))
    assert not os.path.exists(os.path.join(appliance.base, "virtualenvs", "pkrefs"))


def test_bad_sources_are_clear_errors_and_install_nothing(appliance, tmp_path):
    repo = PackRepo(str(tmp_path / "pkbad"), "pkbad")
    repo.commit("1.0.0")
    write_pack(str(tmp_path / "noyaml"), "pkbad", "1.0.0")
    os.unlink(str(tmp_path / "noyaml" / "pack.yaml"))
    write_pack(str(tmp_path / "badyaml"), "pkbad", "1.0.0")
    (tmp_path / "badyaml" / "pack.yaml").write_text("name: pkbad\nversion: [1.0\n")
    cases = {
        f"{repo.url}=7.7.7": f'"7.7.7" is not a valid version, hash, tag or branch in {repo.url}. '
                             "Available versions are: 1.0.0.",
        f"file://{tmp_path}/nowhere": f'Local pack directory "{tmp_path}/nowhere" doesn\'t exist',
        f"file://{tmp_path}/noyaml": "is missing pack.yaml file",
        f"file://{tmp_path}/badyaml": "has an invalid pack.yaml",
    }
    for spec, message in cases.items():
        text = refused(appliance.st2("pack", "install", spec, timeout=INSTALL_TIMEOUT))
        assert message in text, (spec, text)
    assert registered(appliance, "pkbad") is None
    for leftover in (os.path.join(appliance.packs, "pkbad"), os.path.join(appliance.packs, ".st2-install", "pkbad"),
                     os.path.join(appliance.base, "virtualenvs", "pkbad")):
        assert not os.path.exists(leftover), leftover
    text = refused(appliance.st2("pack", "search", "anything"))
    assert "No pack index is configured" in text, text


def test_a_requirement_missing_from_the_mirror_keeps_the_previous_version(appliance, tmp_path):
    wheels = str(tmp_path / "py_repo")
    build_wheel(wheels, "pkkeep_dep", source="VALUE = 'one'\n")
    repo = PackRepo(str(tmp_path / "pkkeep"), "pkkeep")
    repo.commit("1.0.0", {**probe_action("pkkeep_dep"),
                          "requirements.txt": "pkkeep_dep\n"})
    repo.commit("2.0.0", {"requirements.txt": "pkkeep_dep\nnot_in_the_mirror==1.0\n"})
    env = offline_env(wheels)
    done = appliance.st2("run", "packs.install", f"packs={repo.url}=1.0.0", f"env={env}", timeout=INSTALL_TIMEOUT)
    assert done.returncode == 0 and "succeeded" in done.stdout, done.stdout + done.stderr

    done = appliance.st2("run", "packs.install", f"packs={repo.url}=2.0.0", f"env={env}", timeout=INSTALL_TIMEOUT)
    assert "failed" in done.stdout, done.stdout + done.stderr
    assert "No matching distribution found for not_in_the_mirror==1.0" in done.stdout, done.stdout
    assert registered(appliance, "pkkeep")["version"] == "1.0.0"
    with open(os.path.join(appliance.packs, "pkkeep", "pack.yaml"), encoding="utf-8") as handle:
        assert "version: 1.0.0" in handle.read()
    assert probe(appliance, "pkkeep")["value"] == "one"  # the previous virtualenv is back


def test_removing_a_system_pack_is_refused(appliance):
    text = refused(appliance.st2("pack", "remove", "core", timeout=INSTALL_TIMEOUT))
    assert "Unregister includes an unregisterable pack - core." in text, text
    assert registered(appliance, "core") is not None and "local" in actions_of(appliance, "core")
