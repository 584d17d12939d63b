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
    assert registrar.register() == {"runners": 0, "packs": 1, "actions": 1, "triggers": 0, "sensors": 0,
                                   "rules": 0, "configs": 0}
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


SENSOR_YAML = """class_name: Watch
entry_point: watch.py
poll_interval: 10
trigger_types:
  - name: seen
    payload_schema: {type: object, properties: {path: {type: string}}}
"""


def _sensor_pack(root, sensor_yaml=SENSOR_YAML):
    pack = _pack(root)
    (pack / "sensors").mkdir()
    (pack / "sensors" / "watch.yaml").write_text(sensor_yaml)
    (pack / "sensors" / "watch.py").write_text("")
    return pack


def test_sensors_register_with_the_trigger_types_they_declare(registrar, tmp_path):
    pack = _sensor_pack(tmp_path / "packs")
    assert registrar.register()["sensors"] == 1
    sensor = registrar.sensor_types.find_one({"ref": "demo.Watch"})
    assert {k: sensor[k] for k in ("name", "pack", "uid", "entry_point", "poll_interval", "enabled", "trigger_types",
                                   "metadata_file", "artifact_uri")} == {
        "name": "Watch", "pack": "demo", "uid": "sensor_type:demo:Watch", "entry_point": "watch.py",
        "poll_interval": 10, "enabled": True, "trigger_types": ["demo.seen"], "metadata_file": "sensors/watch.yaml",
        "artifact_uri": f"file://{pack}/sensors/watch.py"}
    seen = registrar.trigger_types.find_one({"ref": "demo.seen"})
    assert seen["metadata_file"] == "sensors/watch.yaml" and seen["payload_schema"]["properties"]
    assert registrar.triggers.find_one({"ref": "demo.seen"})["type"] == "demo.seen"  # its shadow trigger
    registrar.register()
    assert registrar.sensor_types.find_one({"ref": "demo.Watch"})["id"] == sensor["id"]


@pytest.mark.parametrize(("sensor_yaml", "message"), [
    ("class_name: Watch\n", "'entry_point' is a required property"),
    ("entry_point: watch.py\n", "'name' is a required property"),
    ("class_name: Watch\nentry_point: ../../etc/x.py\n", "outside of the pack directory"),
    ("class_name: Watch\nentry_point: watch.sh\n", "not a Python file"),
    ("class_name: 'os; rm'\nentry_point: watch.py\n", "not a Python class name"),
    ("class_name: Watch\nentry_point: watch.py\npoll_interval: 1\n", "Minimum possible poll_interval is 4 seconds"),
    ("class_name: Watch\nentry_point: watch.py\ntrigger_types: [seen]\n", "trigger type definitions"),
    ("class_name: Watch\nentry_point: watch.py\ntrigger_types: [{name: 'a/b'}]\n", "not a valid name"),
])
def test_invalid_sensor_metadata_is_refused_naming_the_file(registrar, tmp_path, sensor_yaml, message):
    _sensor_pack(tmp_path / "packs", sensor_yaml)
    with pytest.raises(ContentError, match=re.escape("sensors/watch.yaml")) as raised:
        registrar.register()
    assert message in str(raised.value)
    assert registrar.sensor_types.count() == 0
