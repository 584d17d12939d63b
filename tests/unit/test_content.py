"""Pack registration from disk: what `st2ctl reload --register-all` stores."""

from __future__ import annotations

import re

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
    assert registrar.register() == {"runners": 0, "packs": 1, "actions": 1, "triggers": 0, "rules": 0, "configs": 0}
    action = registrar.actions.find_one({"ref": "demo.hello"})
    assert action["uid"] == "action:demo:hello" and action["metadata_file"] == "actions/hello.yaml"
    assert registrar.packs.find_one({"ref": "demo"})["uid"] == "pack:demo"
    registrar.register()
    assert registrar.actions.find_one({"ref": "demo.hello"})["id"] == action["id"]
    assert registrar.actions.count() == 1


def test_unknown_runner_names_the_file(registrar, tmp_path):
    _pack(tmp_path / "packs", action_yaml="name: hello\nrunner_type: nope\n")
    with pytest.raises(ContentError, match=r'actions/hello.yaml: RunnerType "nope" is not found'):
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


@pytest.mark.parametrize("action_yaml, message", [
    ("name: hello\nrunner_type: fake-runner\nentry_point: /etc/passwd\n", "outside of the pack directory"),
    ("name: hello\nrunner_type: fake-runner\nentry_point: ../../etc/passwd\n", "outside of the pack directory"),
    ("name: hello\nrunner_type: fake-runner\nparameters: [a, b]\n", "is not of type 'object' (field 'parameters')"),
    ("name: hello\nrunner_type: fake-runner\nparameters:\n  who: text\n", "field 'parameters.who'"),
    ("name: ../x\nrunner_type: fake-runner\n", "not a valid name"),
    ("name: hello\nrunner_type: fake-runner\ncolour: red\n", "'colour' was unexpected"),
])
def test_invalid_action_metadata_is_refused_naming_file_and_field(registrar, tmp_path, action_yaml, message):
    _pack(tmp_path / "packs", action_yaml=action_yaml)
    with pytest.raises(ContentError, match=re.escape(message)) as caught:
        registrar.register()
    assert "hello.yaml" in str(caught.value)
    assert registrar.actions.count() == 0


def test_pack_ref_must_be_a_safe_name(registrar, tmp_path):
    pack = _pack(tmp_path / "packs")
    (pack / "pack.yaml").write_text("name: demo\nref: ../../x\ndescription: d\nversion: 1.0.0\nauthor: me\n")
    with pytest.raises(ContentError, match="not a valid pack ref"):
        registrar.register()


def test_configs_are_checked_when_registered(tmp_path):
    store = SQLiteStore(str(tmp_path / "st2.db"))
    store.collection(RUNNER_TYPES).insert({"id": "r1", "name": "fake-runner", "runner_parameters": {}})
    configs = tmp_path / "configs"
    configs.mkdir()
    registrar = Registrar(store, [str(tmp_path / "packs")], str(configs))
    _pack(tmp_path / "packs")
    (configs / "demo.yaml").write_text("region: eu\n")
    assert registrar.register(types=("configs",)) == {"packs": 1, "configs": 1}
    (configs / "demo.yaml").write_text("region: [eu\n")
    with pytest.raises(ContentError, match="demo.yaml"):
        registrar.register(types=("configs",))
    store.close()
