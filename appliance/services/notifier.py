"""st2notifier: the triggers StackStorm sends when an execution changes status.

core.st2.generic.actiontrigger for each status in [action_sensor] emit_when (when enabled), and
core.st2.generic.notifytrigger per route of the action's `notify` once it completes. Active-active:
a completion is claimed in the database (its hidden `notified` marker, compare-and-set) before its
triggers are dispatched, so any number of notifiers send it once. A sweep finds completions whose
bus message was lost or arrived while no notifier ran. A notifier killed between its claim and its
dispatch loses that one completion: the claim comes first so that nothing is ever sent twice.
"""

from __future__ import annotations

import logging
from typing import Optional

from appliance.bus import Subscription
from appliance.models.execution import COMPLETED_STATUSES
from appliance.notifications import ACTION_TRIGGER, NOTIFY_TRIGGER, action_trigger_payload, notify_payloads
from appliance.services.base import STALE_SECONDS, WorkerService, run_service, seconds_ago

LOG = logging.getLogger(__name__)


class NotifierService(WorkerService):
    name = "st2notifier"

    def __init__(self, ctx):
        super().__init__(ctx)
        enabled = ctx.config.get("action_sensor", "enable")
        self.emit_when: tuple[str, ...] = tuple(ctx.config.get("action_sensor", "emit_when")) if enabled else ()

    def claim(self, execution_id: str) -> Optional[dict]:
        """The completed execution, now marked notified by this process; None when it is not
        completed or another notifier has it."""
        return self.ctx.executions.coll.update(
            execution_id, set_fields={"notified": True},
            expect={"notified": False, "status": {"$in": list(COMPLETED_STATUSES)}},
        )

    def handle(self, execution: dict) -> None:
        """Send what an execution in its announced status calls for."""
        if execution.get("status") not in COMPLETED_STATUSES:
            if execution.get("status") in self.emit_when:  # not a completion: sent per update, as StackStorm
                self._dispatch(ACTION_TRIGGER, action_trigger_payload(execution))
            return
        claimed = self.claim(execution["id"])
        if claimed is not None:
            self.notify(claimed)

    def notify(self, execution: dict) -> None:
        """The triggers of a claimed completion: notify routes first, then the action trigger."""
        lookups = self.ctx.keys.namespace(None)
        for payload in notify_payloads(self.ctx.executions.reveal(execution), lookups["system"]):
            self._dispatch(NOTIFY_TRIGGER, payload)
        if execution["status"] in self.emit_when:
            self._dispatch(ACTION_TRIGGER, action_trigger_payload(execution))

    def _dispatch(self, trigger: str, payload: dict) -> None:
        try:
            self.ctx.triggers.dispatch(trigger, payload)
        except Exception:  # one refused trigger must not hold back the others
            LOG.exception("execution %s: %s could not be dispatched", payload.get("execution_id"), trigger)

    def _on_message(self, routing_key: str, body: dict) -> None:
        self.handle(body)

    def sweep(self, older_than: float = STALE_SECONDS) -> int:
        """Notify completions older than `older_than` seconds that nobody claimed; returns how many."""
        stale = self.ctx.executions.coll.find(
            {"notified": False, "status": {"$in": list(COMPLETED_STATUSES)},
             "end_timestamp": {"$lt": seconds_ago(older_than)}},
            sort=[("end_timestamp", 1)], limit=500,
        )
        for doc in stale:
            self.handle(doc)
        return len(stale)

    def subscribe(self) -> list[Subscription]:
        statuses = dict.fromkeys([*COMPLETED_STATUSES, *self.emit_when])
        return [self.ctx.bus.consume_execution_updates(self._on_message, statuses)]


def main() -> None:
    run_service(NotifierService)


if __name__ == "__main__":
    main()
