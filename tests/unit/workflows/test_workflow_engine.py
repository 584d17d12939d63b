"""The workflow engine over a real store and bus: children are real executions (their runs simulated by
completing them), every transition is stored, duplicates and lost messages change nothing."""

from __future__ import annotations

import os
import threading

import pytest

from appliance import models
from appliance.models import WORKFLOW_EXECUTIONS
from appliance.workflows.engine import WorkflowEngine

WORKFLOWS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "fixtures", "packs", "wftest",
                         "actions", "workflows")


@pytest.fixture
def ctx(packs_ctx):
    return packs_ctx


@pytest.fixture
def engine(ctx):
    return WorkflowEngine(ctx)


def definition(name: str) -> str:
    with open(os.path.join(WORKFLOWS, f"{name}.yaml")) as handle:
        return handle.read()


def requested(ctx, engine, name: str, **inputs) -> tuple[dict, dict]:
    """The workflow's action execution (running, as st2actionrunner leaves it) and its workflow execution."""
    execution = ctx.action_requests.request(f"wftest.{name}", inputs, {}, "stanley")
    execution = ctx.executions.transition(execution["id"], models.RUNNING, (models.REQUESTED,))
    assert engine.request(execution, definition(name), inputs) == []
    workflow = ctx.store.collection(WORKFLOW_EXECUTIONS).find_one({"action_execution": execution["id"]})
    return execution, workflow


def children(ctx, execution: dict) -> list[dict]:
    return ctx.executions.coll.find({"parent": execution["id"]}, sort=[("start_timestamp", 1)])


def complete(ctx, engine, child: dict, status: str, result: dict) -> dict:
    done = ctx.executions.transition(child["id"], status, (models.REQUESTED, models.SCHEDULED, models.RUNNING),
                                     {"result": result})
    engine.on_child(done)
    return done


def test_a_sequence_runs_its_tasks_in_order_and_completes_with_its_output(ctx, engine):
    execution, workflow = requested(ctx, engine, "sequence", who="ada")
    assert workflow["status"] == "requested"
    assert ctx.executions.get(execution["id"])["context"]["workflow_execution"] == workflow["id"]
    engine.start(workflow["id"])
    (greet,) = children(ctx, execution)
    assert greet["action"]["ref"] == "core.echo" and greet["parameters"] == {"message": "hello ada"}
    assert greet["context"]["orquesta"]["task_name"] == "greet" and greet["parent"] == execution["id"]
    complete(ctx, engine, greet, "succeeded", {"stdout": "hello ada", "stderr": "", "return_code": 0})
    engine.on_child(ctx.executions.get(greet["id"]))  # a repeated message changes nothing
    greet2, shout = children(ctx, execution)
    assert greet2["id"] == greet["id"] and shout["parameters"] == {"cmd": 'echo "hello ada" | tr a-z A-Z'}
    complete(ctx, engine, shout, "succeeded", {"stdout": "HELLO ADA", "stderr": "", "return_code": 0})
    final = ctx.executions.get(execution["id"])
    assert final["status"] == "succeeded"
    assert final["result"] == {"output": {"greeting": "hello ada", "loud": "HELLO ADA"}}
    assert ctx.store.collection(WORKFLOW_EXECUTIONS).get(workflow["id"])["status"] == "succeeded"


def test_with_items_keeps_to_its_concurrency_and_gathers_results_in_item_order(ctx, engine):
    execution, workflow = requested(ctx, engine, "items", names=["a", "b", "c"])
    engine.start(workflow["id"])
    first = children(ctx, execution)
    assert [c["parameters"]["message"] for c in first] == ["a", "b"]  # concurrency 2
    complete(ctx, engine, first[1], "succeeded", {"stdout": "b"})
    third = children(ctx, execution)[2]
    assert third["parameters"]["message"] == "c"
    complete(ctx, engine, third, "succeeded", {"stdout": "c"})
    complete(ctx, engine, first[0], "succeeded", {"stdout": "a"})
    assert ctx.executions.get(execution["id"])["result"] == {"output": {"said": ["a", "b", "c"]}}


@pytest.mark.parametrize(("handled", "status"), [(True, "succeeded"), (False, "failed")])
def test_a_failure_handled_by_noop_succeeds_and_an_unhandled_one_fails_with_its_error(ctx, engine, handled, status):
    execution, workflow = requested(ctx, engine, "failing", handled=handled)
    engine.start(workflow["id"])
    (explode,) = children(ctx, execution)
    failure = {"stdout": "", "stderr": "boom", "return_code": 3, "failed": True}
    complete(ctx, engine, explode, "failed", failure)
    final = ctx.executions.get(execution["id"])
    assert final["status"] == status and final["result"]["output"] == {"why": "boom"}
    if not handled:
        assert final["result"]["errors"] == [{"type": "error", "message": "Execution failed. See result for details.",
                                              "task_id": "explode", "result": failure}]


def test_a_bad_workflow_is_refused_with_inspection_errors_and_nothing_stored(ctx, engine):
    execution = ctx.executions.transition(
        ctx.action_requests.request("wftest.sequence", {}, {}, "stanley")["id"], models.RUNNING, (models.REQUESTED,))
    errors = engine.request(execution, "version: 1.0\ntasks:\n  t1:\n    action: core.nope\n    next: [{do: t9}]\n",
                            {})
    messages = [error["message"] for error in errors]
    assert any("t9" in message for message in messages), messages
    assert ctx.store.collection(WORKFLOW_EXECUTIONS).count() == 0
    errors = engine.request(execution, "version: 1.0\ntasks:\n  t1:\n    action: core.nope\n", {})
    assert errors == [{"type": "content", "message": 'The action "core.nope" is not registered in the database.',
                       "schema_path": "properties.tasks.patternProperties.^\\w+$.properties.action",
                       "spec_path": "tasks.t1.action"}]


def test_the_sweep_starts_what_no_message_started_and_applies_lost_completions(ctx, engine, make_ctx):
    execution, workflow = requested(ctx, engine, "sequence", who="bob")
    other = WorkflowEngine(ctx)  # another engine process: nothing cached
    assert other.sweep(models.now()) >= 1
    (greet,) = children(ctx, execution)
    ctx.executions.transition(greet["id"], "succeeded", (models.REQUESTED,), {"result": {"stdout": "hello bob"}})
    engine.sweep(models.now())  # the completion's message was lost
    assert [c["action"]["ref"] for c in children(ctx, execution)] == ["core.echo", "core.local"]


def rerun_request(ctx, original: dict, tasks: list, reset: list = ()) -> dict:
    """The execution `st2 execution re-run <id> --tasks ...` creates (the API's context), running."""
    context = {"re-run": {"ref": original["id"], "tasks": tasks, "reset": list(reset)}}
    execution = ctx.action_requests.request(original["action"]["ref"], original["parameters"], context, "stanley")
    return ctx.executions.transition(execution["id"], models.RUNNING, (models.REQUESTED,))


def test_a_rerun_takes_over_the_failed_workflow_and_runs_only_the_named_tasks_again(ctx, engine):
    execution, workflow = requested(ctx, engine, "sequence", who="cy")
    engine.start(workflow["id"])
    (greet,) = children(ctx, execution)
    complete(ctx, engine, greet, "succeeded", {"stdout": "hello cy"})
    shout = children(ctx, execution)[1]
    complete(ctx, engine, shout, "failed", {"stdout": "", "stderr": "tr: broken", "return_code": 1})
    assert ctx.executions.get(execution["id"])["status"] == "failed"

    again = rerun_request(ctx, execution, ["shout"])
    assert engine.request(again, definition("sequence"), {}) == []
    (shout2,) = children(ctx, again)  # greet is not run again
    assert shout2["context"]["orquesta"]["task_name"] == "shout" and shout2["id"] != shout["id"]
    assert ctx.executions.get(again["id"])["context"]["workflow_execution"] == workflow["id"]
    complete(ctx, engine, shout2, "succeeded", {"stdout": "HELLO CY"})
    assert ctx.executions.get(again["id"])["status"] == "succeeded"
    assert ctx.executions.get(again["id"])["result"] == {"output": {"greeting": "hello cy", "loud": "HELLO CY"}}
    assert ctx.executions.get(execution["id"])["status"] == "failed"  # the original stays as it ended
    stored = ctx.store.collection(WORKFLOW_EXECUTIONS).get(workflow["id"])
    assert stored["status"] == "succeeded" and stored["action_execution"] == again["id"]


def test_a_rerun_is_refused_for_an_unknown_task_or_a_workflow_still_running(ctx, engine):
    execution, workflow = requested(ctx, engine, "sequence", who="cy")
    engine.start(workflow["id"])
    running = engine.request(rerun_request(ctx, execution, ["greet"]), definition("sequence"), {})
    assert running == [{"message": "Unable to rerun workflow execution because it is not in a completed state."}]
    (greet,) = children(ctx, execution)
    complete(ctx, engine, greet, "failed", {"stdout": ""})
    unknown = engine.request(rerun_request(ctx, execution, ["nope"]), definition("sequence"), {})
    assert unknown == [{"message": "Unable to rerun workflow because one or more tasks is not found: nope"}]
    assert ctx.store.collection(WORKFLOW_EXECUTIONS).get(workflow["id"])["action_execution"] == execution["id"]


def test_a_rerun_of_with_items_without_reset_runs_only_the_failed_items(ctx, engine):
    execution, workflow = requested(ctx, engine, "items", names=["a", "b", "c"])
    engine.start(workflow["id"])
    first = children(ctx, execution)
    complete(ctx, engine, first[0], "succeeded", {"stdout": "a"})
    complete(ctx, engine, first[1], "failed", {"stdout": "b"})
    complete(ctx, engine, children(ctx, execution)[2], "succeeded", {"stdout": "c"})
    assert ctx.executions.get(execution["id"])["status"] == "failed"
    again = rerun_request(ctx, execution, ["each"])
    assert engine.request(again, definition("items"), {}) == []
    (b_again,) = children(ctx, again)
    assert b_again["parameters"]["message"] == "b" and b_again["context"]["orquesta"]["item_id"] == 1
    complete(ctx, engine, b_again, "succeeded", {"stdout": "b"})
    assert ctx.executions.get(again["id"])["result"] == {"output": {"said": ["a", "b", "c"]}}


def test_only_the_tasks_named_in_the_notify_runner_parameter_notify_with_the_workflow_s_notify(ctx, engine):
    notify = {"on-failure": {"routes": ["pager"]}}
    execution = ctx.action_requests.request("wftest.sequence", {"who": "di", "notify": ["shout"]}, {}, "stanley",
                                            notify=notify)
    execution = ctx.executions.transition(execution["id"], models.RUNNING, (models.REQUESTED,))
    assert engine.request(execution, definition("sequence"), {"who": "di"}) == []
    engine.start(ctx.store.collection(WORKFLOW_EXECUTIONS).find_one({"action_execution": execution["id"]})["id"])
    (greet,) = children(ctx, execution)
    complete(ctx, engine, greet, "succeeded", {"stdout": "hello di"})
    shout = children(ctx, execution)[1]
    assert "notify" not in greet["liveaction"] and shout["liveaction"]["notify"] == notify


def side_by_side(*calls) -> None:
    """Run the calls at the same moment, each in a thread of its own (two engine processes)."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        call()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)


@pytest.mark.parametrize("attempt", range(3))
def test_two_engines_told_of_one_completion_request_the_next_task_once(ctx, engine, attempt):
    other = WorkflowEngine(ctx)  # another st2workflowengine: a cache of its own
    execution, workflow = requested(ctx, engine, "sequence", who="al")
    engine.start(workflow["id"])
    (greet,) = children(ctx, execution)
    done = ctx.executions.transition(greet["id"], "succeeded", (models.REQUESTED,), {"result": {"stdout": "hi"}})
    side_by_side(lambda: engine.on_child(done), lambda: other.on_child(done))
    assert [c["context"]["orquesta"]["task_name"] for c in children(ctx, execution)] == ["greet", "shout"]


@pytest.mark.parametrize("attempt", range(3))
def test_two_engines_applying_two_items_at_once_lose_neither(ctx, engine, attempt):
    other = WorkflowEngine(ctx)
    execution, workflow = requested(ctx, engine, "items", names=["a", "b", "c"])
    engine.start(workflow["id"])
    first, second = children(ctx, execution)
    done = [ctx.executions.transition(c["id"], "succeeded", (models.REQUESTED,), {"result": {"stdout": c["id"]}})
            for c in (first, second)]
    side_by_side(lambda: engine.on_child(done[0]), lambda: other.on_child(done[1]))
    third = children(ctx, execution)[2:]
    assert [c["parameters"]["message"] for c in third] == ["c"]  # requested once, after both
    complete(ctx, engine, third[0], "succeeded", {"stdout": "c"})
    final = ctx.executions.get(execution["id"])
    assert final["status"] == "succeeded" and final["result"]["output"]["said"] == [first["id"], second["id"], "c"]


def test_an_engine_whose_write_comes_second_reads_again_and_requests_nothing_twice(ctx, engine):
    other = WorkflowEngine(ctx)
    execution, workflow = requested(ctx, engine, "sequence", who="al")
    other.start(workflow["id"])
    (greet,) = children(ctx, execution)
    done = ctx.executions.transition(greet["id"], "succeeded", (models.REQUESTED,), {"result": {"stdout": "hi"}})
    write = other.workflows.update

    def first_engine_writes_first(*args, **kwargs):
        other.workflows.update = write
        engine.on_child(done)  # between the other engine's read and its write
        return write(*args, **kwargs)

    other.workflows.update = first_engine_writes_first
    other.on_child(done)
    assert [c["context"]["orquesta"]["task_name"] for c in children(ctx, execution)] == ["greet", "shout"]
