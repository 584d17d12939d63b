"""The rules engine on real trigger instances: criteria, enforcement, the execution it starts, and
exactly-once processing when an engine dies half way."""

from __future__ import annotations

import os

import pytest

from appliance import models
from appliance.models.rule import RULE_ENFORCEMENTS, RULES
from appliance.models.trigger_instance import TRIGGER_INSTANCES
from appliance.rules.engine import RulesEngine

PACKS = os.path.join(os.path.dirname(__file__), "..", "..", "..", "packs")
KV_CREATE = "core.st2.key_value_pair.create"


@pytest.fixture
def ctx(make_ctx):
    ctx = make_ctx(f"[content]\nsystem_packs_base_path = {os.path.abspath(PACKS)}\n")
    ctx.registrar.register(["core"], types=("runners", "actions", "triggers"))
    return ctx


def _rule(ctx, name: str, criteria: dict, action: dict, **extra) -> dict:
    body = {"name": name, "pack": "default", "enabled": True, "criteria": criteria, "action": action,
            "trigger": {"type": KV_CREATE, "parameters": {}, "ref": KV_CREATE}, **extra}
    doc = RULES.identify(RULES.build(body))
    return ctx.store.collection(RULES).insert({"id": models.new_id(), **doc})


def _engine(ctx) -> RulesEngine:
    return RulesEngine(ctx.store, ctx.action_requests, ctx.keys, "stanley")


def _instance(ctx, name: str, value: str) -> dict:
    ctx.keys.set(name, value)
    return ctx.store.collection(TRIGGER_INSTANCES).find({}, sort=[("occurrence_time", -1)], limit=1)[0]


def test_a_matching_rule_runs_its_action_with_the_payload_once(ctx):
    rule = _rule(ctx, "on_state", {"trigger.object.name": {"type": "equals", "pattern": "cluster.state"}},
                 {"ref": "core.local", "parameters": {"cmd": "echo {{ trigger.object.value }}"}})
    _rule(ctx, "other", {"trigger.object.name": {"type": "equals", "pattern": "nope"}},
          {"ref": "core.local", "parameters": {"cmd": "false"}})
    instance = _instance(ctx, "cluster.state", "draining")
    engine = _engine(ctx)
    engine.process(instance["id"])
    engine.process(instance["id"])  # the same message again: nothing more
    executions = ctx.executions.coll.find({"trigger_instance.id": instance["id"]})
    assert len(executions) == 1
    execution = executions[0]
    assert execution["parameters"] == {"cmd": "echo draining"}
    assert execution["context"]["rule"] == {"id": rule["id"], "name": "on_state"}
    assert execution["context"]["trigger_instance"]["id"] == instance["id"]
    assert execution["context"]["user"] == "stanley" and execution["rule"]["ref"] == "default.on_state"
    enforcements = ctx.store.collection(RULE_ENFORCEMENTS).find({"trigger_instance_id": instance["id"]})
    assert [(e["rule"]["ref"], e["status"], e["execution_id"]) for e in enforcements] == [
        ("default.on_state", "succeeded", execution["id"])]
    assert ctx.store.collection(TRIGGER_INSTANCES).get(instance["id"])["status"] == "processed"


def test_payload_text_is_never_rendered_as_a_template(ctx):
    _rule(ctx, "echo_value", {}, {"ref": "core.local", "parameters": {"cmd": "echo {{ trigger.object.value }}"}})
    instance = _instance(ctx, "evil", "{{ st2kv.system.evil }}")
    _engine(ctx).process(instance["id"])
    execution = ctx.executions.coll.find({"trigger_instance.id": instance["id"]})[0]
    from appliance.parameters import render

    runner_values, _ = render(execution["runner"], execution["action"], execution["parameters"],
                              execution["context"], ctx.keys)
    assert runner_values["cmd"] == "echo {{ st2kv.system.evil }}"


@pytest.mark.parametrize("parameter, text, typed", [
    ("timeout", "7", 7),
    ("env", '{"SITE": "hpc1"}', {"SITE": "hpc1"}),
    ("env", "{'SITE': 'hpc1'}", {"SITE": "hpc1"}),  # a dict as Jinja renders a Python one
])
def test_rendered_values_take_the_type_of_their_parameter(ctx, parameter, text, typed):
    """As StackStorm's enforcer (render_live_params): "{{ trigger... }}" text is cast to its parameter's type."""
    _rule(ctx, "typed", {}, {"ref": "core.local",
                             "parameters": {"cmd": "true", parameter: "{{ trigger.object.value }}"}})
    instance = _instance(ctx, "cluster.value", text)
    _engine(ctx).process(instance["id"])
    [execution] = ctx.executions.coll.find({"trigger_instance.id": instance["id"]})
    assert execution["parameters"] == {"cmd": "true", parameter: typed}


@pytest.mark.parametrize("action, reason", [
    ({"ref": "core.nothing", "parameters": {}}, 'Action "core.nothing" cannot be found.'),
    ({"ref": "core.local", "parameters": {"cmd": "{{ trigger.no_such }}"}}, "Failed to render parameter 'cmd'"),
    ({"ref": "core.local", "parameters": {"cmd": "true", "bogus": 1}}, "'bogus' was unexpected"),
])
def test_a_refused_action_is_a_failed_enforcement_and_no_execution(ctx, action, reason):
    _rule(ctx, "broken", {}, action)
    instance = _instance(ctx, "k", "v")
    _engine(ctx).process(instance["id"])
    enforcement = ctx.store.collection(RULE_ENFORCEMENTS).find_one({"trigger_instance_id": instance["id"]})
    assert enforcement["status"] == "failed" and reason in enforcement["failure_reason"]
    assert ctx.executions.coll.find({"trigger_instance.id": instance["id"]}) == []
    assert ctx.store.collection(TRIGGER_INSTANCES).get(instance["id"])["status"] == "processed"


def test_backstop_rules_run_only_when_no_standard_rule_matched(ctx):
    action = {"ref": "core.noop", "parameters": {}}
    _rule(ctx, "specific", {"trigger.object.name": {"type": "equals", "pattern": "a"}}, action)
    _rule(ctx, "fallback", {}, action, type={"ref": "backstop", "parameters": {}})
    first, second = _instance(ctx, "a", "1"), _instance(ctx, "b", "2")
    engine = _engine(ctx)
    engine.process(first["id"])
    engine.process(second["id"])
    ruled = {doc["trigger_instance"]["id"]: doc["rule"]["ref"] for doc in ctx.executions.coll.find({})}
    assert ruled == {first["id"]: "default.specific", second["id"]: "default.fallback"}


def test_an_instance_left_half_done_by_a_dead_engine_is_finished_exactly_once(ctx):
    rule = _rule(ctx, "once", {}, {"ref": "core.noop", "parameters": {}})
    instance = _instance(ctx, "k", "v")
    dead = {"hostname": os.uname().nodename, "pid": 999_999_999, "pid_start": 1}
    # The dead engine had claimed it and recorded the enforcement, but not created the execution.
    ctx.store.collection(TRIGGER_INSTANCES).update(instance["id"], {"status": "processing", "claimed_by": dead})
    planned = models.new_id()
    ctx.store.collection(RULE_ENFORCEMENTS).insert(RULE_ENFORCEMENTS.build({
        "id": models.new_id(), "key": f"{rule['id']}:{instance['id']}", "trigger_instance_id": instance["id"],
        "rule": {"id": rule["id"], "ref": rule["ref"], "uid": rule["uid"]}, "execution_id": planned,
        "enforced_at": models.now(), "status": "succeeded"}))
    from appliance.services.rulesengine import RulesEngineService

    service = RulesEngineService(ctx)
    assert service.sweep(0) == 1
    assert service.sweep(0) == 0
    assert [doc["id"] for doc in ctx.executions.coll.find({"trigger_instance.id": instance["id"]})] == [planned]
    assert ctx.store.collection(TRIGGER_INSTANCES).get(instance["id"])["status"] == "processed"
