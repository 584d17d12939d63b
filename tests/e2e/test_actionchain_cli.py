"""Action chains with the real st2 CLI, on both wirings: a sequence of core.echo / core.local nodes publishing
along the way, a failure handled by an on-failure node and one that fails the chain, a template that does not
render, and a cancel of a running chain; `st2 execution get` lists the nodes by name."""

from __future__ import annotations

import re

import pytest
from e2e_harness import Appliance, ok, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture
def chaintest(appliance: Appliance) -> Appliance:
    """The chaintest fixture pack registered on the shared appliance."""
    appliance.add_fixture_pack("chaintest")
    return appliance


def nodes(appliance: Appliance, execution_id: str) -> list[tuple[str, str, str]]:
    """The chain's children as (node name, action, status), in the order they started."""
    resp = appliance.api("GET", f"executions/{execution_id}/children", params={"depth": -1})
    assert resp.status_code == 200, resp.text
    return [(child["context"]["chain"]["name"], child["action"]["ref"], child["status"]) for child in resp.json()]


def test_a_chain_runs_each_node_as_a_child_and_publishes_along_the_way(chaintest: Appliance):
    execution = chaintest.run_completed("chaintest.greet", "who=ada")
    assert execution["status"] == "succeeded", execution
    assert execution["result"]["published"] == {"said": "hello ada", "loud": "HELLO ADA from chaintest"}
    assert nodes(chaintest, execution["id"]) == [("say", "core.echo", "succeeded"),
                                                 ("shout", "core.local", "succeeded")]
    tasks = execution["result"]["tasks"]
    assert [(task["name"], task["state"]) for task in tasks] == [("say", "succeeded"), ("shout", "succeeded")]
    assert tasks[1]["result"]["stdout"] == "HELLO ADA from chaintest"
    child = chaintest.execution(tasks[0]["execution_id"])
    assert child["parent"] == execution["id"] and child["context"]["parent"]["execution_id"] == execution["id"]
    text = ok(chaintest.st2("execution", "get", execution["id"]))
    assert "say" in text and "shout" in text and "core.echo" in text and "HELLO ADA" in text, text


def test_st2_run_waits_for_the_chain_and_prints_its_nodes(chaintest: Appliance):
    text = ok(chaintest.st2("run", "chaintest.greet", "who=bob", timeout=120))
    assert "succeeded" in text and "say" in text and "shout" in text and "HELLO BOB" in text, text


def test_a_failure_takes_on_failure_and_the_last_node_decides_the_status(chaintest: Appliance):
    handled = chaintest.run_completed("chaintest.recover")
    assert handled["status"] == "succeeded", handled
    assert nodes(chaintest, handled["id"]) == [("attempt", "core.local", "failed"),
                                               ("cleanup", "core.echo", "succeeded")]
    assert handled["result"]["published"] == {"cleaned": "cleaning after exit code 3"}
    fine = chaintest.run_completed("chaintest.recover", "fail=false")
    assert fine["status"] == "succeeded"
    assert nodes(chaintest, fine["id"]) == [("attempt", "core.local", "succeeded"), ("done", "core.noop", "succeeded")]


def test_a_failure_with_nowhere_to_go_fails_the_chain(chaintest: Appliance):
    done = chaintest.st2("run", "chaintest.failing", timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "result_task: explode" in done.stdout and "never" not in done.stdout, done.stdout  # the CLI's failed node
    match = re.search(r"^id: ([0-9a-f]+)$", done.stdout, re.MULTILINE)
    assert match, done.stdout
    execution = chaintest.execution(match.group(1))
    assert execution["action"]["ref"] == "chaintest.failing" and execution["status"] == "failed"
    assert nodes(chaintest, execution["id"]) == [("explode", "core.local", "failed")]
    assert "error" not in execution["result"]
    assert execution["result"]["tasks"][0]["result"]["stdout"] == "boom"


def test_a_template_that_does_not_render_fails_the_chain_before_any_node_runs(chaintest: Appliance):
    execution = chaintest.run_completed("chaintest.badtemplate")
    assert execution["status"] == "failed"
    assert execution["result"]["error"] == (
        'Failed to run task "first". Parameter rendering failed: failed rendering value for action parameter '
        '"message" in task "first" (template string={{ nowhere.stdout }}): \'nowhere\' is undefined')
    assert execution["result"]["tasks"] == [] and nodes(chaintest, execution["id"]) == []


def test_cancel_cancels_the_running_node_and_starts_nothing_more(chaintest: Appliance):
    execution_id = chaintest.st2_async("chaintest.slow", "seconds=30")
    assert wait_until(lambda: nodes(chaintest, execution_id) == [("nap", "core.local", "running")], timeout=60), \
        nodes(chaintest, execution_id)
    ok(chaintest.st2("execution", "cancel", execution_id))
    done = chaintest.wait_status(execution_id, timeout=60)
    assert done["status"] == "canceled", done
    assert nodes(chaintest, execution_id) == [("nap", "core.local", "canceled")]
    assert [task["state"] for task in done["result"]["tasks"]] == ["canceled"]


def test_pause_stops_the_chain_after_its_running_node_and_resume_runs_the_rest(chaintest: Appliance):
    execution_id = chaintest.st2_async("chaintest.slow", "seconds=3")
    assert wait_until(lambda: nodes(chaintest, execution_id) == [("nap", "core.local", "running")], timeout=60), \
        nodes(chaintest, execution_id)
    assert "pausing" in ok(chaintest.st2("execution", "pause", execution_id))
    paused = chaintest.wait_status(execution_id, ("paused",), timeout=60)
    assert [task["state"] for task in paused["result"]["tasks"]] == ["succeeded"]
    assert nodes(chaintest, execution_id) == [("nap", "core.local", "succeeded")]  # nothing more started
    ok(chaintest.st2("execution", "resume", execution_id))
    done = chaintest.wait_status(execution_id, timeout=60)
    assert done["status"] == "succeeded", done
    assert nodes(chaintest, execution_id) == [("nap", "core.local", "succeeded"), ("after", "core.noop", "succeeded")]


def test_a_paused_chain_is_canceled_at_once(chaintest: Appliance):
    execution_id = chaintest.st2_async("chaintest.slow", "seconds=3")
    assert wait_until(lambda: nodes(chaintest, execution_id) == [("nap", "core.local", "running")], timeout=60)
    ok(chaintest.st2("execution", "pause", execution_id))
    chaintest.wait_status(execution_id, ("paused",), timeout=60)
    ok(chaintest.st2("execution", "cancel", execution_id))
    assert chaintest.execution(execution_id)["status"] == "canceled"


def statuses(appliance: Appliance, execution_id: str) -> list[tuple[str, str]]:
    resp = appliance.api("GET", f"executions/{execution_id}/children", params={"depth": -1})
    return [(child["action"]["ref"], child["status"]) for child in resp.json()]


def test_a_pause_of_a_chain_reaches_its_workflow_node_and_resume_goes_on_in_both(chaintest: Appliance, wftest):
    execution_id = chaintest.st2_async("chaintest.flow", "seconds=4")  # time for the pause to reach the nap
    assert wait_until(lambda: ("core.local", "running") in statuses(chaintest, execution_id), timeout=60)
    ok(chaintest.st2("execution", "pause", execution_id))
    paused = chaintest.wait_status(execution_id, ("paused",), timeout=60)
    assert [task["state"] for task in paused["result"]["tasks"]] == ["paused"]  # the workflow paused after its nap
    assert ("core.echo", "requested") not in statuses(chaintest, execution_id)
    ok(chaintest.st2("execution", "resume", execution_id))
    done = chaintest.wait_status(execution_id, timeout=60)
    assert done["status"] == "succeeded", done
    assert [(task["name"], task["state"]) for task in done["result"]["tasks"]] == [
        ("workflow", "succeeded"), ("last", "succeeded")]


def test_a_pause_of_a_workflow_reaches_its_chain_task_and_resume_goes_on_in_both(chaintest: Appliance, wftest):
    execution_id = chaintest.st2_async("wftest.chained", "seconds=4")  # time for the pause to reach the nap
    assert wait_until(lambda: ("core.local", "running") in statuses(chaintest, execution_id), timeout=60)
    ok(chaintest.st2("execution", "pause", execution_id))
    chaintest.wait_status(execution_id, ("paused",), timeout=60)
    assert statuses(chaintest, execution_id) == [("chaintest.slow", "paused"), ("core.local", "succeeded")]
    ok(chaintest.st2("execution", "resume", execution_id))
    done = chaintest.wait_status(execution_id, timeout=60)
    assert done["status"] == "succeeded" and done["result"] == {"output": {"chain": "succeeded"}}, done


def test_an_inquiry_pauses_the_chain_and_its_answer_resumes_it(chaintest: Appliance):
    execution_id = chaintest.st2_async("chaintest.approve")
    chaintest.wait_status(execution_id, ("paused",), timeout=60)
    (inquiry,) = [c for c in chaintest.api("GET", f"executions/{execution_id}/children").json()
                  if c["status"] == "pending"]
    ok(chaintest.st2("inquiry", "respond", inquiry["id"], "-r", '{"continue": true}'))
    done = chaintest.wait_status(execution_id, timeout=60)
    assert done["status"] == "succeeded", done
    assert nodes(chaintest, execution_id) == [("ask", "core.ask", "succeeded"), ("tell", "core.echo", "succeeded")]
    assert done["result"]["tasks"][1]["result"]["stdout"] == "continue=True"
