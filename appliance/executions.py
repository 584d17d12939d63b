"""The execution lifecycle, and the durability rule in one place: every state change is written to
the database (compare-and-set on the current status) before it is announced on the bus."""

from __future__ import annotations

import datetime
import itertools
import os
import socket
from typing import Any, Iterable, Optional

from appliance import models
from appliance.bus import Bus
from appliance.models import EXECUTION_OUTPUT, EXECUTIONS
from appliance.store import Store


def _elapsed(start: str, end: str) -> float:
    return round((models.parse_time(end) - models.parse_time(start)).total_seconds(), 6)


class Executions:
    """Create executions, move them between statuses, and record their output."""

    def __init__(self, store: Store, bus: Bus, webui_base_url: str = "https://localhost"):
        self.coll = store.collection(EXECUTIONS)
        self.output = store.collection(EXECUTION_OUTPUT)
        self.bus = bus
        self._webui = webui_base_url.rstrip("/")
        self._seq = itertools.count()

    def create(
        self,
        action: dict,
        runner_type: dict,
        parameters: dict,
        context: dict,
        status: str = models.REQUESTED,
        result: Optional[dict] = None,
        delay_ms: Optional[int] = None,
    ) -> dict:
        """Store a new execution, announce it and, if it is requested, ask for it to be scheduled."""
        execution_id = models.new_id()
        stamp = models.now()
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
            },
            "status": status,
            "start_timestamp": stamp,
            "parameters": parameters,
            "context": context,
            "log": [{"timestamp": stamp, "status": status}],
            "web_url": f"{self._webui}/#/history/{execution_id}/general",
        }
        if context.get("parent", {}).get("execution_id"):
            doc["parent"] = context["parent"]["execution_id"]
        if result is not None:
            doc["result"] = result
        if delay_ms:
            doc["delay"] = delay_ms
            due = models.parse_time(stamp) + datetime.timedelta(milliseconds=delay_ms)
            doc["delay_until"] = models.format_time(due)
        if status in models.COMPLETED_STATUSES:
            doc["end_timestamp"] = stamp
            doc["elapsed_seconds"] = 0.0
        self.coll.insert(doc)
        self.bus.announce_execution("create", doc)
        if status == models.REQUESTED:
            self.bus.request_schedule(execution_id)
        return doc

    def get(self, execution_id: str) -> Optional[dict]:
        return self.coll.get(execution_id)

    def transition(
        self,
        execution_id: str,
        status: str,
        from_statuses: Iterable[str],
        extra: Optional[dict] = None,
    ) -> Optional[dict]:
        """Set `status` only if the execution is still in one of `from_statuses`; then announce.

        Returns the updated execution, or None when another actor changed it first."""
        stamp = models.now()
        fields: dict[str, Any] = {"status": status, **(extra or {})}
        if status in models.COMPLETED_STATUSES:
            current = self.coll.get(execution_id)
            if current is None:
                return None
            fields["end_timestamp"] = stamp
            fields["elapsed_seconds"] = _elapsed(current["start_timestamp"], stamp)
        doc = self.coll.update(
            execution_id,
            set_fields=fields,
            push={"log": {"timestamp": stamp, "status": status}},
            expect={"status": {"$in": list(from_statuses)}},
        )
        if doc is None:
            return None
        self.bus.announce_execution("update", doc)
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


def runner_identity() -> dict:
    """Who runs an execution: enough to tell later whether that process is still alive."""
    return {"hostname": socket.gethostname(), "pid": os.getpid(), "pid_start": process_start_time(os.getpid())}


def process_start_time(pid: int) -> Optional[int]:
    """The kernel's start time of `pid` (clock ticks since boot), so a reused pid is told apart."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return int(fields[19])
    except (OSError, IndexError, ValueError):
        return None


def runner_alive(runner_info: dict) -> bool:
    """Whether the process recorded in runner_info still runs on this host."""
    if runner_info.get("hostname") != socket.gethostname():
        return True  # another host's runner: not ours to judge
    started = process_start_time(runner_info.get("pid") or 0)
    return started is not None and started == runner_info.get("pid_start")
