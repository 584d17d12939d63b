"""action-chain: StackStorm's linear action chains, run inside st2actionrunner as StackStorm runs them.

Each node's action is a child execution (`parent` is the chain's execution, `context.chain` the node as written),
requested through st2actionrunner and awaited before the next node starts. The chain's status is its last node's,
as StackStorm decides it: a failure handled by an on-failure node that succeeds is a success; a failure, a timeout
or a cancel with nowhere to go ends the chain with that status. What cannot run at all (an unknown action, a
template that does not render) stops the chain as failed with a top-level `error` and `traceback`. The result is
StackStorm's: `{"tasks": [...], "published": {...}}`.

A pause asked of the chain takes effect between two nodes (a workflow node is asked to pause too, by
st2actionrunner), and a node that pauses or waits for a response (core.ask) pauses the chain: it is stored
`paused` with its result so far and its vars in its context; resumed (an inquiry's answer resumes it), it goes on
from its last node (resuming that node's execution first when it had paused), as StackStorm's.
"""

from __future__ import annotations

import traceback
from typing import Optional

from actionchain_runner.chain import FAILURE, SUCCESS, Chain, ChainError, Node, load
from actionchain_runner.rendering import RenderError, cast, chain_scope, render_mapping
from appliance import models
from appliance.action_requests import RequestError
from appliance.runners import RunContext, Runner, RunResult, parameter, runner_type

# A node's execution status -> (the chain's status, the route to follow; None ends the chain).
OUTCOMES = {
    models.SUCCEEDED: (models.SUCCEEDED, SUCCESS),
    models.FAILED: (models.FAILED, FAILURE),
    models.ABANDONED: (models.FAILED, FAILURE),
    models.TIMEOUT: (models.TIMEOUT, FAILURE),
    models.CANCELED: (models.CANCELED, None),
}


class ChainFailure(Exception):
    """The chain cannot go on; the message is its top-level `error`."""


class ActionChainRunner(Runner):
    RUNS_USER_CODE = False
    PAUSABLE = True
    WAITING_STATUSES = (models.PAUSED,)
    RUNNER_TYPE = runner_type(
        "action-chain", "actionchain_runner", "actionchain_runner",
        "A runner for launching linear action chains.",
        {"display_published": parameter("boolean", "Intermediate published variables will be stored and displayed.",
                                        default=True),
         "skip_notify": parameter("array", "List of tasks to skip notifications for.", default=[])},
        output_key="published",
        output_schema={"type": "object", "properties": {"published": {"type": "object"}, "tasks": {"type": "array"}},
                       "additionalProperties": False},
    )

    def run(self, ctx: RunContext) -> RunResult:
        try:
            chain = load(ctx.entry_point)
        except ChainError as exc:
            return RunResult(models.FAILED, {"error": str(exc)})
        return ChainRun(ctx, chain).run()


class ChainRun:
    """One execution of a chain: what its templates see so far, and its result."""

    def __init__(self, ctx: RunContext, chain: Chain):
        self.ctx = ctx
        self.chain = chain
        self.status = models.FAILED
        self.results: dict = {}  # node name -> its execution's result (or its error), for templates
        self.vars: dict = {}  # the chain's vars, then what nodes publish
        self.result: dict = {"tasks": []}
        if ctx.runner_parameters.get("display_published", True):
            self.result["published"] = {}

    def run(self) -> RunResult:
        """Node after node until a node leads nowhere, the chain is canceled or it pauses."""
        try:
            self.vars = self._initial_vars()
            node: Optional[Node] = self._resume() if self.ctx.resumed else self.chain.start
            while node is not None and not self.ctx.cancel.is_set() and self.status != models.PAUSED:
                node = self._step(node)
                if node is not None and self.ctx.pause_requested():
                    self.status = models.PAUSED
        except ChainFailure as failure:
            self.status = models.FAILED
            self.result.update(_error(str(failure), failure.__cause__ or failure))
        if self.ctx.cancel.is_set():
            self.status = models.CANCELED
        if self.status == models.PAUSED:
            return RunResult(self.status, self.result, context={"vars": self.vars})
        return RunResult(self.status, self.result)

    def _resume(self) -> Optional[Node]:
        """Take up the result and vars stored at the pause; the node to run next (None: nothing left)."""
        stored = self.ctx.resumed or {}
        self.result = {**self.result, **(stored.get("result") or {})}
        self.vars.update((stored.get("context") or {}).get("vars") or {})
        tasks = self.result.setdefault("tasks", [])
        for task in tasks:
            self.results[task["name"]] = task["result"]
        if not tasks:
            return self.chain.start
        last = tasks[-1]
        node = self.chain.node(last["name"])
        if last["state"] in (models.PAUSED, models.PENDING):  # its execution paused (or asked): it goes on first
            tasks.pop()
            try:
                child = self.ctx.resume_child(last["execution_id"])
            except RequestError as exc:
                raise ChainFailure(f'Failed to resume task "{node.name}". {exc}') from exc
            return self._record(node, child, last["created_at"])
        self.status, route = OUTCOMES.get(last["state"], (models.FAILED, None))
        return self._next(node, route)

    def _initial_vars(self) -> dict:
        """`vars` rendered over the chain's parameters and `st2kv`, once, before the first node."""
        scope = {"st2kv": self.ctx.st2kv(), **self.ctx.action_parameters}
        try:
            return render_mapping(self.chain.vars, scope)
        except RenderError as exc:
            raise ChainFailure(f"Failed initializing ``vars`` in chain. {exc}") from exc

    def _step(self, node: Node) -> Optional[Node]:
        """Run `node` as a child execution, record it, publish, and pick the next node by its outcome."""
        parameters = self._parameters(node)
        created = models.now()
        try:
            child = self.ctx.run_child(node.ref, parameters, {"chain": node.spec}, notify=node.spec.get("notify"),
                                       skip_notify=node.name in (self.ctx.runner_parameters.get("skip_notify") or ()))
        except RequestError as exc:  # refused before it was stored: a failed task without an execution
            error = _error(f'Failed running task "{node.name}". {exc}', exc)
            self.results[node.name] = error
            self.result["tasks"].append(_task(node, None, created, error))
            self.status, route = models.FAILED, FAILURE
        else:
            return self._record(node, child, created)
        return self._next(node, route)

    def _record(self, node: Node, child: dict, created: str) -> Optional[Node]:
        """The node's execution ended (or paused): record it, publish, and pick the next node by its outcome."""
        self.results[node.name] = child.get("result")
        self.result["tasks"].append(_task(node, child, created, None))
        if child["status"] in (models.PAUSED, models.PENDING):  # paused itself, or an inquiry awaits its answer
            self.status = models.PAUSED
            return None
        self._publish(node)
        self.status, route = OUTCOMES.get(child["status"], (models.FAILED, None))
        return self._next(node, route)

    def _next(self, node: Node, route: Optional[str]) -> Optional[Node]:
        try:
            return self.chain.next(node, route) if route else None
        except ChainError as exc:
            raise ChainFailure(f'Failed to get next node "{node.name}". {exc}') from exc

    def _parameters(self, node: Node) -> dict:
        """The node's parameters rendered and cast for its action, which must exist (else the chain fails)."""
        specs = self.ctx.action_specs(node.ref)
        if specs is None:
            raise ChainFailure(f'Failed to run task "{node.name}". Action with reference "{node.ref}" doesn\'t exist.')
        parent = {"execution_id": self.ctx.execution_id, "user": self.ctx.user, "pack": self.ctx.pack}
        scope = self._scope({"action_context": {"parent": parent}, "config_context": self.ctx.pack_config})
        try:
            return cast(render_mapping(node.parameters, scope), specs)
        except RenderError as exc:
            raise ChainFailure(f'Failed to run task "{node.name}". Parameter rendering failed: failed rendering '
                               f'value for action parameter "{exc.key}" in task "{node.name}" (template string='
                               f'{exc.template}): {exc}') from exc

    def _publish(self, node: Node) -> None:
        """The node's `publish` rendered (its own result included) into the vars later nodes see."""
        try:
            published = render_mapping(node.publish, self._scope({}))
        except RenderError as exc:
            raise ChainFailure(f'Failed rendering value for publish parameter "{exc.key}" in task "{node.name}" '
                               f'(template string={exc.template}): {exc}') from exc
        self.vars.update(published)
        if "published" in self.result:
            self.result["published"].update(published)

    def _scope(self, extra: dict) -> dict:
        """What templates see now; `st2kv` is read afresh, so keys a node set are seen by the next."""
        return chain_scope(self.ctx.action_parameters, self.results, self.vars, self.ctx.st2kv(), extra)


def _task(node: Node, child: Optional[dict], created: str, error: Optional[dict]) -> dict:
    """One entry of the result's `tasks`, in StackStorm's shape."""
    return {
        "id": node.name,
        "name": node.name,
        "execution_id": child["id"] if child else None,
        "liveaction_id": child["liveaction"]["id"] if child else None,
        "workflow": None,
        "created_at": created,
        "updated_at": models.now(),
        "state": child["status"] if child and not error else models.FAILED,
        "result": error if error else child.get("result"),
    }


def _error(message: str, exc: BaseException) -> dict:
    """StackStorm's error entry: the message, and the traceback that led to it for whoever debugs the chain."""
    return {"error": message, "traceback": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))}
