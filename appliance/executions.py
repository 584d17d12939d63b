"""The execution lifecycle, and the durability rule in one place: every state change is written to
the database (compare-and-set on the current status) before it is announced on the bus.

Secret parameters are sealed (encrypted with the datastore key) before an execution is stored or
announced, so neither the database file nor the bus holds them in clear; `reveal` opens them for
the action runner, `show_secrets=true` and re-runs."""

from __future__ import annotations

import datetime
import itertools
import logging
from typing import Any, Iterable, Optional

from appliance import codec, models
from appliance.bus import Bus
from appliance.datastore.crypto import CryptoError, CryptoKey, decrypt, encrypt
from appliance.models import EXECUTION_OUTPUT, EXECUTIONS
from appliance.parameters import secret_names
from appliance.store import Store

LOG = logging.getLogger(__name__)
SEALED = "$sealed"  # {"$sealed": ciphertext}: a secret parameter's value as stored


# The statuses of a workflow's child that its workflow reacts to: the completed ones, and those that pause it.
WORKFLOW_CHILD_STATUSES = (*models.COMPLETED_STATUSES, models.PENDING, models.PAUSED)
# Runners of workflows: they pause and resume, and a pause, resume or cancel of their parent reaches them.
WORKFLOW_RUNNERS = ("orquesta", "action-chain")
# Of those, the ones st2actionrunner runs on after a pause (Orquesta workflows are st2workflowengine's).
PAUSABLE_RUNNERS = ("action-chain",)


def reports_to_workflow(doc: dict) -> bool:
    """Whether a workflow must hear of this execution's status: a task's action that completed or waits (an
    inquiry, a paused subworkflow), or a subworkflow running again (its workflow resumes too, as StackStorm's)."""
    if "orquesta" not in (doc.get("context") or {}):
        return False
    status = doc.get("status")
    return status in WORKFLOW_CHILD_STATUSES or (
        status == models.RUNNING and (doc.get("runner") or {}).get("name") in WORKFLOW_RUNNERS)
WORKFLOW_REQUESTS = (models.CANCELING, models.PAUSING, models.RESUMING)


def _sealed(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {SEALED}


def _elapsed(start: str, end: str) -> float:
    return round((models.parse_time(end) - models.parse_time(start)).total_seconds(), 6)


class Executions:
    """Create executions, move them between statuses, and record their output."""

    def __init__(self, store: Store, bus: Bus, webui_base_url: str = "https://localhost",
                 key: Optional[CryptoKey] = None):
        self.coll = store.collection(EXECUTIONS)
        self.output = store.collection(EXECUTION_OUTPUT)
        self.bus = bus
        self._webui = webui_base_url.rstrip("/")
        self._seq = itertools.count()
        self._key = key

    def _seal(self, parameters: dict, runner_type: dict, action: dict) -> dict:
        if self._key is None:
            return parameters
        secret = secret_names(runner_type, action)
        return {
            name: {SEALED: encrypt(self._key, codec.dumps(value))}
            if name in secret and value is not None and not _sealed(value) else value
            for name, value in parameters.items()
        }

    def reveal(self, doc: dict) -> dict:
        """The execution with its secret parameters in clear (never store or announce this). A
        value sealed with another key stays sealed, and says so in the log."""
        parameters = doc.get("parameters") or {}
        if self._key is None or not any(_sealed(value) for value in parameters.values()):
            return doc
        secret = secret_names(doc.get("runner") or {}, doc.get("action") or {})
        opened = {name: self._open(doc["id"], name, value) if name in secret else value
                  for name, value in parameters.items()}
        return {**doc, "parameters": opened, "liveaction": {**doc.get("liveaction", {}), "parameters": opened}}

    def _open(self, execution_id: str, name: str, value: Any) -> Any:
        if not _sealed(value):
            return value
        try:
            return codec.loads(decrypt(self._key, value[SEALED]))
        except (CryptoError, ValueError) as exc:
            LOG.warning("execution %s: secret parameter %s cannot be opened: %s", execution_id, name, exc)
            return value

    def create(
        self,
        action: dict,
        runner_type: dict,
        parameters: dict,
        context: dict,
        status: str = models.REQUESTED,
        result: Optional[dict] = None,
        delay_ms: Optional[int] = None,
        execution_id: Optional[str] = None,
        origin: Optional[dict] = None,
        notify: Optional[dict] = None,
    ) -> dict:
        """Store a new execution, announce it and, if it is requested, ask for it to be scheduled.
        `execution_id` is given when the caller recorded it first (a rule enforcement); `origin` adds
        what started it (StackStorm's rule, trigger, trigger_type and trigger_instance fields); `notify` is
        what the notifier sends when it completes (kept in liveaction.notify, as StackStorm)."""
        execution_id = execution_id or models.new_id()
        stamp = models.now()
        parameters = self._seal(parameters, runner_type, action)
        doc: dict[str, Any] = {
            "id": execution_id,
            "action": action,
            "runner": runner_type,
            "liveaction": {
                "id": models.new_id(),
                "action": action["ref"],
                "action_is_workflow": False,
                "parameters": parameters,
                "callback": {},
                "runner_info": {},
                **({"notify": notify} if notify else {}),
            },
            "status": status,
            "start_timestamp": stamp,
            "parameters": parameters,
            "context": context,
            "log": [{"timestamp": stamp, "status": status}],
            "web_url": f"{self._webui}/#/history/{execution_id}/general",
        }
        if (context.get("parent") or {}).get("execution_id"):
            doc["parent"] = context["parent"]["execution_id"]
        if result is not None:
            doc["result"] = result
        doc.update(origin or {})
        if delay_ms:
            doc["delay"] = delay_ms
            due = models.parse_time(stamp) + datetime.timedelta(milliseconds=delay_ms)
            doc["delay_until"] = models.format_time(due)
        if status in models.COMPLETED_STATUSES:
            doc["end_timestamp"] = stamp
            doc["elapsed_seconds"] = 0.0
        doc = EXECUTIONS.build(doc)
        self.coll.insert(doc)
        self.bus.announce_execution("create", doc)
        self._tell_workflow(doc)
        if status == models.REQUESTED:
            self.bus.request_schedule(execution_id)
        return doc

    def cancel(self, execution_id: str) -> Optional[dict]:
        """Cancel as StackStorm does: not yet running -> canceled at once; running (or paused) -> canceling,
        and its runner (or st2workflowengine) ends it. The execution as it now is; None when it does not exist.
        A completed one is returned unchanged."""
        waiting = (models.REQUESTED, models.SCHEDULED, models.DELAYED)
        done = self.transition(execution_id, models.CANCELED, waiting)
        if done is None:  # a paused action chain has no runner to end it: canceled now, with its paused child
            done = self.transition(execution_id, models.CANCELED, (models.PAUSED,),
                                   when={"runner.name": {"$in": list(PAUSABLE_RUNNERS)}})
            for child in self.coll.find({"parent": execution_id, "status": models.PAUSED}) if done else ():
                self.cancel(child["id"])
        if done is not None:
            return done
        started = (models.RUNNING, models.PAUSING, models.PAUSED, models.RESUMING)
        updated = self.transition(execution_id, models.CANCELING, started)
        if updated is not None:
            self.bus.send_control({"action": "cancel", "execution_id": execution_id})
            return updated
        return self.get(execution_id)

    def resume(self, execution_id: str) -> Optional[dict]:
        """Resume a paused workflow: resuming, then st2workflowengine (Orquesta) or st2actionrunner (an action
        chain, asked here) runs it on. The execution now resuming, or None when it was not paused."""
        doc = self.transition(execution_id, models.RESUMING, (models.PAUSED,))
        if doc is not None and doc["runner"]["name"] in PAUSABLE_RUNNERS:
            self.bus.request_run(execution_id)
        return doc

    def root(self, doc: dict) -> dict:
        """The execution at the top of `doc`'s parents (doc itself when it has none)."""
        seen = {doc["id"]}
        while doc.get("parent") and doc["parent"] not in seen:
            parent = self.get(doc["parent"])
            if parent is None:
                break
            seen.add(parent["id"])
            doc = parent
        return doc

    def _tell_workflow(self, doc: dict) -> None:
        """News for st2workflowengine: what a workflow's child reports, or a workflow asked to pause, resume or
        cancel."""
        request = doc["status"] in WORKFLOW_REQUESTS and doc["runner"].get("name") == "orquesta"
        if request or reports_to_workflow(doc):
            self.bus.announce_workflow_child(doc["id"])

    def get(self, execution_id: str) -> Optional[dict]:
        return self.coll.get(execution_id)

    def transition(
        self,
        execution_id: str,
        status: str,
        from_statuses: Iterable[str],
        extra: Optional[dict] = None,
        *,
        started: Optional[str] = None,
        when: Optional[dict] = None,
    ) -> Optional[dict]:
        """Set `status` only if the execution is still in one of `from_statuses` and matches the
        store filters `when`; then announce. A completion's elapsed_seconds counts from `started`,
        the execution's start_timestamp: a caller holding the document passes it, saving a read.

        Returns the updated execution, or None when another actor changed it first."""
        stamp = models.now()
        fields: dict[str, Any] = {"status": status, **(extra or {})}
        if status in models.COMPLETED_STATUSES:
            if started is None:
                current = self.coll.get(execution_id)
                if current is None:
                    return None
                started = current["start_timestamp"]
            fields["end_timestamp"] = stamp
            fields["elapsed_seconds"] = _elapsed(started, stamp)
        doc = self.coll.update(
            execution_id,
            set_fields=fields,
            push={"log": {"timestamp": stamp, "status": status}},
            expect={**(when or {}), "status": {"$in": list(from_statuses)}},
        )
        if doc is None:
            return None
        self.bus.announce_execution("update", doc)
        self._tell_workflow(doc)
        return doc

    def add_output(self, execution: dict, output_type: str, data: str) -> dict:
        """Store one chunk of stdout/stderr, then announce it for `st2 execution tail`."""
        line = {
            "id": models.new_id(),
            "execution_id": execution["id"],
            "action_ref": execution["action"]["ref"],
            "runner_ref": execution["runner"]["name"],
            "timestamp": models.now(),
            "output_type": output_type,
            "data": data,
            "seq": next(self._seq),
        }
        self.output.insert(line)
        self.bus.announce_output(line)
        return line

    def output_text(self, execution_id: str, output_type: Optional[str] = None) -> str:
        filters: dict = {"execution_id": execution_id}
        if output_type:
            filters["output_type"] = output_type
        lines = self.output.find(filters, sort=[("timestamp", 1), ("seq", 1)])
        return "".join(line["data"] for line in lines)
