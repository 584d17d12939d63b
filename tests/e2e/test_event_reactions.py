"""Events the appliance reacts to, end to end on both wirings, with the real st2 CLI and plain HTTP:
a rule on core.st2.generic.actiontrigger running an action when a given execution fails (and only
then), and a rule on a webhook reading an encrypted datastore key through decrypt_kv.

Every rule, trigger and key made here is deleted at the end, so the shared appliance stays idle.
"""

from __future__ import annotations

import json
import uuid
from typing import Iterator

import pytest
import requests
from e2e_harness import Appliance, ok, wait_until

pytestmark = pytest.mark.e2e

ACTION_TRIGGER = "core.st2.generic.actiontrigger"
DEADLINE = 60.0  # notifier, rules engine, scheduler and runner in turn, on a busy 2-core box


@pytest.fixture
def rules(appliance: Appliance, tmp_path) -> Iterator[list]:
    """Rules made with `st2 rule create` through `make(body)`, deleted with `st2 rule delete` afterwards."""
    made: list[str] = []

    def make(body: dict) -> dict:
        path = tmp_path / f"{body['name']}.json"
        path.write_text(json.dumps(body))
        done, rule = appliance.st2_json("rule", "create", str(path))
        ok(done)
        assert rule["enabled"] is True, rule
        made.append(rule["ref"])
        return rule

    yield make
    for ref in made:
        ok(appliance.st2("rule", "delete", ref))


def api_list(appliance: Appliance, path: str, **params) -> list[dict]:
    resp = appliance.api("GET", path, params={"limit": 100, **params})
    assert resp.status_code == 200, resp.text
    return resp.json()


def processed_action_trigger(appliance: Appliance, execution: dict) -> dict:
    """The actiontrigger instance of `execution`, once the rules engine has processed it."""
    found: dict = {}

    def settled() -> bool:
        for item in api_list(appliance, "triggerinstances", trigger=ACTION_TRIGGER,
                             timestamp_gt=execution["start_timestamp"]):
            if item["payload"].get("execution_id") == execution["id"]:
                found.update(item)
        return found.get("status") == "processed"

    assert wait_until(settled, DEADLINE), (
        f"the actiontrigger of {execution['id']} is {found.get('status')!r}, not processed{appliance.log_tail()}")
    return found


def test_a_rule_on_the_action_trigger_reacts_to_a_failed_execution_only(appliance: Appliance, rules):
    tag = f"tag{uuid.uuid4().hex[:10]}"
    rule = rules({
        "name": f"on_failure_{tag}", "pack": "default", "enabled": True,
        "trigger": {"type": ACTION_TRIGGER},
        "criteria": {"trigger.status": {"type": "equals", "pattern": "failed"},
                     "trigger.action_ref": {"type": "equals", "pattern": "core.local"},
                     "trigger.parameters.cmd": {"type": "contains", "pattern": tag}},
        "action": {"ref": "core.local", "parameters": {"cmd": "echo reacting to {{ trigger.execution_id }}"}}})

    def enforcements() -> list[dict]:
        return api_list(appliance, "ruleenforcements", rule_ref=rule["ref"])

    def started() -> list[dict]:
        return api_list(appliance, "executions", rule=rule["ref"])

    # The same tag on a run that succeeds: its actiontrigger is processed and matches nothing.
    done, passed = appliance.st2_json("run", "core.local", f"cmd=true # {tag}")
    assert passed["status"] == "succeeded", done.stdout + done.stderr
    processed_action_trigger(appliance, passed)
    assert started() == [] and enforcements() == []

    done, failed = appliance.st2_json("run", "core.local", f"cmd=exit 3 # {tag}")
    assert failed["status"] == "failed" and failed["result"]["return_code"] == 3, done.stdout + done.stderr
    assert wait_until(enforcements, DEADLINE), f"the rule was not enforced{appliance.log_tail()}"
    instance = processed_action_trigger(appliance, failed)
    assert instance["payload"]["status"] == "failed" and instance["payload"]["parameters"]["cmd"] == f"exit 3 # {tag}"

    done, listed = appliance.st2_json("rule-enforcement", "list", "--rule", rule["ref"], "-n", "-1")
    ok(done)
    [listed] = listed  # settled: exactly one
    enforcement = appliance.api("GET", f"ruleenforcements/{listed['id']}").json()
    assert enforcement["status"] == "succeeded", enforcement
    assert enforcement["rule"]["ref"] == rule["ref"] and enforcement["trigger_instance_id"] == instance["id"]
    [reaction] = started()
    assert reaction["id"] == enforcement["execution_id"]
    reaction = appliance.wait_status(reaction["id"], timeout=DEADLINE)
    assert reaction["context"]["rule"] == {"id": rule["id"], "name": rule["name"]}, reaction["context"]
    assert reaction["context"]["trigger_instance"]["id"] == instance["id"], reaction["context"]
    assert reaction["rule"]["ref"] == rule["ref"] and reaction["trigger_instance"]["id"] == instance["id"]
    assert reaction["parameters"]["cmd"] == f"echo reacting to {failed['id']}"
    assert reaction["status"] == "succeeded" and reaction["result"]["stdout"] == f"reacting to {failed['id']}", reaction
    # The reaction's own actiontrigger (a succeeded core.local without the tag) fires nothing more.
    processed_action_trigger(appliance, reaction)
    assert len(enforcements()) == 1 and len(started()) == 1


@pytest.fixture
def secret_key(appliance: Appliance) -> Iterator[tuple[str, str]]:
    """(name, value) of an encrypted system key set with `st2 key set --encrypt`, deleted afterwards."""
    name = f"e2e_secret_{uuid.uuid4().hex[:8]}"
    value = f"s3cret-{uuid.uuid4().hex}"
    ok(appliance.st2("key", "set", name, value, "--encrypt"))
    yield name, value
    ok(appliance.st2("key", "delete", name))


def test_a_webhook_rule_decrypts_an_encrypted_key_for_its_action(appliance: Appliance, rules, secret_key):
    name, secret = secret_key
    table = ok(appliance.st2("key", "list", "--prefix", name))
    assert name in table and secret not in table
    done, plain = appliance.st2_json("key", "list", "--prefix", name)
    assert plain[0]["encrypted"] is True and plain[0]["value"] != secret and secret not in done.stdout

    url = f"e2e/secret-{uuid.uuid4().hex[:8]}"
    rule = rules({
        "name": f"decrypt_{name}", "pack": "default", "enabled": True,
        "trigger": {"type": "core.st2.webhook", "parameters": {"url": url}},
        "action": {"ref": "core.local", "parameters": {"cmd": f"echo {{{{ st2kv.system.{name} | decrypt_kv }}}}"}}})
    resp = requests.post(f"{appliance.api_url}/webhooks/{url}", json={"go": True}, timeout=15,
                         headers={"X-Auth-Token": appliance.token})
    assert resp.status_code == 202, resp.text

    found = wait_until(lambda: api_list(appliance, "executions", rule=rule["ref"]), DEADLINE)
    assert found, f"the webhook rule started nothing{appliance.log_tail()}"
    [execution] = found
    execution = appliance.wait_status(execution["id"], timeout=DEADLINE)
    assert execution["status"] == "succeeded" and execution["result"]["stdout"] == secret, execution
    assert execution["rule"]["ref"] == rule["ref"]
