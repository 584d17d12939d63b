"""st2notifier with the real st2 CLI, on both wirings: an execution that completes gives one
core.st2.generic.actiontrigger instance with StackStorm's payload, and an action's notify on-failure
gives a core.st2.generic.notifytrigger instance when it fails."""

from __future__ import annotations

import json

import pytest
from e2e_harness import Appliance, ok, wait_until

from appliance import models

pytestmark = pytest.mark.e2e

ACTION_TRIGGER = "core.st2.generic.actiontrigger"
NOTIFY_TRIGGER = "core.st2.generic.notifytrigger"


def instances_for(appliance: Appliance, trigger: str, execution: dict) -> list[dict]:
    """The instances of `trigger` about `execution`, through the API's ?trigger= filter."""
    params = {"trigger": trigger, "timestamp_gt": execution["start_timestamp"]}
    resp = appliance.api("GET", "triggerinstances", params=params)
    assert resp.status_code == 200, resp.text
    return [item for item in resp.json() if item["payload"].get("execution_id") == execution["id"]]


def wait_instances(appliance: Appliance, trigger: str, execution: dict, count: int) -> list[dict]:
    found: list[dict] = []

    def arrived() -> bool:
        found[:] = instances_for(appliance, trigger, execution)
        return len(found) >= count

    assert wait_until(arrived), f"no {trigger} for {execution['id']}:\n{appliance.log_tail()}"
    return found


def test_a_completed_run_gives_one_action_trigger(appliance: Appliance):
    done, execution = appliance.st2_json("run", "core.local", "cmd=echo notified")
    ok(done)
    (instance,) = wait_instances(appliance, ACTION_TRIGGER, execution, 1)
    assert instance["payload"] == {
        "execution_id": execution["id"],
        "status": "succeeded",
        "start_timestamp": str(models.parse_time(execution["start_timestamp"])),
        "action_name": "core.local",
        "action_ref": "core.local",
        "runner_ref": "local-shell-cmd",
        "parameters": {"cmd": "echo notified"},
        "result": execution["result"],
    }
    done, listed = appliance.st2_json("trigger-instance", "list", "--trigger", ACTION_TRIGGER,
                                      "-tg", execution["start_timestamp"])
    ok(done)
    assert instance["id"] in {item["id"] for item in listed}
    assert len(instances_for(appliance, ACTION_TRIGGER, execution)) == 1  # still one, once settled


def test_notify_on_failure_gives_a_notify_trigger_when_the_action_fails(appliance: Appliance):
    action = {"name": "notified_failure", "pack": "default", "runner_type": "local-shell-cmd",
              "parameters": {"cmd": {"type": "string", "default": "exit 3"}},
              "notify": {"on-failure": {"routes": ["oncall"], "message": "{{ action_parameters.cmd }} broke",
                                        "data": {"code": "{{ action_results.return_code }}"}},
                         "on-success": {"routes": ["never"]}}}
    resp = appliance.api("POST", "actions", json=action)
    assert resp.status_code == 201, resp.text
    try:
        done, execution = appliance.st2_json("run", "default.notified_failure", "cmd=exit 3")
        assert execution["status"] == "failed", done.stdout + done.stderr
        (instance,) = wait_instances(appliance, NOTIFY_TRIGGER, execution, 1)
    finally:
        assert appliance.api("DELETE", "actions/default.notified_failure").status_code == 204
    payload = instance["payload"]
    assert {k: payload[k] for k in ("status", "action_ref", "runner_ref", "route", "channel", "message")} == {
        "status": "failed", "action_ref": "default.notified_failure", "runner_ref": "local-shell-cmd",
        "route": "oncall", "channel": "oncall", "message": "exit 3 broke"}
    assert payload["data"]["code"] == "3" and json.loads(payload["data"]["result"]) == execution["result"]
    assert models.parse_time(payload["end_timestamp"]) == models.parse_time(execution["end_timestamp"])
    assert payload["start_timestamp"].endswith("+00:00")
    done, shown = appliance.st2_json("trigger-instance", "get", instance["id"])
    ok(done)
    assert shown["trigger"] == NOTIFY_TRIGGER and shown["payload"]["execution_id"] == execution["id"]
