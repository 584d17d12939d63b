"""st2rulesengine: takes trigger instances from the bus and enforces the rules that match them.

Active-active: each instance is claimed in the database, so any number of engines can run and each
instance is processed once. A sweep finds what the bus lost (pending instances nobody took) and what
a killed engine left half done (instances it claimed): appliance/rules/engine.py makes processing
them again safe.
"""

from __future__ import annotations

import logging

from appliance import procfs
from appliance.bus import Subscription
from appliance.models.trigger_instance import PENDING, PROCESSING
from appliance.rules.engine import RulesEngine
from appliance.services.base import STALE_SECONDS, WorkerService, run_service, seconds_ago

LOG = logging.getLogger(__name__)


class RulesEngineService(WorkerService):
    name = "st2rulesengine"

    def __init__(self, ctx):
        super().__init__(ctx)
        self.engine = RulesEngine(ctx.store, ctx.action_requests, ctx.keys, ctx.config.get("system_user", "user"))

    def _on_message(self, routing_key: str, body: dict) -> None:
        self.engine.process(body["trigger_instance_id"], body.get("trigger"))

    def sweep(self, older_than: float = STALE_SECONDS) -> int:
        """Process pending instances older than `older_than` seconds, and instances claimed by an
        engine process of this host that died; returns how many."""
        instances = self.engine.instances
        stale = instances.find({"status": PENDING, "occurrence_time": {"$lt": seconds_ago(older_than)}},
                               sort=[("occurrence_time", 1)], limit=500)
        for doc in stale:
            self.engine.process(doc["id"])
        orphaned = [doc for doc in instances.find({"status": PROCESSING}, sort=[("occurrence_time", 1)], limit=500)
                    if not procfs.runner_alive(doc.get("claimed_by") or {})]
        for doc in orphaned:
            claimed = self.engine.claim(doc["id"], PROCESSING, doc.get("claimed_by") or {})
            if claimed is not None:
                LOG.warning("trigger instance %s was left processing by dead engine pid %s: processing it again",
                            doc["id"], (doc.get("claimed_by") or {}).get("pid"))
                self.engine.work(claimed)
        return len(stale) + len(orphaned)

    def subscribe(self) -> list[Subscription]:
        return [self.ctx.bus.consume_trigger_instances(self._on_message)]


def main() -> None:
    run_service(RulesEngineService)


if __name__ == "__main__":
    main()
