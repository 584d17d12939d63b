"""The entity declarations: one place decides defaults, checks, masks and uids."""

from __future__ import annotations

import pytest

from appliance.models import ACTIONS, API_KEYS, ENTITIES, EXECUTION_REQUEST, EXECUTIONS, TOKENS, ValidationError


def test_action_defaults_and_identity():
    action = ACTIONS.identify(ACTIONS.build({"name": "hello", "runner_type": "local-shell-cmd", "id": "x", "uid": "y"}))
    assert action == {"name": "hello", "runner_type": "local-shell-cmd", "pack": "default", "description": "",
                      "enabled": True, "entry_point": "", "parameters": {}, "output_schema": {}, "tags": [],
                      "notify": {}, "metadata_file": "", "ref": "default.hello", "uid": "action:default:hello"}


def test_defaults_are_fresh_copies():
    first = ACTIONS.build({"name": "a", "runner_type": "r"})
    first["tags"].append("x")
    assert ACTIONS.build({"name": "b", "runner_type": "r"})["tags"] == []


@pytest.mark.parametrize("body, message", [
    ({"runner_type": "r"}, "'name' is a required property"),
    ({"name": 5, "runner_type": "r"}, "5 is not of type 'string' (field 'name')"),
    ({"name": "a", "runner_type": "r", "parameters": []}, "[] is not of type 'object' (field 'parameters')"),
    ({"name": "a", "runner_type": "r", "parameters": {"x": {"type": "strng"}}}, "field 'parameters.x.type'"),
    ({"name": "a", "runner_type": "r", "parameters": {"x": {"secret": "yes"}}}, "field 'parameters.x.secret'"),
    ({"name": "a", "runner_type": "r", "parameters": {"a b": {}}}, "not a valid parameter name"),
    ({"name": "a", "runner_type": "r", "pack": "../../x"}, "not a valid pack ref"),
    ({"name": "a", "runner_type": "r", "entry_point": "/etc/passwd"}, "outside of the pack directory"),
    ({"name": "a", "runner_type": "r", "entry_point": "x/../../y"}, "outside of the pack directory"),
    ({"name": "a", "runner_type": "r", "enabled": "yes"}, "'yes' is not of type 'boolean' (field 'enabled')"),
    ("text", "'text' is not of type 'object'"),
])
def test_bad_values_name_the_field(body, message):
    with pytest.raises(ValidationError) as caught:
        ACTIONS.build(body)
    assert message in str(caught.value)


def test_an_entry_point_inside_the_pack_is_fine():
    assert ACTIONS.build({"name": "a", "runner_type": "r", "entry_point": "lib/../run.sh"})["entry_point"]


def test_immutable_fields_cannot_change_on_update():
    existing = {"user": "alice", "key_hash": "a" * 128, "metadata": {}, "enabled": True}
    assert API_KEYS.build({"enabled": False}, existing)["enabled"] is False
    with pytest.raises(ValidationError, match="'user' cannot be changed"):
        API_KEYS.build({"user": "mallory"}, existing)


def test_secret_fields_are_masked_and_hidden_ones_never_shown():
    key = {"id": "1", "user": "u", "key_hash": "a" * 128}
    assert API_KEYS.public(key)["key_hash"] == "********"
    assert API_KEYS.public(key, show_secrets=True)["key_hash"] == "a" * 128
    token = {"id": "1", "user": "u", "token_hash": "h", "expiry": "t"}
    assert "token_hash" not in TOKENS.public(token, show_secrets=True)


def test_execution_secret_parameters_are_masked_in_the_public_shape():
    doc = {"id": "1", "parameters": {"password": "hunter2", "cmd": "ls"},
           "liveaction": {"parameters": {"password": "hunter2", "cmd": "ls"}},
           "action": {"parameters": {"password": {"type": "string", "secret": True}}}, "runner": {}}
    public = EXECUTIONS.public(doc)
    assert public["parameters"] == {"password": "********", "cmd": "ls"}
    assert public["liveaction"]["parameters"]["password"] == "********"
    assert doc["parameters"]["password"] == "hunter2"  # the stored document is untouched
    assert EXECUTIONS.public(doc, show_secrets=True)["parameters"]["password"] == "hunter2"


@pytest.mark.parametrize("body, message", [
    ({"action": "core.local", "context": []}, "field 'context'"),
    ({"action": "core.local", "context": {"parent": "abc"}}, "context.parent"),
    ({"action": ["core.local"]}, "field 'action'"),
    ({"action": "core.local", "delay": -5}, "minimum of 0"),
    ({"action": "core.local", "delay": 10**20}, "maximum of"),
    ({"action": "core.local", "parameters": [1]}, "field 'parameters'"),
])
def test_execution_request_is_checked(body, message):
    with pytest.raises(ValidationError, match=message.replace(".", r"\.")):
        EXECUTION_REQUEST.build(body)


def test_every_entity_has_a_collection_and_declares_its_indexed_fields():
    names = [entity.collection for entity in ENTITIES]
    assert len(names) == len(set(names))
    for entity in ENTITIES:
        for path in (*entity.indexed, *entity.unique, *(p for group in entity.compound for p in group)):
            assert path.split(".")[0] in entity.fields, (entity.name, path)
