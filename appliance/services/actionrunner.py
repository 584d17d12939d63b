"""st2actionrunner: claims scheduled executions and runs them through runner plugins.

Claiming is a compare-and-set scheduled -> running (or resuming -> running, for a paused action chain
asked to go on) that records which process runs it; the sweep marks running executions of dead runner
processes on this host `abandoned` (StackStorm's status for a runner that died) and picks up scheduled
and resuming executions whose message was lost.

A runner package is imported when an execution first needs it: one that does not import fails
its executions with one line and the other runners keep working.
"""

from __future__ import annotations

import functools
import logging
import os
import signal
import threading
import traceback
from concurrent.futures import ThreadPoolExecutor
from typing import Optional

from appliance import models
from appliance.action_requests import RequestError
from appliance.bus import Subscription
from appliance.executions import PAUSABLE_RUNNERS, WORKFLOW_RUNNERS
from appliance.models import PACKS, ValidationError
from appliance.pack_env import PackConfigError, pack_config
from appliance.parameters import ParameterError, merged_specs, render
from appliance.procfs import process_start_time, runner_alive, runner_identity
from appliance.runners import RunContext, RunnerLoadError, RunnerSettings, RunResult, load
from appliance.services.base import STALE_SECONDS, WorkerService, run_service, seconds_ago
from appliance.workflows.engine import WorkflowEngine

LOG = logging.getLogger(__name__)


def _discard(output_type: str, data: str) -> None:
    """Output sink when [actionrunner] stream_output is off."""


ACTIVE = (models.RUNNING, models.CANCELING, models.PAUSING, models.PAUSED, models.RESUMING)
# How often a runner waiting for a child execution (action-chain) reads it: doubling from the first to the last.
CHILD_POLL = (0.02, 0.5)
PAUSE_ASKED = (models.PAUSING, models.PAUSED)
CHILD_STOPS = (*models.COMPLETED_STATUSES, models.PAUSED, models.PENDING)  # a chain stops waiting on these



class ActionRunnerService(WorkerService):
    name = "st2actionrunner"

    def __init__(self, ctx):
        super().__init__(ctx)
        config = ctx.config
        self.workers = config.get("actionrunner", "workers")
        self.token_ttl = config.get("auth", "service_token_ttl")  # as StackStorm's action container
        self.settings = RunnerSettings(
            python_binary=config.get("actionrunner", "python_binary"),
            system_user=config.get("system_user", "user"),
            ssh_key_file=config.get("system_user", "ssh_key_file"),
            ssh_config_file=config.ssh_config_file,
        )
        self.identity = runner_identity()
        self.packs = ctx.store.collection(PACKS)
        self.workflows = WorkflowEngine(ctx)  # only its request(): the orquesta runner hands workflows over
        self._slots = threading.Semaphore(self.workers)
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="runner")
        self._running: dict[str, RunContext] = {}
        self._lock = threading.Lock()

    # -- claiming -------------------------------------------------------------------------------
    def _on_run(self, routing_key: str, body: dict) -> None:
        self.submit(body["execution_id"])

    def submit(self, execution_id: str) -> None:
        """Run one execution in the pool; blocks while every worker is busy (back-pressure)."""
        self._slots.acquire()
        try:
            self._pool.submit(self._run_guarded, execution_id)
        except RuntimeError:  # pool shut down
            self._slots.release()

    def _run_guarded(self, execution_id: str) -> None:
        try:
            self.run(execution_id)
        except Exception:
            LOG.exception("execution %s crashed its runner", execution_id)
            self.ctx.executions.transition(
                execution_id, models.FAILED, ACTIVE,
                {"result": {"error": "The runner crashed.", "traceback": traceback.format_exc()}},
            )
        finally:
            self._slots.release()

    def run(self, execution_id: str) -> None:
        executions = self.ctx.executions
        claim = {"liveaction.runner_info": self.identity}
        resumed = None
        doc = executions.transition(execution_id, models.RUNNING, (models.SCHEDULED,), claim)
        if doc is None:
            doc = executions.transition(execution_id, models.RUNNING, (models.RESUMING,), claim,
                                        when={"runner.name": {"$in": list(PAUSABLE_RUNNERS)}})
            resumed = doc and {"result": doc.get("result"), "context": doc["context"]}
        if doc is None:
            return  # canceled meanwhile, or claimed by another runner
        try:
            runner_cls = load(doc["runner"]["name"])
            ctx = self._context(doc, runner_cls.RUNS_USER_CODE)
            ctx.resumed = resumed
        except (ParameterError, RunnerLoadError, PackConfigError, LookupError) as exc:
            executions.transition(execution_id, models.FAILED, ACTIVE, {"result": {"error": str(exc)}},
                                  started=doc["start_timestamp"])
            return
        try:
            with self._lock:
                self._running[execution_id] = ctx
            outcome = runner_cls().run(ctx)
        finally:
            with self._lock:
                self._running.pop(execution_id, None)
            if "ST2_ACTION_AUTH_TOKEN" in ctx.env:
                self.ctx.credentials.revoke_token(ctx.env["ST2_ACTION_AUTH_TOKEN"])
        if runner_cls.ASYNC and outcome.status == models.RUNNING:
            return  # handed over: st2workflowengine completes it
        self._finish(doc, ctx, outcome, runner_cls.WAITING_STATUSES)

    def _finish(self, doc: dict, ctx: RunContext, outcome: RunResult, waiting: tuple[str, ...] = ()) -> None:
        """Store the runner's outcome: a final status, or one of the runner's `waiting` ones (an inquiry's
        pending); anything else is the runner's failure."""
        if self._stop.is_set():
            status = models.ABANDONED  # StackStorm's status for work a stopping runner gives up
        elif ctx.cancel.is_set():
            status = models.CANCELED
        else:
            status = outcome.status
        if status not in models.COMPLETED_STATUSES and status not in waiting:
            status = models.FAILED
        fields = {"result": outcome.result, **{f"context.{key}": value for key, value in outcome.context.items()}}
        stored = self.ctx.executions.transition(doc["id"], status, ACTIVE, fields, started=doc["start_timestamp"])
        if stored is not None and status == outcome.status:
            for trigger, payload in outcome.triggers:
                self._dispatch_trigger(trigger, payload)

    def _context(self, doc: dict, with_token: bool) -> RunContext:
        """Everything that can fail comes before the token is issued, so no failure leaves one alive."""
        action = doc["action"]
        parameters = self.ctx.executions.reveal(doc).get("parameters") or {}
        runner_values, action_values = render(doc["runner"], action, parameters, doc["context"], self.ctx.keys)
        pack = self.packs.find_one({"ref": action["pack"]}) or {}
        pack_path = pack.get("path", "")
        entry_point = _entry_point(pack_path, action.get("entry_point") or "")
        user = doc["context"].get("user") or self.ctx.config.get("system_user", "user")
        config = pack_config(self.ctx.config.configs_path, action["pack"], pack_path, self.ctx.keys, user)
        env = {
            "ST2_ACTION_PACK_NAME": action["pack"],
            "ST2_ACTION_EXECUTION_ID": doc["id"],
            "ST2_ACTION_API_URL": self.ctx.config.api_url,
        }
        if self.ctx.config.path:  # the packs pack's actions read st2.conf (packs base, virtualenvs, index)
            env["ST2_CONFIG_PATH"] = os.path.abspath(self.ctx.config.path)
        if with_token:
            token = self.ctx.credentials.issue_token(user, self.token_ttl, {"execution_id": doc["id"]})
            env["ST2_ACTION_AUTH_TOKEN"] = token["token"]
        stream = self.ctx.config.get("actionrunner", "stream_output")
        cancel = threading.Event()
        return RunContext(
            execution_id=doc["id"],
            action=action,
            runner_parameters=runner_values,
            action_parameters=action_values,
            entry_point=entry_point,
            pack_path=pack_path,
            virtualenv=os.path.join(self.ctx.config.virtualenvs_path, action["pack"]),
            env=env,
            user=user,
            pack_config=config,
            settings=self.settings,
            emit=(lambda kind, data: self.ctx.executions.add_output(doc, kind, data)) if stream else _discard,
            started=lambda group: self._record_group(doc["id"], group),
            request_workflow=lambda definition, inputs: self.workflows.request(doc, definition, inputs),
            cancel=cancel,
            run_child=functools.partial(self._run_child, doc, user, cancel),
            pause_requested=lambda: (self.ctx.executions.get(doc["id"]) or {}).get("status") in PAUSE_ASKED,
            resume_child=functools.partial(self._resume_child, doc, cancel),
            action_specs=self._action_specs,
            st2kv=lambda: self.ctx.keys.namespace(doc["context"].get("api_user") or user),
        )

    def _dispatch_trigger(self, trigger: str, payload: dict) -> None:
        """A runner's trigger (an inquiry's): one that cannot be dispatched is logged, the execution stands."""
        try:
            self.ctx.triggers.dispatch(trigger, payload)
        except ValidationError as exc:
            LOG.error("trigger %s not dispatched: %s", trigger, exc)

    # -- child executions (action-chain) ------------------------------------------------------------
    def _run_child(self, parent: dict, user: str, cancel: threading.Event, ref: str, parameters: dict,
                   context: dict, notify: Optional[dict] = None, skip_notify: bool = False) -> dict:
        """Request a child execution of `parent` and wait for its end, so a chain runs inside its runner as in
        StackStorm. A request refused without a recorded execution raises RequestError for the runner to report."""
        origin = {key: parent["context"][key] for key in ("api_user", "source_channel") if key in parent["context"]}
        context = {**context, "parent": {"execution_id": parent["id"], "user": user, "pack": parent["action"]["pack"],
                                         **origin}}
        try:
            child = self.ctx.action_requests.request(
                ref, parameters, context, user, skip_notify=skip_notify,
                notify=notify or (parent.get("liveaction") or {}).get("notify"))
        except RequestError as exc:
            if exc.execution is None:
                raise
            return exc.execution
        return self._await_child(parent, child, cancel)

    def _resume_child(self, parent: dict, cancel: threading.Event, execution_id: str) -> dict:
        """Resume a paused workflow child of a resumed chain, then await it."""
        executions = self.ctx.executions
        child = executions.resume(execution_id) or executions.get(execution_id)
        if child is None:
            raise RequestError(f'Unable to resume execution "{execution_id}": it does not exist.')
        return self._await_child(parent, child, cancel)

    def _await_child(self, parent: dict, child: dict, cancel: threading.Event) -> dict:
        """Read the child until it completes, pauses or waits for a response (an inquiry: the chain then pauses
        until it is answered, as StackStorm's); the database is the truth, no message to lose. A cancel of the
        parent cancels it, then waits for its runner to end it; a pause of the parent reaches a workflow child,
        as StackStorm cascades it; a stopping service stops waiting."""
        delay, longest = CHILD_POLL
        asked = paused = False
        while child["status"] not in CHILD_STOPS and not self._stop.is_set():
            if cancel.is_set() and not asked:
                self.ctx.executions.cancel(child["id"])
                asked = True
            if not paused and child["runner"]["name"] in WORKFLOW_RUNNERS and \
                    (self.ctx.executions.get(parent["id"]) or {}).get("status") in PAUSE_ASKED:
                paused = self.ctx.executions.transition(child["id"], models.PAUSING, (models.RUNNING,)) is not None
            (self._stop if asked else cancel).wait(delay)  # a sleep, cut short by a cancel to act on or a stop
            delay = min(delay * 2, longest)
            child = self.ctx.executions.get(child["id"]) or child
        return child

    def _action_specs(self, ref: str) -> Optional[dict]:
        """The parameter specs of action `ref` (its runner's overlaid by its own), None when it is not registered:
        a chain checks a node's action and casts its rendered parameters with them, as StackStorm does."""
        requests = self.ctx.action_requests
        action = requests.actions.find_one({"ref": ref})
        if action is None:
            return None
        runner = requests.runner_types.find_one({"name": action["runner_type"]}) or {}
        return merged_specs(runner.get("runner_parameters") or {}, action.get("parameters") or {})

    def _record_group(self, execution_id: str, group: int) -> None:
        """Remember the action's process group, to end it if this runner dies (see sweep)."""
        self.ctx.executions.coll.update(execution_id, set_fields={
            "liveaction.runner_info.process_group": group,
            "liveaction.runner_info.process_group_start": process_start_time(group),
        })

    # -- cancel ---------------------------------------------------------------------------------
    def _on_control(self, routing_key: str, body: dict) -> None:
        if body.get("action") == "cancel":
            with self._lock:
                ctx = self._running.get(body.get("execution_id", ""))
            if ctx is not None:
                ctx.cancel.set()

    # -- recovery -------------------------------------------------------------------------------
    def sweep(self, older_than: float = STALE_SECONDS) -> int:
        """Abandon executions of dead runners on this host; run scheduled ones nobody took."""
        executions = self.ctx.executions
        self._catch_missed_cancels()
        mine = executions.coll.find({"status": {"$in": list(ACTIVE)},
                                     "liveaction.runner_info.hostname": self.identity["hostname"]})
        for doc in mine:
            info = doc.get("liveaction", {}).get("runner_info", {})
            if runner_alive(info):
                continue
            _end_orphaned_group(info)
            final = models.CANCELED if doc["status"] == models.CANCELING else models.ABANDONED
            LOG.warning("execution %s was %s in dead runner pid %s: marking it %s",
                        doc["id"], doc["status"], info.get("pid"), final)
            executions.transition(doc["id"], final, (doc["status"],),
                                  {"result": {"error": f"Action runner process {info.get('pid')} died."}})
        stale = executions.coll.find(
            {"status": models.SCHEDULED, "start_timestamp": {"$lt": seconds_ago(older_than)}},
            sort=[("start_timestamp", 1)], limit=self.workers,
        )
        resuming = executions.coll.find(
            {"status": models.RESUMING, "runner.name": {"$in": list(PAUSABLE_RUNNERS)}}, limit=self.workers)
        for doc in stale + resuming:
            self.submit(doc["id"])
        return len(stale) + len(resuming) + self._resume_answered_chains()

    def _resume_answered_chains(self) -> int:
        """A chain paused on an inquiry that was answered before the chain was stored paused: its answer found
        nothing paused to resume, so the sweep does it."""
        resumed = 0
        for doc in self.ctx.executions.coll.find({"status": models.PAUSED,
                                                  "runner.name": {"$in": list(PAUSABLE_RUNNERS)}}):
            last = ((doc.get("result") or {}).get("tasks") or [{}])[-1]
            waited = last.get("execution_id") if last.get("state") == models.PENDING else None
            if waited and (self.ctx.executions.get(waited) or {}).get("status") in models.COMPLETED_STATUSES:
                resumed += self.ctx.executions.resume(self.ctx.executions.root(doc)["id"]) is not None
        return resumed

    def _catch_missed_cancels(self) -> None:
        """A cancel request is also in the database: act on it even if its message was lost."""
        with self._lock:
            running = dict(self._running)
        if running:
            canceling = self.ctx.executions.coll.find({"id": {"$in": list(running)}, "status": models.CANCELING})
            for doc in canceling:
                running[doc["id"]].cancel.set()

    def subscribe(self) -> list[Subscription]:
        name = f"{self.identity['hostname']}.{self.identity['pid']}"
        return [self.ctx.bus.consume_control(self._on_control, name),
                self.ctx.bus.consume_run(self._on_run, prefetch=self.workers)]

    def stop(self) -> None:
        super().stop()
        with self._lock:
            for ctx in self._running.values():
                ctx.cancel.set()
        self._pool.shutdown(wait=True)


def _entry_point(pack_path: str, entry_point: str) -> str:
    """The entry point's absolute path, which must resolve (links included) inside the pack folder."""
    if not entry_point:
        return ""
    if not pack_path:
        raise LookupError("The action's pack is not registered: its entry point cannot be found.")
    path = os.path.join(pack_path, "actions", entry_point)
    pack_root = os.path.realpath(pack_path)
    if os.path.commonpath([os.path.realpath(path), pack_root]) != pack_root:
        raise LookupError(f'Entry point file "{entry_point}" is located outside of the pack directory.')
    return path


def _end_orphaned_group(runner_info: dict) -> None:
    """Kill what a dead runner's action left running, if that process group is still the same."""
    group = runner_info.get("process_group")
    started = process_start_time(group) if group else None
    if started is not None and started == runner_info.get("process_group_start"):
        try:
            os.killpg(group, signal.SIGKILL)
        except OSError:
            pass


def main() -> None:
    run_service(ActionRunnerService)


if __name__ == "__main__":
    main()
