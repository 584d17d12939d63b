"""Trigger types, triggers and trigger instances: what registration stores, what the dispatcher
stores and queues for the rules engine, and what the API answers (as `st2 trigger ...` and
`st2 trigger-instance ...` read it)."""

from __future__ import annotations

import logging
import re
import threading

import pytest
from falcon import testing

from appliance import config
from appliance.api.app import api_app
from appliance.bus.bus import wait_ready
from appliance.content import ContentError
from appliance.services.context import Context
from appliance.triggers import DispatchError

SHADOW_DIGEST = "99914b932bd37a50b983c5e7c90ae93b"  # md5 of "{}": StackStorm's uid part for no parameters
PARAMETERLESS = (
    "core.st2.generic.actiontrigger", "core.st2.generic.notifytrigger", "core.st2.action.file_written",
    "core.st2.generic.inquiry", "core.st2.sensor.process_spawn", "core.st2.sensor.process_exit",
    "core.st2.key_value_pair.create", "core.st2.key_value_pair.update", "core.st2.key_value_pair.value_change",
    "core.st2.key_value_pair.delete",
)
PARAMETERISED = ("core.st2.webhook", "core.st2.IntervalTimer", "core.st2.DateTimer", "core.st2.CronTimer")
EVENT_YAML = """\
name: event
description: something happened
payload_schema:
  type: object
  properties:
    host: {type: string, required: true}
    count: {type: integer, default: 1, required: true}
    note: {type: string}
"""
POLLED_YAML = """\
name: polled
parameters_schema:
  type: object
  properties:
    url: {type: string, required: true}
"""


@pytest.fixture
def ctx(open_ctx):
    return open_ctx


@pytest.fixture
def client(ctx):
    return testing.TestClient(api_app(ctx))


def _pack(root, name="demo", triggers=None):
    pack = root / "packs" / name
    (pack / "triggers").mkdir(parents=True)
    (pack / "pack.yaml").write_text(f"name: {name}\ndescription: d\nversion: 1.0.0\nauthor: me\n")
    for filename, text in (triggers or {"event.yaml": EVENT_YAML, "polled.yml": POLLED_YAML}).items():
        (pack / "triggers" / filename).write_text(text)
    return pack


def _count(client, path, **filters):
    result = client.simulate_get(path, params={"limit": 1, **filters})
    assert result.status_code == 200, result.text
    return int(result.headers["x-total-count"])


# -- registration ------------------------------------------------------------------------------
def test_every_registration_stores_the_system_trigger_types_with_shadow_triggers(ctx, client):
    types = client.simulate_get("/v1/triggertypes", params={"pack": "core"}).json
    assert sorted(t["ref"] for t in types) == sorted(PARAMETERLESS + PARAMETERISED)
    webhook = client.simulate_get("/v1/triggertypes/core.st2.webhook").json
    assert webhook["parameters_schema"]["properties"]["url"] == {"type": "string", "required": True}
    assert webhook["uid"] == "trigger_type:core:st2.webhook"
    triggers = client.simulate_get("/v1/triggers").json
    assert sorted(t["ref"] for t in triggers) == sorted(PARAMETERLESS)
    inquiry = client.simulate_get("/v1/triggers", params={"type": "core.st2.generic.inquiry"}).json
    assert [(t["ref"], t["type"], t["parameters"], t["uid"]) for t in inquiry] == [(
        "core.st2.generic.inquiry", "core.st2.generic.inquiry", {},
        f"trigger:core:st2.generic.inquiry:{SHADOW_DIGEST}")]

    ctx.registrar.register(types=("runners",))  # any registration, again: same documents, same ids
    assert client.simulate_get("/v1/triggertypes/core.st2.webhook").json["id"] == webhook["id"]
    assert client.simulate_get("/v1/triggers", params={"type": "core.st2.generic.inquiry"}).json == inquiry
    assert _count(client, "/v1/triggertypes") == 14 and _count(client, "/v1/triggers") == 10


def test_pack_triggers_are_registered_with_a_shadow_for_the_parameterless_ones(ctx, client, tmp_path):
    _pack(tmp_path)
    counts = ctx.registrar.register(types=("triggers",))
    assert counts == {"packs": 1, "triggers": 2}
    event = client.simulate_get("/v1/triggertypes/demo.event").json
    assert event["metadata_file"] == "triggers/event.yaml" and event["description"] == "something happened"
    assert client.simulate_get("/v1/triggertypes/demo.polled").json["metadata_file"] == "triggers/polled.yml"
    specs = client.simulate_get("/v1/triggers", params={"type": "demo.event"}).json
    assert [t["ref"] for t in specs] == ["demo.event"]
    assert client.simulate_get("/v1/triggers", params={"type": "demo.polled"}).json == []


@pytest.mark.parametrize(("text", "message"), [
    ("name: event\npack: other\n", 'event.yaml: the file is in pack "demo" but names pack \'other\''),
    ("name: event\npayload_schema: {type: strng}\n", "field 'payload_schema.type'"),
    ("name: event\npayload_schema: {properties: {a: {pattern: '('}}}\n", "is not a 'regex'"),
    ("name: event\npayload_schema: {$ref: 'file:///etc/passwd'}\n", "is not a reference inside the schema"),
    ("name: ../event\n", "not a valid name"),
    ("name: event\nenabled: true\n", "Additional properties are not allowed ('enabled' was unexpected)"),
])
def test_a_bad_pack_trigger_names_its_file_and_is_skipped_when_asked(ctx, client, tmp_path, text, message):
    _pack(tmp_path, triggers={"event.yaml": text, "polled.yml": POLLED_YAML})
    with pytest.raises(ContentError, match=re.escape(message)):
        ctx.registrar.register(types=("triggers",))
    assert client.simulate_get("/v1/triggertypes/demo.event").status_code == 404
    assert ctx.registrar.register(types=("triggers",), fail_on_failure=False)["triggers"] == 1
    assert client.simulate_get("/v1/triggertypes/demo.polled").status_code == 200


# -- the trigger types API (st2 trigger create/update/delete) -----------------------------------
def test_trigger_type_lifecycle_keeps_its_shadow_trigger(client):
    body = {"name": "job_done", "pack": "hpc", "description": "a job ended",
            "payload_schema": {"type": "object", "properties": {"job": {"type": "integer"}}}}
    created = client.simulate_post("/v1/triggertypes", json=body)
    assert created.status_code == 201, created.text
    assert created.json["ref"] == "hpc.job_done" and created.json["uid"] == "trigger_type:hpc:job_done"
    assert [t["ref"] for t in client.simulate_get("/v1/triggers", params={"type": "hpc.job_done"}).json] == [
        "hpc.job_done"]
    duplicate = client.simulate_post("/v1/triggertypes", json=body)
    assert duplicate.status_code == 409 and duplicate.json["conflict-id"] == created.json["id"]

    updated = client.simulate_put(f"/v1/triggertypes/{created.json['id']}", json={**created.json, "description": "x"})
    assert updated.status_code == 200 and updated.json["description"] == "x"
    assert client.simulate_get("/v1/triggertypes/hpc.job_done").json["id"] == created.json["id"]
    renamed = client.simulate_put("/v1/triggertypes/hpc.job_done", json={**body, "name": "other"})
    assert renamed.status_code == 400 and "'name' cannot be changed" in renamed.json["faultstring"]

    assert client.simulate_delete(f"/v1/triggertypes/{created.json['id']}").status_code == 204
    assert client.simulate_get("/v1/triggertypes/hpc.job_done").status_code == 404
    assert client.simulate_get("/v1/triggers/hpc.job_done").status_code == 404


def test_system_trigger_types_cannot_be_changed_or_deleted(client):
    for answer in (client.simulate_put("/v1/triggertypes/core.st2.webhook", json={"description": "x"}),
                   client.simulate_delete("/v1/triggertypes/core.st2.webhook")):
        assert answer.status_code == 400
        assert answer.json == {"faultstring": "Resources belonging to system level packs can't be manipulated"}
    assert client.simulate_get("/v1/triggertypes/core.st2.webhook").json["description"] != "x"


@pytest.mark.parametrize(("body", "message"), [
    (b'{"name": "x", ', "Failed to parse request body"),
    (b'["x"]', "Request body must be a JSON object"),
    (b'{"name": "x", "pack": "Bad-Pack"}', "not a valid pack ref"),
    (b'{"name": "x"}', "'pack' is a required property"),
    (b'{"name": "x", "pack": "p", "payload_schema": {"type": 5}}', "field 'payload_schema.type'"),
    (b'{"name": "x", "pack": "p", "parameters_schema": {"$ref": "http://example.com/s.json"}}',
     "is not a reference inside the schema"),
])
def test_a_bad_trigger_type_is_a_400_and_nothing_is_stored(client, body, message):
    before = _count(client, "/v1/triggertypes"), _count(client, "/v1/triggers")
    answer = client.simulate_post("/v1/triggertypes", body=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400 and message in answer.json["faultstring"], answer.text
    assert (_count(client, "/v1/triggertypes"), _count(client, "/v1/triggers")) == before


def test_triggers_of_a_parameterised_type(client):
    created = client.simulate_post("/v1/triggers", json={"type": "core.st2.webhook", "parameters": {"url": "hook"}})
    assert created.status_code == 201, created.text
    trigger = created.json
    assert re.fullmatch(r"core\.[0-9a-f-]{36}", trigger["ref"]) and trigger["pack"] == "core"
    assert trigger["uid"].startswith(f"trigger:core:{trigger['name']}:") and not trigger["uid"].endswith(SHADOW_DIGEST)
    assert client.simulate_get("/v1/triggers", params={"type": "core.st2.webhook"}).json == [trigger]
    assert client.simulate_get(f"/v1/triggers/{trigger['id']}").json == trigger
    unknown = client.simulate_post("/v1/triggers", json={"type": "nope.nothing"})
    assert unknown.status_code == 400 and 'Trigger type "nope.nothing" not found' in unknown.json["faultstring"]
    assert client.simulate_delete(f"/v1/triggers/{trigger['ref']}").status_code == 204
    assert client.simulate_get("/v1/triggers", params={"type": "core.st2.webhook"}).json == []


@pytest.mark.parametrize(("body", "message"), [
    ({"type": "core.st2.CronTimer", "parameters": {"hour": "25"}}, 'Invalid parameters for trigger type '
                                                                    '"core.st2.CronTimer"'),
    ({"type": "core.st2.CronTimer", "parameters": {"minute": "*/5", "timezone": "Mars/Olympus"}}, "Mars/Olympus"),
    ({"type": "core.st2.IntervalTimer", "parameters": {"unit": "fortnights", "delta": 1}}, "fortnights"),
    ({"type": "core.st2.webhook", "parameters": {}}, "'url' is a required property"),
])
def test_a_trigger_whose_parameters_its_type_refuses_is_a_400(client, body, message):
    before = _count(client, "/v1/triggers")
    answer = client.simulate_post("/v1/triggers", json=body)
    assert answer.status_code == 400 and message in answer.json["faultstring"], answer.text
    assert _count(client, "/v1/triggers") == before


# -- the dispatcher ------------------------------------------------------------------------------
def test_dispatch_stores_a_pending_instance_then_queues_it_for_the_rules_engine(ctx, client):
    received, arrived = [], threading.Event()

    def handler(routing_key, body):
        received.append(body)
        arrived.set()

    subscription = ctx.bus.consume_trigger_instances(handler)
    try:
        assert wait_ready([subscription]) is None
        doc = ctx.triggers.dispatch("core.st2.key_value_pair.create", {"object": {"name": "a"}},
                                    trace_context={"trace_tag": "t1"})
        assert arrived.wait(10)
    finally:
        subscription.stop()
    assert received == [{"trigger_instance_id": doc["id"], "trigger": "core.st2.key_value_pair.create"}]
    shown = client.simulate_get(f"/v1/triggerinstances/{doc['id']}").json
    assert shown == {"id": doc["id"], "trigger": "core.st2.key_value_pair.create", "payload": {"object": {"name": "a"}},
                     "occurrence_time": doc["occurrence_time"], "status": "pending"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", shown["occurrence_time"])
    assert ctx.triggers.instances.get(doc["id"])["trace_context"] == {"trace_tag": "t1"}  # kept, not shown


def test_dispatch_finds_a_parameterised_trigger_by_ref_id_or_parameters(ctx, client):
    trigger = client.simulate_post("/v1/triggers", json={"type": "core.st2.webhook", "parameters": {"url": "a"}}).json
    for named in (trigger["ref"], {"id": trigger["id"]}, {"uid": trigger["uid"]},
                  {"type": "core.st2.webhook", "parameters": {"url": "a"}}):
        assert ctx.triggers.dispatch(named, {"body": {"k": 1}})["trigger"] == trigger["ref"]
    assert _count(client, "/v1/triggerinstances", trigger=trigger["ref"]) == 4


@pytest.mark.parametrize(("trigger", "payload", "message"), [
    ("nope.nothing", {}, 'Trigger "nope.nothing" not found'),
    ("core.st2.webhook", {}, 'Trigger type "core.st2.webhook" takes parameters'),
    ({"type": "core.st2.webhook", "parameters": {"url": "other"}}, {}, "not found"),
    ("core.st2.generic.inquiry", {"id": "i"}, "'route' is a required property"),
    ("core.st2.generic.inquiry", {"id": "i", "route": "r", "x": 1}, "Additional properties are not allowed"),
    ("core.st2.key_value_pair.create", ["not", "a", "dict"], "The payload must be an object"),
])
def test_what_cannot_be_dispatched_is_refused_and_not_stored(ctx, client, trigger, payload, message):
    before = _count(client, "/v1/triggerinstances")
    with pytest.raises(DispatchError, match=re.escape(message)):
        ctx.triggers.dispatch(trigger, payload)
    assert _count(client, "/v1/triggerinstances") == before


def test_payloads_are_validated_as_stackstorm_does(ctx, client, tmp_path):
    _pack(tmp_path)
    ctx.registrar.register(types=("triggers",))
    dispatch = ctx.triggers.dispatch
    assert dispatch("demo.event", {"host": "n1"})["payload"] == {"host": "n1"}  # count has a default
    assert dispatch("demo.event", {"host": "n1", "note": None, "extra": [1]})  # optional may be null; extra keys pass
    with pytest.raises(DispatchError, match=r"'host' is a required property"):
        dispatch("demo.event", {})
    with pytest.raises(DispatchError, match=r"is not of type 'integer' \(payload 'count'\)"):
        dispatch("demo.event", {"host": "n1", "count": "many"})
    hook = client.simulate_post("/v1/triggers", json={"type": "core.st2.webhook", "parameters": {"url": "h"}}).json
    with pytest.raises(DispatchError, match=r"'text' is not of type .* \(payload 'body'\)"):
        dispatch(hook["ref"], {"body": "text"})


@pytest.fixture
def lenient_ctx(tmp_path):
    """A Context over an st2.conf with [system] validate_trigger_payload = false."""
    conf = tmp_path / "lenient.conf"
    conf.write_text(f"[system]\nbase_path = {tmp_path}\nvalidate_trigger_payload = false\n"
                    f"[messaging]\nprefix = l{tmp_path.name[-6:]}\n[auth]\nenable = false\n")
    made = Context(config.load(str(conf)))
    yield made
    made.close()


def test_with_validation_off_pack_payloads_pass_with_a_warning_but_system_ones_do_not(lenient_ctx, tmp_path,
                                                                                       caplog):
    _pack(tmp_path)
    lenient_ctx.registrar.register(types=("triggers",))
    with caplog.at_level(logging.WARNING):
        assert lenient_ctx.triggers.dispatch("demo.event", {"count": "many"})["status"] == "pending"
    assert "'host' is a required property" in caplog.text and "dispatched anyway" in caplog.text
    client = testing.TestClient(api_app(lenient_ctx))
    hook = client.simulate_post("/v1/triggers", json={"type": "core.st2.webhook", "parameters": {"url": "h"}}).json
    with pytest.raises(DispatchError, match=r"\(payload 'body'\)"):
        lenient_ctx.triggers.dispatch(hook["ref"], {"body": 5})


# -- the trigger instances API (st2 trigger-instance list/get/re-emit) --------------------------
def test_instance_listing_filters_as_the_cli_asks(ctx, client):
    first = ctx.triggers.dispatch("core.st2.key_value_pair.create", {"object": {}})
    middle = ctx.triggers.dispatch("core.st2.key_value_pair.delete", {"object": {}})
    last = ctx.triggers.dispatch("core.st2.sensor.process_exit", {"object": {}})
    listed = client.simulate_get("/v1/triggerinstances")
    assert listed.headers["x-limit"] == "100" and listed.headers["x-total-count"] == "3"
    assert [i["id"] for i in listed.json] == [last["id"], middle["id"], first["id"]]  # newest first

    def ids(**params):
        return [i["id"] for i in client.simulate_get("/v1/triggerinstances", params=params).json]

    assert ids(trigger="core.st2.key_value_pair.create") == [first["id"]]
    assert len(ids(trigger="core.st2.key_value_pair.create,core.st2.sensor.process_exit")) == 2
    assert ids(trigger_type="core.st2.sensor.process_exit") == [last["id"]]
    assert ids(trigger_type="core.st2.webhook") == []
    assert len(ids(status="pending")) == 3 and ids(status="processed") == []
    assert ids(timestamp_gt=first["occurrence_time"], timestamp_lt=last["occurrence_time"]) == [middle["id"]]
    assert ids(limit="1") == [last["id"]]
    only = client.simulate_get("/v1/triggerinstances", params={"include_attributes": "trigger"}).json[0]
    assert only == {"id": last["id"], "trigger": "core.st2.sensor.process_exit"}
    bad = client.simulate_get("/v1/triggerinstances", params={"timestamp_gt": "yesterday"})
    assert bad.status_code == 400 and "timestamp_gt" in bad.json["faultstring"]


def test_re_emit_dispatches_the_same_payload_with_its_origin(ctx, client):
    original = ctx.triggers.dispatch("core.st2.generic.inquiry", {"id": "i1", "route": "ops"})
    answer = client.simulate_post(f"/v1/triggerinstances/{original['id']}/re_emit")
    assert answer.status_code == 200, answer.text
    payload = {"id": "i1", "route": "ops", "__context": {"original_id": original["id"]}}
    assert answer.json == {"message": f"Trigger instance {original['id']} succesfully re-sent.", "payload": payload}
    newest = client.simulate_get("/v1/triggerinstances", params={"limit": 1}).json[0]
    assert newest["id"] != original["id"]
    assert (newest["trigger"], newest["payload"], newest["status"]) == ("core.st2.generic.inquiry", payload, "pending")
    assert client.simulate_get(f"/v1/triggerinstances/{original['id']}").json["payload"] == {"id": "i1", "route": "ops"}


def test_re_emit_of_an_unknown_instance_or_trigger_stores_nothing(ctx, client):
    assert client.simulate_post("/v1/triggerinstances/nope/re_emit").status_code == 404
    missing = client.simulate_get("/v1/triggerinstances/nope")
    assert missing.status_code == 404 and missing.json == {"faultstring": 'Resource with a id "nope" not found'}
    trigger_type = client.simulate_post("/v1/triggertypes", json={"name": "gone", "pack": "tmp"}).json
    instance = ctx.triggers.dispatch("tmp.gone", {"a": 1})
    client.simulate_delete(f"/v1/triggertypes/{trigger_type['id']}")
    before = _count(client, "/v1/triggerinstances")
    answer = client.simulate_post(f"/v1/triggerinstances/{instance['id']}/re_emit")
    assert answer.status_code == 400 and 'Trigger "tmp.gone" not found' in answer.json["faultstring"]
    assert _count(client, "/v1/triggerinstances") == before
