"""st2sensorcontainer with the real st2 CLI, on both wirings: a pack's polling sensor runs in its own
process, reads and writes the datastore with its service token, dispatches a trigger that a rule with
criteria turns into an action; killed with SIGKILL it is restarted; `st2 sensor disable` stops it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import uuid
from typing import Iterator

import pytest
from e2e_harness import ROOT, Appliance, ok, pid_alive, wait_until

pytestmark = pytest.mark.e2e

SENSOR = "sensorpack.CounterSensor"
COUNTED = "sensorpack.counted"
SPAWN, EXIT = "core.st2.sensor.process_spawn", "core.st2.sensor.process_exit"


def instances(appliance: Appliance, trigger: str, since: str = "") -> list[dict]:
    params = {"trigger": trigger, "limit": 100, **({"timestamp_gt": since} if since else {})}
    resp = appliance.api("GET", "triggerinstances", params=params)
    assert resp.status_code == 200, resp.text
    return resp.json()


def counted(appliance: Appliance, tag: str) -> list[int]:
    return sorted(item["payload"]["count"] for item in instances(appliance, COUNTED)
                  if item["payload"].get("tag") == tag)


def latest_pid(appliance: Appliance) -> int:
    """The pid of the sensor's newest process, from its process_spawn trigger instances."""
    spawned = [item for item in instances(appliance, SPAWN) if item["payload"]["id"] == "CounterSensor"]
    return max(spawned, key=lambda item: item["occurrence_time"])["payload"]["pid"] if spawned else 0


@pytest.fixture
def sensor_pack(appliance: Appliance, tmp_path) -> Iterator[str]:
    """The sensor pack registered (its sensor enabled) with a config whose tag is this test's; the
    sensor disabled and the datastore counter deleted afterwards."""
    tag = uuid.uuid4().hex[:8]
    target = os.path.join(appliance.packs, "sensorpack")
    if not os.path.isdir(target):
        shutil.copytree(os.path.join(ROOT, "tests", "fixtures", "packs", "sensorpack"), target)
    os.makedirs(os.path.join(appliance.base, "configs"), exist_ok=True)
    with open(os.path.join(appliance.base, "configs", "sensorpack.yaml"), "w") as handle:
        json.dump({"tag": tag, "poll_seconds": 0.3}, handle)
    appliance.st2("key", "delete", "sensorpack.CounterSensor:count")  # a counter left by an earlier test
    registered = ok(appliance.st2("pack", "register", "sensorpack"))
    assert "sensors" in registered, registered
    yield tag
    ok(appliance.st2("sensor", "disable", SENSOR))
    assert wait_until(lambda: not pid_alive(latest_pid(appliance)))
    appliance.st2("key", "delete", "sensorpack.CounterSensor:count")


def test_a_polling_sensor_feeds_a_rule_that_runs_an_action(appliance: Appliance, sensor_pack: str, tmp_path):
    tag = sensor_pack
    done, listed = appliance.st2_json("sensor", "list", "--pack", "sensorpack")
    assert ok(done) and [(item["ref"], item["enabled"]) for item in listed] == [(SENSOR, True)]
    done, shown = appliance.st2_json("sensor", "get", SENSOR)
    assert ok(done) and shown["trigger_types"] == [COUNTED] and shown["poll_interval"] == 4
    # counts 1, 2, 3 ... : the sensor keeps its counter in the datastore through the API
    assert wait_until(lambda: counted(appliance, tag)[:3] == [1, 2, 3]), counted(appliance, tag)
    target = len(counted(appliance, tag)) + 8  # a count still to come once the rule exists
    rule = {"name": f"count_{tag}", "pack": "sensorpack", "enabled": True, "trigger": {"type": COUNTED},
            "criteria": {"trigger.tag": {"type": "equals", "pattern": tag},
                         "trigger.count": {"type": "equals", "pattern": target}},
            "action": {"ref": "core.local", "parameters": {"cmd": "echo counted {{ trigger.count }}"}}}
    path = tmp_path / "rule.json"
    path.write_text(json.dumps(rule))
    ok(appliance.st2("rule", "create", str(path)))
    try:
        executions: list = []

        def ran() -> bool:
            executions[:] = appliance.api("GET", "executions", params={"rule": f"sensorpack.count_{tag}"}).json()
            return bool(executions) and executions[0]["status"] == "succeeded"

        assert wait_until(ran), executions
        assert len(executions) == 1 and executions[0]["result"]["stdout"] == f"counted {target}"
        with open(appliance.log_path) as log:
            text = log.read()
        assert f"setup with tag {tag}" in text and f"add_trigger {COUNTED}" in text
    finally:
        ok(appliance.st2("rule", "delete", f"sensorpack.count_{tag}"))


def test_a_killed_sensor_is_restarted_and_a_disabled_one_stops(appliance: Appliance, sensor_pack: str):
    tag = sensor_pack
    assert wait_until(lambda: len(counted(appliance, tag)) >= 1)
    first = latest_pid(appliance)
    os.kill(first, signal.SIGKILL)
    assert wait_until(lambda: latest_pid(appliance) not in (0, first)), "the killed sensor was not restarted"
    exits = [item["payload"] for item in instances(appliance, EXIT) if item["payload"]["id"] == "CounterSensor"]
    assert {"id": "CounterSensor", "exit_code": -9} in [{k: v for k, v in p.items() if k != "timestamp"}
                                                        for p in exits]
    before = len(counted(appliance, tag))
    assert wait_until(lambda: len(counted(appliance, tag)) > before), "the restarted sensor does not poll"
    assert counted(appliance, tag) == list(range(1, len(counted(appliance, tag)) + 1))  # its counter survived

    second = latest_pid(appliance)
    done, changed = appliance.st2_json("sensor", "disable", SENSOR)
    assert ok(done) and changed["enabled"] is False
    assert wait_until(lambda: not pid_alive(second)), "the disabled sensor still runs"
    settled = len(counted(appliance, tag))
    assert not wait_until(lambda: len(counted(appliance, tag)) > settled, timeout=1.5)
