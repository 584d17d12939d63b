"""st2garbagecollector over a real store (SQLite, and MongoDB through mongomock): completed executions older than
action_executions_ttl go with their output lines and workflow records while running, abandoned and recent ones
stay; output lines, trigger instances, expired tokens and rule enforcements go by their own TTLs; pending inquiries
past their ttl time out with purge_inquiries (and only there); only the leader collects; a TTL below StackStorm's
1-day minimum stops every service with one line."""

from __future__ import annotations

import datetime
import subprocess
import sys
import time

import pytest
from falcon import testing

from appliance import config as st2config
from appliance import models
from appliance.api.app import api_app
from appliance.config import ConfigError
from appliance.models import (
    EXECUTION_OUTPUT,
    EXECUTIONS,
    RULE_ENFORCEMENTS,
    TOKENS,
    TRIGGER_INSTANCES,
    WORKFLOW_EXECUTIONS,
)
from appliance.services import garbagecollector
from appliance.services.garbagecollector import GarbageCollectorService
from appliance.services.workflowengine import WorkflowEngineService
from appliance.store.mongo import MongoStore

DAY = datetime.timedelta(days=1)


@pytest.fixture(params=["sqlite", "mongomock"])
def gc_ctx(request, make_ctx):
    """A factory of Contexts with `[garbagecollector]` settings over a fresh SQLite file or mongomock database."""

    def make(settings: str = ""):
        ctx = make_ctx(f"[auth]\nenable = false\n[garbagecollector]\nsleep_delay = 0\n{settings}")
        if request.param == "mongomock":
            import mongomock

            ctx.__dict__["store"] = MongoStore(mongomock.MongoClient(), "st2")
        return ctx

    return make


def ago(delta: datetime.timedelta) -> str:
    return models.format_time(datetime.datetime.now(datetime.timezone.utc) - delta)


def execution(ctx, status: str, started: datetime.timedelta = datetime.timedelta(0),
              ended: datetime.timedelta | None = None, lines: int = 2, runner: str = "local-shell-cmd",
              result: dict | None = None) -> dict:
    """An execution of `status` that started `started` ago (and, completed, ended `ended` ago: at its start unless
    said), with `lines` output lines stamped at its start."""
    created = ctx.executions.create({"ref": "core.local", "name": "local", "pack": "core"}, {"name": runner},
                                    {"cmd": "true"}, {"user": "stanley"}, status=models.RUNNING, result=result)
    for n in range(lines):
        ctx.executions.add_output(created, "stdout", f"line {n}\n")
    fields = {"status": status, "start_timestamp": ago(started)}
    if status in models.COMPLETED_STATUSES:
        fields["end_timestamp"] = ago(started if ended is None else ended)
    ctx.store.collection(EXECUTIONS).update(created["id"], set_fields=fields)
    outputs = ctx.store.collection(EXECUTION_OUTPUT)
    for line in outputs.find({"execution_id": created["id"]}):
        outputs.update(line["id"], set_fields={"timestamp": ago(started)})
    return ctx.executions.get(created["id"])


def lines_of(ctx, execution_id: str) -> int:
    return ctx.store.collection(EXECUTION_OUTPUT).count({"execution_id": execution_id})


def present(ctx, docs: list[dict]) -> list[bool]:
    return [ctx.executions.get(doc["id"]) is not None for doc in docs]


# -- executions -----------------------------------------------------------------------------------------
def test_completed_executions_older_than_the_ttl_go_with_their_output_and_nothing_else_does(gc_ctx):
    ctx = gc_ctx("action_executions_ttl = 2\naction_executions_output_ttl = 60\n")
    old = [execution(ctx, status, 3 * DAY) for status in ("succeeded", "failed", "timeout", "canceled")]
    workflow = execution(ctx, "succeeded", 3 * DAY, runner="orquesta")
    records = ctx.store.collection(WORKFLOW_EXECUTIONS)
    records.insert(WORKFLOW_EXECUTIONS.build({"id": models.new_id(), "action_execution": workflow["id"],
                                              "status": "succeeded", "definition": "version: 1.0",
                                              "start_timestamp": workflow["start_timestamp"]}))
    kept = [
        execution(ctx, "running", 30 * DAY),  # not completed: never purged, however old
        execution(ctx, "paused", 30 * DAY),
        execution(ctx, "pending", 30 * DAY, runner="inquirer"),
        execution(ctx, "abandoned", 30 * DAY),  # not one of StackStorm's DONE_STATES
        execution(ctx, "succeeded", 3 * DAY, ended=DAY),  # ended within the TTL
        execution(ctx, "succeeded", DAY),  # younger than the TTL
        execution(ctx, "failed"),
    ]

    collector = GarbageCollectorService(ctx)
    done = collector.collect()

    assert done == {"executions": 5, "execution output lines": 0, "inquiries timed out": 0}
    assert present(ctx, old + [workflow]) == [False] * 5
    assert [lines_of(ctx, doc["id"]) for doc in old + [workflow]] == [0] * 5
    assert records.find({"action_execution": workflow["id"]}) == []
    assert present(ctx, kept) == [True] * len(kept)
    assert [lines_of(ctx, doc["id"]) for doc in kept] == [2] * len(kept)
    assert collector.collect()["executions"] == 0


def test_executions_are_deleted_a_batch_at_a_time(gc_ctx, monkeypatch):
    monkeypatch.setattr(garbagecollector, "BATCH", 3)
    ctx = gc_ctx("action_executions_ttl = 1\n")
    old = [execution(ctx, "succeeded", 2 * DAY, lines=4) for _ in range(8)]
    young = execution(ctx, "succeeded")
    calls = []
    coll = ctx.store.collection(EXECUTIONS)
    delete_many = coll.delete_many
    monkeypatch.setattr(coll, "delete_many", lambda filters: calls.append(filters) or delete_many(filters))

    assert GarbageCollectorService(ctx).collect()["executions"] == 8

    assert [len(filters["id"]["$in"]) for filters in calls] == [3, 3, 2]
    assert present(ctx, old) == [False] * 8 and present(ctx, [young]) == [True]
    assert ctx.store.collection(EXECUTION_OUTPUT).count() == 2


def test_output_lines_older_than_their_ttl_go_whatever_their_execution(gc_ctx):
    ctx = gc_ctx()  # action_executions_output_ttl = 7 by default, as StackStorm's; executions are kept
    running = execution(ctx, "running", 10 * DAY, lines=3)
    recent = ctx.executions.add_output(running, "stdout", "still going\n")
    week_old = execution(ctx, "succeeded", 6 * DAY)

    assert GarbageCollectorService(ctx).collect() == {"execution output lines": 3, "inquiries timed out": 0}

    assert [line["id"] for line in ctx.store.collection(EXECUTION_OUTPUT).find({"execution_id": running["id"]})] \
        == [recent["id"]]
    assert lines_of(ctx, week_old["id"]) == 2
    assert present(ctx, [running, week_old]) == [True, True]


# -- trigger instances, tokens, rule enforcements ---------------------------------------------------------
def instance(ctx, age: datetime.timedelta) -> dict:
    return ctx.store.collection(TRIGGER_INSTANCES).insert(TRIGGER_INSTANCES.build({
        "id": models.new_id(), "trigger": "core.st2.webhook", "payload": {}, "occurrence_time": ago(age),
        "status": "processed"}))


def enforcement(ctx, age: datetime.timedelta) -> dict:
    instance_id = models.new_id()
    return ctx.store.collection(RULE_ENFORCEMENTS).insert(RULE_ENFORCEMENTS.build({
        "id": models.new_id(), "key": f"rule:{instance_id}", "rule": {"id": "r", "ref": "p.r", "uid": "rule:p:r"},
        "trigger_instance_id": instance_id, "enforced_at": ago(age), "status": "succeeded"}))


def token(ctx, expired: datetime.timedelta) -> str:
    return ctx.credentials.issue_token("stanley", ttl=-int(expired.total_seconds()))["id"]


def ids(ctx, entity) -> set[str]:
    return {doc["id"] for doc in ctx.store.collection(entity).find()}


def test_trigger_instances_expired_tokens_and_rule_enforcements_go_by_their_ttls(gc_ctx):
    ctx = gc_ctx("trigger_instances_ttl = 2\ntokens_ttl = 1\nrule_enforcements_ttl = 3\ntraces_ttl = 1\n")
    instances = [instance(ctx, age) for age in (5 * DAY, 2 * DAY + datetime.timedelta(minutes=1), DAY, 0 * DAY)]
    tokens = [token(ctx, age) for age in (2 * DAY, DAY + datetime.timedelta(minutes=1), DAY / 2)]
    valid = ctx.credentials.issue_token("stanley")["id"]
    enforcements = [enforcement(ctx, age) for age in (4 * DAY, 2 * DAY)]

    done = GarbageCollectorService(ctx).collect()

    assert done == {"execution output lines": 0, "trigger instances": 2, "tokens": 2, "rule enforcements": 1,
                    "inquiries timed out": 0}
    assert ids(ctx, TRIGGER_INSTANCES) == {doc["id"] for doc in instances[2:]}
    assert ids(ctx, TOKENS) == {tokens[2], valid}
    assert ids(ctx, RULE_ENFORCEMENTS) == {enforcements[1]["id"]}


def test_without_ttls_nothing_goes(gc_ctx):
    ctx = gc_ctx("action_executions_output_ttl = 0\npurge_inquiries = false\n")
    old = execution(ctx, "succeeded", 400 * DAY)
    stale = {instance(ctx, 400 * DAY)["id"], token(ctx, 400 * DAY), enforcement(ctx, 400 * DAY)["id"]}

    assert GarbageCollectorService(ctx).collect() == {}

    assert present(ctx, [old]) == [True] and lines_of(ctx, old["id"]) == 2
    assert ids(ctx, TRIGGER_INSTANCES) | ids(ctx, TOKENS) | ids(ctx, RULE_ENFORCEMENTS) == stale


def test_a_ttl_longer_than_the_calendar_purges_nothing(gc_ctx):
    ctx = gc_ctx("action_executions_ttl = 99999999999\ntokens_ttl = 3000000\n")
    old = execution(ctx, "succeeded", 400 * DAY)
    assert GarbageCollectorService(ctx).collect()["executions"] == 0
    assert present(ctx, [old]) == [True]


# -- inquiries --------------------------------------------------------------------------------------------
def inquiry(ctx, ttl: int, age: datetime.timedelta) -> dict:
    result = {"schema": {}, "roles": [], "users": [], "route": "", "ttl": ttl}
    return execution(ctx, "pending", age, runner="inquirer", result=result, lines=0)


def test_inquiries_past_their_ttl_time_out_in_the_collector_only(gc_ctx):
    ctx = gc_ctx()
    minutes = datetime.timedelta(minutes=1)
    late, young, forever = inquiry(ctx, 1, 2 * minutes), inquiry(ctx, 5, 4 * minutes), inquiry(ctx, 0, 30 * DAY)
    assert WorkflowEngineService(ctx).sweep(0) == 0  # the workflow engine leaves them to the collector
    assert ctx.executions.get(late["id"])["status"] == "pending"

    assert GarbageCollectorService(ctx).collect()["inquiries timed out"] == 1

    timed_out = ctx.executions.get(late["id"])
    assert timed_out["status"] == "timeout" and timed_out["result"]["ttl"] == 1
    assert [ctx.executions.get(doc["id"])["status"] for doc in (young, forever)] == ["pending", "pending"]


def test_without_purge_inquiries_an_inquiry_never_times_out(gc_ctx):
    ctx = gc_ctx("purge_inquiries = false\n")
    late = inquiry(ctx, 1, DAY)

    assert "inquiries timed out" not in GarbageCollectorService(ctx).collect()

    shown = testing.TestClient(api_app(ctx)).simulate_get(f"/v1/inquiries/{late['id']}")
    assert shown.status_code == 200 and shown.json["ttl"] == 1  # as StackStorm's API without its collector
    assert ctx.executions.get(late["id"])["status"] == "pending"


# -- the service --------------------------------------------------------------------------------------------
def test_only_the_leader_collects(gc_ctx):
    ctx = gc_ctx("action_executions_ttl = 1\n")
    first, second = GarbageCollectorService(ctx), GarbageCollectorService(ctx)
    assert first.collect()["executions"] == 0  # it leads from now on
    old = execution(ctx, "succeeded", 2 * DAY)

    assert second.collect() == {}
    assert present(ctx, [old]) == [True]

    first.lock.release()
    assert second.collect()["executions"] == 1
    second.lock.release()


def test_a_collector_that_loses_the_lead_stops_between_two_batches(gc_ctx, monkeypatch):
    monkeypatch.setattr(garbagecollector, "BATCH", 2)
    monkeypatch.setattr(garbagecollector, "RENEW_SECONDS", 0)  # the lock is renewed at every step
    ctx = gc_ctx("action_executions_ttl = 1\n")
    old = [execution(ctx, "succeeded", 2 * DAY) for _ in range(6)]
    collector, other = GarbageCollectorService(ctx), GarbageCollectorService(ctx)
    coll = ctx.store.collection(EXECUTIONS)
    delete_many = coll.delete_many

    def delete_then_lose_the_lead(filters):
        count = delete_many(filters)
        collector.lock.release()
        assert other.lock.hold()  # another collector takes over
        return count

    monkeypatch.setattr(coll, "delete_many", delete_then_lose_the_lead)
    assert collector.collect() == {"executions": 2}
    assert present(ctx, old) == [False] * 2 + [True] * 4
    assert ctx.store.collection(EXECUTION_OUTPUT).count() == 4 * 2  # only the deleted ones' lines went

    monkeypatch.setattr(coll, "delete_many", delete_many)
    assert other.collect()["executions"] == 4
    other.lock.release()


def test_the_running_service_collects_every_collection_interval_and_hands_over_at_stop(make_ctx):
    ctx = make_ctx("[garbagecollector]\naction_executions_ttl = 1\ncollection_interval = 1\nsleep_delay = 0\n")
    service = GarbageCollectorService(ctx)
    service.start()
    try:
        for _ in range(2):
            old = execution(ctx, "succeeded", 2 * DAY)
            deadline = time.monotonic() + 10
            while ctx.executions.get(old["id"]) is not None and time.monotonic() < deadline:
                time.sleep(0.1)
            assert ctx.executions.get(old["id"]) is None
    finally:
        service.stop()
    assert not service.lock.held
    assert GarbageCollectorService(ctx).lock.hold()  # released at stop: a standby leads at once


# -- TTLs checked at start -----------------------------------------------------------------------------------
@pytest.mark.parametrize("key", ["action_executions_ttl", "action_executions_output_ttl", "trigger_instances_ttl",
                                 "traces_ttl", "tokens_ttl", "rule_enforcements_ttl"])
def test_a_ttl_below_one_day_is_refused_naming_the_key(tmp_path, key):
    path = tmp_path / "st2.conf"
    for raw, days in (("None", None), ("0", None), ("", None), ("1", 1), ("30", 30)):
        path.write_text(f"[garbagecollector]\n{key} = {raw}\n")
        assert st2config.load(str(path)).get("garbagecollector", key) == days
    for raw in ("-1", "0.5"):
        path.write_text(f"[garbagecollector]\n{key} = {raw}\n")
        with pytest.raises(ConfigError) as refused:
            st2config.load(str(path))
        assert str(refused.value) == f"{path}: [garbagecollector] {key}: minimum possible TTL in days is 1, got {raw}"
    path.write_text(f"[garbagecollector]\n{key} = 2.5\n")
    with pytest.raises(ConfigError, match=r"expected a whole number of days \(or None\), got '2.5'"):
        st2config.load(str(path))


@pytest.mark.parametrize("text, message", [
    ("collection_interval = 0", "[garbagecollector] collection_interval: expected a number of at least 1, got 0"),
    ("sleep_delay = -1", "[garbagecollector] sleep_delay: expected a number of at least 0, got -1"),
    ("purge_inquiries = maybe", "[garbagecollector] purge_inquiries: expected a boolean"),
])
def test_bad_intervals_are_refused(tmp_path, text, message):
    path = tmp_path / "st2.conf"
    path.write_text(f"[garbagecollector]\n{text}\n")
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        st2config.load(str(path))


def test_the_collector_stops_on_a_ttl_below_the_minimum_with_one_line(tmp_path):
    path = tmp_path / "st2.conf"
    path.write_text("[garbagecollector]\naction_executions_ttl = -7\n")
    done = subprocess.run([sys.executable, "-m", "appliance.services.garbagecollector", "--config-file", str(path)],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    lines = done.stderr.strip().splitlines()
    assert done.returncode != 0 and len(lines) == 1, done.stderr
    assert lines[0] == f"error: {path}: [garbagecollector] action_executions_ttl: minimum possible TTL in days is 1, " \
                       "got -7"
