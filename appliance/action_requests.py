"""Asking for an execution: the checks `st2 run` and a rule enforcement go through alike (the action
exists and is enabled, its runner is installed and enabled, the parameters fit the specs and
render), then the execution is created. Nothing is stored when a check fails, except where
StackStorm records a failed execution (parameters that do not render)."""

from __future__ import annotations

from typing import Optional

from appliance import models
from appliance.datastore.keys import Keys
from appliance.executions import Executions
from appliance.models import ACTIONS, RUNNER_TYPES, ValidationError
from appliance.parameters import ParameterError, cast_values, render, validate_request
from appliance.store import Store


class RequestError(ValidationError):
    """The execution cannot be requested; the message is the API's 400 faultstring. `execution` is
    the failed execution recorded for it, when StackStorm records one."""

    def __init__(self, message: str, execution: Optional[dict] = None):
        super().__init__(message)
        self.execution = execution


class ActionRequests:
    def __init__(self, store: Store, executions: Executions, keys: Optional[Keys] = None):
        self.actions = store.collection(ACTIONS)
        self.runner_types = store.collection(RUNNER_TYPES)
        self.executions = executions
        self.keys = keys

    def request(self, ref: str, parameters: dict, context: dict, user: Optional[str],
                delay_ms: Optional[int] = None, execution_id: Optional[str] = None,
                origin: Optional[dict] = None, notify: Optional[dict] = None, skip_notify: bool = False) -> dict:
        """Check and create an execution of action `ref` (see Executions.create for execution_id and origin).
        Its notify is the action's own, else `notify` (the request's, or what its workflow passes on); none
        when `skip_notify` (a workflow task its workflow does not notify for), as StackStorm's create_request."""
        action = self.actions.find_one({"ref": ref})
        if action is None:
            raise RequestError(f'Action "{ref}" cannot be found.')
        if not action.get("enabled", True):
            raise RequestError(f'Action "{ref}" cannot be executed because it is disabled.')
        runner_type = self.runner_types.find_one({"name": action["runner_type"]})
        if runner_type is None:
            raise RequestError(f'Runner "{action["runner_type"]}" of action "{ref}" is not installed.')
        if not runner_type.get("enabled", True):
            raise RequestError(f'Runner "{runner_type["name"]}" is disabled.')
        if context.get("parameters_rendered"):  # a rule's values, rendered over the payload: text until typed
            parameters = cast_values(runner_type, action, parameters)
        try:
            validate_request(runner_type, action, parameters)
        except ParameterError as exc:
            raise RequestError(str(exc)) from None
        context = {**context, "user": user, "pack": action["pack"]}
        notify = None if skip_notify else (action.get("notify") or notify or None)
        try:
            render(runner_type, action, parameters, context, self.keys)
        except ParameterError as exc:
            failed = self.executions.create(action, runner_type, parameters, context, status=models.FAILED,
                                            result={"error": str(exc)}, execution_id=execution_id, origin=origin,
                                            notify=notify)
            raise RequestError(str(exc), failed) from None
        return self.executions.create(action, runner_type, parameters, context, delay_ms=delay_ms,
                                      execution_id=execution_id, origin=origin, notify=notify)
