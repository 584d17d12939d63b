"""Inquiries: core.ask leaves its execution pending with the question and dispatches core.st2.generic.inquiry;
/v1/inquiries lists, shows and answers them (schema, users, repeated and late answers refused, nothing changed);
an answer or a time-out resumes the paused workflow, which acts on it."""

from __future__ import annotations

import datetime
import os

import pytest
from falcon import testing

from appliance import inquiries, models
from appliance.api.app import api_app
from appliance.models import TRIGGER_INSTANCES, WORKFLOW_EXECUTIONS
from appliance.services.actionrunner import ActionRunnerService
from appliance.workflows.engine import WorkflowEngine

WORKFLOWS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "packs", "wftest", "actions",
                         "workflows")


@pytest.fixture
def ctx(packs_ctx):
    return packs_ctx


@pytest.fixture
def client(ctx):
    return testing.TestClient(api_app(ctx))


def headers(ctx, user: str = "st2admin") -> dict:
    return {"X-Auth-Token": ctx.credentials.issue_token(user)["token"]}


def ask(ctx, context: dict = None, **parameters) -> dict:
    """core.ask run by st2actionrunner, as the scheduler hands it over: the execution as it is left."""
    execution = ctx.action_requests.request("core.ask", parameters, context or {}, "stanley")
    ctx.executions.transition(execution["id"], models.SCHEDULED, (models.REQUESTED,))
    ActionRunnerService(ctx).run(execution["id"])
    return ctx.executions.get(execution["id"])


def test_core_ask_waits_pending_with_the_question_and_dispatches_the_inquiry_trigger(ctx):
    execution = ask(ctx, route="ops", users=["ada"])
    assert execution["status"] == "pending" and "end_timestamp" not in execution
    assert execution["result"] == {
        "schema": {"title": "response_data", "type": "object", "properties": {"continue": {
            "type": "boolean", "description": "Would you like to continue the workflow?", "required": True}}},
        "roles": [], "users": ["ada"], "route": "ops", "ttl": 1440}
    (instance,) = ctx.store.collection(TRIGGER_INSTANCES).find({"trigger": "core.st2.generic.inquiry"})
    assert instance["payload"] == {"id": execution["id"], "route": "ops"}


def test_a_schema_no_response_could_match_fails_the_inquiry_at_once(ctx):
    execution = ask(ctx, schema={"type": "object", "properties": {"a": {"type": "nothing"}}})
    assert execution["status"] == "failed"
    assert execution["result"]["error"].startswith("The inquiry's schema is not a valid JSON schema: ")
    assert ctx.store.collection(TRIGGER_INSTANCES).find({"trigger": "core.st2.generic.inquiry"}) == []


def test_the_api_lists_and_shows_pending_inquiries_only(ctx, client):
    first, second = ask(ctx), ask(ctx, route="r2")
    answered = ask(ctx)
    inquiries.respond(ctx.executions, answered, {"continue": True})
    listed = client.simulate_get("/v1/inquiries", headers=headers(ctx))
    assert listed.status_code == 200 and listed.headers["X-Total-Count"] == "2"
    assert [item["id"] for item in listed.json] == [second["id"], first["id"]]
    assert set(listed.json[0]) == {"id", "route", "ttl", "users", "roles", "schema"}
    shown = client.simulate_get(f"/v1/inquiries/{second['id']}", headers=headers(ctx))
    assert shown.status_code == 200 and shown.json["route"] == "r2"
    gone = client.simulate_get(f"/v1/inquiries/{answered['id']}", headers=headers(ctx))
    assert gone.status_code == 400
    assert gone.json["faultstring"] == f'Inquiry "{answered["id"]}" has already been responded to.'
    noop = ctx.action_requests.request("core.noop", {}, {}, "stanley")
    not_one = client.simulate_get(f"/v1/inquiries/{noop['id']}", headers=headers(ctx))
    assert not_one.status_code == 400 and not_one.json["faultstring"] == \
        f'Action execution "{noop["id"]}" is not an inquiry.'
    assert client.simulate_get("/v1/inquiries/nope", headers=headers(ctx)).status_code == 404


@pytest.mark.parametrize(("body", "fault"), [
    ({"id": "x", "response": {"continue": "yes"}}, "'yes' is not of type 'boolean' (response 'continue')"),
    ({"id": "x", "response": {}}, "'continue' is a required property"),
])
def test_a_response_the_schema_refuses_is_a_400_and_the_inquiry_stays_pending(ctx, client, body, fault):
    execution = ask(ctx)
    put = client.simulate_put(f"/v1/inquiries/{execution['id']}", json=body, headers=headers(ctx))
    assert put.status_code == 400
    assert put.json["faultstring"] == (f'Response for inquiry "{execution["id"]}" did not pass schema validation. '
                                       f"{fault}")
    assert ctx.executions.get(execution["id"])["status"] == "pending"


@pytest.mark.parametrize("body", [{"response": {"continue": True}}, {"id": "x"}, {"id": "x", "response": 1},
                                  {"id": "x", "response": {}, "more": 1}, []])
def test_a_malformed_body_is_a_400(ctx, client, body):
    execution = ask(ctx)
    put = client.simulate_put(f"/v1/inquiries/{execution['id']}", json=body, headers=headers(ctx))
    assert put.status_code == 400 and isinstance(put.json["faultstring"], str)
    assert ctx.executions.get(execution["id"])["status"] == "pending"


def test_a_good_response_completes_the_inquiry_with_its_defaults_and_only_once(ctx, client):
    schema = {"type": "object", "properties": {"continue": {"type": "boolean", "required": True},
                                               "reason": {"type": "string", "default": "none given"}}}
    execution = ask(ctx, schema=schema)
    put = client.simulate_put(f"/v1/inquiries/{execution['id']}", headers=headers(ctx),
                              json={"id": execution["id"], "response": {"continue": True}})
    assert put.status_code == 200
    assert put.json == {"id": execution["id"], "response": {"continue": True, "reason": "none given"}}
    done = ctx.executions.get(execution["id"])
    assert done["status"] == "succeeded" and done["end_timestamp"]
    assert done["result"]["response"] == {"continue": True, "reason": "none given"}
    assert done["result"]["schema"] == schema
    again = client.simulate_put(f"/v1/inquiries/{execution['id']}", headers=headers(ctx),
                                json={"id": execution["id"], "response": {"continue": False}})
    assert again.status_code == 400 and "has already been responded to" in again.json["faultstring"]
    assert ctx.executions.get(execution["id"])["result"]["response"]["continue"] is True


def test_only_the_listed_users_may_answer(ctx, client):
    execution = ask(ctx, users=["ada"], roles=["approvers"])
    body = {"id": execution["id"], "response": {"continue": True}}
    refused = client.simulate_put(f"/v1/inquiries/{execution['id']}", json=body, headers=headers(ctx, "bob"))
    assert refused.status_code == 403
    assert refused.json["faultstring"] == \
        f'User "bob" does not have permission to respond to inquiry "{execution["id"]}".'
    assert ctx.executions.get(execution["id"])["status"] == "pending"
    accepted = client.simulate_put(f"/v1/inquiries/{execution['id']}", json=body, headers=headers(ctx, "ada"))
    assert accepted.status_code == 200  # roles need RBAC: without it every user holds them, as in StackStorm


def aged(ctx, execution: dict, minutes: float) -> dict:
    """The execution as if it had started `minutes` ago."""
    stamp = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=minutes)
    return ctx.executions.coll.update(execution["id"], set_fields={"start_timestamp": models.format_time(stamp)})


def test_an_inquiry_older_than_its_ttl_times_out_and_cannot_be_answered(ctx, client):
    late, young, forever = ask(ctx, ttl=1), ask(ctx, ttl=5), ask(ctx, ttl=0)
    aged(ctx, late, 1.1), aged(ctx, young, 4), aged(ctx, forever, 10_000)
    put = client.simulate_put(f"/v1/inquiries/{late['id']}", headers=headers(ctx),
                              json={"id": late["id"], "response": {"continue": True}})
    assert put.status_code == 400  # the API does not wait for the sweep
    assert put.json["faultstring"] == f'Inquiry "{late["id"]}" timed out and cannot be responded to.'
    timed_out = ctx.executions.get(late["id"])
    assert timed_out["status"] == "timeout" and "response" not in timed_out["result"]
    aged(ctx, young, 6)
    assert inquiries.expire_due(ctx.executions) == 1
    assert [ctx.executions.get(e["id"])["status"] for e in (young, forever)] == ["timeout", "pending"]


# -- in a workflow ---------------------------------------------------------------------------------------------

def approval(ctx, ttl: int = 1440) -> tuple[WorkflowEngine, dict, dict]:
    """wftest.approve started and paused at its inquiry: (engine, workflow execution, inquiry)."""
    engine = WorkflowEngine(ctx)
    execution = ctx.action_requests.request("wftest.approve", {"ttl": ttl}, {}, "stanley")
    execution = ctx.executions.transition(execution["id"], models.RUNNING, (models.REQUESTED,))
    with open(os.path.join(WORKFLOWS, "approve.yaml")) as handle:
        assert engine.request(execution, handle.read(), {"ttl": ttl}) == []
    workflow = ctx.store.collection(WORKFLOW_EXECUTIONS).find_one({"action_execution": execution["id"]})
    engine.start(workflow["id"])
    (child,) = ctx.executions.coll.find({"parent": execution["id"]})
    ctx.executions.transition(child["id"], models.SCHEDULED, (models.REQUESTED,))
    ActionRunnerService(ctx).run(child["id"])
    engine.on_child(ctx.executions.get(child["id"]))
    assert ctx.executions.get(execution["id"])["status"] == "paused"
    return engine, execution, ctx.executions.get(child["id"])


def finish_act(ctx, engine: WorkflowEngine, execution: dict) -> dict:
    """The `act` task's echo completed as the runner would; the workflow's execution then."""
    act = [c for c in ctx.executions.coll.find({"parent": execution["id"]})
           if c["context"]["orquesta"]["task_name"] == "act"]
    assert len(act) == 1, act
    assert act[0]["parameters"] == {"message": "approved True because late"}
    done = ctx.executions.transition(act[0]["id"], models.SUCCEEDED, (models.REQUESTED,),
                                     {"result": {"stdout": "approved True because late"}})
    engine.on_child(done)
    return ctx.executions.get(execution["id"])


def test_the_answer_resumes_the_paused_workflow_which_uses_it(ctx, client):
    engine, execution, inquiry = approval(ctx)
    assert inquiry["context"]["orquesta"]["task_name"] == "ask" and inquiry["result"]["route"] == "ops"
    put = client.simulate_put(f"/v1/inquiries/{inquiry['id']}", headers=headers(ctx),
                              json={"id": inquiry["id"], "response": {"continue": True, "reason": "late"}})
    assert put.status_code == 200
    engine.on_child(ctx.executions.get(inquiry["id"]))
    assert ctx.executions.get(execution["id"])["status"] == "running"
    final = finish_act(ctx, engine, execution)
    assert final["status"] == "succeeded"
    assert final["result"] == {"output": {"approved": True, "said": "approved True because late"}}


def test_a_timed_out_inquiry_resumes_the_workflow_which_takes_its_failure_path(ctx):
    engine, execution, inquiry = approval(ctx, ttl=1)
    aged(ctx, inquiry, 2)
    assert inquiries.expire_due(ctx.executions) == 1
    engine.on_child(ctx.executions.get(inquiry["id"]))
    final = ctx.executions.get(execution["id"])
    assert final["status"] == "succeeded" and final["result"] == {"output": {"approved": False, "said": None}}
    assert [c["context"]["orquesta"]["task_name"] for c in ctx.executions.coll.find({"parent": execution["id"]})] \
        == ["ask"]
