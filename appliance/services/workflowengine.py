"""st2workflowengine: starts Orquesta workflows and advances them as their children complete.

Active-active: every transition is a compare-and-set on the workflow's `rev` (appliance/workflows/engine.py),
so any number of engines share the work and none advances a workflow twice. Messages are hints: a sweep
starts workflows nobody started, creates children a crash left uncreated and applies completions whose
message was lost, so a killed engine's workflows go on when any engine runs again.
"""

from __future__ import annotations

import logging

from appliance.bus import Subscription
from appliance.services.base import STALE_SECONDS, WorkerService, run_service, seconds_ago
from appliance.workflows.engine import WorkflowEngine

LOG = logging.getLogger(__name__)


class WorkflowEngineService(WorkerService):
    name = "st2workflowengine"

    def __init__(self, ctx):
        super().__init__(ctx)
        self.engine = WorkflowEngine(ctx)

    def _on_message(self, routing_key: str, body: dict) -> None:
        if "workflow_execution_id" in body:
            self.engine.start(body["workflow_execution_id"])
            return
        execution = self.ctx.executions.get(body.get("execution_id", ""))
        if execution is not None:
            self.engine.on_child(execution)
            self.engine.on_request(execution)

    def sweep(self, older_than: float = STALE_SECONDS) -> int:
        """Repair the workflows (see WorkflowEngine.sweep). Inquiries past their TTL are st2garbagecollector's."""
        return self.engine.sweep(seconds_ago(older_than))

    def subscribe(self) -> list[Subscription]:
        return [self.ctx.bus.consume_workflows(self._on_message)]


def main() -> None:
    run_service(WorkflowEngineService)


if __name__ == "__main__":
    main()
