"""The workflow runtime: a state machine over a plain JSON-able state, driven by the engine one event at a time.

The engine stores `Conductor.state` after every call and rebuilds a Conductor from it (with the same spec) to
handle the next event; status, output and errors are decided as Orquesta decides them, surprising cases included.

Contexts are never copied per task: `state["contexts"]` is an append-only list (the initial context, then one
entry per fired transition that published something) and every task refers to its inbound contexts by index.
A with-items task keeps one status letter per item (`ITEM_CODES`); item results stay with the engine, which
hands them over through `Host.item_results` when the task completes.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Callable, Optional

from appliance.workflows.expressions import ExpressionError, evaluate
from appliance.workflows.spec import Graph, WorkflowSpec, build_graph

# --- statuses ------------------------------------------------------------------------------------------------------

REQUESTED, SCHEDULED, DELAYED, RUNNING, PENDING = "requested", "scheduled", "delayed", "running", "pending"
PAUSING, PAUSED, RESUMING, RETRYING = "pausing", "paused", "resuming", "retrying"
SUCCEEDED, FAILED, EXPIRED, ABANDONED = "succeeded", "failed", "timeout", "abandoned"
CANCELING, CANCELED, UNSET = "canceling", "canceled", "null"

STARTING = (REQUESTED, SCHEDULED, DELAYED, RUNNING, PENDING)
RUNNING_STATUSES = (REQUESTED, SCHEDULED, DELAYED, RUNNING, RESUMING, RETRYING)
ACTIVE = (REQUESTED, SCHEDULED, DELAYED, RUNNING, RESUMING, PAUSING, CANCELING)
ABENDED = (FAILED, EXPIRED, ABANDONED)
COMPLETED = (SUCCEEDED, FAILED, EXPIRED, ABANDONED, CANCELED)
ENGINE_COMMANDS = {"continue": SUCCEEDED, "noop": SUCCEEDED, "fail": FAILED}
"""The status each engine command gives its own task entry (`retry` is a policy, never staged)."""

ITEM_CODES = {
    UNSET: ".", REQUESTED: "q", SCHEDULED: "s", DELAYED: "d", RUNNING: "r", PENDING: "p", PAUSING: "z",
    PAUSED: "Z", RESUMING: "u", RETRYING: "y", SUCCEEDED: "S", FAILED: "F", EXPIRED: "T", ABANDONED: "A",
    CANCELING: "c", CANCELED: "C",
}  # fmt: skip
"""One letter per item status: a with-items task's item statuses are one string in the state."""


_DONE_CODES = frozenset(ITEM_CODES[status] for status in COMPLETED)


class ConductorError(Exception):
    """A request the workflow's state does not allow (pause a completed workflow, re-run a running one...)."""


@dataclass(frozen=True)
class Host:
    """What the engine lends the conductor: lookups into records it owns, called only when needed.

    st2kv(full_key, decrypt) -> value (LookupError when missing), as functions.st2kv expects;
    task(task_id, route) -> the task's latest execution record for task() (LookupError when none);
    item_results(task_id, route) -> every item's action result in item order (None for items without one),
    asked once, when a with-items task completes.
    """

    st2kv: Optional[Callable[[str, bool], Any]] = None
    task: Optional[Callable[[str, int], dict]] = None
    item_results: Optional[Callable[[str, int], list]] = None


@dataclass(frozen=True)
class ActionRequest:
    """One action execution for the engine to request: for a with-items task, one per item.

    `delay` is in seconds (None: schedule now); `items_count` and `concurrency` are set for with-items tasks.
    """

    task_id: str
    route: int
    action: Any
    input: Any
    item_id: Optional[int] = None
    delay: Optional[int] = None
    items_count: Optional[int] = None
    concurrency: Optional[int] = None


def _error_message(error: BaseException) -> str:
    """Orquesta's `<ExceptionClass>: <text>`; an ExpressionError's text already starts with its class."""
    return str(error) if isinstance(error, ExpressionError) else f"{type(error).__name__}: {error}"


def _merged(left: dict, right: dict) -> dict:
    """Right over left, nested dicts merged key by key; neither input is modified."""
    out = dict(left)
    for key, value in right.items():
        if isinstance(out.get(key), dict) and isinstance(value, dict):
            out[key] = _merged(out[key], value)
        else:
            out[key] = value
    return out


def new_state() -> dict:
    """An empty state: the shape the engine stores."""
    return {
        "status": UNSET,
        "contexts": [],
        "routes": [],
        "sequence": [],
        "tasks": {},
        "staged": [],
        "errors": [],
        "output": None,
        "reruns": [],
    }


class Conductor:
    """One workflow execution: its spec, its state (mutated in place by every call) and the engine's host."""

    def __init__(self, spec: WorkflowSpec, state: dict, host: Optional[Host] = None) -> None:
        self.spec = spec
        self.state = state
        self.host = host or Host()
        self.graph: Graph = build_graph(spec)
        self._items: dict[tuple, list] = {}

    # --- the engine's calls ------------------------------------------------------------------------------------

    @classmethod
    def start(
        cls,
        spec: WorkflowSpec,
        inputs: Optional[dict] = None,
        parent_context: Optional[dict] = None,
        host: Optional[Host] = None,
    ) -> Conductor:
        """Render input then vars over the parent context; any error fails the workflow at once (no output)."""
        conductor = cls(spec, new_state(), host)
        conductor._initialize(copy.deepcopy(inputs or {}), copy.deepcopy(parent_context or {}))
        return conductor

    def run(self) -> list[ActionRequest]:
        """The actions to request now. Call once after `start` (and after `resume`, `rerun`)."""
        if self.status in (REQUESTED, SCHEDULED):
            self._request_status(RUNNING)
        requests = self._dispatch()
        self._finish()
        return requests

    def update(
        self, task_id: str, route: int, status: str, result: Any = None, item_id: Optional[int] = None
    ) -> list[ActionRequest]:
        """An action execution of the task (of one item, for with-items) reached `status` (completed, pending,
        paused, running again...). Returns the actions now to request."""
        self._on_task_event(task_id, route, status, result=result, item_id=item_id)
        requests = self._dispatch()
        self._finish()
        return requests

    def pause(self) -> None:
        """Pause: running actions finish, nothing new starts; `paused` once nothing is active."""
        self._request_change(PAUSED)

    def resume(self) -> list[ActionRequest]:
        """Resume a paused or pausing workflow; one with nothing left to do succeeds."""
        if self.status not in RUNNING_STATUSES:
            self._request_change(RESUMING)
        return self.run() if self.status in RUNNING_STATUSES else self._finished([])

    def cancel(self) -> None:
        """Cancel: running actions finish, nothing new starts; `canceled` once nothing is active."""
        self._request_change(CANCELED)
        self._finish()

    def fail(self, error: BaseException, task_id: Optional[str] = None, route: Optional[int] = None) -> None:
        """The engine could not request a task's action (unknown action, bad parameters): the workflow fails."""
        self._request_status(FAILED)
        self._log_error(error, task_id, route)
        self._finish()

    def rerun(self, tasks: Optional[list] = None, reset: tuple = ()) -> list[ActionRequest]:
        """Run a completed workflow again from the named tasks (every route they ran on), or from its failed
        terminal tasks; with-items tasks in `reset` run all their items again, others only the failed ones."""
        if self.status not in COMPLETED:
            raise ConductorError("Unable to rerun workflow execution because it is not in a completed state.")
        requests = None
        if tasks:
            missing = [name for name in tasks if not self._entries(name)]
            if missing:
                raise ConductorError(
                    f"Unable to rerun workflow because one or more tasks is not found: {','.join(missing)}"
                )
            requests = {
                f"{e['id']}__r{e['route']}": (e["id"], e["route"], e["id"] in reset)
                for name in tasks
                for e in self._entries(name)
            }
        self._prepare_rerun(requests)
        return self.run()

    # --- what the engine reads ---------------------------------------------------------------------------------

    @property
    def status(self) -> str:
        return self.state["status"]

    @property
    def output(self) -> Optional[dict]:
        return self.state["output"] or None

    @property
    def errors(self) -> list:
        return self.state["errors"]

    @property
    def result(self) -> dict:
        """The workflow execution's result as StackStorm shows it: {} while running, else output (+ errors)."""
        if self.status not in COMPLETED and self.status != PAUSED:
            return {}
        result = {"output": self.output}
        if self.status in ABENDED:
            result["errors"] = copy.deepcopy(self.errors)
        return result

    def awaits(self, task_id: str, route: int, run: Optional[int], item_id: Optional[int] = None) -> bool:
        """Whether a report of this task run (of this item) is still expected: False for a repeated or stale
        one (an earlier run of the task, an item or a task already completed), which the engine then drops."""
        idx = self.state["tasks"].get(f"{task_id}__r{route}")
        if idx is None or (run is not None and idx != run):
            return False
        if item_id is None:
            return self.state["sequence"][idx].get("status") not in COMPLETED
        staged = self._staged(task_id, route)
        codes = staged.get("items", "") if staged else ""
        return item_id < len(codes) and codes[item_id] not in _DONE_CODES

    def task_status(self, task_id: str, route: int = 0) -> str:
        """The status of the task's latest run on the route (falling back to the routes before the split)."""
        entry = self._entry_on_route(task_id, route)
        return entry.get("status", UNSET) if entry else UNSET

    # --- state lookups -----------------------------------------------------------------------------------------

    def _entry(self, task_id: str, route: int) -> Optional[dict]:
        idx = self.state["tasks"].get(f"{task_id}__r{route}")
        return None if idx is None else self.state["sequence"][idx]

    def _entries(self, task_id: str) -> list[dict]:
        """The latest entry of the task on every route it ran on."""
        seq = self.state["sequence"]
        return [seq[i] for key, i in self.state["tasks"].items() if seq[i]["id"] == task_id]

    def _entry_on_route(self, task_id: str, route: int) -> Optional[dict]:
        """The task on this route, else on the longest earlier route this one extends (before a split)."""
        entry = self._entry(task_id, route)
        if entry is not None or route <= 0:
            return entry
        current = set(self.state["routes"][route])
        for earlier in range(route - 1, -1, -1):
            if set(self.state["routes"][earlier]) <= current:
                return self._entry_on_route(task_id, earlier)
        return None

    def _latest(self) -> list[dict]:
        seq = self.state["sequence"]
        return [seq[i] for i in self.state["tasks"].values()]

    def _any_task(self, statuses: tuple) -> bool:
        return any(e.get("status") in statuses for e in self._latest())

    def _staged(self, task_id: str, route: int) -> Optional[dict]:
        return next((s for s in self.state["staged"] if s["id"] == task_id and s["route"] == route), None)

    def _ready_staged(self) -> list[dict]:
        return [s for s in self.state["staged"] if s["ready"] and not s.get("completed")]

    def _unstage(self, task_id: str, route: int) -> None:
        """Drop the task from staging, unless some of its items are still active."""
        staged = self._staged(task_id, route)
        if staged and not any(ITEM_CODES[s] in staged.get("items", "") for s in ACTIVE):
            self.state["staged"].remove(staged)

    def _stage(self, task_id: str, route: int, ctxs: list, prev: dict, ready: bool, retry: Any = None) -> dict:
        entry = {"id": task_id, "route": route, "ctxs": {"in": ctxs}, "prev": prev, "ready": ready}
        if retry:
            entry["retry"] = retry
        self.state["staged"].append(entry)
        return entry

    # --- contexts ----------------------------------------------------------------------------------------------

    def _context(self, ctx_idxs: list) -> dict:
        ctx: dict = {}
        for idx in ctx_idxs:
            ctx = _merged(ctx, self.state["contexts"][idx])
        return ctx

    def _scope(self, ctx: dict, task: Optional[dict] = None, **extra: Any) -> dict:
        """The evaluation context: the variables plus the engine's reserved keys (see functions.py)."""
        scope = dict(ctx)
        scope["__task_status"] = lambda name, route=None: self.task_status(name, self._route_of(task, route))
        scope["__task"] = self._task_record
        if self.host.st2kv is not None:
            scope["__st2kv"] = self.host.st2kv
        if task is not None:
            scope["__current_task"] = task
        scope.update(extra)
        return scope

    @staticmethod
    def _route_of(task: Optional[dict], route: Optional[int]) -> int:
        return route if route is not None else (task or {}).get("route", 0)

    def _task_record(self, task_id: str, route: int) -> dict:
        """task(): the engine's record of the task's latest run on the route (or the route before the split)."""
        entry = self._entry_on_route(task_id, route)
        record = self.host.task(task_id, entry["route"]) if entry and self.host.task else None
        if record is None:
            raise LookupError(task_id)
        return record

    def _current(self, entry: dict, result: Any = None, with_result: bool = False) -> dict:
        current = {"id": entry["id"], "route": entry["route"], "status": entry.get("status", UNSET)}
        if with_result:
            current["result"] = result
        return current

    # --- errors and status -------------------------------------------------------------------------------------

    def _log(
        self, message: str, task_id: Any = None, route: Any = None, transition: Any = None, result: Any = None
    ) -> None:
        """Append an error entry, once: Orquesta drops exact duplicates."""
        entry = {"type": "error", "message": message}
        for key, value in (
            ("task_id", task_id),
            ("route", route),
            ("task_transition_id", transition),
            ("result", result),
        ):
            if value is not None:
                entry[key] = value
        if entry not in self.state["errors"]:
            self.state["errors"].append(entry)

    def _log_error(self, error: BaseException, task_id: Any = None, route: Any = None, transition: Any = None) -> None:
        self._log(_error_message(error), task_id, route, transition)

    def _request_status(self, status: str) -> None:
        """A workflow-level status request: active with-items tasks hear it first, then the workflow."""
        if status in (PAUSING, PAUSED, CANCELING, CANCELED):
            for entry in self._latest():
                if entry.get("status") in ACTIVE:
                    self._task_hears_workflow(entry, status)
        active = self._any_task(ACTIVE)
        dormant_and_done = not active and not self._ready_staged() and not self._any_task((PAUSED, PENDING))
        self.state["status"] = workflow_on_request(self.status, status, active, dormant_and_done)

    def _request_change(self, status: str) -> None:
        """A pause, resume or cancel request: refused when the workflow cannot move that way."""
        before = self.status
        self._request_status(status)
        settling = (status, before, self.status) in ((PAUSED, PAUSING, PAUSING), (CANCELED, CANCELING, CANCELING))
        if status != before and self.status == before and not settling:
            raise ConductorError(f'Unable to request "{status}" for a workflow in status "{before}".')

    def _task_hears_workflow(self, entry: dict, status: str) -> None:
        """A pause or cancel request reaches a running with-items task: it stops starting items."""
        staged = self._staged(entry["id"], entry["route"])
        if entry.get("status") != RUNNING or not staged or "items" not in staged:
            return
        codes = staged["items"]
        if all(c in _COMPLETED_CODES for c in set(codes)):
            return
        active = any(c in _ACTIVE_CODES for c in set(codes))
        pausing = status in (PAUSING, PAUSED)
        entry["status"] = (PAUSING if pausing else CANCELING) if active else (PAUSED if pausing else CANCELED)

    def _finish(self) -> None:
        """Render the output once the workflow is completed (again after a failed rendering); not for one whose
        input or vars failed, which never started (StackStorm leaves its output None)."""
        if self.status not in COMPLETED or self.state["output"] or not self.state["contexts"]:
            return
        ctx = self._terminal_context()
        rolling = self._scope(ctx)
        outputs, failed = {}, False
        for name, value in self.spec.output:
            try:
                rolling[name] = outputs[name] = evaluate(value, rolling)
            except ExpressionError as error:
                self._log_error(error)
                failed = True
        if outputs:
            self.state["output"] = outputs
        if failed and self.status not in (EXPIRED, ABANDONED, CANCELED):
            self._request_status(FAILED)

    def _finished(self, requests: list) -> list:
        self._finish()
        return requests

    def _terminal_context(self) -> dict:
        """The first terminal task's inbound context with the other terminal tasks' merged over it."""
        terminal = [e for e in self.state["sequence"] if e.get("term")]
        if not terminal:
            return {}
        ctx = self._context(terminal[0]["ctxs"]["in"])
        for entry in terminal[1:]:
            idxs = list(entry["ctxs"]["in"])
            idxs.remove(0)
            ctx = _merged(ctx, self._context(idxs))
        return ctx

    # --- start ---------------------------------------------------------------------------------------------------

    def _initialize(self, inputs: dict, parent: dict) -> None:
        rolling, errors = dict(parent), []
        for name, default in self.spec.input:
            try:
                rolling[name] = evaluate(inputs.get(name, default), self._scope(rolling))
            except ExpressionError as error:
                errors.append(error)
        ctx = _merged(parent, rolling)
        rolling, rendered = dict(ctx), {}
        for name, value in self.spec.vars:
            try:
                rolling[name] = rendered[name] = evaluate(value, self._scope(rolling))
            except ExpressionError as error:
                errors.append(error)
        ctx = _merged(ctx, rendered)
        if errors:
            for error in errors:
                self._log_error(error)
            self._request_status(FAILED)
            return
        self.state["contexts"].append(ctx)
        self.state["routes"].append([])
        for name in self.graph.roots:
            self._stage(name, 0, [0], {}, ready=True)
        self._request_status(REQUESTED)

    # --- next tasks ----------------------------------------------------------------------------------------------

    def _dispatch(self) -> list[ActionRequest]:
        """Stage → running for every task ready now; action-less and empty with-items tasks complete at once."""
        requests: list[ActionRequest] = []
        tasks = self._next_tasks()
        while tasks:
            for task in tasks:
                if task["items_count"] == 0:
                    self._on_task_event(task["id"], task["route"], RUNNING)
                for action in task["actions"]:
                    self._on_task_event(task["id"], task["route"], RUNNING, item_id=action.get("item_id"))
            for task in tasks:
                if self.spec.task(task["id"]).action is None or task["items_count"] == 0:
                    self._on_task_event(task["id"], task["route"], SUCCEEDED)
                else:
                    requests += [self._request(task, action) for action in task["actions"]]
            tasks = self._next_tasks()
        return requests

    @staticmethod
    def _request(task: dict, action: dict) -> ActionRequest:
        """The action request, with StackStorm's delay rule: with concurrency only the first items wait."""
        item_id, delay, concurrency = action.get("item_id"), task.get("delay") or None, task.get("concurrency")
        if item_id is not None and concurrency and item_id >= concurrency:
            delay = None
        return ActionRequest(
            task_id=task["id"],
            route=task["route"],
            action=action["action"],
            input=action["input"],
            item_id=item_id,
            delay=delay,
            items_count=task["items_count"],
            concurrency=concurrency,
        )

    def _next_tasks(self) -> list[dict]:
        """The staged tasks with something to run, rendered; a rendering error fails the workflow."""
        staged = self._ready_staged()
        remediation = [s for s in staged if s.get("run_on_fail")] if self.status == FAILED else []
        if self.status not in RUNNING_STATUSES and not remediation:
            return []
        tasks, failed = [], False
        for entry in remediation or staged:
            try:
                task = self._render(entry)
            except Exception as error:  # every rendering failure is the workflow's error, as in Orquesta
                failed = True
                self._log_error(error, entry["id"], entry["route"])
                continue
            if "retry" in entry:
                task["delay"] = entry["retry"].get("delay") or 0
            if task["actions"] or task["items_count"] == 0:
                tasks.append(task)
        if failed:
            self._request_status(FAILED)
            return []
        return sorted(tasks, key=lambda t: (t["id"], t["route"]))

    def _render(self, staged: dict) -> dict:
        """Delay, items (only those to start now, within the concurrency), action and input of a staged task."""
        spec = self.spec.task(staged["id"])
        ctx = self._context(staged["ctxs"]["in"])
        current = {
            "id": staged["id"],
            "route": staged["route"],
            "status": self.task_status(staged["id"], staged["route"]),
        }
        scope = self._scope(ctx, current)
        task = {"id": staged["id"], "route": staged["route"], "items_count": None, "concurrency": None}
        if spec.items is None:
            task["actions"] = [{"action": evaluate(spec.action, scope), "input": evaluate(spec.input, scope)}]
        else:
            items = self._item_values(staged, spec, scope)
            concurrency = evaluate(spec.items.concurrency, scope)
            if concurrency is not None and concurrency <= 0:
                concurrency = 1
            task.update(items_count=len(items), concurrency=concurrency)
            task["actions"] = [
                {
                    "action": evaluate(spec.action, item_scope),
                    "input": evaluate(spec.input, item_scope),
                    "item_id": i,
                }
                for i, item_scope in self._item_scopes(staged, spec, items, scope, concurrency)
            ]
        if spec.delay:
            delay = evaluate(spec.delay, scope) if isinstance(spec.delay, str) else spec.delay
            if not isinstance(delay, int):
                raise TypeError("The value of task delay is not type of integer.")
            task["delay"] = delay
        return task

    def _item_values(self, staged: dict, spec: Any, scope: dict) -> list:
        """The items, evaluated once per staging of the task in this process (their context never changes)."""
        key = (staged["id"], staged["route"], tuple(staged["ctxs"]["in"]))
        if key not in self._items:
            items = evaluate(spec.items.expression, scope)
            if not isinstance(items, list):
                raise TypeError(f'The value of "{spec.items.expression}" is not type of list.')
            self._items[key] = items
        return self._items[key]

    @staticmethod
    def _item_scopes(staged: dict, spec: Any, items: list, scope: dict, concurrency: Optional[int]):
        """(index, scope) of the items to start: not run yet, within what the concurrency leaves free."""
        codes = staged.get("items") or ITEM_CODES[UNSET] * len(items)
        staged["items"] = codes
        free = len(items) if concurrency is None else concurrency - sum(codes.count(c) for c in _ACTIVE_CODES)
        keys = spec.items.keys
        start = 0
        while free > 0:
            index = codes.find(ITEM_CODES[UNSET], start)
            if index < 0:
                break
            item = items[index]
            if keys and isinstance(item, (list, tuple)):
                item = dict(zip(keys, item))
            elif keys and len(keys) == 1:
                item = {keys[0]: item}
            yield index, {**scope, "__current_item": item}
            start, free = index + 1, free - 1

    # --- task events ---------------------------------------------------------------------------------------------

    def _add_entry(self, task_id: str, staged: dict) -> tuple[int, dict]:
        entry = {
            "id": task_id,
            "route": staged["route"],
            "ctxs": {"in": list(staged["ctxs"]["in"])},
            "prev": dict(staged["prev"]),
            "next": {},
        }
        policy = self.spec.retry_of(task_id) if task_id not in ENGINE_COMMANDS else None
        if policy and "count" in policy:
            entry["retry"] = self._retry_policy(task_id, dict(policy), entry["ctxs"]["in"])
        self.state["sequence"].append(entry)
        idx = len(self.state["sequence"]) - 1
        self.state["tasks"][f"{task_id}__r{staged['route']}"] = idx
        return idx, entry

    def _retry_policy(self, task_id: str, policy: dict, ctx_idxs: list) -> dict:
        policy["tally"] = 0
        scope = self._scope(self._context(ctx_idxs))
        for key, what in (("delay", "delay"), ("count", "count")):
            if isinstance(policy.get(key), str):
                policy[key] = evaluate(policy[key], scope)
                if not isinstance(policy[key], int):
                    raise ValueError(f'The retry {what} for task "{task_id}" is not an integer.')
        return policy

    def _on_task_event(
        self,
        task_id: str,
        route: int,
        status: str,
        result: Any = None,
        item_id: Optional[int] = None,
        command: bool = False,
    ) -> None:
        """Orquesta's update_task_state: the task's new status, retry, transitions, then the workflow's status."""
        staged = self._staged(task_id, route)
        idx = self.state["tasks"].get(f"{task_id}__r{route}")
        entry = None if idx is None else self.state["sequence"][idx]
        if staged is None and entry is None:
            raise ConductorError(f'Unable to find task "{task_id}" (route {route}) in the workflow state.')
        try:
            if entry is None or command or (entry.get("status") in COMPLETED and status in STARTING and staged):
                idx, entry = self._add_entry(task_id, staged)
        except (ExpressionError, ValueError) as error:
            self._log_error(error, task_id, route)
            self._request_status(FAILED)
            return
        if staged and "items" not in staged:
            self._unstage(task_id, route)
        if staged and item_id is not None:
            staged["items"] = staged["items"][:item_id] + ITEM_CODES[status] + staged["items"][item_id + 1 :]
        if status == FAILED:
            self._log("Execution failed. See result for details.", task_id, result=result)
        old = entry.get("status", UNSET)
        if command:
            entry["status"] = ENGINE_COMMANDS[task_id]
        elif item_id is not None and status not in _PLAIN_ITEM_EVENTS:
            entry["status"] = task_on_item(old, status, staged["items"], item_id) or old
        else:
            entry["status"] = task_on_action(old, status) or old
        new = entry["status"]
        if new == RETRYING:
            self._restage_for_retry(entry)
        if new in COMPLETED and self._settle_completed(entry, new, result, item_id):
            return
        if new in COMPLETED and new != old:
            commands = self._transitions(
                entry, idx, self._current(entry, self._task_result(entry, result, item_id), True)
            )
        else:
            commands = []
        self._after_task(entry)
        for command_id, command_route in commands:
            self._on_task_event(command_id, command_route, ENGINE_COMMANDS[command_id], command=True)
        if self.status in COMPLETED:
            entry["term"] = True

    def _restage_for_retry(self, entry: dict) -> None:
        entry["retry"]["tally"] += 1
        self._unstage(entry["id"], entry["route"])
        self._stage(entry["id"], entry["route"], entry["ctxs"]["in"], entry["prev"], True, retry=entry["retry"])

    def _settle_completed(self, entry: dict, new: str, result: Any, item_id: Optional[int]) -> bool:
        """Unstage the completed task (a failed with-items task stays, flagged, for a re-run); retry it if its
        policy says so. True when it went to retry (its transitions wait for the last attempt) or when the retry
        policy could not be evaluated (the workflow failed; StackStorm stops handling the event there)."""
        spec = self.spec.task(entry["id"])
        if spec.items is not None and new in ABENDED:
            staged = self._staged(entry["id"], entry["route"])
            if staged is not None:
                staged["completed"] = True
        else:
            self._unstage(entry["id"], entry["route"])
        if self.status not in ACTIVE or "retry" not in entry:
            return False
        current = self._current(entry, self._task_result(entry, result, item_id), True)
        try:
            retry = self._should_retry(entry, current)
        except Exception as error:  # the engine fails the workflow on any retry evaluation error
            self._log_error(error, entry["id"], entry["route"])
            self._request_status(FAILED)
            return True
        if retry:
            self._on_task_event(entry["id"], entry["route"], RETRYING)
        return retry

    def _should_retry(self, entry: dict, current: dict) -> bool:
        policy = entry["retry"]
        if policy["tally"] >= policy["count"]:
            return False
        if entry["status"] in ABENDED and policy.get("when") is None:
            return True
        return bool(evaluate(policy.get("when"), self._scope(self._context(entry["ctxs"]["in"]), current)))

    def _task_result(self, entry: dict, result: Any, item_id: Optional[int]) -> Any:
        """result() of a completed task: the action's result, or for with-items the list of item results."""
        if self.spec.task(entry["id"]).items is None:
            return result
        if item_id is None:
            return result or []
        staged = self._staged(entry["id"], entry["route"])
        if self.host.item_results is not None:  # items never started have no result: padded with None
            results = list(self.host.item_results(entry["id"], entry["route"]))
            count = len(staged["items"]) if staged else len(results)
            return results[:count] + [None] * (count - len(results))
        results = [None] * (len(staged["items"]) if staged else 0)
        if item_id < len(results):
            results[item_id] = result
        return results

    def _transitions(self, entry: dict, idx: int, current: dict) -> list[tuple[str, int]]:
        """Evaluate every outbound transition; stage the targets of those that fire. Returns engine commands."""
        task_id, route = entry["id"], entry["route"]
        scope = self._scope(self._context(entry["ctxs"]["in"]), current)
        edges = self.graph.next_edges(task_id)
        if not edges:
            entry["term"] = True
        commands, ready, manual_fail = [], [], False
        for edge in edges:
            try:
                entry["next"][edge.id] = all(evaluate(c, scope) for c in ([edge.when] if edge.when else []))
            except Exception as error:  # any criteria failure fails the workflow, the other transitions still run
                self._log_error(error, task_id, route, edge.id)
                self._request_status(FAILED)
                continue
            if not entry["next"][edge.id]:
                continue
            published, errors = self._publish(edge, scope)
            if errors:
                for error in errors:
                    self._log_error(error, task_id, route, edge.id)
                self._request_status(FAILED)
                continue
            out = list(entry["ctxs"]["in"])
            if published:
                self.state["contexts"].append(published)
                out.append(len(self.state["contexts"]) - 1)
            target = self._stage_target(edge, route, out, idx)
            if edge.target in ENGINE_COMMANDS:
                commands.append((target["id"], target["route"]))
                manual_fail = manual_fail or edge.target == "fail"
            elif target["ready"]:
                ready.append(target)
        if manual_fail:
            for target in ready:
                target["run_on_fail"] = True
        return commands

    def _publish(self, edge: Any, scope: dict) -> tuple[dict, list]:
        """The transition's publish, in order, each seeing the ones before it."""
        rolling, published, errors = dict(scope), {}, []
        transition = self.spec.task(edge.source).next[edge.index]
        for name, value in transition.publish:
            try:
                rolling[name] = published[name] = evaluate(value, rolling)
            except ExpressionError as error:
                errors.append(error)
        return published, errors

    def _stage_target(self, edge: Any, route: int, ctxs: list, idx: int) -> dict:
        """Stage the transition's target on its route, or join this branch into its staged entry."""
        target_route = self._route_for(edge, route)
        staged = self._staged(edge.target, target_route)
        if staged is not None:
            ctxs = list(ctxs)
            ctxs.remove(0)
            staged["ctxs"]["in"].extend(ctxs)
            staged["prev"][edge.backref] = idx
            staged.pop("items", None)
            staged.pop("completed", None)
        else:
            staged = self._stage(edge.target, target_route, ctxs, {edge.backref: idx}, ready=False)
        staged["ready"] = self._inbound(edge.target, route) == _SATISFIED
        return staged

    def _route_for(self, edge: Any, route: int) -> int:
        """A split task (several inbound transitions, no join, not on a cycle) runs on a route per path."""
        if not self.spec.is_split(edge.target) or self.graph.in_cycle(edge.target):
            return route
        routes = self.state["routes"]
        if edge.backref in routes[route]:
            return route
        routes.append(routes[route] + [edge.backref])
        return len(routes) - 1

    def _inbound(self, task_id: str, route: int) -> str:
        """Whether enough inbound branches fired into the task (a join waits for all or for its count)."""
        inbound = self.graph.prev_edges(task_id)
        fired: dict[str, Any] = {edge.source: None for edge in inbound}
        join = self.spec.task(task_id).join if task_id in self.spec.tasks else None
        needed = len(fired) if join == "all" else (join or 1)
        for edge in inbound:
            prev = self._entry(edge.source, route)
            if prev is not None and not fired[edge.source]:
                fired[edge.source] = bool(prev["next"].get(edge.id))
        if list(fired.values()).count(True) >= needed:
            return _SATISFIED
        if None in fired.values() and (self._any_task(ACTIVE) or self._ready_staged()):
            return _WAITING
        return _UNSATISFIED

    def _has_next(self, entry: dict, join_ready: bool) -> bool:
        """A completed task with a fired transition to a real task or noop (continue does not count)."""
        if entry.get("status") not in COMPLETED:
            return False
        for edge in self.graph.next_edges(entry["id"]):
            if edge.target == "continue" or not entry["next"].get(edge.id):
                continue
            if join_ready and self.spec.task(edge.target).is_join:
                if self._inbound(edge.target, entry["route"]) == _UNSATISFIED:
                    continue
            return True
        return False

    def _after_task(self, entry: dict) -> None:
        """The workflow's status after the task's, then unreachable joins if that completed the workflow."""
        status = entry.get("status", UNSET)
        remediated = status in ABENDED and (self._has_next(entry, True) or self._has_next(entry, False))
        before = self.status
        after = workflow_on_task(
            before,
            "remediated" if remediated else status,
            active=self._any_task(ACTIVE),
            outlook=self._outlook(entry),
        )
        if after is None:
            return
        self.state["status"] = after
        if after in COMPLETED:
            for staged in self.state["staged"]:
                if staged["id"] in self._barriers() and not staged["ready"]:
                    if self._inbound(staged["id"], staged["route"]) == _UNSATISFIED:
                        self.state["status"] = FAILED
                        message = (
                            'UnreachableJoinError: The join task|route "%s|%s" is partially satisfied but unreachable.'
                        )
                        self._log(message % (staged["id"], staged["route"]), staged["id"], staged["route"])

    def _barriers(self) -> set:
        return {name for name, task in self.spec.tasks.items() if task.join and name in self.graph.nodes}

    def _outlook(self, entry: dict) -> str:
        """For a succeeded or remediated task: whether the workflow is to cancel, pause, go on or complete."""
        if self._any_task((CANCELING, CANCELED)):
            return "canceled"
        if self._any_task((PAUSING, PAUSED, PENDING)):
            return "paused"
        if self._ready_staged() or self._has_next(entry, True):
            return "incomplete"
        return "completed"

    # --- re-run ----------------------------------------------------------------------------------------------------

    def _prepare_rerun(self, requests: Optional[dict]) -> None:
        seq = self.state["sequence"]
        if requests is None:
            candidates = {
                f"{e['id']}__r{e['route']}": (e["id"], e["route"], False)
                for e in seq
                if e.get("term") and e.get("status") in ABENDED
            }
        else:
            kept = self._collapse(requests)
            candidates = {k: v for k, v in requests.items() if k in kept}
        self.state["reruns"].append([self.state["tasks"][k] for k in candidates])
        for task_id, route, reset in sorted(candidates.values(), key=lambda c: (c[0], c[1])):
            self._rerun_task(task_id, route, reset)
        for entry in seq:
            if entry.get("term") and any(entry["next"].values()):
                entry.pop("term", None)
        self.state["output"] = None
        self.state["status"] = RESUMING

    def _successors(self, task_id: str, route: int) -> list[int]:
        """The task's latest entry and the entries that came directly from it."""
        seq = self.state["sequence"]
        found = [self.state["tasks"][f"{task_id}__r{route}"]]
        for i, entry in enumerate(seq):
            if any(seq[p]["id"] == task_id and seq[p]["route"] == route for p in entry["prev"].values()):
                found.append(i)
        return found

    def _collapse(self, requests: dict) -> set:
        """Of several tasks to re-run, drop those whose successors another one re-runs anyway."""
        reach = {k: set(self._successors(task_id, route)) for k, (task_id, route, _) in requests.items()}
        if len(reach) == 1:
            return set(reach)
        return {k for k, mine in reach.items() for other in reach.values() if mine - other}

    def _rerun_task(self, task_id: str, route: int, reset: bool) -> None:
        entry = self._entry(task_id, route)
        entry.pop("term", None)
        staged = self._staged(task_id, route)
        if staged:
            staged.pop("completed", None)
        self.state["errors"] = [e for e in self.state["errors"] if e.get("task_id") != task_id]
        if self.spec.task(task_id).items is not None and staged is not None and "items" in staged:
            unset = ITEM_CODES[UNSET]
            staged["items"] = "".join(unset if reset or c in _ABENDED_CODES else c for c in staged["items"])
        else:
            ctxs, prev = list(entry["ctxs"]["in"]), dict(entry["prev"])
            self._add_entry(task_id, {"route": route, "ctxs": {"in": ctxs}, "prev": prev})
            self._stage(task_id, route, ctxs, prev, ready=True)
        for idx in self._successors(task_id, route):
            self.state["sequence"][idx].pop("term", None)


_SATISFIED, _WAITING, _UNSATISFIED = "satisfied", "waiting", "unsatisfied"
_ACTIVE_CODES = {ITEM_CODES[s] for s in ACTIVE}
_COMPLETED_CODES = {ITEM_CODES[s] for s in COMPLETED}
_ABENDED_CODES = {ITEM_CODES[s] for s in ABENDED}
_PLAIN_ITEM_EVENTS = (REQUESTED, SCHEDULED, DELAYED, RUNNING, PAUSING, CANCELING, RETRYING)
"""Item statuses Orquesta reads like a plain action's: the other items do not matter for them."""


# --- the status tables, as rules -----------------------------------------------------------------------------------


def task_on_action(task: str, action: str) -> Optional[str]:
    """A task's next status when its (non-item) action reports `action`; None: no change."""
    if task == UNSET:
        return action if action in STARTING else None
    if task in (REQUESTED, SCHEDULED, DELAYED):
        allowed = (
            SCHEDULED,
            DELAYED,
            RUNNING,
            PENDING,
            PAUSING,
            PAUSED,
            CANCELING,
            CANCELED,
            FAILED,
            EXPIRED,
            ABANDONED,
        )
        return action if action in allowed and action != task else None
    if task == RUNNING:
        return (
            FAILED
            if action in ABENDED
            else action
            if action in (RUNNING, PENDING, PAUSING, PAUSED, CANCELING, CANCELED, SUCCEEDED)
            else None
        )
    if task == PENDING:
        return FAILED if action in ABENDED else action if action in (CANCELED, SUCCEEDED) else None
    if task == PAUSING:
        return FAILED if action in ABENDED else action if action in (PAUSED, RESUMING, CANCELING, CANCELED) else None
    if task in (PAUSED, RESUMING, RETRYING):
        allowed = (RUNNING, CANCELING, CANCELED) + ((RESUMING,) if task == PAUSED else ())
        return action if action in allowed else None
    if task == CANCELING:
        return FAILED if action in ABENDED else CANCELED if action in (PAUSED, CANCELED) else None
    if task in (SUCCEEDED, FAILED):
        return RETRYING if action == RETRYING else None
    return None


def task_on_item(task: str, item: str, codes: str, item_id: int) -> Optional[str]:
    """A with-items task's next status when one item reports `item` (resuming, pending, paused or completed),
    judged by the other items: still active, or else paused, canceled, failed, incomplete or completed."""
    others = codes[:item_id] + codes[item_id + 1 :]
    present = set(others)
    if present & _ACTIVE_CODES:
        if task != RUNNING:
            return None
        return {PENDING: PAUSING, PAUSED: PAUSING, CANCELED: CANCELING, SUCCEEDED: RUNNING}.get(item)
    if present & {ITEM_CODES[PENDING], ITEM_CODES[PAUSED]}:
        rest = "paused"
    elif ITEM_CODES[CANCELED] in present:
        rest = "canceled"
    elif present & _ABENDED_CODES:
        rest = "failed"
    else:
        rest = "incomplete" if present - _COMPLETED_CODES else "completed"
    if task == CANCELING:
        return SUCCEEDED if item == SUCCEEDED and rest == "completed" else CANCELED if item != RESUMING else None
    if task not in (RUNNING, PAUSING) or item == RESUMING:
        return None
    if item == CANCELED or rest == "canceled":
        return CANCELED
    if item in (PENDING, PAUSED):
        return FAILED if rest == "failed" else PAUSED
    if item in ABENDED or rest == "failed":
        return FAILED
    if rest == "paused":
        return PAUSED
    if rest == "incomplete":
        return RUNNING if task == RUNNING else PAUSED
    return SUCCEEDED


def workflow_on_request(workflow: str, requested: str, active: bool, nothing_left: bool) -> str:
    """The workflow's next status when pause, resume, cancel, run or fail is requested."""
    waiting = (REQUESTED, SCHEDULED, DELAYED)
    if requested == FAILED:
        return workflow if workflow in (CANCELED, FAILED) else FAILED
    if requested in (PAUSING, PAUSED):
        if workflow in (RUNNING, PAUSING, RESUMING) or (workflow in waiting and not active):
            return PAUSING if active else PAUSED
        return workflow
    if requested in (CANCELING, CANCELED):
        if workflow in (RUNNING, PAUSING, RESUMING, CANCELING) or (workflow in waiting + (PAUSED,) and not active):
            return CANCELING if active else CANCELED
        return workflow
    if requested == RUNNING:
        if workflow == PAUSED:
            return SUCCEEDED if nothing_left else RUNNING
        return RUNNING if workflow in (UNSET, PAUSING, RESUMING) + waiting else workflow
    if requested == RESUMING:
        if workflow == PAUSED:
            return SUCCEEDED if nothing_left else RESUMING
        return RESUMING if workflow == PAUSING else workflow
    if requested == REQUESTED and workflow == UNSET:
        return REQUESTED
    return SUCCEEDED if requested == SUCCEEDED and workflow == RUNNING else workflow


def workflow_on_task(workflow: str, task: str, active: bool, outlook: str) -> Optional[str]:
    """The workflow's next status after a task's status changed; None when Orquesta has no rule for it
    (then nothing else is checked either). `task` is "remediated" for a failed task with a way forward."""
    if workflow == PAUSED:
        return RUNNING if task in (RUNNING, RESUMING) else None
    if workflow == RESUMING and task == RUNNING:
        return RUNNING
    if workflow not in (RUNNING, PAUSING, RESUMING, CANCELING):
        return None
    if task in (SUCCEEDED, "remediated"):
        return _after_success(workflow, task, active, outlook)
    if task == FAILED:
        return CANCELING if workflow == CANCELING and active else CANCELED if workflow == CANCELING else FAILED
    if task == CANCELING:
        return CANCELING if workflow != CANCELING else None
    if task == CANCELED:
        return CANCELING if active else CANCELED
    if task in (PENDING, PAUSED, RETRYING):
        if workflow == CANCELING:
            return CANCELING if active else CANCELED
        if task == RETRYING:
            return (PAUSING if active else PAUSED) if workflow == PAUSING else None
        if task == PAUSED and workflow in (RUNNING, RESUMING):
            return None if workflow == RESUMING else (RUNNING if active else PAUSED)
        return PAUSING if active else PAUSED
    if task == PAUSING and workflow == RUNNING:
        return RUNNING
    return None


def _after_success(workflow: str, task: str, active: bool, outlook: str) -> Optional[str]:
    """A task succeeded (or was remediated): go on, complete, or honour a pause or cancel under way."""
    if workflow == CANCELING:
        return CANCELING if active else CANCELED
    if not active:
        if outlook in ("incomplete", "completed"):
            return PAUSED if workflow == PAUSING else RUNNING if outlook == "incomplete" else SUCCEEDED
        return PAUSED if outlook == "paused" else CANCELED
    if workflow == PAUSING:
        return CANCELING if task == "remediated" and outlook == "canceled" else PAUSING
    if outlook in ("incomplete", "completed"):
        return RUNNING
    if workflow == RESUMING:
        return None
    return PAUSING if outlook == "paused" else CANCELING
