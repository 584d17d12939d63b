"""The trigger types StackStorm 3.9 registers by itself, and the dispatcher every event goes through.

The rules engine, webhooks, timers, sensors and the notifier dispatch triggers here: the dispatcher
finds the trigger, checks the payload against its type's payload_schema as StackStorm does, stores a
pending trigger instance and then (the durability rule) asks the rules engine to process it on the
bus (`request_rules`; the rules engine consumes them with `consume_trigger_instances`).
"""

from __future__ import annotations

import logging
from typing import Any, Optional, Union

import jsonschema

from appliance.bus import Bus
from appliance.json_schemas import validator_for
from appliance.models import TRIGGER_INSTANCES, TRIGGER_TYPES, TRIGGERS, ValidationError, new_id, now, ref_of
from appliance.models.schema import shown
from appliance.models.trigger_instance import PENDING
from appliance.models.trigger_type import draft4
from appliance.rules.cron import BOUNDS as CRON_BOUNDS
from appliance.store import Store

LOG = logging.getLogger(__name__)
SYSTEM_PACK = "core"


def _loose(*names: str) -> dict:
    """A payload schema that names its keys and checks none (extra keys pass)."""
    return {"type": "object", "properties": {name: {} for name in names}}


_TIMER_PAYLOAD = {
    "type": "object",
    "properties": {
        "executed_at": {"type": "string", "format": "date-time", "default": "2014-07-30 05:04:24.578325"},
        "schedule": {"type": "object", "default": {"delta": 30, "units": "seconds"}},
    },
}
_CRON_FIELD = {"anyOf": [{"type": "string"}, {"type": "integer"}]}
_CRON_RANGES = {name: bounds for name, bounds in CRON_BOUNDS.items() if name != "year"}  # StackStorm's schema

# Types StackStorm registers at start-up (INTERNAL_TRIGGER_TYPES); their payloads are validated like
# pack types', when [system] validate_trigger_payload is on.
INTERNAL_TRIGGER_TYPES = (
    {"name": "st2.generic.actiontrigger", "description": "An action execution finished.",
     "payload_schema": _loose("execution_id", "status", "start_timestamp", "action_name", "action_ref",
                              "runner_ref", "parameters", "result")},
    {"name": "st2.generic.notifytrigger", "description": "A notification of an action execution.",
     "payload_schema": _loose("execution_id", "status", "start_timestamp", "end_timestamp", "action_ref",
                              "runner_ref", "channel", "route", "message", "data")},
    {"name": "st2.action.file_written", "description": "A file of an action was written to disk.",
     "payload_schema": _loose("ref", "file_path", "host_info")},
    {"name": "st2.generic.inquiry", "description": "An inquiry is waiting for a response.",
     "payload_schema": {"type": "object", "additionalProperties": False, "properties": {
         "id": {"type": "string", "required": True, "description": "The inquiry's id."},
         "route": {"type": "string", "required": True,
                   "description": "Any value rules use to pick a notification channel."}}}},
    {"name": "st2.sensor.process_spawn", "description": "A sensor process started.",
     "payload_schema": _loose("object")},
    {"name": "st2.sensor.process_exit", "description": "A sensor process stopped.",
     "payload_schema": _loose("object")},
    {"name": "st2.key_value_pair.create", "description": "A datastore item was created.",
     "payload_schema": _loose("object")},
    {"name": "st2.key_value_pair.update", "description": "A datastore item was set.",
     "payload_schema": _loose("object")},
    {"name": "st2.key_value_pair.value_change", "description": "The value of a datastore item changed.",
     "payload_schema": _loose("old_object", "new_object")},
    {"name": "st2.key_value_pair.delete", "description": "A datastore item was deleted.",
     "payload_schema": _loose("object")},
)

# Types whose payloads are always validated (StackStorm's SYSTEM_TRIGGER_TYPES); they take parameters,
# so they have no shadow trigger: rules create their triggers.
PARAMETERISED_TRIGGER_TYPES = (
    {"name": "st2.webhook", "description": "A webhook received a request (any payload).",
     "parameters_schema": {"type": "object", "additionalProperties": False,
                           "properties": {"url": {"type": "string", "required": True}}},
     "payload_schema": {"type": "object", "properties": {"headers": {"type": "object"},
                                                         "body": {"anyOf": [{"type": "array"}, {"type": "object"}]}}}},
    {"name": "st2.IntervalTimer", "description": "Fires at a fixed interval, e.g. every 30 seconds.",
     "payload_schema": _TIMER_PAYLOAD,
     "parameters_schema": {"type": "object", "additionalProperties": False, "properties": {
         "timezone": {"type": "string"},
         "unit": {"enum": ["weeks", "days", "hours", "minutes", "seconds"], "required": True},
         "delta": {"type": "integer", "required": True}}}},
    {"name": "st2.DateTimer", "description": "Fires once, at a given date and time.",
     "payload_schema": _TIMER_PAYLOAD,
     "parameters_schema": {"type": "object", "additionalProperties": False, "properties": {
         "timezone": {"type": "string"},
         "date": {"type": "string", "format": "date-time", "required": True}}}},
    {"name": "st2.CronTimer", "description": "Fires whenever the time matches cron-like fields.",
     "payload_schema": _TIMER_PAYLOAD,
     "parameters_schema": {"type": "object", "additionalProperties": False, "properties": {
         "timezone": {"type": "string"}, "year": _CRON_FIELD,
         **{name: {**_CRON_FIELD, "minimum": low, "maximum": high} for name, (low, high) in _CRON_RANGES.items()}}}},
)

SYSTEM_TRIGGER_TYPES = tuple({**body, "pack": SYSTEM_PACK} for body in
                             INTERNAL_TRIGGER_TYPES + PARAMETERISED_TRIGGER_TYPES)
ALWAYS_VALIDATED = {ref_of(SYSTEM_PACK, body["name"]): body["payload_schema"] for body in PARAMETERISED_TRIGGER_TYPES}


class DispatchError(ValidationError):
    """A trigger cannot be dispatched (no such trigger, or a payload its type refuses); nothing was
    stored. A 400 in the API."""


class _LocalRefs(jsonschema.RefResolver):
    """References resolve inside the schema: nothing is fetched from a URL or read from a file."""

    def resolve_remote(self, uri: str) -> Any:
        raise jsonschema.RefResolutionError(f"{uri} is outside the schema")


def _nullable(schema: dict, payload: dict, error: jsonschema.ValidationError) -> bool:
    """StackStorm lets an optional top-level property without a default (or with a null one) be null."""
    if len(error.path) != 1:
        return False
    name = error.path[0]
    spec = (schema.get("properties") or {}).get(name)
    return (payload.get(name) is None and isinstance(spec, dict) and spec.get("default") is None
            and name not in (schema.get("required") or []))


def _payload_validator(schema: dict) -> jsonschema.Draft4Validator:
    """`schema` read as StackStorm reads it (draft4), its references resolved only inside it."""
    converted = draft4(schema)
    return jsonschema.Draft4Validator(converted, resolver=_LocalRefs.from_schema(converted))


def payload_problem(schema: dict, payload: dict, label: str = "payload") -> Optional[str]:
    """Why `payload` breaks `schema` as StackStorm validates it (draft 4 plus draft-3 `required`,
    defaults count as given), or None; `label` names the document in the message."""
    validator = validator_for(schema, _payload_validator)
    converted = validator.schema
    try:
        errors = [error for error in validator.iter_errors(payload) if not _nullable(converted, payload, error)]
    except jsonschema.RefResolutionError as exc:
        return f"its payload_schema cannot be used: {exc}"
    if not errors:
        return None
    error = jsonschema.exceptions.best_match(errors)
    where = ".".join(str(part) for part in error.absolute_path)
    return error.message + (f" ({label} '{where}')" if where else "")


class Dispatcher:
    """Turns "this happened" into a stored trigger instance for the rules engine."""

    def __init__(self, store: Store, bus: Bus, validate_pack_payloads: bool = True):
        self.trigger_types = store.collection(TRIGGER_TYPES)
        self.triggers = store.collection(TRIGGERS)
        self.instances = store.collection(TRIGGER_INSTANCES)
        self.bus = bus
        self.validate_pack_payloads = validate_pack_payloads

    def dispatch(self, trigger: Union[str, dict], payload: Optional[dict] = None,
                 trace_context: Optional[dict] = None, *, validate: bool = True) -> dict:
        """Store a pending instance of `trigger` with `payload`, then hand it to the rules engine.

        `trigger` is a trigger ref (a parameterless type's ref names its shadow trigger; a parameterised
        trigger's is `<pack>.<uuid>`) or a trigger object as the trigger watchers hold it (with `id`,
        `uid` or `ref`, or `type` and `parameters`). The payload is checked against the type's
        payload_schema: always for the webhook and timer types, for the others when [system]
        validate_trigger_payload is on (when off, a bad payload is logged and dispatched anyway, as
        StackStorm does); `validate=False` skips the check (a re-emit sends a stored payload again as
        it was). Raises DispatchError, and stores nothing, when the trigger cannot be dispatched."""
        payload = {} if payload is None else payload
        if not isinstance(payload, dict):
            raise DispatchError(f"The payload must be an object, not {shown(payload)}", "payload")
        found = self.resolve(trigger)
        if validate:
            self._check(found, payload)
        doc = TRIGGER_INSTANCES.build({"id": new_id(), "trigger": found["ref"], "payload": payload,
                                       "occurrence_time": now(), "status": PENDING, "trace_context": trace_context})
        self.instances.insert(doc)
        self.bus.request_rules(doc["id"], doc["trigger"])
        return doc

    def resolve(self, trigger: Union[str, dict]) -> dict:
        """The stored trigger that `trigger` names (see dispatch); DispatchError when there is none."""
        if isinstance(trigger, str):
            found = self.triggers.find_one({"ref": trigger})
        elif isinstance(trigger, dict):
            found = self._by_object(trigger)
        else:
            raise DispatchError(f"{shown(trigger)} is neither a trigger reference nor a trigger object", "trigger")
        if found is None:
            raise DispatchError(self._not_found(trigger), "trigger")
        return found

    def _by_object(self, trigger: dict) -> Optional[dict]:
        for key in ("id", "uid", "ref"):
            value = trigger.get(key)
            if isinstance(value, str) and value:
                return self.triggers.get(value) if key == "id" else self.triggers.find_one({key: value})
        parameters = trigger.get("parameters") or {}
        candidates = self.triggers.find({"type": trigger.get("type")}) if isinstance(trigger.get("type"), str) else []
        return next((doc for doc in candidates if (doc.get("parameters") or {}) == parameters), None)

    def _not_found(self, trigger: Union[str, dict]) -> str:
        if not isinstance(trigger, str):
            return f"Trigger {shown(trigger, 200)} not found"
        trigger_type = self.trigger_types.find_one({"ref": trigger})
        if trigger_type is not None and trigger_type.get("parameters_schema"):
            return (f'Trigger type "{trigger}" takes parameters: dispatch one of its triggers (by its ref, or as '
                    '{"type": ..., "parameters": ...}), not the type')
        return f'Trigger "{trigger[:200]}" not found: no trigger type or trigger has this reference'

    def _check(self, trigger: dict, payload: dict) -> None:
        type_ref = trigger["type"]
        always = type_ref in ALWAYS_VALIDATED
        trigger_type = None if always else self.trigger_types.find_one({"ref": type_ref})
        if not always and trigger_type is None:
            raise DispatchError(f'Trigger type "{type_ref}" of trigger "{trigger["ref"]}" not found', "trigger")
        schema = ALWAYS_VALIDATED[type_ref] if always else trigger_type.get("payload_schema") or {}
        problem = payload_problem(schema, payload)
        if problem is None:
            return
        message = f'Payload of trigger "{trigger["ref"]}" is invalid: {problem}'
        if always or self.validate_pack_payloads:
            raise DispatchError(message, "payload")
        LOG.warning("%s (dispatched anyway: [system] validate_trigger_payload is off)", message)
