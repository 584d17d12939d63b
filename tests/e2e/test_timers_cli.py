"""Timers with the real st2 CLI, on both wirings: an IntervalTimer trigger fires about every second
while it exists (`st2 timer list/get` show it), and stops when it is deleted; a rule on an interval
timer runs core.noop every second until it is disabled, and its timer goes with the rule."""

from __future__ import annotations

import time
import uuid

import pytest
from e2e_harness import Appliance, wait_until

pytestmark = pytest.mark.e2e

EVERY_SECOND = {"type": "core.st2.IntervalTimer", "parameters": {"unit": "seconds", "delta": 1}}


def fired(appliance: Appliance, ref: str) -> int:
    resp = appliance.api("GET", "triggerinstances", params={"trigger": ref, "limit": 1})
    assert resp.status_code == 200, resp.text
    return int(resp.headers["X-Total-Count"])


def noop_runs(appliance: Appliance, rule_ref: str) -> int:
    resp = appliance.api("GET", "executions", params={"rule_ref": rule_ref, "limit": 100,
                                                      "include_attributes": "id,rule"})
    assert resp.status_code == 200, resp.text
    return sum(1 for doc in resp.json() if (doc.get("rule") or {}).get("ref") == rule_ref)


def settled(count) -> int:
    """The count once it stops growing (work already dispatched may still land)."""
    last = count()
    time.sleep(2.5)
    while count() != last:
        last = count()
        time.sleep(2.5)
    return last


def test_an_interval_timer_fires_every_second_until_it_is_deleted(appliance: Appliance):
    created = appliance.api("POST", "triggers", json=EVERY_SECOND)
    assert created.status_code == 201, created.text
    timer = created.json()
    try:
        listed = appliance.st2("timer", "list")
        assert listed.returncode == 0 and timer["id"] in listed.stdout, listed.stdout + listed.stderr
        typed = appliance.st2_json("timer", "list", "--timer-type", "core.st2.IntervalTimer")[1]
        assert timer["id"] in [doc["id"] for doc in typed]
        assert appliance.st2_json("timer", "get", timer["ref"])[1]["parameters"] == EVERY_SECOND["parameters"]

        assert wait_until(lambda: fired(appliance, timer["ref"]) >= 1), appliance.log_tail()
        first, start = fired(appliance, timer["ref"]), time.monotonic()
        assert wait_until(lambda: fired(appliance, timer["ref"]) >= first + 3)
        assert time.monotonic() - start < 6, "an every-second timer fired 3 times in 6 s or more"
        instance = appliance.api("GET", "triggerinstances", params={"trigger": timer["ref"], "limit": 1}).json()[0]
        assert instance["payload"]["schedule"] is None and instance["payload"]["executed_at"].endswith("+00:00")
    finally:
        assert appliance.api("DELETE", f"triggers/{timer['id']}").status_code == 204

    stopped = settled(lambda: fired(appliance, timer["ref"]))
    time.sleep(2)
    assert fired(appliance, timer["ref"]) == stopped
    assert timer["id"] not in appliance.st2("timer", "list").stdout


def test_a_rule_on_an_interval_timer_runs_noop_every_second_until_disabled(appliance: Appliance):
    name = f"every_second_{uuid.uuid4().hex[:8]}"
    rule = {"name": name, "pack": "default", "enabled": True, "trigger": EVERY_SECOND,
            "criteria": {}, "action": {"ref": "core.noop", "parameters": {}}}
    created = appliance.api("POST", "rules", json=rule)
    assert created.status_code == 201, created.text
    rule_ref, trigger_ref = created.json()["ref"], created.json()["trigger"]["ref"]
    try:
        timers = appliance.api("GET", "timers", params={"timer_type": "core.st2.IntervalTimer"}).json()
        assert trigger_ref in [doc["ref"] for doc in timers]
        assert wait_until(lambda: noop_runs(appliance, rule_ref) >= 3), appliance.log_tail()

        disabled = appliance.api("PUT", f"rules/{rule_ref}", json={**created.json(), "enabled": False})
        assert disabled.status_code == 200, disabled.text
        runs = settled(lambda: noop_runs(appliance, rule_ref))
        time.sleep(2)
        assert noop_runs(appliance, rule_ref) == runs
    finally:
        assert appliance.api("DELETE", f"rules/{rule_ref}").status_code == 204
    assert wait_until(lambda: appliance.api("GET", f"timers/{trigger_ref}").status_code == 404)
