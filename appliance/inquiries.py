"""Inquiries: check, answer and time out executions of the `inquirer` runner (StackStorm's inquiry service).

Answering or timing one out completes its execution; st2workflowengine hears that like any child's completion
and resumes the inquiry's Orquesta workflow (see WorkflowEngine.on_child), so nothing here races with it. An
inquiry in an action chain paused the chain: its answer resumes the topmost execution, as StackStorm's does.
With `[garbagecollector] purge_inquiries` (the appliance's default), time-outs are found by st2garbagecollector,
as StackStorm's garbage collector finds them, and, for the inquiry asked about, by the API itself, so a response
after the TTL is refused even between two collections. Without it, as StackStorm by default, nothing times out.
"""

from __future__ import annotations

import datetime
import logging
from typing import Any, Optional

from appliance import models
from appliance.executions import Executions
from appliance.models.inquiry import INQUIRER
from appliance.triggers import payload_problem

LOG = logging.getLogger(__name__)


class InquiryError(Exception):
    """A request the inquiry refuses; `status` is the API's (400, or 403 for a user not allowed)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def check(execution: dict) -> None:
    """StackStorm's checks before showing or answering an inquiry: it is one, and it is still open."""
    if (execution.get("runner") or {}).get("name") != INQUIRER:
        raise InquiryError(f'Action execution "{execution["id"]}" is not an inquiry.')
    if execution["status"] == models.TIMEOUT:
        raise InquiryError(f'Inquiry "{execution["id"]}" timed out and cannot be responded to.')
    if execution["status"] != models.PENDING:
        raise InquiryError(f'Inquiry "{execution["id"]}" has already been responded to.')


def check_permission(execution: dict, user: str) -> None:
    """Anyone may answer unless `users` lists who may. `roles` need RBAC, which the appliance does not have:
    as with StackStorm's default (noop) RBAC backend, every user holds every role."""
    users = (execution.get("result") or {}).get("users") or []
    if users and user not in users:
        raise InquiryError(f'User "{user}" does not have permission to respond to inquiry "{execution["id"]}".', 403)


def _with_defaults(schema: Any, value: Any) -> Any:
    """`value` with the defaults of the properties it lacks filled in, at every depth, as StackStorm validates
    a response (`use_default`): the stored response holds them."""
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(value, dict) or not isinstance(properties, dict):
        return value
    filled = dict(value)
    for name, spec in properties.items():
        if name not in filled and isinstance(spec, dict) and "default" in spec:
            filled[name] = spec["default"]
        if name in filled:
            filled[name] = _with_defaults(spec, filled[name])
    return filled


def validated_response(execution: dict, response: dict) -> dict:
    """The response with its schema's defaults, or InquiryError naming what breaks the schema."""
    schema = (execution.get("result") or {}).get("schema") or {}
    filled = _with_defaults(schema, response)
    problem = payload_problem(schema, filled, "response")
    if problem:
        raise InquiryError(f'Response for inquiry "{execution["id"]}" did not pass schema validation. {problem}')
    return filled


def respond(executions: Executions, execution: dict, response: dict) -> dict:
    """Complete the inquiry with `response` in its result; InquiryError if it was answered or timed out since
    it was read (the first answer wins)."""
    result = {**(execution.get("result") or {}), "response": response}
    done = executions.transition(execution["id"], models.SUCCEEDED, (models.PENDING,), {"result": result},
                                 started=execution["start_timestamp"])
    if done is None:
        check(executions.get(execution["id"]) or execution)
        raise InquiryError(f'Inquiry "{execution["id"]}" has already been responded to.')
    resume_chain(executions, done)
    return done


def resume_chain(executions: Executions, inquiry: dict) -> None:
    """An inquiry answered or timed out in an action chain (not an Orquesta task: its engine resumes that)
    resumes the root of its parents when it is paused, as StackStorm resumes the root liveaction."""
    if inquiry.get("parent") and "orquesta" not in (inquiry.get("context") or {}):
        executions.resume(executions.root(inquiry)["id"])


def expired(execution: dict, now: Optional[datetime.datetime] = None) -> bool:
    """A pending inquiry older than its `ttl` minutes (0: it never expires)."""
    ttl = (execution.get("result") or {}).get("ttl")
    if execution["status"] != models.PENDING or not isinstance(ttl, int) or ttl <= 0:
        return False
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return now - models.parse_time(execution["start_timestamp"]) > datetime.timedelta(minutes=ttl)


def expire(executions: Executions, execution: dict) -> dict:
    """The inquiry, timed out first if its TTL has passed (its result is kept, as StackStorm keeps it)."""
    if not expired(execution):
        return execution
    done = executions.transition(execution["id"], models.TIMEOUT, (models.PENDING,),
                                 started=execution["start_timestamp"])
    if done is not None:
        LOG.info("inquiry %s timed out after %s minutes", execution["id"], execution["result"]["ttl"])
        resume_chain(executions, done)
    return done or executions.get(execution["id"]) or execution


def expire_due(executions: Executions) -> int:
    """Time out every pending inquiry past its TTL; how many."""
    due = [execution for execution in executions.coll.find({"runner.name": INQUIRER, "status": models.PENDING})
           if expired(execution)]
    for execution in due:
        expire(executions, execution)
    return len(due)
