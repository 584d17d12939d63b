"""Rule definitions: the rule document built from an API body or a pack's rules/*.yaml, the trigger it
fires on, and how long that trigger lives.

POST/PUT /v1/rules and content registration both store rules here, so a rule is checked the same way
whichever door it comes through, in the order of StackStorm's RuleAPI.to_model: the declaration
(models/rule.py, criteria operators included), the trigger type, its parameters against the type's
parameters_schema (and a CronTimer's fields as APScheduler reads them), the action. Nothing is
stored when a check fails.

The stored rule's `trigger` is {type, parameters, ref}; `ref` is what trigger instances name. A type
without parameters has one shadow trigger (made with the type) that all its rules share. A type with
parameters gets one trigger per set of parameters, named with a uuid4 in the type's pack, shared by
the rules that give equal parameters and deleted with the last of them. StackStorm keeps a ref_count
on the trigger for that; here the count is the rules pointing at it, so it cannot drift.

Every rule write bumps the "rules" revision (appliance/revisions.py): the rules engine's cache of
enabled rules per trigger ends with it.
"""

from __future__ import annotations

import uuid
from typing import Optional

from appliance.models import ACTIONS, RULES, TRIGGER_TYPES, TRIGGERS, ValidationError, new_id, ref_of
from appliance.models.schema import shown
from appliance.models.trigger import identify as identify_trigger
from appliance.revisions import bump
from appliance.rules.cron import check_cron
from appliance.store import Store, StoreError
from appliance.triggers import ALWAYS_VALIDATED, SYSTEM_PACK, payload_problem

CRON_TIMER = ref_of(SYSTEM_PACK, "st2.CronTimer")
# The keys StackStorm accepts in a rule's `type` and `action` (a view's action.description is not stored).
_TYPE_KEYS = ("ref", "parameters")
_ACTION_KEYS = ("ref", "parameters", "description")


def check_trigger_parameters(trigger_type: dict, parameters: dict, validate_pack: bool, field: str) -> None:
    """Parameters against the type's parameters_schema (always for the webhook and timer types, for
    pack types when `validate_pack`), and a CronTimer's fields and zone as its schedule reads them.
    Rules and POST/PUT /v1/triggers both check through here; `field` names the parameters in errors."""
    ref, schema = trigger_type["ref"], trigger_type.get("parameters_schema")
    if schema and (ref in ALWAYS_VALIDATED or validate_pack):
        problem = payload_problem(schema, parameters)
        if problem:
            raise ValidationError(f'Invalid {field} for trigger type "{ref}": {problem}', field)
    if ref == CRON_TIMER:
        try:
            check_cron(parameters)
        except ValueError as exc:
            raise ValidationError(f'Invalid {field} for trigger type "{ref}": {exc}', field) from None


def _only(value: dict, allowed: tuple[str, ...], field: str) -> None:
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise ValidationError(f"Additional properties are not allowed ({', '.join(repr(k) for k in unknown)} "
                              f"{'was' if len(unknown) == 1 else 'were'} unexpected) (field '{field}')", field)


class RuleDefinitions:
    """Builds, stores and deletes rules together with the triggers they use."""

    def __init__(self, store: Store, validate_pack_parameters: bool = True):
        self.store = store
        self.rules = store.collection(RULES)
        self.trigger_types = store.collection(TRIGGER_TYPES)
        self.triggers = store.collection(TRIGGERS)
        self.actions = store.collection(ACTIONS)
        self.validate_pack_parameters = validate_pack_parameters  # [system] validate_trigger_parameters

    def save(self, body: dict, existing: Optional[dict] = None, user: Optional[str] = None) -> dict:
        """Create the rule `body` describes, or replace `existing` with it, keeping its id. As StackStorm's
        PUT, the body is the whole rule: what it leaves out gets its default. `user` (the API's caller)
        is recorded as context.user. ValidationError (a 400) when the rule is invalid; Conflict (409)
        when another rule has its ref."""
        rule, trigger, new_trigger = self.build(body)
        if user is not None:
            rule["context"] = {**rule["context"], "user": user}
        if new_trigger:  # first, so that a stored rule never names a missing trigger
            trigger = self.triggers.insert({"id": new_id(), **trigger})
        try:
            saved = (self.rules.insert({"id": new_id(), **rule}) if existing is None
                     else self.rules.replace({**rule, "id": existing["id"]}))
        except StoreError:
            if new_trigger:
                self.triggers.delete(trigger["id"])
            raise
        bump(self.store, "rules")
        if existing is not None:
            self.release(existing["trigger"]["ref"])
        return saved

    def delete(self, rule: dict) -> None:
        self.rules.delete(rule["id"])
        bump(self.store, "rules")
        self.release(rule["trigger"]["ref"])

    def release(self, trigger_ref: str) -> None:
        """Delete the parameterised trigger `trigger_ref` once no rule uses it (a shadow trigger lives
        as long as its type)."""
        trigger = self.triggers.find_one({"ref": trigger_ref})
        if trigger is None or not trigger.get("parameters") or self.rules.count({"trigger.ref": trigger_ref}):
            return
        self.triggers.delete(trigger["id"])

    def build(self, body: dict) -> tuple[dict, dict, bool]:
        """(the rule without id, its trigger, whether that trigger is new and must be stored first)."""
        doc = RULES.build(body)
        _only(doc["type"], _TYPE_KEYS, "type")
        _only(doc["action"], _ACTION_KEYS, "action")
        parameters = doc["trigger"].get("parameters", {})
        trigger_type = self._trigger_type(doc["trigger"]["type"])
        self._check_parameters(trigger_type, parameters)
        self._check_action(doc["action"]["ref"])
        trigger, new_trigger = self._trigger(trigger_type, parameters)
        rule = {
            **RULES.identify(doc),
            "type": {"ref": doc["type"].get("ref", "standard"), "parameters": doc["type"].get("parameters", {})},
            "trigger": {"type": trigger_type["ref"], "parameters": parameters, "ref": trigger["ref"]},
            "action": {"ref": doc["action"]["ref"], "parameters": doc["action"].get("parameters", {})},
        }
        return rule, trigger, new_trigger

    def _trigger_type(self, ref: str) -> dict:
        trigger_type = self.trigger_types.find_one({"ref": ref})
        if trigger_type is None:
            raise ValidationError(f'Trigger type "{ref[:200]}" defined in the rule does not exist '
                                  "(field 'trigger.type')", "trigger.type")
        return trigger_type

    def _check_parameters(self, trigger_type: dict, parameters: dict) -> None:
        """As StackStorm: the parameters of the webhook and timer types are always validated, those of
        pack types when [system] validate_trigger_parameters is on."""
        ref, schema = trigger_type["ref"], trigger_type.get("parameters_schema")
        if not schema:
            if parameters:  # StackStorm would make a trigger no instance is ever dispatched to
                raise ValidationError(f'Trigger type "{ref}" takes no parameters, the rule gives '
                                      f"{shown(parameters)} (field 'trigger.parameters')", "trigger.parameters")
            return
        check_trigger_parameters(trigger_type, parameters, self.validate_pack_parameters, "trigger.parameters")

    def _check_action(self, ref: str) -> None:
        if self.actions.find_one({"ref": ref}) is None:
            raise ValidationError(f'Action "{ref[:200]}" defined in the rule does not exist (field \'action.ref\')',
                                  "action.ref")

    def _trigger(self, trigger_type: dict, parameters: dict) -> tuple[dict, bool]:
        """(the trigger the rule fires on, whether it is new): the shadow trigger without parameters, else
        a trigger of the type with equal parameters, else a new one."""
        ref = trigger_type["ref"]
        if not parameters:
            shadow = self.triggers.find_one({"ref": ref, "type": ref})
            if shadow is not None:
                return shadow, False
            # StackStorm refuses these alike ("A simple trigger should have been created ...")
            why = "takes parameters: the rule must give them" if trigger_type.get("parameters_schema") else \
                "has no shadow trigger: register it again"
            raise ValidationError(f'Trigger type "{ref}" {why} (field \'trigger.parameters\')', "trigger.parameters")
        for trigger in self.triggers.find({"type": ref}, sort=[("ref", 1)]):
            if (trigger.get("parameters") or {}) == parameters:
                return trigger, False
        body = {"name": str(uuid.uuid4()), "pack": trigger_type["pack"], "type": ref, "parameters": parameters}
        return identify_trigger(TRIGGERS.build(body)), True
