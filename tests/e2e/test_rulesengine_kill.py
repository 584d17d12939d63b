"""A killed rules engine over RabbitMQ (processes mode): kill -9 of the st2rulesengine child while
trigger instances stream in; the supervisor restarts it and every instance ends processed, enforced
once and run once: none lost, none twice.

The test has its own appliance (it kills part of it) on a vhost of its own.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import uuid
from collections import Counter

import pytest
import requests
from e2e_harness import Appliance, children_running, ok, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.rabbitmq]

ENGINE_MODULE = "appliance.services.rulesengine"
COUNT = 60
KILL_AFTER = 40  # at most this many instances are posted before the kill (the others after it)
DEADLINE = 120.0  # 60 instances, enforcements and executions after a restart, on a busy 2-core box


def everything(app: Appliance, path: str, **params) -> list[dict]:
    resp = app.api("GET", path, params={"limit": 100, **params})
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_rabbitmq_rulesengine_killed_mid_stream_loses_and_repeats_nothing(rabbitmq, fresh_appliance, tmp_path):
    app = fresh_appliance("rabbitmq-rules-kill9", rabbitmq.new_vhost())
    supervisor = app.supervisor_pid()
    assert supervisor
    engines = children_running(supervisor, ENGINE_MODULE)
    assert len(engines) == 1, f"expected one {ENGINE_MODULE} child of {supervisor}, found {engines}"

    pack = f"e2ekill{uuid.uuid4().hex[:6]}"
    trigger_type = app.api("POST", "triggertypes", json={
        "name": "beat", "pack": pack, "description": "kill -9 test stream",
        "payload_schema": {"type": "object", "properties": {"n": {"type": "integer"}}}})
    assert trigger_type.status_code == 201, trigger_type.text
    trigger_ref = trigger_type.json()["ref"]
    rule_file = tmp_path / "rule.json"
    rule_file.write_text(json.dumps({"name": "on_beat", "pack": pack, "enabled": True,
                                     "trigger": {"type": trigger_ref}, "action": {"ref": "core.noop"}}))
    done, rule = app.st2_json("rule", "create", str(rule_file))
    ok(done)
    assert rule["enabled"] is True, rule

    statuses: list[int] = []
    resume = threading.Event()

    def stream() -> None:
        with requests.Session() as session:
            for n in range(COUNT):
                if n == KILL_AFTER:  # the rest is posted once the engine is killed
                    resume.wait(DEADLINE)
                resp = session.post(f"{app.api_url}/webhooks/st2", json={"trigger": trigger_ref, "payload": {"n": n}},
                                    headers={"X-Auth-Token": app.token}, timeout=30)
                statuses.append(resp.status_code)

    def instances() -> list[dict]:
        return everything(app, "triggerinstances", trigger=trigger_ref)

    def at_work() -> bool:
        """Some instances done and one claimed (the engine is most likely inside it), or, should the
        engine be too quick to be seen at it, half of the first part done."""
        found = [item["status"] for item in instances()]
        done = found.count("processed")
        return done >= 3 and ("processing" in found or done >= KILL_AFTER // 2)

    poster = threading.Thread(target=stream, name="trigger-instance-poster", daemon=True)
    poster.start()
    try:
        # killed while it works through the stream: some instances done, more coming
        assert wait_until(at_work, DEADLINE, 0.01), "the engine did not work through the stream" + app.log_tail()
        os.kill(engines[0], signal.SIGKILL)
    finally:
        resume.set()
    poster.join(DEADLINE)
    assert not poster.is_alive(), "posting the trigger instances hung"
    assert statuses == [202] * COUNT, statuses
    restarted = wait_until(lambda: [p for p in children_running(supervisor, ENGINE_MODULE) if p != engines[0]], 30)
    assert restarted, "the supervisor did not restart the rules engine" + app.log_tail()

    def all_processed() -> bool:
        found = instances()
        return len(found) == COUNT and all(item["status"] == "processed" for item in found)

    def all_succeeded() -> bool:
        found = everything(app, "executions", rule=rule["ref"])
        return len(found) >= COUNT and all(item["status"] == "succeeded" for item in found)

    assert wait_until(all_processed, DEADLINE, 0.5), (
        f"not every instance was processed: {Counter(item['status'] for item in instances())}{app.log_tail()}")
    assert wait_until(all_succeeded, DEADLINE, 0.5), f"not every execution of the rule succeeded{app.log_tail()}"

    instance_ids = {item["id"] for item in instances()}
    assert sorted(item["payload"]["n"] for item in instances()) == list(range(COUNT))
    enforcements = everything(app, "ruleenforcements", rule_ref=rule["ref"])
    assert len(enforcements) == COUNT, f"{len(enforcements)} enforcements for {COUNT} instances"
    assert {item["trigger_instance_id"] for item in enforcements} == instance_ids  # one each: none twice
    assert {item["status"] for item in enforcements} == {"succeeded"}, enforcements
    executions = everything(app, "executions", rule=rule["ref"])
    assert len(executions) == COUNT, f"{len(executions)} executions for {COUNT} instances"
    assert {item["trigger_instance"]["id"] for item in executions} == instance_ids
    assert {item["id"] for item in executions} == {item["execution_id"] for item in enforcements}

    ok(app.st2("rule", "delete", rule["ref"]))
    assert app.api("DELETE", f"triggertypes/{trigger_ref}").status_code == 204
