"""Orquesta workflows with the real st2 CLI, on both wirings: a sequence publishing along the way, with-items
with concurrency, parallel branches meeting at a join (with a retried task and a datastore var), a failure
handled by noop and one failing the workflow with its errors, a subworkflow, a workflow refused at inspection,
pause/resume, cancel and a re-run from the failed task."""

from __future__ import annotations

import os
import re
import subprocess

import pytest
from e2e_harness import ST2, Appliance, ok, wait_until

pytestmark = pytest.mark.e2e


def tasks(appliance: Appliance, execution: dict) -> list[tuple[str, str, str]]:
    resp = appliance.api("GET", f"executions/{execution['id']}/children", params={"depth": -1})
    assert resp.status_code == 200, resp.text
    return [(child["context"]["orquesta"]["task_name"], child["action"]["ref"], child["status"])
            for child in resp.json()]


def test_a_sequence_runs_each_task_as_a_child_and_outputs_what_they_published(wftest: Appliance):
    execution = wftest.run_completed("wftest.sequence", "who=ada")
    assert execution["status"] == "succeeded", execution
    assert execution["result"] == {"output": {"greeting": "hello ada", "loud": "HELLO ADA"}}
    assert tasks(wftest, execution) == [("greet", "core.echo", "succeeded"), ("shout", "core.local", "succeeded")]
    text = ok(wftest.st2("execution", "get", execution["id"]))
    assert "greet" in text and "shout" in text and "HELLO ADA" in text


def test_with_items_runs_one_child_per_item_and_gathers_their_results_in_order(wftest: Appliance):
    execution = wftest.run_completed("wftest.items", 'names=["n1","n2","n3","n4","n5"]')
    assert execution["status"] == "succeeded", execution
    assert execution["result"]["output"]["said"] == ["n1", "n2", "n3", "n4", "n5"]
    assert sorted(child[0] for child in tasks(wftest, execution)) == ["each"] * 5


def test_parallel_branches_meet_at_a_join_after_a_retry_with_a_datastore_var(wftest: Appliance, tmp_path):
    ok(wftest.st2("key", "set", "wftest_site", "hpc1"))
    execution = wftest.run_completed("wftest.fanout", f"marker={tmp_path / 'marker'}")
    assert execution["status"] == "succeeded", execution
    assert execution["result"] == {"output": {"both": "left at hpc1 + right"}}
    ran = tasks(wftest, execution)
    assert sorted(ran) == [("left", "core.echo", "succeeded"), ("meet", "core.echo", "succeeded"),
                           ("right", "core.local", "failed"), ("right", "core.local", "succeeded"),
                           ("split", "core.noop", "succeeded")]
    assert ran[-1][0] == "meet"  # the join waited for both branches


def test_a_failure_fails_the_workflow_with_its_error_unless_noop_handles_it(wftest: Appliance):
    failed = wftest.run_completed("wftest.failing")
    assert failed["status"] == "failed"
    assert failed["result"]["output"] == {"why": "boom"}
    (error,) = failed["result"]["errors"]
    assert error["task_id"] == "explode" and error["message"] == "Execution failed. See result for details."
    handled = wftest.run_completed("wftest.failing", "handled=true")
    assert handled["status"] == "succeeded" and handled["result"]["output"] == {"why": "boom"}


def test_a_subworkflow_is_a_task_whose_children_are_listed_under_it(wftest: Appliance):
    execution = wftest.run_completed("wftest.nested", "who=bob")
    assert execution["status"] == "succeeded", execution
    assert execution["result"]["output"] == {"inner": {"greeting": "hello bob", "loud": "HELLO BOB"}}
    assert [task[0] for task in tasks(wftest, execution)] == ["inner", "greet", "shout"]
    shown = wftest.api("GET", f"executions/{execution['id']}", params={"include_attributes": "id,children"}).json()
    (inner,) = shown["children"]  # the direct children, as StackStorm lists them (st2 run --tail reads them)
    assert wftest.execution(inner)["action"]["ref"] == "wftest.sequence"
    assert len(wftest.execution(inner)["children"]) == 2


def test_st2_run_tail_follows_the_tasks_of_the_workflow_and_its_subworkflow(wftest: Appliance):
    done = subprocess.run([ST2, "run", "--tail", "wftest.nested_slow"], env=wftest.env(), capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stdout + done.stderr
    events = re.findall(r"Child execution \(task=(\w+)\) \w+ has (started|finished)", done.stdout)
    # what happened before the CLI's stream connected (the first task's start) it cannot show; the nap (4 s)
    # leaves the CLI time to connect on a loaded machine
    assert events[-4:] == [("nap", "finished"), ("after", "started"), ("after", "finished"), ("inner", "finished")], \
        done.stdout
    assert re.search(r"Execution \w+ has completed \(status=succeeded\)", done.stdout), done.stdout


def test_a_workflow_with_errors_is_refused_before_it_starts(wftest: Appliance, tmp_path):
    bad = os.path.join(wftest.packs, "wftest", "actions", "workflows", "sequence.yaml")
    original = open(bad).read()
    try:
        with open(bad, "w") as handle:
            handle.write(original.replace("do: shout", "do: nowhere"))
        execution = wftest.run_completed("wftest.sequence")
    finally:
        with open(bad, "w") as handle:
            handle.write(original)
    assert execution["status"] == "failed" and execution["result"]["output"] is None
    assert any("nowhere" in error["message"] for error in execution["result"]["errors"]), execution["result"]
    assert wait_until(lambda: tasks(wftest, execution) == [], timeout=2)


def wait_tasks(appliance: Appliance, execution_id: str, expected: list) -> None:
    assert wait_until(lambda: tasks(appliance, {"id": execution_id}) == expected, timeout=60), \
        tasks(appliance, {"id": execution_id})


def test_pause_lets_the_running_task_finish_and_resume_goes_on(wftest: Appliance):
    execution_id = wftest.st2_async("wftest.slow", "seconds=3")
    wait_tasks(wftest, execution_id, [("nap", "core.local", "running")])
    paused = ok(wftest.st2("execution", "pause", execution_id))
    assert "pausing" in paused or "paused" in paused, paused
    wftest.wait_status(execution_id, ("paused",), timeout=60)
    assert tasks(wftest, {"id": execution_id}) == [("nap", "core.local", "succeeded")]  # nothing new started
    ok(wftest.st2("execution", "resume", execution_id))
    done = wftest.wait_status(execution_id, timeout=60)
    assert done["status"] == "succeeded" and done["result"] == {"output": {"after": "succeeded"}}


def test_cancel_lets_the_running_task_finish_and_starts_nothing_more(wftest: Appliance):
    execution_id = wftest.st2_async("wftest.slow", "seconds=3")
    wait_tasks(wftest, execution_id, [("nap", "core.local", "running")])
    ok(wftest.st2("execution", "cancel", execution_id))
    done = wftest.wait_status(execution_id, timeout=60)
    assert done["status"] == "canceled" and done["result"] == {"output": {"after": "null"}}
    assert tasks(wftest, {"id": execution_id}) == [("nap", "core.local", "succeeded")]


def test_a_failed_workflow_re_runs_from_its_failed_task_only(wftest: Appliance, tmp_path):
    path = tmp_path / "content"
    failed = wftest.run_completed("wftest.flaky", f"path={path}")
    assert failed["status"] == "failed" and [t[2] for t in tasks(wftest, failed)] == ["succeeded", "failed"]
    refused = wftest.st2("execution", "re-run", failed["id"], "--tasks", "nowhere")
    assert refused.returncode == 1 and "one or more tasks is not found: nowhere" in refused.stdout, refused
    path.write_text("ready\n")
    out = ok(wftest.st2("execution", "re-run", failed["id"], "--tasks", "check", "-a"))
    again = wftest.wait_status(re.search(r"st2 execution get ([0-9a-f]+)", out).group(1), timeout=60)
    assert again["status"] == "succeeded" and again["result"] == {"output": {"content": "ready"}}
    assert tasks(wftest, again) == [("check", "core.local", "succeeded")]  # prepare is not run again
    assert wftest.execution(failed["id"])["status"] == "failed"
