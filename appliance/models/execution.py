"""Execution (StackStorm's ActionExecution, with its liveaction inside), its output lines, and the
body of POST /v1/executions that creates one."""

from __future__ import annotations

from appliance.models.schema import Entity, Field, Schema

# StackStorm's execution statuses (st2common/constants/action.py).
REQUESTED = "requested"
SCHEDULED = "scheduled"
DELAYED = "delayed"
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
TIMEOUT = "timeout"
ABANDONED = "abandoned"
CANCELING = "canceling"
CANCELED = "canceled"
PENDING = "pending"
PAUSING = "pausing"
PAUSED = "paused"
RESUMING = "resuming"

STATUSES = (
    REQUESTED, SCHEDULED, DELAYED, RUNNING, SUCCEEDED, FAILED, TIMEOUT, ABANDONED,
    CANCELING, CANCELED, PENDING, PAUSING, PAUSED, RESUMING,
)
COMPLETED_STATUSES = (SUCCEEDED, FAILED, TIMEOUT, CANCELED, ABANDONED)
CANCELABLE_STATUSES = (REQUESTED, SCHEDULED, DELAYED, RUNNING, PAUSING, PAUSED, RESUMING)

ANY = ("string", "integer", "number", "boolean", "object", "array", "null")


def _mask_parameters(doc: dict) -> dict:
    """Secret parameters (by the action's and runner's specs) become the mask, at the top level and
    in the liveaction, as StackStorm's API shows them."""
    from appliance.parameters import mask_secrets  # parameters renders; the model only masks

    parameters = doc.get("parameters")
    if not isinstance(parameters, dict):
        return doc
    masked = mask_secrets(parameters, doc.get("runner") or {}, doc.get("action") or {})
    if masked == parameters:
        return doc
    out = {**doc, "parameters": masked}
    if isinstance(doc.get("liveaction"), dict):
        out["liveaction"] = {**doc["liveaction"], "parameters": masked}
    return out


EXECUTIONS = Entity(
    name="execution",
    collection="executions",
    fields={
        "id": Field("string", required=True),
        "action": Field("object", required=True),
        "runner": Field("object", required=True),
        "liveaction": Field("object", required=True),
        "status": Field("string", required=True, enum=STATUSES),
        "start_timestamp": Field("string", required=True),
        "end_timestamp": Field("string"),
        "elapsed_seconds": Field("number"),
        "parameters": Field("object", default={}),
        "context": Field("object", default={}),
        "log": Field("array", default=[]),
        "web_url": Field("string"),
        "parent": Field("string"),
        "children": Field("array"),
        "result": Field(ANY),
        "delay": Field("integer"),
        "delay_until": Field("string"),
        # what started it, when a rule did: {id, ref, ...} of each, as StackStorm's execution shows
        "rule": Field("object"),
        "trigger": Field("object"),
        "trigger_type": Field("object"),
        "trigger_instance": Field("object"),
        # False until st2notifier claims the completion (compare-and-set), so it is sent once; older
        # documents lack it and are never swept
        "notified": Field("boolean", default=False, hidden=True),
    },
    # status, action.ref and parent are searched through the compound indexes they lead.
    indexed=("context.user", "start_timestamp", "runner.name", "liveaction.runner_info.hostname", "notified"),
    compound=(("status", "start_timestamp"), ("action.ref", "start_timestamp"),
              ("status", "action.ref", "start_timestamp"), ("parent", "start_timestamp")),
    mask=_mask_parameters,
)

EXECUTION_OUTPUT = Entity(
    name="execution output",
    collection="execution_output",
    fields={
        "id": Field("string", required=True),
        "execution_id": Field("string", required=True),
        "action_ref": Field("string", required=True),
        "runner_ref": Field("string", required=True),
        "timestamp": Field("string", required=True),
        "output_type": Field("string", required=True),
        "data": Field("string", required=True),
        "seq": Field("integer", required=True),
    },
    indexed=("execution_id", "timestamp"),  # timestamp: st2garbagecollector's action_executions_output_ttl
    compound=(("execution_id", "seq"),),
)


def _check_context(context: dict) -> None:
    parent = context.get("parent")
    if parent is not None and not isinstance(parent, dict):
        raise ValueError(f"{parent!r:.60} is not of type 'object' (context.parent)")
    if isinstance(parent, dict) and not isinstance(parent.get("execution_id", ""), str):
        raise ValueError("context.parent.execution_id must be a string")


_LONGEST_DELAY_MS = 100 * 365 * 24 * 3600 * 1000  # a delay past this would overflow the calendar


def _check_delay(delay: int) -> None:
    if delay < 0:
        raise ValueError(f"{delay} is less than the minimum of 0 (milliseconds)")
    if delay > _LONGEST_DELAY_MS:
        raise ValueError(f"{delay} is more than the maximum of {_LONGEST_DELAY_MS} (100 years, in milliseconds)")


EXECUTION_REQUEST = Schema(
    name="execution request",
    fields={
        "action": Field("string", required=True),
        "parameters": Field("object", default={}),
        "context": Field("object", default={}, check=_check_context),
        "user": Field(("string", "null")),
        "delay": Field(("integer", "null"), check=_check_delay),
        "notify": Field("object"),
        "callback": Field("object"),
    },
)
