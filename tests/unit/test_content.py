"""Pack registration from disk: what `st2ctl reload --register-all` stores."""

from __future__ import annotations

import pytest

from appliance.content import ContentError, Registrar
from appliance.models import RUNNER_TYPES
from appliance.store.sqlite import SQLiteStore


def _pack(root, name="demo", action_yaml=None):
    pack = root / name
    (pack / "actions").mkdir(parents=True)
    (pack / "pack.yaml").write_text(f"name: {name}\ndescription: d\nversion: 1.0.0\nauthor: me\n")
    (pack / "actions" / "hello.yaml").write_text(
        action_yaml or "name: hello\nrunner_type: fake-runner\nparameters:\n  who:\n    type: string\n"
    )
    return pack


@pytest.fixture
def registrar(tmp_path):
    store = SQLiteStore(str(tmp_path / "st2.db"))
    store.collection(RUNNER_TYPES).insert({"id": "r1", "name": "fake-runner", "runner_parameters": {}})
    registrar = Registrar(store, [str(tmp_path / "packs")])
    registrar.register_runners = lambda: 0  # runners come from installed packages; not under test here
    yield registrar
    store.close()


def test_registers_pack_and_actions_with_stable_ids(registrar, tmp_path):
    _pack(tmp_path / "packs")
    assert registrar.register() == {"runners": 0, "packs": 1, "actions": 1}
    action = registrar.actions.find_one({"ref": "demo.hello"})
    assert action["uid"] == "action:demo:hello" and action["metadata_file"] == "actions/hello.yaml"
    assert registrar.packs.find_one({"ref": "demo"})["uid"] == "pack:demo"
    registrar.register()
    assert registrar.actions.find_one({"ref": "demo.hello"})["id"] == action["id"]
    assert registrar.actions.count() == 1


def test_unknown_runner_names_the_file(registrar, tmp_path):
    _pack(tmp_path / "packs", action_yaml="name: hello\nrunner_type: nope\n")
    with pytest.raises(ContentError, match=r"actions/hello.yaml: unknown runner_type 'nope'"):
        registrar.register()
    assert registrar.register(fail_on_failure=False)["packs"] == 0


def test_broken_yaml_names_the_file(registrar, tmp_path):
    _pack(tmp_path / "packs", action_yaml="name: [unclosed\n")
    with pytest.raises(ContentError, match="hello.yaml"):
        registrar.register()


def test_missing_pack_is_reported(registrar, tmp_path):
    (tmp_path / "packs").mkdir()
    with pytest.raises(ContentError, match="not found.*ghost"):
        registrar.register(["ghost"])
