"""The workflow engine's work on the database: request a workflow, start it, apply its children's results.

Durability: every transition of a workflow is written (its conductor state, the children it now wants, with
ids chosen before they exist) before anything is announced or created; the children are created afterwards
under those ids, so a second attempt after a crash finds them (Conflict) instead of running a task twice.
Every write expects the `rev` it read, so two engines never advance one workflow from the same state: the
loser reads the workflow again. The sweep repairs what a crash between two steps leaves behind.
"""

from __future__ import annotations

import collections
import logging
import threading
from typing import Any, Callable, Optional

from appliance import models
from appliance.action_requests import RequestError
from appliance.datastore.crypto import CryptoError
from appliance.executions import PAUSABLE_RUNNERS, WORKFLOW_RUNNERS, reports_to_workflow
from appliance.executions import WORKFLOW_CHILD_STATUSES as CHILD_STATUSES
from appliance.models import ACTIONS, RUNNER_TYPES, WORKFLOW_EXECUTIONS
from appliance.models.inquiry import INQUIRER
from appliance.models.key_value_pair import SYSTEM_SCOPE, USER_SCOPE
from appliance.parameters import merged_specs
from appliance.store import Conflict
from appliance.workflows.conductor import COMPLETED, ActionRequest, Conductor, ConductorError, Host
from appliance.workflows.inspection import inspect
from appliance.workflows.spec import WorkflowSpec, parse

LOG = logging.getLogger(__name__)
CONTEXT_NAMES = ("st2", "parent")  # what the runner puts in a workflow's initial context
ATTEMPTS = 20  # reads of a workflow another engine keeps changing under us before giving up (the sweep retries)
ACTIVE = (models.RUNNING, models.PAUSING, models.PAUSED, models.RESUMING, models.CANCELING)
REQUESTS = {models.CANCELING: "cancel", models.PAUSING: "pause", models.RESUMING: "resume"}  # -> Conductor method
# The workflow statuses that show a request was applied.
REQUESTED_BY = {models.CANCELING: (models.CANCELING, models.CANCELED), models.PAUSING: (models.PAUSING, models.PAUSED),
                models.RESUMING: (models.RUNNING, models.RESUMING)}
# What a request asks of a running subworkflow: (its new status, the statuses it may have).
SUBWORKFLOW = {"cancel": (models.CANCELING, (models.RUNNING, models.PAUSING, models.PAUSED, models.RESUMING)),
               "pause": (models.PAUSING, (models.RUNNING,))}
# The workflow statuses its action execution takes too, from the statuses it may have then.
FOLLOWED = {models.PAUSING: (models.RUNNING,), models.PAUSED: (models.RUNNING, models.PAUSING),
            models.RUNNING: (models.RESUMING, models.PAUSED)}


class WorkflowEngine:
    """Requests, starts and advances workflows; any number of these may run on one database."""

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.workflows = ctx.store.collection(WORKFLOW_EXECUTIONS)
        self.actions = ctx.store.collection(ACTIONS)
        self.runner_types = ctx.store.collection(RUNNER_TYPES)  # task input may be runner parameters (core.ask)
        self._conductors: dict[str, tuple[int, Conductor]] = {}  # by workflow id: the rev it holds
        self._specs: dict[str, WorkflowSpec] = {}
        self._locks: dict[str, threading.Lock] = collections.defaultdict(threading.Lock)
        self._guard = threading.Lock()

    # -- the orquesta runner's request ----------------------------------------------------------------
    def request(self, execution: dict, definition: str, inputs: dict) -> list[dict]:
        """Inspect the workflow; when it is sound, store it and ask an engine to start it. Returns the errors
        (StackStorm's inspection entries), empty when the workflow was requested. An execution that re-runs
        tasks of another one takes over that one's workflow instead."""
        rerun = (execution.get("context") or {}).get("re-run") or {}
        if rerun.get("tasks"):
            return self.rerun(execution, rerun["ref"], rerun["tasks"], rerun.get("reset") or [])
        try:
            errors = inspect(definition, CONTEXT_NAMES)
            if not errors:
                errors = self.content_errors(parse(definition))
        except ValueError as exc:
            return [{"message": str(exc)}]
        if errors:
            return errors
        doc = WORKFLOW_EXECUTIONS.build({
            "id": models.new_id(), "action_execution": execution["id"], "status": models.REQUESTED,
            "definition": definition, "inputs": inputs, "context": execution.get("context") or {},
            "start_timestamp": models.now(),
        })
        self.workflows.insert(doc)
        self.ctx.executions.coll.update(execution["id"], set_fields={"context.workflow_execution": doc["id"]})
        self.ctx.bus.request_workflow(doc["id"])
        return []

    def rerun(self, execution: dict, original_id: str, tasks: list, reset: list) -> list[dict]:
        """Run the completed workflow of execution `original_id` again from `tasks`, now as `execution`'s (as
        StackStorm reuses the workflow execution); `reset` with-items tasks run all their items again. Returns
        the errors that refuse it, empty when the tasks are requested."""
        original = self.ctx.executions.get(original_id) or {}
        workflow_id = (original.get("context") or {}).get("workflow_execution")
        with self._lock(workflow_id or ""):
            doc = self.workflows.get(workflow_id) if workflow_id else None
            if doc is None:
                return [{"message": f'Unable to rerun workflow execution "{original_id}" because it does not '
                                    "exist."}]
            conductor = Conductor(self._spec(doc), doc["state"], self._host(doc))
            try:
                requests = conductor.rerun(tasks, tuple(reset))
            except ConductorError as exc:
                return [{"message": str(exc)}]
            taken = {"action_execution": execution["id"], "context": execution.get("context") or {},
                     "end_timestamp": None}
            fresh = self._initial_context({**doc, **taken})
            for ctx in conductor.state["contexts"]:  # ctx(st2) and ctx(parent) now name the new execution
                ctx.update({key: value for key, value in fresh.items() if key in ctx})
            self.ctx.executions.coll.update(execution["id"], set_fields={"context.workflow_execution": doc["id"]})
            if self._commit(doc, conductor, requests, taken) is None:
                return [{"message": f'Unable to rerun workflow execution "{original_id}": it changed meanwhile.'}]
        return []

    def content_errors(self, spec: WorkflowSpec) -> list[dict]:
        """StackStorm's `content` checks: each literal action is registered and gets the input it needs."""
        errors = []
        for name, task in sorted(spec.tasks.items()):
            ref = task.action
            if not ref or "<%" in ref or "{{" in ref:
                continue
            where = {"schema_path": "properties.tasks.patternProperties.^\\w+$.properties.action",
                     "spec_path": f"tasks.{name}.action"}
            if ref.count(".") < 1 or ref.startswith(".") or ref.endswith("."):
                errors.append({"type": "content", "message": f'The action reference "{ref}" is not formatted '
                               "correctly.", **where})
                continue
            action = self.actions.find_one({"ref": ref})
            if action is None:
                errors.append({"type": "content", "message": f'The action "{ref}" is not registered in the '
                               "database.", **where})
                continue
            given = set(task.input) if isinstance(task.input, dict) else None
            if given is None:
                continue  # one expression: its keys are known only at run time
            runner = self.runner_types.find_one({"name": action.get("runner_type")}) or {}
            declared = merged_specs(runner.get("runner_parameters") or {}, action.get("parameters") or {})
            for param, spec_ in sorted(declared.items()):
                if spec_.get("required") and "default" not in spec_ and param not in given:
                    errors.append({"type": "content", "message": f'Action "{ref}" is missing required input '
                                   f'"{param}".', **where, "spec_path": f"tasks.{name}.input"})
            for param in sorted(given - set(declared)):
                errors.append({"type": "content", "message": f'Action "{ref}" has unexpected input "{param}".',
                               **where, "spec_path": f"tasks.{name}.input.{param}"})
        return errors

    # -- starting and advancing ------------------------------------------------------------------------
    def start(self, workflow_id: str) -> None:
        """Render input and vars, then request the start tasks (once, whichever engine gets here first)."""
        with self._lock(workflow_id):
            doc = self.workflows.get(workflow_id)
            if doc is None or doc["status"] != models.REQUESTED:
                return
            spec = self._spec(doc)
            conductor = Conductor.start(spec, doc["inputs"], self._initial_context(doc), self._host(doc))
            requests = conductor.run() if conductor.status not in COMPLETED else []
            self._commit(doc, conductor, requests)

    def on_child(self, child: dict) -> None:
        """A child execution reached a status its workflow reacts to; applied once whatever the repeats."""
        orquesta = (child.get("context") or {}).get("orquesta") or {}
        workflow_id = orquesta.get("workflow_execution_id")
        if not workflow_id or not reports_to_workflow(child):
            return
        task_id, route, item_id = orquesta["task_id"], orquesta["task_route"], orquesta.get("item_id")
        run = _run_of(orquesta)
        done = child["status"] in COMPLETED

        def apply(conductor: Conductor) -> Optional[list[ActionRequest]]:
            if not conductor.awaits(task_id, route, run, item_id):
                return None  # applied already, or a report of an earlier run
            if child["status"] == models.RUNNING:
                return _resumed(conductor, task_id, route)
            # An answered inquiry resumes its workflow first, as StackStorm orders them: a workflow still paused
            # when its task completes would not act on the completion (a time-out would not fail it).
            requests = conductor.resume() if done and _answers_inquiry(child, conductor) else []
            return requests + conductor.update(task_id, route, child["status"], child.get("result"), item_id=item_id)

        self._advance(workflow_id, apply, f"{child['status']} from child {child['id']}", logging.ERROR)

    def on_request(self, execution: dict) -> None:
        """A workflow's action execution was asked to pause, resume or cancel (the API set pausing, resuming
        or canceling): the workflow follows and passes it on to its children."""
        workflow_id = (execution.get("context") or {}).get("workflow_execution")
        change = REQUESTS.get(execution.get("status", ""))
        if not workflow_id or change is None or (execution.get("runner") or {}).get("name") != "orquesta":
            return
        updated = self._advance(workflow_id, lambda conductor: getattr(conductor, change)() or [], change,
                                logging.INFO)
        if updated is not None:
            self._pass_on(updated, change)

    def _advance(self, workflow_id: str, step: Callable[[Conductor], Optional[list[ActionRequest]]], what: str,
                 refused_level: int) -> Optional[dict]:
        """Apply `step` to the workflow's conductor and store the outcome, reading the workflow again while
        another engine writes first. `step` returns the actions to request, or None when there is nothing to
        do; a change the workflow's state refuses is logged at `refused_level`. The stored workflow, or None."""
        with self._lock(workflow_id):
            for _ in range(ATTEMPTS):
                doc = self.workflows.get(workflow_id)
                if doc is None or doc["status"] in COMPLETED:
                    return None
                conductor = self._conductor(doc)
                try:
                    requests = step(conductor)
                except ConductorError as exc:
                    self._conductors.pop(workflow_id, None)  # its state may be half changed: rebuild it next time
                    LOG.log(refused_level, "workflow %s: %s refused: %s", workflow_id, what, exc)
                    return None
                if requests is None:
                    return None
                updated = self._commit(doc, conductor, requests)
                if updated is not None:
                    return updated
            LOG.warning("workflow %s changed %d times under this engine: %s left to the sweep", workflow_id,
                        ATTEMPTS, what)
        return None

    def _pass_on(self, doc: dict, change: str) -> None:
        """Cancel children not yet running and ask running subworkflows (Orquesta or action chains) to cancel;
        pause and resume reach the subworkflows only. Running actions are left to finish, as in StackStorm."""
        waiting = (models.REQUESTED, models.SCHEDULED, models.DELAYED)
        for child in self._active_children(doc):
            runner = (child.get("runner") or {}).get("name")
            if change == "cancel" and child["status"] in waiting:
                self.ctx.executions.transition(child["id"], models.CANCELED, waiting)
            elif runner in PAUSABLE_RUNNERS and change == "cancel":
                self.ctx.executions.cancel(child["id"])  # its runner ends it (a paused one is canceled at once)
            elif runner in WORKFLOW_RUNNERS and change == "resume":
                self.ctx.executions.resume(child["id"])
            elif runner in WORKFLOW_RUNNERS:
                target, sources = SUBWORKFLOW[change]
                self.ctx.executions.transition(child["id"], target, sources)

    def _active_children(self, doc: dict) -> list[dict]:
        statuses = [models.REQUESTED, models.SCHEDULED, models.DELAYED, *ACTIVE]
        return self.ctx.executions.coll.find({"context.orquesta.workflow_execution_id": doc["id"],
                                              "status": {"$in": statuses}})

    def sweep(self, older_than: str) -> int:
        """Repair what a lost message or a crash left: workflows never started, children never created,
        completions never applied. Returns how many workflows were looked at."""
        count = 0
        for doc in self.workflows.find({"status": models.REQUESTED, "start_timestamp": {"$lt": older_than}}):
            self.start(doc["id"])
            count += 1
        for doc in self.workflows.find({"status": {"$in": list(ACTIVE)}}):
            count += 1
            if doc["to_create"]:
                self._create_children(doc)
            execution = self.ctx.executions.get(doc["action_execution"]) or {}
            if doc["status"] not in REQUESTED_BY.get(execution.get("status"), (doc["status"],)):
                self.on_request(execution)  # its request's message was lost
            if doc.get("updated_at", "") < older_than:  # no progress lately: a completion may have been lost
                conductor = self._conductor(doc)
                for child in self.ctx.executions.coll.find({"context.orquesta.workflow_execution_id": doc["id"],
                                                            "status": {"$in": [*CHILD_STATUSES, models.RUNNING]}}):
                    orquesta = child["context"]["orquesta"]
                    if reports_to_workflow(child) and conductor.awaits(
                            orquesta["task_id"], orquesta["task_route"], _run_of(orquesta), orquesta.get("item_id")):
                        self.on_child(child)
        return count

    # -- one write per transition -----------------------------------------------------------------------
    def _commit(self, doc: dict, conductor: Conductor, requests: list[ActionRequest],
                also: Optional[dict] = None) -> Optional[dict]:
        """Write the new state, the children now wanted (with their ids) and `also`; then create those children
        and bring the action execution in line. None when another engine wrote first."""
        wanted = [self._child(doc, conductor, request) for request in requests]
        fields: dict[str, Any] = {"state": conductor.state, "status": conductor.status, "rev": doc["rev"] + 1,
                                  "to_create": doc["to_create"] + wanted, "updated_at": models.now(), **(also or {})}
        if conductor.status in COMPLETED:
            fields["end_timestamp"] = models.now()
        updated = self.workflows.update(doc["id"], set_fields=fields, expect={"rev": doc["rev"]})
        if updated is None:
            self._conductors.pop(doc["id"], None)
            return None
        self._conductors[doc["id"]] = (updated["rev"], conductor)
        if updated["to_create"]:
            updated = self._create_children(updated) or updated
        if conductor.status != doc["status"]:
            self._sync_action_execution(updated, conductor)
        return updated

    def _child(self, doc: dict, conductor: Conductor, request: ActionRequest) -> dict:
        """A child to create; `run` is the task run it belongs to, so a late report of an earlier run is dropped."""
        run = conductor.state["tasks"].get(f"{request.task_id}__r{request.route}")
        return {"execution_id": models.new_id(), "task_id": request.task_id, "route": request.route,
                "item_id": request.item_id, "action": request.action, "input": request.input,
                "delay": request.delay, "run": run}

    def _create_children(self, doc: dict) -> Optional[dict]:
        """Create each wanted child under its chosen id (one that exists already is skipped), then clear the
        list. A child that cannot even be requested fails its task."""
        refused = []
        parent = self.ctx.executions.get(doc["action_execution"]) or {}
        for child in doc["to_create"]:
            try:
                self._request_child(doc, parent, child)
            except Conflict:
                continue
            except RequestError as exc:
                if exc.execution is None:  # no execution records the refusal: the task fails here
                    refused.append((child, exc))
        updated = self.workflows.update(doc["id"], set_fields={"to_create": [], "rev": doc["rev"] + 1},
                                        expect={"rev": doc["rev"]})
        if updated is not None and refused:
            self._conductors.pop(doc["id"], None)
            for child, exc in refused:
                updated = self._refuse(updated, child, exc) or updated
        return updated

    def _refuse(self, doc: dict, child: dict, error: Exception) -> Optional[dict]:
        conductor = self._conductor(doc)
        conductor.fail(error, child["task_id"], child["route"])
        return self._commit(doc, conductor, [])

    def _request_child(self, doc: dict, parent: dict, child: dict) -> dict:
        """Request one child under its chosen id; one created already raises Conflict from the store. Only the
        tasks named in the workflow's `notify` runner parameter notify, with the workflow's notify."""
        parent_context = parent.get("context") or {}
        user = parent_context.get("user")
        orquesta = {"workflow_execution_id": doc["id"], "task_execution_id": f"{doc['id']}.{child['task_id']}"
                    f"__r{child['route']}.{child['run']}", "task_name": child["task_id"], "task_id": child["task_id"],
                    "task_route": child["route"]}
        if child["item_id"] is not None:
            orquesta["item_id"] = child["item_id"]
        context = {"parent": {"execution_id": doc["action_execution"], "user": user,
                              "pack": parent_context.get("pack")},
                   "orquesta": orquesta}
        delay_ms = int(child["delay"] * 1000) if child.get("delay") else None
        parameters = child["input"] if isinstance(child["input"], dict) else {}
        notified = child["task_id"] in ((parent.get("parameters") or {}).get("notify") or ())
        return self.ctx.action_requests.request(child["action"], parameters, context, user, delay_ms=delay_ms,
                                                execution_id=child["execution_id"], skip_notify=not notified,
                                                notify=(parent.get("liveaction") or {}).get("notify"))

    def _sync_action_execution(self, doc: dict, conductor: Conductor) -> None:
        """The workflow's action execution follows the workflow: paused, running again, or completed with
        the workflow's result."""
        status = conductor.status
        if status in FOLLOWED:
            self.ctx.executions.transition(doc["action_execution"], status, FOLLOWED[status])
        if status in COMPLETED:
            self.ctx.executions.transition(doc["action_execution"], status, ACTIVE, {"result": conductor.result})
            with self._guard:
                self._conductors.pop(doc["id"], None)
                self._specs.pop(doc["id"], None)
                self._locks.pop(doc["id"], None)

    # -- what the conductor is built from --------------------------------------------------------------
    def _lock(self, workflow_id: str) -> threading.Lock:
        with self._guard:
            return self._locks[workflow_id]

    def _spec(self, doc: dict) -> WorkflowSpec:
        spec = self._specs.get(doc["id"])
        if spec is None:
            spec = self._specs[doc["id"]] = parse(doc["definition"])
        return spec

    def _conductor(self, doc: dict) -> Conductor:
        """The cached conductor when it holds the stored state (its item cache then stays valid), else one
        rebuilt from the stored state."""
        cached = self._conductors.get(doc["id"])
        if cached is not None and cached[0] == doc["rev"]:
            return cached[1]
        return Conductor(self._spec(doc), doc["state"], self._host(doc))

    def _initial_context(self, doc: dict) -> dict:
        """ctx(st2) and ctx(parent), as StackStorm's orquesta runner builds them."""
        parent = self.ctx.executions.get(doc["action_execution"]) or {}
        context = parent.get("context") or {}
        st2 = {"action_execution_id": doc["action_execution"], "api_url": self.ctx.config.api_url,
               "user": context.get("user"), "pack": context.get("pack"),
               "action": (parent.get("action") or {}).get("ref"), "runner": (parent.get("runner") or {}).get("name"),
               "workflow_execution_id": doc["id"]}
        return {"st2": st2, "parent": context}

    def _host(self, doc: dict) -> Host:
        return Host(st2kv=self._st2kv, task=lambda task_id, route: self._task_record(doc, task_id, route),
                    item_results=lambda task_id, route: self._item_results(doc, task_id, route))

    def _st2kv(self, full_key: str, decrypt: bool) -> Any:
        """A datastore value for st2kv(): `st2kv.system:<name>` or `st2kv.user:<user>:<name>`."""
        scope, _, rest = full_key.partition(":")
        user = None
        if scope == USER_SCOPE:
            user, _, rest = rest.partition(":")
        elif scope != SYSTEM_SCOPE:
            raise LookupError(full_key)
        doc = self.ctx.keys.get(rest, scope, user)
        if not decrypt:
            return doc["value"]
        try:
            return self.ctx.keys.decrypt(doc["value"])
        except CryptoError as exc:
            raise ValueError(f'Unable to decrypt the value of key "{rest}": {exc}') from None

    def _children(self, doc: dict, task_id: str, route: int) -> list[dict]:
        return self.ctx.executions.coll.find(
            {"context.orquesta.workflow_execution_id": doc["id"], "context.orquesta.task_id": task_id,
             "context.orquesta.task_route": route}, sort=[("start_timestamp", 1)])

    def _task_record(self, doc: dict, task_id: str, route: int) -> dict:
        children = self._children(doc, task_id, route)
        if not children:
            raise LookupError(task_id)
        latest = children[-1]
        items = "item_id" in latest["context"]["orquesta"]
        result = {"items": [{"status": c["status"], "result": c.get("result")}
                            for _, c in sorted(_latest_items(children).items())]} if items else latest.get("result")
        return {"task_execution_id": latest["context"]["orquesta"]["task_execution_id"],
                "workflow_execution_id": doc["id"], "task_name": task_id, "task_id": task_id, "route": route,
                "result": result, "status": latest["status"],
                "start_timestamp": str(models.parse_time(children[0]["start_timestamp"])),
                "end_timestamp": str(models.parse_time(latest["end_timestamp"])) if latest.get("end_timestamp")
                else None}

    def _item_results(self, doc: dict, task_id: str, route: int) -> list:
        """Each item's newest result by item id; None where an item has no child."""
        latest = _latest_items(self._children(doc, task_id, route))
        results: list = [None] * (max(latest) + 1 if latest else 0)
        for item_id, child in latest.items():
            results[item_id] = child.get("result")
        return results


def _answers_inquiry(child: dict, conductor: Conductor) -> bool:
    """An inquiry answered (or timed out) resumes its direct workflow when that is pausing or paused, as
    StackStorm's inquiry service resumes the direct orquesta parent; done here, in the same step that applies
    the answer, so the two cannot race (StackStorm's API resumes first, then answers)."""
    is_inquiry = (child.get("runner") or {}).get("name") == INQUIRER
    return is_inquiry and conductor.status in (models.PAUSING, models.PAUSED)


def _resumed(conductor: Conductor, task_id: str, route: int) -> Optional[list[ActionRequest]]:
    """A paused subworkflow runs again (an answered inquiry, or resumed on its own): its task runs again and a
    paused workflow resumes with it, as StackStorm cascades a resume upwards. Nothing to do when the task was not
    paused (the subworkflow has just started, or the workflow's own resume came first)."""
    if conductor.task_status(task_id, route) not in (models.PAUSING, models.PAUSED):
        return None
    requests = conductor.resume() if conductor.status in (models.PAUSING, models.PAUSED) else []
    return requests + conductor.update(task_id, route, models.RUNNING)


def _run_of(orquesta: dict) -> Optional[int]:
    """The task run a child belongs to, from its task_execution_id (`<workflow>.<task>__r<route>.<run>`)."""
    tail = str(orquesta.get("task_execution_id", "")).rpartition(".")[2]
    return int(tail) if tail.isdigit() else None


def _latest_items(children: list[dict]) -> dict[int, dict]:
    """The newest child of each item by item id (retries and re-runs leave older ones behind)."""
    return {child["context"]["orquesta"]["item_id"]: child for child in children}

