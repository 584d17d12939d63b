"""The payloads of the two triggers st2notifier sends for an execution, as StackStorm 3.9 builds them.

Pure functions of the stored execution document: the notifier decides when to send and st2 rules
see exactly these payloads, so rules written for StackStorm match here unchanged.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Mapping

from appliance.models import parse_time
from appliance.models.execution import (
    ABANDONED,
    COMPLETED_STATUSES,
    EXECUTIONS,
    FAILED,
    SUCCEEDED,
    TIMEOUT,
)
from appliance.parameters import render_template

LOG = logging.getLogger(__name__)

ACTION_TRIGGER = "core.st2.generic.actiontrigger"
NOTIFY_TRIGGER = "core.st2.generic.notifytrigger"
FAILED_STATUSES = (FAILED, TIMEOUT, ABANDONED)
# (notify section, the statuses it applies to, the end of its default message)
SECTIONS = (
    ("on-complete", COMPLETED_STATUSES, "completed."),
    ("on-success", (SUCCEEDED,), "succeeded."),
    ("on-failure", FAILED_STATUSES, "failed."),
)


def python_time(stamp: str) -> str:
    """`str(datetime)`, the actiontrigger's format: `2024-05-01 10:00:00.123456+00:00`."""
    return str(parse_time(stamp))


def offset_time(stamp: str) -> str:
    """ISO 8601 with a `+00:00` offset, the notifytrigger's format (StackStorm's isotime.format)."""
    return parse_time(stamp).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def runner_ref(execution: dict) -> str:
    return execution["action"]["runner_type"]


def action_trigger_payload(execution: dict) -> dict:
    """core.st2.generic.actiontrigger's payload; secret parameters masked as the API shows them."""
    ref = execution["action"]["ref"]
    return {
        "execution_id": execution["id"],
        "status": execution["status"],
        "start_timestamp": python_time(execution["start_timestamp"]),
        "action_name": ref,
        "action_ref": ref,
        "runner_ref": runner_ref(execution),
        "parameters": EXECUTIONS.public(execution).get("parameters") or {},
        "result": execution.get("result"),
    }


def render_mapping(mapping: Mapping[str, Any], scope: dict) -> dict:
    """Each value rendered over `scope` as StackStorm's render_values does: objects and lists as
    compact JSON read back after rendering, other values as text; a value without a template keeps
    its type. `__context` names the whole scope."""
    scope = {"__context": scope, **scope}
    out = {}
    for key, value in mapping.items():
        structured = isinstance(value, (dict, list))
        text = json.dumps(value, separators=(",", ":")) if structured else str(value)
        rendered = render_template(text, scope)
        if rendered == text:
            out[key] = value
        else:
            out[key] = json.loads(rendered) if structured else rendered
    return out


def _rendered(mapping: Mapping[str, Any], scope: dict, what: str) -> dict:
    """`mapping` rendered, or as it was when a template fails (logged, as StackStorm does)."""
    try:
        return render_mapping(mapping, scope)
    except Exception:  # any template error: the notification still goes out, unrendered
        LOG.exception("notify %s could not be rendered; sending it unrendered", what)
        return dict(mapping)


def notify_payloads(execution: dict, st2kv_system: Any) -> list[dict]:
    """core.st2.generic.notifytrigger payloads, one per route of each section of the action's
    `notify` that applies to the completed execution's status. `execution` has its parameters in clear: the
    templates see them as StackStorm's do (action_parameters, action_context, action_results,
    st2kv.system)."""
    notify = (execution.get("liveaction") or {}).get("notify") or {}
    status = execution["status"]
    ref = execution["action"]["ref"]
    scope = {
        "st2kv": {"system": st2kv_system},
        "action_parameters": execution.get("parameters") or {},
        "action_context": execution.get("context") or {},
        "action_results": execution.get("result"),
    }
    payloads = []
    for section, statuses, suffix in SECTIONS:
        spec = notify.get(section) or {}
        routes = spec.get("routes") or spec.get("channels") or []
        if status not in statuses or not routes:
            continue
        message = _rendered({"message": spec.get("message") or f"Action {ref} {suffix}"}, scope, "message")
        data = _rendered(spec.get("data") or {}, scope, "data")
        data["result"] = json.dumps(execution.get("result"))
        common = {
            "message": message["message"],
            "data": data,
            "execution_id": execution["id"],
            "status": status,
            "start_timestamp": offset_time(execution["start_timestamp"]),
            "end_timestamp": offset_time(execution["end_timestamp"]),
            "action_ref": ref,
            "runner_ref": runner_ref(execution),
        }
        payloads.extend({**common, "route": route, "channel": route} for route in routes)
    return payloads
