"""The notifier's two payloads as StackStorm 3.9 builds them, and st2notifier sending each completion
once: across notifiers, after a lost bus message, and not at all when [action_sensor] says so."""

from __future__ import annotations

import json

import pytest

from appliance import models
from appliance.models.trigger_instance import TRIGGER_INSTANCES
from appliance.notifications import ACTION_TRIGGER, NOTIFY_TRIGGER, action_trigger_payload, notify_payloads
from appliance.services.notifier import NotifierService

RUNNER = {"name": "local-shell-cmd", "runner_parameters": {"cmd": {"type": "string"},
                                                           "sudo_password": {"type": "string", "secret": True}}}
NOTIFY = {
    "on-complete": {"routes": ["audit"]},
    "on-success": {"message": "{{ action_parameters.cmd }} gave {{ action_results.stdout }}",
                   "data": {"user": "{{ action_context.user }}", "tags": ["{{ action_results.stdout }}", "x"],
                            "count": 3, "site": "{{ st2kv.system.site }}"},
                   "channels": ["slack", "mail"]},
    "on-failure": {"routes": ["pager"]},
}


def _action(notify: dict) -> dict:
    return {"ref": "demo.echo", "name": "echo", "pack": "demo", "runner_type": "local-shell-cmd",
            "parameters": {}, "notify": notify}


def _execution(status: str = models.SUCCEEDED, notify: dict = NOTIFY) -> dict:
    return {
        "id": "6630f0c2a1b2c3d4e5f60718", "action": _action(notify), "runner": RUNNER, "status": status,
        "liveaction": {"notify": notify},
        "start_timestamp": "2024-05-01T10:00:00.123456Z", "end_timestamp": "2024-05-01T10:00:02.500000Z",
        "parameters": {"cmd": "date", "sudo_password": "hunter2"}, "context": {"user": "admin"},
        "result": {"stdout": "ok", "return_code": 0},
    }


def test_the_action_trigger_payload_is_stackstorms():
    assert action_trigger_payload(_execution()) == {
        "execution_id": "6630f0c2a1b2c3d4e5f60718",
        "status": "succeeded",
        "start_timestamp": "2024-05-01 10:00:00.123456+00:00",  # str(datetime), not ISO
        "action_name": "demo.echo",
        "action_ref": "demo.echo",
        "runner_ref": "local-shell-cmd",
        "parameters": {"cmd": "date", "sudo_password": "********"},
        "result": {"stdout": "ok", "return_code": 0},
    }


def test_a_success_notifies_each_route_of_on_complete_and_on_success_rendered():
    payloads = notify_payloads(_execution(), {"site": "lab"})
    assert [(p["route"], p["channel"]) for p in payloads] == [("audit",) * 2, ("slack",) * 2, ("mail",) * 2]
    complete, slack, mail = payloads
    assert complete["message"] == "Action demo.echo completed."
    assert complete["data"] == {"result": json.dumps({"stdout": "ok", "return_code": 0})}
    assert slack["message"] == "date gave ok"  # parameters in clear, as StackStorm renders them
    assert slack["data"] == {"user": "admin", "tags": ["ok", "x"], "count": 3, "site": "lab",
                             "result": '{"stdout": "ok", "return_code": 0}'}
    assert {k: slack[k] for k in ("execution_id", "status", "start_timestamp", "end_timestamp", "action_ref",
                                  "runner_ref")} == {
        "execution_id": "6630f0c2a1b2c3d4e5f60718", "status": "succeeded",
        "start_timestamp": "2024-05-01T10:00:00.123456+00:00", "end_timestamp": "2024-05-01T10:00:02.500000+00:00",
        "action_ref": "demo.echo", "runner_ref": "local-shell-cmd"}
    assert mail["data"] == slack["data"] and mail["message"] == slack["message"]


@pytest.mark.parametrize("status", [models.FAILED, models.TIMEOUT, models.ABANDONED])
def test_failures_notify_on_complete_and_on_failure(status):
    payloads = notify_payloads(_execution(status), {})
    assert [(p["route"], p["message"]) for p in payloads] == [
        ("audit", "Action demo.echo completed."), ("pager", "Action demo.echo failed.")]


def test_a_cancel_notifies_on_complete_only_and_no_routes_means_no_notification():
    assert [p["route"] for p in notify_payloads(_execution(models.CANCELED), {})] == ["audit"]
    assert notify_payloads(_execution(notify={"on-complete": {"message": "m"}}), {}) == []


def test_a_template_that_fails_is_sent_unrendered():
    notify = {"on-complete": {"routes": ["r"], "message": "{{ nope.nope }}", "data": {"k": "{{ nope.x }}"}}}
    (payload,) = notify_payloads(_execution(notify=notify), {})
    assert payload["message"] == "{{ nope.nope }}"
    assert payload["data"] == {"k": "{{ nope.x }}", "result": json.dumps(_execution()["result"])}


def test_templates_render_in_the_sandbox():
    notify = {"on-complete": {"routes": ["r"], "message": "{{ ''.__class__.__mro__ }}"}}
    (payload,) = notify_payloads(_execution(notify=notify), {})
    assert payload["message"] == "{{ ''.__class__.__mro__ }}"


# -- the service ---------------------------------------------------------------------------------
@pytest.fixture
def ctx(make_ctx):
    made = make_ctx()
    made.registrar.register(types=("configs",))  # the system trigger types
    return made


def _run(ctx, status: str, notify: dict = NOTIFY) -> dict:
    doc = ctx.executions.create(_action(notify), RUNNER, {"cmd": "date"}, {"user": "admin"},
                                status=models.RUNNING, notify=notify)
    return ctx.executions.transition(doc["id"], status, (models.RUNNING,), {"result": {"stdout": "ok"}})


def _instances(ctx, trigger: str) -> list[dict]:
    return ctx.store.collection(TRIGGER_INSTANCES).find({"trigger": trigger})


def test_two_notifiers_send_a_completion_once_and_the_marker_stays_hidden(ctx):
    done = _run(ctx, models.FAILED)
    first, second = NotifierService(ctx), NotifierService(ctx)
    for notifier in (first, second, first):
        notifier.handle(done)
    assert second.sweep(0) == 0
    (instance,) = _instances(ctx, ACTION_TRIGGER)
    assert instance["payload"]["execution_id"] == done["id"] and instance["payload"]["status"] == "failed"
    assert sorted(i["payload"]["route"] for i in _instances(ctx, NOTIFY_TRIGGER)) == ["audit", "pager"]
    assert "notified" not in models.EXECUTIONS.public(ctx.executions.get(done["id"]))


def test_the_sweep_sends_a_completion_whose_message_was_lost(ctx):
    done = _run(ctx, models.SUCCEEDED, notify={})
    notifier = NotifierService(ctx)
    assert notifier.sweep(0) == 1
    assert [i["payload"]["execution_id"] for i in _instances(ctx, ACTION_TRIGGER)] == [done["id"]]
    assert notifier.sweep(0) == 0


def test_emit_when_chooses_the_statuses_of_action_triggers(make_ctx):
    ctx = make_ctx("[action_sensor]\nemit_when = running,failed\n")
    ctx.registrar.register(types=("configs",))
    notifier = NotifierService(ctx)
    running = ctx.executions.create(_action({}), RUNNER, {}, {}, status=models.RUNNING)
    notifier.handle(running)
    notifier.handle(_run(ctx, models.SUCCEEDED, notify={}))
    assert [i["payload"]["status"] for i in _instances(ctx, ACTION_TRIGGER)] == ["running"]


def test_a_disabled_action_sensor_still_sends_notify_triggers(make_ctx):
    off = make_ctx("[action_sensor]\nenable = false\n")
    off.registrar.register(types=("configs",))
    NotifierService(off).handle(_run(off, models.FAILED))
    assert _instances(off, ACTION_TRIGGER) == [] and len(_instances(off, NOTIFY_TRIGGER)) == 2
