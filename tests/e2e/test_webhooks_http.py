"""Webhooks on both wirings: a core.st2.webhook trigger made as a rule makes it, a plain HTTP POST to
/v1/webhooks/<url> (token or API key), the trigger instance it stores, what is refused,
`st2 webhook list/get`, and a rule on a webhook running its action."""

from __future__ import annotations

import uuid
from typing import Iterator

import pytest
import requests
from e2e_harness import Appliance, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture
def webhook(appliance: Appliance) -> Iterator[dict]:
    """A webhook trigger on a url of its own, deleted afterwards (the shared appliance has none)."""
    url = f"e2e/hook-{uuid.uuid4().hex[:8]}"
    resp = appliance.api("POST", "triggers", json={"type": "core.st2.webhook", "parameters": {"url": url}})
    assert resp.status_code == 201, resp.text
    yield resp.json()
    assert appliance.api("DELETE", f"triggers/{resp.json()['ref']}").status_code == 204


def instances(appliance: Appliance, trigger: dict) -> list[dict]:
    resp = appliance.api("GET", "triggerinstances", params={"trigger": trigger["ref"]})
    assert resp.status_code == 200, resp.text
    return resp.json()


def hook_url(appliance: Appliance, trigger: dict) -> str:
    return f"{appliance.api_url}/webhooks/{trigger['parameters']['url']}"


def test_a_json_post_stores_a_trigger_instance_with_headers_and_body(appliance: Appliance, webhook: dict):
    body = {"job": 7, "state": "done"}
    resp = requests.post(hook_url(appliance, webhook), json=body, timeout=15,
                         headers={"X-Auth-Token": appliance.token, "St2-Trace-Tag": "e2e-job-7"})
    assert resp.status_code == 202, resp.text
    assert resp.json() == body
    [instance] = instances(appliance, webhook)
    assert instance["payload"]["body"] == body
    assert instance["payload"]["headers"]["Content-Type"] == "application/json"
    assert "X-Auth-Token" not in instance["payload"]["headers"]

    key = appliance.api("POST", "apikeys", json={})
    assert key.status_code == 201, key.text
    form = requests.post(hook_url(appliance, webhook), data={"node": "n1"}, timeout=15,
                         headers={"St2-Api-Key": key.json()["key"]})
    assert form.status_code == 202 and form.json() == {"node": ["n1"]}, form.text
    assert {"node": ["n1"]} in [doc["payload"]["body"] for doc in instances(appliance, webhook)]


def test_bad_requests_are_refused_with_a_faultstring_and_store_nothing(appliance: Appliance, webhook: dict):
    auth = {"X-Auth-Token": appliance.token, "Content-Type": "application/json"}
    for url, data, status in ((hook_url(appliance, webhook), b'{"job": ', 400),
                              (hook_url(appliance, webhook), b'"just text"', 400),
                              (f"{appliance.api_url}/webhooks/e2e/nowhere", b"{}", 404),
                              (f"{appliance.api_url}/webhooks/st2", b'{"payload": {}}', 400)):
        resp = requests.post(url, data=data, headers=auth, timeout=15)
        assert resp.status_code == status and resp.json()["faultstring"], resp.text
    assert requests.post(hook_url(appliance, webhook), json={}, timeout=15).status_code == 401
    assert instances(appliance, webhook) == []


def test_st2_webhook_list_and_get_show_the_webhook(appliance: Appliance, webhook: dict):
    url = webhook["parameters"]["url"]
    done, listed = appliance.st2_json("webhook", "list")
    assert done.returncode == 0, done.stdout + done.stderr
    assert [item["type"] for item in listed if item["url"] == url] == ["core.st2.webhook"]
    done = appliance.st2("webhook", "list")
    assert done.returncode == 0 and url in done.stdout, done.stdout + done.stderr
    done, shown = appliance.st2_json("webhook", "get", url)
    assert done.returncode == 0, done.stdout + done.stderr
    assert shown["ref"] == webhook["ref"]


def test_a_rule_on_a_webhook_runs_its_action_with_a_body_field(appliance: Appliance):
    marker = uuid.uuid4().hex
    url = f"e2e/rule-{marker[:8]}"
    rule = appliance.api("POST", "rules", json={
        "name": f"webhook_{marker[:8]}", "pack": "default", "enabled": True,
        "trigger": {"type": "core.st2.webhook", "parameters": {"url": url}},
        "action": {"ref": "core.local", "parameters": {"cmd": "echo webhook said {{ trigger.body.word }}"}}})
    assert rule.status_code == 201, rule.text
    try:
        resp = requests.post(f"{appliance.api_url}/webhooks/{url}", json={"word": marker}, timeout=15,
                             headers={"X-Auth-Token": appliance.token})
        assert resp.status_code == 202, resp.text

        def started() -> list[dict]:
            listed = appliance.api("GET", "executions", params={"action": "core.local", "limit": 20}).json()
            return [doc for doc in listed if marker in str(doc.get("parameters", {}).get("cmd"))]

        found = wait_until(started)
        assert found, f"no execution of the rule{appliance.log_tail()}"
        done = appliance.wait_status(found[0]["id"])
        assert done["status"] == "succeeded" and done["result"]["stdout"] == f"webhook said {marker}", done
    finally:
        assert appliance.api("DELETE", f"rules/{rule.json()['id']}").status_code == 204
