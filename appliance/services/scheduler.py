"""st2scheduler: requested -> scheduled, then hand the execution to the action runners.

Bus messages only say "look at this one"; a periodic sweep of the database finds requested
executions whose message was lost (broker restart, scheduler down), so nothing waits forever.
"""

from __future__ import annotations

import logging
import threading

from appliance import models
from appliance.bus import Subscription
from appliance.services.base import STALE_SECONDS, WorkerService, run_service, seconds_ago

LOG = logging.getLogger(__name__)


class SchedulerService(WorkerService):
    name = "st2scheduler"

    def __init__(self, ctx):
        super().__init__(ctx)

    def schedule(self, execution_id: str) -> None:
        """requested -> scheduled, or -> delayed until its `delay` has passed. An execution without
        a delay (nearly every one) is scheduled by one compare-and-set, without a read first."""
        executions = self.ctx.executions
        if executions.transition(execution_id, models.SCHEDULED, (models.REQUESTED,),
                                 when={"delay_until": None}) is not None:
            self.ctx.bus.request_run(execution_id)
            return
        doc = executions.get(execution_id)
        if doc is None:
            return
        due = doc.get("delay_until")
        if doc["status"] == models.REQUESTED and due and due > models.now():
            if executions.transition(execution_id, models.DELAYED, (models.REQUESTED,)) is not None:
                self._wake_at(execution_id, due)
            return
        if doc["status"] == models.DELAYED and due and due > models.now():
            return
        if executions.transition(execution_id, models.SCHEDULED, (models.REQUESTED, models.DELAYED)) is not None:
            self.ctx.bus.request_run(execution_id)

    def _wake_at(self, execution_id: str, due: str) -> None:
        wait = (models.parse_time(due) - models.parse_time(models.now())).total_seconds()
        timer = threading.Timer(max(0.0, wait), self.schedule, (execution_id,))
        timer.daemon = True
        timer.start()

    def _on_message(self, routing_key: str, body: dict) -> None:
        self.schedule(body["execution_id"])

    def sweep(self, older_than: float = STALE_SECONDS) -> int:
        """Schedule requested executions older than `older_than` seconds; returns how many."""
        cutoff = seconds_ago(older_than)
        stale = self.ctx.executions.coll.find(
            {"status": models.REQUESTED, "start_timestamp": {"$lt": cutoff}},
            sort=[("start_timestamp", 1)], limit=500,
        )
        due = self.ctx.executions.coll.find(
            {"status": models.DELAYED, "delay_until": {"$lte": models.now()}},
            sort=[("start_timestamp", 1)], limit=500,
        )
        for doc in stale + due:
            self.schedule(doc["id"])
        return len(stale) + len(due)

    def subscribe(self) -> list[Subscription]:
        return [self.ctx.bus.consume_schedule(self._on_message)]


def main() -> None:
    run_service(SchedulerService)


if __name__ == "__main__":
    main()
