"""Triggers with the real st2 CLI, on both wirings: the system trigger types, a pack's triggers/*.yaml,
`st2 trigger create/update/delete/getspecs`, and trigger instances (list, get, re-emit).

Trigger instances are dispatched as the appliance's webhooks, timers and sensors will do it: through
its dispatcher, over the appliance's own database and bus, so they start in StackStorm's initial status,
pending, until the appliance's rules engine (through the bus, or its sweep for instances dispatched
from another process's in-memory bus) marks them processed.
"""

from __future__ import annotations

import json
import os
import shutil
from typing import Iterator

import pytest
from e2e_harness import Appliance, ok, refused, wait_until

from appliance import config
from appliance.services.context import Context
from appliance.triggers import Dispatcher, DispatchError

pytestmark = pytest.mark.e2e

PACK = "e2etriggers"
JOB_DONE = """\
name: job_done
description: a batch job ended
payload_schema:
  type: object
  properties:
    job_id: {type: integer, required: true}
    state: {type: string}
"""


@pytest.fixture
def dispatcher(appliance: Appliance) -> Iterator[Dispatcher]:
    """The appliance's dispatcher, over its database and bus."""
    ctx = Context(config.load(appliance.config_path))
    try:
        yield ctx.triggers
    finally:
        ctx.close()


def instance_count(appliance: Appliance) -> int:
    resp = appliance.api("GET", "triggerinstances", params={"limit": 1})
    assert resp.status_code == 200, resp.text
    return int(resp.headers["X-Total-Count"])


def test_trigger_list_get_and_getspecs_show_the_system_trigger_types(appliance: Appliance):
    done, listed = appliance.st2_json("trigger", "list", "-p", "core")
    ok(done)
    refs = {item["ref"] for item in listed}
    assert {"core.st2.generic.actiontrigger", "core.st2.generic.notifytrigger", "core.st2.action.file_written",
            "core.st2.generic.inquiry", "core.st2.sensor.process_spawn", "core.st2.sensor.process_exit",
            "core.st2.key_value_pair.create", "core.st2.key_value_pair.update",
            "core.st2.key_value_pair.value_change", "core.st2.key_value_pair.delete", "core.st2.webhook",
            "core.st2.IntervalTimer", "core.st2.DateTimer", "core.st2.CronTimer"} == refs
    assert "core.st2.CronTimer" in ok(appliance.st2("trigger", "list"))

    done, timer = appliance.st2_json("trigger", "get", "core.st2.IntervalTimer")
    ok(done)
    assert timer["parameters_schema"]["properties"]["unit"]["enum"] == ["weeks", "days", "hours", "minutes",
                                                                         "seconds"]
    assert set(timer["payload_schema"]["properties"]) == {"executed_at", "schedule"}

    done, specs = appliance.st2_json("trigger", "getspecs", "core.st2.key_value_pair.create")
    ok(done)
    assert [(s["ref"], s["type"], s["parameters"]) for s in specs] == [
        ("core.st2.key_value_pair.create", "core.st2.key_value_pair.create", {})]
    # parameterised: its triggers come with rules
    assert "No matching items found" in ok(appliance.st2("trigger", "getspecs", "core.st2.webhook"))


def test_pack_triggers_and_trigger_create_update_delete(appliance: Appliance, tmp_path):
    pack_dir = os.path.join(appliance.packs, PACK)
    os.makedirs(os.path.join(pack_dir, "triggers"))
    with open(os.path.join(pack_dir, "pack.yaml"), "w", encoding="utf-8") as handle:
        handle.write(f"name: {PACK}\ndescription: triggers under test\nversion: 1.0.0\nauthor: e2e\n")
    with open(os.path.join(pack_dir, "triggers", "job_done.yaml"), "w", encoding="utf-8") as handle:
        handle.write(JOB_DONE)
    created_file, updated_file, bad_file = (str(tmp_path / name) for name in ("new.json", "upd.json", "bad.json"))
    body = {"name": "node_down", "pack": PACK, "description": "a node stopped answering",
            "payload_schema": {"type": "object", "properties": {"node": {"type": "string"}}}}
    for path, content in ((created_file, body), (updated_file, {**body, "description": "changed"}),
                          (bad_file, {**body, "name": "bad", "pack": "Bad-Pack"})):
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(content, handle)
    try:
        ok(appliance.st2("pack", "register", PACK))
        done, job_done = appliance.st2_json("trigger", "get", f"{PACK}.job_done")
        ok(done)
        assert job_done["metadata_file"] == "triggers/job_done.yaml" and job_done["description"] == "a batch job ended"
        done, specs = appliance.st2_json("trigger", "getspecs", f"{PACK}.job_done")
        assert ok(done) and [s["ref"] for s in specs] == [f"{PACK}.job_done"]

        done, created = appliance.st2_json("trigger", "create", created_file)
        ok(done)
        assert created["ref"] == f"{PACK}.node_down" and created["uid"] == f"trigger_type:{PACK}:node_down"
        done, updated = appliance.st2_json("trigger", "update", f"{PACK}.node_down", updated_file)
        ok(done)
        assert updated["description"] == "changed" and updated["id"] == created["id"]
        assert "has been successfully deleted" in ok(appliance.st2("trigger", "delete", f"{PACK}.node_down"))
        assert "not found" in refused(appliance.st2("trigger", "get", f"{PACK}.node_down"))
        assert appliance.api("GET", f"triggers/{PACK}.node_down").status_code == 404  # its shadow went too

        assert "not a valid pack ref" in refused(appliance.st2("trigger", "create", bad_file))
        assert appliance.api("GET", "triggertypes", params={"name": "bad"}).json() == []
        assert "Resources belonging to system level packs can't be manipulated" in refused(
            appliance.st2("trigger", "delete", "core.st2.webhook"))
    finally:
        appliance.api("DELETE", f"triggertypes/{PACK}.job_done")
        shutil.rmtree(pack_dir)


def _processed(appliance: Appliance, instance_id: str) -> dict:
    """The instance once the rules engine is done with it (its sweep runs every few seconds)."""
    def done() -> dict:
        doc = appliance.api("GET", f"triggerinstances/{instance_id}").json()
        return doc if doc.get("status") == "processed" else {}

    found = wait_until(done, timeout=30)
    assert found, f"trigger instance {instance_id} was never processed{appliance.log_tail()}"
    return found


def test_trigger_instance_get_list_and_re_emit(appliance: Appliance, dispatcher: Dispatcher):
    payload = {"object": {"name": "rack12.state", "value": "down"}}
    original = dispatcher.dispatch("core.st2.key_value_pair.create", payload)
    assert original["status"] == "pending"

    done, shown = appliance.st2_json("trigger-instance", "get", original["id"])
    ok(done)
    assert {k: v for k, v in shown.items() if k != "status"} == {
        "id": original["id"], "trigger": "core.st2.key_value_pair.create", "payload": payload,
        "occurrence_time": original["occurrence_time"]}
    assert shown["status"] in ("pending", "processing", "processed")
    _processed(appliance, original["id"])
    text = ok(appliance.st2("trigger-instance", "get", original["id"]))
    assert "rack12.state" in text and "processed" in text

    emitted = ok(appliance.st2("trigger-instance", "re-emit", original["id"]))
    assert emitted.strip() == f"Trigger instance {original['id']} succesfully re-sent."
    done, newer = appliance.st2_json("trigger-instance", "list", "--trigger", "core.st2.key_value_pair.create",
                                     "-tg", original["occurrence_time"])
    ok(done)
    assert len(newer) == 1 and newer[0]["id"] != original["id"]
    again = _processed(appliance, newer[0]["id"])  # re-emitted through the appliance's own bus
    assert again["payload"] == {**payload, "__context": {"original_id": original["id"]}}

    done, processed = appliance.st2_json("trigger-instance", "list", "--status", "processed", "-n", "20")
    ok(done)
    assert {original["id"], newer[0]["id"]} <= {item["id"] for item in processed}


def test_what_cannot_be_dispatched_or_re_emitted_stores_nothing(appliance: Appliance, dispatcher: Dispatcher):
    before = instance_count(appliance)
    with pytest.raises(DispatchError, match='Trigger "nope.nothing" not found'):
        dispatcher.dispatch("nope.nothing", {})
    with pytest.raises(DispatchError, match="'route' is a required property"):
        dispatcher.dispatch("core.st2.generic.inquiry", {"id": "x"})
    assert "not found" in refused(appliance.st2("trigger-instance", "re-emit", "5f0000000000000000000000"))
    assert "not found" in refused(appliance.st2("trigger-instance", "get", "5f0000000000000000000000"))
    malformed = appliance.api("POST", "triggertypes", data=b'{"name": ', headers={"Content-Type": "application/json"})
    assert malformed.status_code == 400 and "Failed to parse request body" in malformed.json()["faultstring"]
    assert instance_count(appliance) == before
    listed = appliance.api("GET", "triggerinstances")
    assert listed.status_code == 200 and listed.headers["X-Limit"] == "100"
