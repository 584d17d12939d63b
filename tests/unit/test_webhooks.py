"""Webhooks: what a POST to /v1/webhooks/<url> stores for the rules engine (StackStorm's payload of
headers and body, the body read by its Content-Type), the generic `st2` hook, what is refused with
nothing stored, and what `st2 webhook list/get` read."""

from __future__ import annotations

import json

import pytest
from falcon import testing

from appliance.api.app import api_app
from appliance.models import TRIGGER_INSTANCES, TRIGGERS, new_id
from appliance.models import trigger as trigger_model


@pytest.fixture
def ctx(make_ctx):
    """An appliance with authentication on (webhooks are never anonymous) and the system types."""
    made = make_ctx()
    made.registrar.register(types=("configs",))
    return made


@pytest.fixture
def token(ctx) -> str:
    return ctx.credentials.issue_token("st2admin")["token"]


@pytest.fixture
def client(ctx):
    return testing.TestClient(api_app(ctx))


def add_webhook(ctx, url: str, name: str = "", pack: str = "core") -> dict:
    """A core.st2.webhook trigger, as a rule on that url would create it."""
    body = {"name": name or f"hook-{new_id()}", "pack": pack, "type": "core.st2.webhook", "parameters": {"url": url}}
    return ctx.store.collection(TRIGGERS).insert({"id": new_id(), **trigger_model.identify(TRIGGERS.build(body))})


def instances(ctx, trigger: dict) -> list[dict]:
    return ctx.store.collection(TRIGGER_INSTANCES).find({"trigger": trigger["ref"]})


def post(client, path: str, token: str, body: bytes = b"", content_type: str = "application/json", **headers):
    headers = {"X-Auth-Token": token, **({"Content-Type": content_type} if content_type else {}), **headers}
    return client.simulate_post(path, body=body, headers=headers)


def test_a_json_post_stores_headers_and_body_for_every_trigger_on_the_url(ctx, client, token):
    first, second = add_webhook(ctx, "/deploy/done/"), add_webhook(ctx, "deploy/done")
    other = add_webhook(ctx, "deploy")
    body = {"job": 42, "nodes": ["n1", "n2"]}
    result = post(client, "/v1/webhooks/deploy/done", token, json.dumps(body).encode(), **{"X-Custom": "yes"})
    assert result.status_code == 202, result.text
    assert result.json == body
    for trigger in (first, second):
        [instance] = instances(ctx, trigger)
        payload = instance["payload"]
        assert payload["body"] == body and instance["status"] == "pending"
        assert payload["headers"]["X-Custom"] == "yes" and payload["headers"]["Content-Type"] == "application/json"
        assert payload["headers_lower"]["x-custom"] == "yes"
        assert instance["trace_context"]["trace_tag"].startswith("webhook-deploy/done-")
    assert instances(ctx, other) == []


def test_credentials_never_reach_the_payload_and_the_trace_tag_header_names_the_trace(ctx, client, token):
    trigger = add_webhook(ctx, "tagged")
    result = post(client, "/webhooks/tagged", token, b"[1, 2]", **{"St2-Trace-Tag": "deploy-7", "Cookie": "a=b"})
    assert result.status_code == 202 and result.json == [1, 2]
    [instance] = instances(ctx, trigger)
    headers = instance["payload"]["headers"]
    assert not {"X-Auth-Token", "Cookie", "St2-Trace-Tag"} & set(headers)
    assert instance["trace_context"] == {"trace_tag": "deploy-7"}

    _, key = ctx.credentials.create_api_key("st2admin")
    result = client.simulate_post("/v1/webhooks/tagged", json={"a": 1}, headers={"St2-Api-Key": key})
    assert result.status_code == 202
    assert all("St2-Api-Key" not in doc["payload"]["headers"] for doc in instances(ctx, trigger))


@pytest.mark.parametrize("content_type, raw, parsed", [
    ("application/x-www-form-urlencoded", b"a=1&a=2&b=x", {"a": ["1", "2"], "b": ["x"]}),
    ("multipart/form-data; boundary=x", b"a=1", {"a": ["1"]}),
    ("text/plain", b'{"a": 1}', {"a": 1}),
    ("application/json; charset=utf-8", b"", {}),
    (None, b'{"a": 1}', {"a": 1}),
])
def test_the_body_is_read_by_its_content_type(ctx, client, token, content_type, raw, parsed):
    trigger = add_webhook(ctx, "typed")
    result = post(client, "/v1/webhooks/typed", token, raw, content_type)
    assert result.status_code == 202, result.text
    assert result.json == parsed
    assert [doc["payload"]["body"] for doc in instances(ctx, trigger)] == [parsed]


@pytest.mark.parametrize("content_type, raw, message", [
    ("application/json", b'{"a": ', "Failed to parse request body"),
    ("application/json", b'"text"', "is not of type 'object', 'array'"),
    ("text/plain", b"hello", "Failed to parse request body"),
    ("application/xml", b"<a/>", 'Unsupported Content-Type: "application/xml"'),
    ("application/x-www-form-urlencoded", b"a=\xff", "Failed to parse request body"),
])
def test_a_body_that_cannot_be_read_is_a_400_and_nothing_is_stored(ctx, client, token, content_type, raw, message):
    trigger = add_webhook(ctx, "typed")
    result = post(client, "/v1/webhooks/typed", token, raw, content_type)
    assert result.status_code == 400 and message in result.json["faultstring"]
    assert instances(ctx, trigger) == []


def test_an_unknown_webhook_is_a_404_and_every_webhook_needs_credentials(ctx, client, token):
    result = post(client, "/v1/webhooks/nowhere/deep", token, b"{}")
    assert result.status_code == 404
    assert result.json == {"faultstring": "Webhook nowhere/deep not registered with st2"}
    trigger = add_webhook(ctx, "guarded")
    assert client.simulate_post("/v1/webhooks/guarded", json={}).status_code == 401
    assert post(client, "/v1/webhooks/guarded", "not-a-token", b"{}").status_code == 401
    assert instances(ctx, trigger) == []


def test_the_generic_hook_dispatches_the_trigger_its_body_names(ctx, client, token):
    trigger = add_webhook(ctx, "anything")
    body = {"trigger": trigger["ref"], "payload": {"headers": {}, "body": {"x": 1}}}
    result = post(client, "/v1/webhooks/st2", token, json.dumps(body).encode())
    assert result.status_code == 202 and result.json == body
    [instance] = instances(ctx, trigger)
    assert instance["payload"] == body["payload"]
    assert instance["trace_context"]["trace_tag"].startswith("webhook-st2-")


@pytest.mark.parametrize("body, message", [
    ([1], "Webhook body needs to be an object, got: array"),
    ({"payload": {}}, "Trigger not specified."),
    ({"trigger": "no.such", "payload": {}}, 'Trigger "no.such" not found'),
    ({"trigger": "{ref}", "payload": {"body": "a string"}}, "is invalid"),
    ({"trigger": "{ref}", "payload": [1]}, "The payload must be an object"),
])
def test_the_generic_hook_refuses_a_bad_body_with_a_400(ctx, client, token, body, message):
    trigger = add_webhook(ctx, "generic")
    raw = json.dumps(body).replace("{ref}", trigger["ref"]).encode()
    result = post(client, "/v1/webhooks/st2", token, raw)
    assert result.status_code == 400 and message in result.json["faultstring"], result.text
    assert ctx.store.collection(TRIGGER_INSTANCES).count() == 0


def test_list_and_get_show_the_webhook_triggers(ctx, client, token):
    later, earlier = add_webhook(ctx, "zeta"), add_webhook(ctx, "/alpha/one", pack="other")
    auth = {"X-Auth-Token": token}
    listed = client.simulate_get("/v1/webhooks", headers=auth).json
    assert [doc["id"] for doc in listed] == [earlier["id"], later["id"]]
    assert listed[0]["parameters"] == {"url": "/alpha/one"} and listed[0]["type"] == "core.st2.webhook"
    assert [doc["id"] for doc in client.simulate_get("/v1/webhooks", params={"pack": "other"}, headers=auth).json] \
        == [earlier["id"]]
    assert client.simulate_get("/v1/webhooks/alpha/one", headers=auth).json["id"] == earlier["id"]
    missing = client.simulate_get("/v1/webhooks/beta", headers=auth)
    assert missing.status_code == 404 and "not registered" in missing.json["faultstring"]
    assert client.simulate_get("/v1/webhooks").status_code == 401
