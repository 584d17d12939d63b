"""The functions Orquesta workflows call in expressions: Orquesta's own and those StackStorm 3.9 registers.

Names, arguments, results and error texts are Orquesta's and StackStorm's, since workflows and the
errors they report must read the same. The data, regex, time, version and path functions are the
Jinja filters StackStorm registers everywhere (appliance.expressions.filters), under the names its
orquesta runner gives them; to_complex and decrypt_kv are not registered for workflows.

Functions in CONTEXT_FUNCTIONS read the workflow and take the evaluation context first: the dict given
to `expressions.evaluate`, i.e. the workflow variables plus the engine's reserved keys

- "__current_task": {"id", "route", "result", "status"} of the task whose transition or retry is evaluated,
- "__current_item": the with-items element being rendered,
- "__task_status": (task name, route) -> status string, "null" for a task that has not run,
- "__task": (task name, route) -> the task execution record; raises LookupError (or ExpressionError) if none,
- "__st2kv": (key, decrypt) -> value; raises LookupError (KeyError) for a missing key. `key` is
  "<full scope>:<stored name>", StackStorm's key uid without its "key_value_pair:" prefix:
  "st2kv.system:<name>" or "st2kv.user:<user>:<name>".

Functions in FUNCTIONS take plain values only (Jinja also offers them as filters).
"""

from __future__ import annotations

import itertools
import json
from typing import Any, Callable, Dict, Mapping, Optional

from appliance.expressions.filters import FILTERS
from appliance.models.execution import COMPLETED_STATUSES, FAILED, SUCCEEDED
from appliance.models.key_value_pair import SYSTEM_SCOPE, USER_SCOPE


class ExpressionEvaluationException(Exception):
    """A function refused its arguments or the workflow state; Orquesta's class name shows in error texts."""


class VariableUndefinedError(Exception):
    """ctx(name) of a variable the workflow has not defined."""

    def __init__(self, name: Any) -> None:
        super().__init__(f'The variable "{name}" is undefined.')


class VariableInaccessibleError(Exception):
    """ctx(name) of an engine-reserved "__" variable."""

    def __init__(self, name: Any) -> None:
        super().__init__(f'The variable "{name}" is for internal use and inaccessible.')


def _reserved(key: Any) -> bool:
    """Keys starting "__" belong to the engine and are never workflow variables."""
    return isinstance(key, str) and key.startswith("__")


def ctx(context: Mapping[str, Any], key: Any = None) -> Any:
    """The workflow variables (no reserved keys), or the one named `key`."""
    if not key:
        return {name: value for name, value in context.items() if not _reserved(name)}
    if _reserved(key):
        raise VariableInaccessibleError(key)
    if key not in context:
        raise VariableUndefinedError(key)
    return context[key]


def json_(value: Any) -> Any:
    """A JSON text parsed; a dict is already parsed and passes through."""
    if isinstance(value, dict):
        return value
    if not isinstance(value, str):
        raise TypeError("Given object is not typeof string.")
    return json.loads(value)


def zip_(*lists: Any, pad: Any = None) -> Any:
    """Tuples of the n-th elements, padded with `pad` to the longest list; None counts as an empty list.

    One argument comes back unchanged, so `with: x, y in <% zip(ctx(a), ctx(b)) %>` can take either form.
    """
    if len(lists) == 1:
        return lists[0]
    return list(itertools.zip_longest(*(values or [] for values in lists), fillvalue=pad))


def item(context: Mapping[str, Any], key: Any = None) -> Any:
    """The with-items element being rendered, or its value at `key` (named items are dicts)."""
    if "__current_item" not in context:
        raise ExpressionEvaluationException("The current item is not set in the context.")
    current = context["__current_item"]
    if not key:
        return current
    if not isinstance(current, Mapping):
        raise ExpressionEvaluationException("Item is not type of collections.abc.Mapping.")
    if key not in current:
        raise ExpressionEvaluationException(f'Item does not have key "{key}".')
    return current[key]


def _current_task(context: Mapping[str, Any]) -> Mapping[str, Any]:
    """The task whose transitions are evaluated: status tests and result() mean nothing elsewhere."""
    current = context.get("__current_task")
    if not current:
        raise ExpressionEvaluationException("The current task is not set in the context.")
    return current


def _hook(context: Mapping[str, Any], key: str, function: str) -> Callable[..., Any]:
    """A callable the engine provides to read its records; absent outside a running workflow."""
    hook = context.get(key)
    if hook is None:
        raise ExpressionEvaluationException(f"The function {function}() is not available outside a running workflow.")
    return hook


def _route(context: Mapping[str, Any], route: Optional[int]) -> int:
    """An explicit route, else the current task's (a task on a split branch asks about its own branch)."""
    if route is not None:
        return route
    return (context.get("__current_task") or {}).get("route", 0)


def task_status(context: Mapping[str, Any], task_name: Any, route: Optional[int] = None) -> str:
    """The status of `task_name` on the route (the engine falls back to earlier routes); "null" if it has not run."""
    return _hook(context, "__task_status", "task_status")(task_name, _route(context, route))


def succeeded(context: Mapping[str, Any]) -> bool:
    return _current_task(context).get("status") == SUCCEEDED


def failed(context: Mapping[str, Any]) -> bool:
    return _current_task(context).get("status") == FAILED


def completed(context: Mapping[str, Any]) -> bool:
    """Succeeded, failed, timeout, abandoned or canceled."""
    return _current_task(context).get("status") in COMPLETED_STATUSES


def result(context: Mapping[str, Any]) -> Any:
    """The current task's result (for with-items, the list of the items' results)."""
    return _current_task(context).get("result")


def _datastore_key(context: Mapping[str, Any], key: str) -> str:
    """StackStorm's rule: "system.<name>" is system key <name>; any other key is the workflow user's own.

    The user is ctx(st2).user even for a system key, as StackStorm reads it first.
    """
    try:
        user = context["st2"]["user"]
    except (KeyError, TypeError):
        raise KeyError("Could not get user from context.") from None
    if key.startswith("system."):
        return f"{SYSTEM_SCOPE}:{key[len('system.'):]}"
    return f"{USER_SCOPE}:{user}:{key}"


def st2kv(context: Mapping[str, Any], key: Any, **options: Any) -> Any:
    """A datastore value: st2kv(key, decrypt=False, default=...). With `default` (even None), a missing key
    gives it instead of an error. Options are keywords checked here, not by yaql's signature matching, so a
    bad `decrypt` gets StackStorm's TypeError."""
    decrypt = options.get("decrypt", False)
    if not isinstance(key, str):
        raise TypeError("Given key is not typeof string.")
    if not isinstance(decrypt, bool):
        raise TypeError("Decrypt parameter is not typeof bool.")
    full_key = _datastore_key(context, key)
    try:
        return _hook(context, "__st2kv", "st2kv")(full_key, decrypt)
    except LookupError:
        if "default" in options:
            return options["default"]
        stored_name = full_key.split(":", 1)[1]
        raise ExpressionEvaluationException(
            f'The key "{stored_name}" does not exist in the StackStorm datastore.'
        ) from None
    except ExpressionEvaluationException:
        raise
    except Exception as error:  # decryption and datastore failures, reported as StackStorm words them
        raise ExpressionEvaluationException(str(error)) from error


def task(context: Mapping[str, Any], name: Any = None, route: Optional[int] = None) -> Any:
    """The latest execution record of task `name` (default: the current task) on the route."""
    if name is None:
        name = _current_task(context).get("id")
    from appliance.workflows.expressions import ExpressionError  # imports this module: a cycle at load time

    lookup = _hook(context, "__task", "task")
    try:
        return lookup(name, _route(context, route))
    except (LookupError, ExpressionError):
        raise ExpressionEvaluationException(f'Unable to find task execution for "{name}".') from None


# StackStorm's filters as its orquesta runner registers them, plus the names it adds for them.
_ST2_FILTERS = (
    "from_json_string", "from_yaml_string", "to_json_string", "to_yaml_string", "json_escape", "jsonpath_query",
    "regex_match", "regex_replace", "regex_search", "regex_substring", "to_human_time_from_seconds", "use_none",
    "version_compare", "version_more_than", "version_less_than", "version_equal", "version_match",
    "version_bump_major", "version_bump_minor", "version_bump_patch", "version_strip_patch", "basename", "dirname",
)
_ST2_ALIASES = {
    "json_parse": "from_json_string",
    "yaml_parse": "from_yaml_string",
    "json_dump": "to_json_string",
    "yaml_dump": "to_yaml_string",
}

FUNCTIONS: Dict[str, Callable[..., Any]] = {
    "json": json_,
    "zip": zip_,
    **{name: FILTERS[name] for name in _ST2_FILTERS},
    **{alias: FILTERS[name] for alias, name in _ST2_ALIASES.items()},
}

CONTEXT_FUNCTIONS: Dict[str, Callable[..., Any]] = {
    "ctx": ctx,
    "item": item,
    "task_status": task_status,
    "succeeded": succeeded,
    "failed": failed,
    "completed": completed,
    "result": result,
    "st2kv": st2kv,
    "task": task,
}
