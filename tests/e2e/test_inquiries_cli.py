"""Inquiries with the real st2 CLI, on both wirings: a workflow pauses at core.ask, `st2 inquiry list/get` show the
question, a response its schema refuses is refused with the inquiry still open, and a good one resumes the
workflow to its end with the response in its output."""

from __future__ import annotations

import json

import pytest
from e2e_harness import Appliance, ok, refused, wait_until

pytestmark = pytest.mark.e2e


def inquiry_of(appliance: Appliance, execution_id: str) -> dict:
    """The workflow's core.ask child, once it is pending."""
    def pending() -> list:
        resp = appliance.api("GET", f"executions/{execution_id}/children")
        return [c for c in resp.json() if c["action"]["ref"] == "core.ask" and c["status"] == "pending"]

    found = wait_until(pending, timeout=60)
    assert found, appliance.api("GET", f"executions/{execution_id}/children").text
    return found[0]


def test_a_workflow_waits_for_its_inquiry_and_goes_on_with_the_response(wftest: Appliance):
    execution_id = wftest.st2_async("wftest.approve")
    inquiry = inquiry_of(wftest, execution_id)
    wftest.wait_status(execution_id, ("paused",), timeout=60)

    listed = ok(wftest.st2("inquiry", "list"))
    assert inquiry["id"] in listed and "ops" in listed, listed
    shown = ok(wftest.st2("inquiry", "get", inquiry["id"], "-j"))
    assert json.loads(shown)["schema"]["properties"]["continue"] == {"type": "boolean", "required": True}

    text = refused(wftest.st2("inquiry", "respond", inquiry["id"], "-r", '{"continue": "maybe"}'))
    assert "did not pass schema validation" in text and "'maybe' is not of type 'boolean'" in text, text
    assert wftest.execution(inquiry["id"])["status"] == "pending"
    assert wftest.execution(execution_id)["status"] == "paused"
    assert inquiry["id"] in ok(wftest.st2("inquiry", "list"))

    answered = ok(wftest.st2("inquiry", "respond", inquiry["id"], "-r", '{"continue": true, "reason": "tested"}'))
    assert f"Response accepted for inquiry {inquiry['id']}." in answered, answered
    done = wftest.wait_status(execution_id, timeout=60)
    assert done["status"] == "succeeded", done
    assert done["result"] == {"output": {"approved": True, "said": "approved True because tested"}}
    assert wftest.execution(inquiry["id"])["result"]["response"] == {"continue": True, "reason": "tested"}
    assert inquiry["id"] not in ok(wftest.st2("inquiry", "list"))
    # The CLI reads the inquiry first: StackStorm's 400 for an answered one, which the CLI words as missing.
    assert inquiry["id"] in refused(wftest.st2("inquiry", "respond", inquiry["id"], "-r", '{"continue": false}'))
    again = wftest.api("PUT", f"inquiries/{inquiry['id']}", json={"id": inquiry["id"], "response": {}})
    assert again.status_code == 400 and "has already been responded to" in again.json()["faultstring"]


def test_an_inquiry_in_a_subworkflow_pauses_both_workflows_and_its_answer_resumes_both(wftest: Appliance):
    execution_id = wftest.st2_async("wftest.outer_approve")
    wait_until(lambda: wftest.api("GET", f"executions/{execution_id}/children").json(), timeout=60)
    inner_id = wftest.api("GET", f"executions/{execution_id}/children").json()[0]["id"]
    inquiry = inquiry_of(wftest, inner_id)
    assert wftest.wait_status(inner_id, ("paused",), timeout=60)
    assert wftest.wait_status(execution_id, ("paused",), timeout=60)
    ok(wftest.st2("inquiry", "respond", inquiry["id"], "-r", '{"continue": true, "reason": "nested"}'))
    done = wftest.wait_status(execution_id, timeout=60)
    assert done["status"] == "succeeded", done
    assert done["result"] == {"output": {"inner": {"approved": True, "said": "approved True because nested"}}}
