"""The packs pack's steps on real git repositories: a new version replaces the old one only once download,
virtualenv and registration all succeeded; any failure puts the previous files and virtualenv back (and a
registration that fails is restored by the API: see test_pack_registration.py). The virtualenv step is
replaced here by one that writes the pack's version into the virtualenv (real ones: test_pack_virtualenvs.py)."""

from __future__ import annotations

import os

import pytest
import yaml

from appliance.packs import PackError, virtualenvs
from appliance.packs.transaction import STATE_DIR


class FakeApi:
    def __init__(self, fail: str = ""):
        self.fail, self.calls = fail, []

    def register(self, packs, types):
        self.calls.append(("register", packs, types))
        if self.fail:
            raise PackError(self.fail)
        return {"packs": len(packs or [])}

    def unload(self, packs):
        self.calls.append(("unload", packs))
        return {"packs": len(packs)}


@pytest.fixture(autouse=True)
def fake_virtualenvs(monkeypatch):
    """setup() writes the pack's version into <virtualenvs>/<pack>/version; a requirement named `missing`
    fails as pip would."""

    def setup(pack, pack_dir, settings, update=False, env=None, log=None):
        requirements = os.path.join(pack_dir, "requirements.txt")
        path = os.path.join(settings.root, pack)
        os.makedirs(path, exist_ok=True)
        if os.path.isfile(requirements) and "missing" in open(requirements, encoding="utf-8").read():
            raise PackError(f'Failed to install requirements from "{requirements}": No matching distribution '
                            "found for missing")
        with open(os.path.join(pack_dir, "pack.yaml"), encoding="utf-8") as handle:
            version = yaml.safe_load(handle)["version"]
        with open(os.path.join(path, "version"), "w", encoding="utf-8") as handle:
            handle.write(version)
        return path

    monkeypatch.setattr(virtualenvs, "setup", setup)


@pytest.fixture
def repo(make_repo):
    made = make_repo("pkdemo")
    made.commit("1.0.0", {"actions/one.sh": "echo one\n"})
    made.commit("2.0.0", {"actions/two.sh": "echo two\n"})
    made.commit("3.0.0", {"requirements.txt": "missing\n"})
    return made


def state(settings, pack="pkdemo") -> dict:
    """What is installed: the pack's version, its virtualenv's, and whether anything is kept aside."""
    live = os.path.join(settings.packs_base, pack, "pack.yaml")
    venv = os.path.join(settings.virtualenvs.root, pack, "version")
    version = yaml.safe_load(open(live, encoding="utf-8"))["version"] if os.path.exists(live) else None
    venv_version = open(venv, encoding="utf-8").read() if os.path.exists(venv) else None
    pending = os.path.exists(os.path.join(settings.packs_base, STATE_DIR, pack))
    return {"pack": version, "venv": venv_version, "pending": pending}


def install(steps, spec: str) -> dict:
    """packs.install's actions in their order: download, setup_virtualenv, load."""
    status = steps.download([spec])
    packs = steps.virtualenv_prerun(status)
    steps.setup_virtualenv(packs)
    return steps.load("all", packs)


def test_an_upgrade_replaces_files_and_virtualenv_once_registered(make_steps, settings, repo):
    install(make_steps("install-1", FakeApi()), f"{repo.url}=1.0.0")
    assert state(settings) == {"pack": "1.0.0", "venv": "1.0.0", "pending": False}
    config = os.path.join(settings.packs_base, "pkdemo", "config.yaml")
    with open(config, "w", encoding="utf-8") as handle:
        handle.write("kept: true\n")

    steps = make_steps("install-2", FakeApi())
    assert steps.download([f"{repo.url}=2.0.0"]) == {"pkdemo": "Success."}
    assert state(settings) == {"pack": "2.0.0", "venv": "1.0.0", "pending": True}
    steps.setup_virtualenv(["pkdemo"])
    assert state(settings) == {"pack": "2.0.0", "venv": "2.0.0", "pending": True}
    assert steps.load("all", ["pkdemo"]) == {"packs": 1}
    assert state(settings) == {"pack": "2.0.0", "venv": "2.0.0", "pending": False}
    assert open(config, encoding="utf-8").read() == "kept: true\n"  # a config inside the pack survives
    assert os.path.isdir(os.path.join(settings.packs_base, "pkdemo", ".git"))


def test_a_requirement_missing_from_the_mirror_keeps_the_previous_version(make_steps, settings, repo):
    install(make_steps("install-1", FakeApi()), f"{repo.url}=2.0.0")
    steps = make_steps("install-2", FakeApi())
    steps.download([f"{repo.url}=3.0.0"])
    with pytest.raises(PackError, match="^Failed to install requirements from .*: No matching distribution found"):
        steps.setup_virtualenv(["pkdemo"])
    assert state(settings) == {"pack": "2.0.0", "venv": "2.0.0", "pending": False}


def test_a_failed_registration_puts_files_and_virtualenv_back(make_steps, settings, repo):
    install(make_steps("install-1", FakeApi()), f"{repo.url}=1.0.0")
    api = FakeApi(fail="actions/two.yaml: RunnerType \"nope\" is not found")
    steps = make_steps("install-2", api)
    with pytest.raises(PackError, match="RunnerType"):
        install(steps, f"{repo.url}=2.0.0")
    assert state(settings) == {"pack": "1.0.0", "venv": "1.0.0", "pending": False}
    assert api.calls == [("register", ["pkdemo"], ["all"])]


def test_a_failed_first_install_leaves_nothing(make_steps, settings, repo):
    steps = make_steps("install-1", FakeApi())
    steps.download([repo.url])  # 3.0.0: its requirement is missing
    with pytest.raises(PackError):
        steps.setup_virtualenv(["pkdemo"])
    assert state(settings) == {"pack": None, "venv": None, "pending": False}
    assert not os.path.exists(os.path.join(settings.virtualenvs.root, "pkdemo"))


def test_several_packs_in_one_call_all_or_none(make_steps, settings, repo, make_repo, tmp_path):
    other = make_repo("pkother")
    other.commit("0.1.0")
    install(make_steps("install-1", FakeApi()), f"{repo.url}=1.0.0")
    steps = make_steps("install-2", FakeApi())
    with pytest.raises(PackError) as caught:
        steps.download([f"{repo.url}=2.0.0", other.url, f"file://{tmp_path}/nowhere", f"{other.url}=8.8.8"])
    assert str(caught.value).splitlines() == [
        f'Local pack directory "{tmp_path}/nowhere" doesn\'t exist',
        f'"8.8.8" is not a valid version, hash, tag or branch in {other.url}. Available versions are: 0.1.0.']
    assert state(settings) == {"pack": "1.0.0", "venv": "1.0.0", "pending": False}
    assert state(settings, "pkother")["pack"] is None

    status = steps.download([f"{repo.url}=2.0.0", other.url])
    assert status == {"pkdemo": "Success.", "pkother": "Success."}
    assert steps.virtualenv_prerun(status, ["pkfirst"]) == ["pkfirst", "pkdemo", "pkother"]
    steps.setup_virtualenv(["pkdemo", "pkother"])
    steps.load("all", ["pkdemo", "pkother"])
    assert steps.api.calls[-1] == ("register", ["pkother", "pkdemo"], ["all"])  # dependencies first
    assert state(settings)["pack"] == "2.0.0" and state(settings, "pkother")["venv"] == "0.1.0"


def test_an_interrupted_installation_is_rolled_back_by_the_next_one(make_steps, settings, repo):
    install(make_steps("install-1", FakeApi()), f"{repo.url}=1.0.0")
    killed = make_steps("install-2", FakeApi())
    killed.download([f"{repo.url}=2.0.0"])
    killed.setup_virtualenv(["pkdemo"])  # ... then the workflow was killed before load
    assert state(settings) == {"pack": "2.0.0", "venv": "2.0.0", "pending": True}

    with pytest.raises(PackError, match=r'Another installation of pack "pkdemo" \(execution install-2\) is running'):
        make_steps("install-3", FakeApi(), running=("install-2",)).download([f"{repo.url}=2.0.0"])
    assert state(settings)["pending"]

    again = make_steps("install-3", FakeApi())  # install-2 has ended: its leftovers are rolled back first
    again.download([f"{repo.url}=2.0.0"])
    assert state(settings) == {"pack": "2.0.0", "venv": "1.0.0", "pending": True}
    again.setup_virtualenv(["pkdemo"])
    again.load("all", ["pkdemo"])
    assert state(settings) == {"pack": "2.0.0", "venv": "2.0.0", "pending": False}

    forced = make_steps("install-4", FakeApi(), running=("install-5",))
    make_steps("install-5", FakeApi()).download([f"{repo.url}=1.0.0"])
    forced.download([f"{repo.url}=1.0.0"], force=True)  # force takes over a running one
    assert state(settings)["pack"] == "1.0.0"


def test_delete_inside_an_installation_restores_and_uninstall_removes(make_steps, settings, repo):
    install(make_steps("install-1", FakeApi()), f"{repo.url}=1.0.0")
    steps = make_steps("install-2", FakeApi())
    steps.download([f"{repo.url}=2.0.0"])
    steps.delete(["pkdemo"], delete_env=False)  # the workflow's cleanup after a conflict
    assert state(settings) == {"pack": "1.0.0", "venv": "1.0.0", "pending": False}

    make_steps("install-3").download([f"{repo.url}=2.0.0"])  # left unfinished
    make_steps("uninstall-1").delete(["pkdemo"])
    assert state(settings) == {"pack": None, "venv": None, "pending": False}
    for root in (settings.packs_base, settings.virtualenvs.root):
        assert not os.path.exists(os.path.join(root, STATE_DIR, "pkdemo"))


@pytest.mark.parametrize("pack", ["core", "packs", "linux", "chatops", "clush", "milkcheck", "runbooks"])
def test_system_packs_cannot_be_deleted_or_unloaded(make_steps, pack):
    steps = make_steps("uninstall-1", FakeApi())
    with pytest.raises(PackError, match=rf"^Uninstall includes an uninstallable pack - {pack}\.$"):
        steps.delete(["mine", pack])
    with pytest.raises(PackError, match=rf"^Unregister includes an unregisterable pack - {pack}\.$"):
        steps.unload([pack])
    assert steps.api.calls == []


def test_dependencies_to_download_and_conflicts(make_steps, settings, make_repo):
    for name, version in (("pkbase", "1.0.0"), ("pkshared", "2.0.0")):
        made = make_repo(name)
        made.commit(version)
        install(make_steps(f"install-{name}", FakeApi()), made.url)
    app = make_repo("pkapp")
    app.commit("1.0.0", manifest={"dependencies": ["pkbase=1.0.0", "file:///srv/packs/pknew.git=v0.1.0",
                                                   "pkshared=1.0.0", "stackstorm-pkbase", "pknew=0.2.0"]})
    steps = make_steps("install-app", FakeApi())
    status = steps.download([app.url])
    assert steps.get_pack_dependencies(status, 10) == {
        "dependency_list": ["file:///srv/packs/pknew.git=v0.1.0", "pknew=0.2.0"],
        "conflict_list": ["pkshared=1.0.0"], "nested": 9}
    assert steps.get_pack_dependencies(status, 0) == {}
    assert steps.get_pack_dependencies({"pkapp": "Failure"}, 3) == {"dependency_list": [], "conflict_list": [],
                                                                     "nested": 2}
    assert steps.get_pack_warnings(status) == {"warning_list": []}


def test_get_shows_the_manifest_and_the_git_status(make_steps, settings, repo):
    install(make_steps("install-1", FakeApi()), f"{repo.url}=1.0.0")
    got = make_steps().get("pkdemo")
    assert got["pack"]["version"] == "1.0.0"
    assert got["git_status"].startswith("Status:\nHEAD detached at ")
    assert f"Remotes:\n{repo.url}" in got["git_status"] and "2 commits behind origin/master." in got["git_status"]
    assert make_steps().get("absent") == {"pack": None, "git_status": None}


def test_setup_virtualenv_alone_restores_the_previous_virtualenv(make_steps, settings, repo):
    install(make_steps("install-1", FakeApi()), f"{repo.url}=2.0.0")
    requirements = os.path.join(settings.packs_base, "pkdemo", "requirements.txt")
    with open(requirements, "w", encoding="utf-8") as handle:
        handle.write("missing\n")
    with pytest.raises(PackError):
        make_steps("setup-1").setup_virtualenv(["pkdemo"])
    assert state(settings) == {"pack": "2.0.0", "venv": "2.0.0", "pending": False}
    os.unlink(requirements)
    assert make_steps("setup-2").setup_virtualenv(["pkdemo"], update=True) == \
        "Successfully set up virtualenv for the following packs: pkdemo"
    with pytest.raises(PackError, match=r'^Pack "absent" is not installed. Looked in: '):
        make_steps("setup-3").setup_virtualenv(["absent"])
