"""The rules engine's work on one trigger instance: claim it, find the enabled rules of its trigger,
match their criteria (backstop rules only when no standard rule matched), and enforce each match:
a rule enforcement, then the execution of the rule's action with its parameters rendered over the
payload.

Exactly once, even across a killed engine: the instance is claimed with a compare-and-set; each
enforcement is keyed by (rule, instance) and records the id of its execution before the execution
is created, so processing an instance again (its engine died) creates what is missing and nothing
twice.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Optional

from appliance import models, procfs
from appliance.action_requests import ActionRequests, RequestError
from appliance.datastore.keys import Keys
from appliance.models.rule import RULE_ENFORCEMENTS, RULES
from appliance.models.trigger_instance import PENDING, PROCESSED, PROCESSING, PROCESSING_FAILED, TRIGGER_INSTANCES
from appliance.models.trigger_type import TRIGGER_TYPES
from appliance.parameters import ParameterError, render_template, render_values
from appliance.revisions import current
from appliance.rules.criteria import Compiled, compile_criteria, evaluate_compiled
from appliance.store import Conflict, Store

LOG = logging.getLogger(__name__)
CACHE_SECONDS = 30.0  # a safety net: rule writes bump the revision, which ends the cache at once
CACHE_TRIGGERS = 1000
Rule = tuple[dict, Compiled]  # a rule document and its criteria made ready


class RulesEngine:
    def __init__(self, store: Store, requests: ActionRequests, keys: Keys, system_user: str):
        self.instances = store.collection(TRIGGER_INSTANCES)
        self.rules = store.collection(RULES)
        self.enforcements = store.collection(RULE_ENFORCEMENTS)
        self.trigger_types = store.collection(TRIGGER_TYPES)
        self.requests = requests
        self.keys = keys
        self.system_user = system_user
        self.identity = procfs.runner_identity()
        self.store = store
        self._cache: dict[str, tuple[str, float, tuple[list[Rule], list[Rule]]]] = {}

    def claim(self, instance_id: str, from_status: str = PENDING, claimer: Optional[dict] = None) -> Optional[dict]:
        """Take the instance for this process; None when another engine has it or it is done."""
        expect: dict = {"status": from_status}
        if claimer is not None:
            expect["claimed_by.pid"] = claimer.get("pid")
            expect["claimed_by.pid_start"] = claimer.get("pid_start")
        return self.instances.update(instance_id, set_fields={"status": PROCESSING, "claimed_by": self.identity},
                                     expect=expect)

    def process(self, instance_id: str, trigger: Optional[str] = None) -> None:
        """Claim a pending instance and work on it. An instance whose trigger has no enabled rule
        (most action triggers) has nothing to enforce nor to finish after a crash: one
        compare-and-set takes it from pending to processed, a write instead of two. The bus message
        names the trigger, so neither case reads the instance first; the sweep's does."""
        if trigger is None:
            pending = self.instances.get(instance_id)
            if pending is None or pending["status"] != PENDING:
                return
            trigger = pending["trigger"]
        if not any(self._rules_of(trigger)):
            self.instances.update(instance_id, set_fields={"status": PROCESSED, "claimed_by": self.identity},
                                  expect={"status": PENDING})
            return
        instance = self.claim(instance_id)
        if instance is not None:
            self.work(instance)

    def work(self, instance: dict) -> None:
        """Match and enforce a claimed instance, then mark it processed (or processing_failed)."""
        failed = False
        try:
            for rule, matched, errors in self.verdicts(instance):
                for number, error in enumerate(errors):
                    self._failed_enforcement(rule, instance, number, error)
                if matched:
                    self.enforce(rule, instance)  # a refused action is a failed enforcement, not a failed instance
        except Exception:  # a bug or a database error: recorded on the instance, never silent
            LOG.exception("trigger instance %s could not be processed", instance["id"])
            failed = True
        self.instances.update(instance["id"], set_fields={"status": PROCESSING_FAILED if failed else PROCESSED})

    def verdicts(self, instance: dict) -> list[tuple[dict, bool, tuple[str, ...]]]:
        """(rule, matched, errors) for the enabled rules of the instance's trigger: standard rules,
        then backstop rules if no standard rule matched. Errors met while matching become failed
        enforcements, as in StackStorm, matched or not."""
        standard, backstop = self._rules_of(instance["trigger"])
        looked_up: dict = {}
        found = [self._verdict(rule, instance, looked_up) for rule in standard]
        if not any(matched for _, matched, _ in found):
            found += [self._verdict(rule, instance, looked_up) for rule in backstop]
        return found

    def _rules_of(self, trigger_ref: str) -> tuple[list[Rule], list[Rule]]:
        """(standard, backstop) enabled rules of a trigger, kept until the rules' revision changes
        (every rule write bumps it) or CACHE_SECONDS pass: one read by id per instance, not one
        parse of every rule."""
        revision = current(self.store, "rules")
        cached = self._cache.get(trigger_ref)
        if cached is not None and cached[0] == revision and time.monotonic() - cached[1] < CACHE_SECONDS:
            return cached[2]
        standard: list[Rule] = []
        backstop: list[Rule] = []
        for rule in self.rules.find({"trigger.ref": trigger_ref, "enabled": True}, sort=[("ref", 1)]):
            compiled = (rule, compile_criteria(rule.get("criteria")))
            (backstop if (rule.get("type") or {}).get("ref") == "backstop" else standard).append(compiled)
        if len(self._cache) > CACHE_TRIGGERS:
            self._cache.clear()
        self._cache[trigger_ref] = (revision, time.monotonic(), (standard, backstop))
        return standard, backstop

    def _verdict(self, compiled: Rule, instance: dict, looked_up: dict) -> tuple[dict, bool, tuple[str, ...]]:
        rule, criteria = compiled
        verdict = evaluate_compiled(criteria, instance.get("payload") or {}, self._render, rule["ref"], looked_up)
        if not verdict.errors:
            return rule, verdict.matched, ()
        prefix = f'Failed to match rule "{rule["ref"]}" against trigger instance "{instance["id"]}": '
        return rule, verdict.matched, tuple(prefix + error for error in verdict.errors)

    def _render(self, template: str, context: dict) -> Any:
        lookups = self.keys.namespace(self.system_user)
        return render_template(template, {**context, "st2kv": lookups, "system": lookups["system"]})

    def enforce(self, rule: dict, instance: dict) -> bool:
        """Record the enforcement, then request the execution; False when it failed (the reason is
        on the enforcement, and there is no execution)."""
        key = f"{rule['id']}:{instance['id']}"
        existing = self.enforcements.find_one({"key": key})
        if existing is not None and (existing.get("failure_reason") or
                                     self.requests.executions.get(existing.get("execution_id") or "")):
            return existing["status"] == "succeeded"  # done before this engine died
        execution_id = existing["execution_id"] if existing else models.new_id()
        if existing is None and not self._record(rule, instance, key, execution_id=execution_id):
            return True  # another engine recorded it meanwhile
        try:
            self._request(rule, instance, execution_id)
        except (RequestError, ParameterError) as exc:
            reason = str(exc)
            LOG.info("rule %s on trigger instance %s: %s", rule["ref"], instance["id"], reason)
            kept = getattr(exc, "execution", None) is not None
            self.enforcements.update(self.enforcements.find_one({"key": key})["id"], set_fields={
                "failure_reason": reason, "status": "failed", **({} if kept else {"execution_id": None})})
            return False
        return True

    def _record(self, rule: dict, instance: dict, key: str, **outcome: str) -> bool:
        """Store the enforcement keyed `key` (`outcome`: execution_id, or failure_reason); False when
        that key is stored already."""
        doc = RULE_ENFORCEMENTS.build({
            "id": models.new_id(), "key": key, "rule": {"id": rule["id"], "ref": rule["ref"], "uid": rule["uid"]},
            "trigger_instance_id": instance["id"], "enforced_at": models.now(),
            "status": "failed" if "failure_reason" in outcome else "succeeded", **outcome})
        try:
            self.enforcements.insert(doc)
        except Conflict:
            return False
        return True

    def _request(self, rule: dict, instance: dict, execution_id: str) -> dict:
        action = rule["action"]
        context = {"trigger_instance": {"id": instance["id"], "name": None},
                   "rule": {"id": rule["id"], "name": rule["name"]},
                   "trace_context": instance.get("trace_context") or {}}
        scope_context = dict(context)
        context["parameters_rendered"] = True  # payload text must not be rendered a second time
        scope = {"trigger": instance.get("payload") or {},
                 "action_context": {**scope_context, "user": self.system_user},
                 "st2kv": self.keys.namespace(self.system_user)}
        parameters = render_values(action.get("parameters") or {}, scope)
        trigger_type = self.trigger_types.find_one({"ref": rule["trigger"]["type"]}) or {}
        origin = {
            "rule": {k: rule[k] for k in ("id", "ref", "uid", "name", "pack") if k in rule},
            "trigger": rule["trigger"],
            "trigger_type": {k: trigger_type[k] for k in ("id", "ref", "uid", "name", "pack") if k in trigger_type},
            "trigger_instance": {k: instance[k] for k in ("id", "trigger", "occurrence_time", "payload")},
        }
        return self.requests.request(action["ref"], parameters, context, self.system_user,
                                     execution_id=execution_id, origin=origin)

    def _failed_enforcement(self, rule: dict, instance: dict, number: int, reason: str) -> None:
        self._record(rule, instance, f"{rule['id']}:{instance['id']}:error:{number}", failure_reason=reason)
