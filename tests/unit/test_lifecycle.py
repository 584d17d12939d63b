"""The durability rule: a status change is stored (compare-and-set) before it is announced."""

from __future__ import annotations

import queue

import pytest

from appliance import models
from appliance.bus import Bus
from appliance.bus.bus import wait_ready
from appliance.executions import Executions
from appliance.store.sqlite import SQLiteStore

ACTION = {"ref": "core.noop", "pack": "core", "name": "noop", "runner_type": "noop", "parameters": {}}
RUNNER = {"name": "noop", "runner_parameters": {}}


@pytest.fixture
def lifecycle(tmp_path):
    store = SQLiteStore(str(tmp_path / "st2.db"))
    bus = Bus("memory://", prefix=f"t{tmp_path.name[-8:]}")
    events: queue.Queue = queue.Queue()
    sub = bus.consume_events(lambda name, body: events.put((name, body)), "test")
    assert wait_ready([sub]) is None
    yield Executions(store, bus), events
    sub.stop()
    store.close()


def _next(events):
    return events.get(timeout=5)


def test_create_then_transitions_are_stored_and_announced(lifecycle):
    executions, events = lifecycle
    doc = executions.create(ACTION, RUNNER, {}, {"user": "u"})
    assert _next(events) == ("st2.execution__create", doc)
    assert executions.transition(doc["id"], models.SCHEDULED, (models.REQUESTED,))["status"] == "scheduled"
    name, body = _next(events)
    assert name == "st2.execution__update" and body["status"] == "scheduled"
    done = executions.transition(doc["id"], models.SUCCEEDED, (models.SCHEDULED,), {"result": {"ok": 1}})
    assert executions.get(doc["id"]) == done
    assert [entry["status"] for entry in done["log"]] == ["requested", "scheduled", "succeeded"]
    assert done["end_timestamp"] >= done["start_timestamp"] and done["elapsed_seconds"] >= 0


def test_losing_compare_and_set_changes_and_announces_nothing(lifecycle):
    executions, events = lifecycle
    doc = executions.create(ACTION, RUNNER, {}, {})
    _next(events)
    assert executions.transition(doc["id"], models.RUNNING, (models.SCHEDULED,)) is None
    assert executions.get(doc["id"])["status"] == "requested"
    assert events.empty()


def test_output_is_stored_in_order_and_announced(lifecycle):
    executions, events = lifecycle
    doc = executions.create(ACTION, RUNNER, {}, {})
    _next(events)
    for i in range(3):
        executions.add_output(doc, "stdout", f"line{i}\n")
    executions.add_output(doc, "stderr", "oops\n")
    assert executions.output_text(doc["id"]) == "line0\nline1\nline2\noops\n"
    assert executions.output_text(doc["id"], "stderr") == "oops\n"
    name, body = _next(events)
    assert name == "st2.execution.output__create" and body["data"] == "line0\n"
