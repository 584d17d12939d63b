"""Every exchange and queue the appliance declares, in one place (prefix "st2" by default).

| exchange              | type   | routing keys            | body                          | consumers |
|-----------------------|--------|-------------------------|-------------------------------|-----------|
| st2.execution         | topic  | <event>.<status>: create.requested, update.succeeded, ... | the ActionExecution document | st2stream (one auto-delete queue per process, bound to #) |
| st2.execution         | topic  | create.<status>, update.<status> of the statuses it notifies | the ActionExecution document | queue st2.notifier.work (st2notifier) |
| st2.execution.output  | topic  | create                  | an ActionExecutionOutput line | st2stream |
| st2.work              | direct | schedule                | {"execution_id"}              | queue st2.scheduler.work (st2scheduler) |
| st2.work              | direct | run                     | {"execution_id"}              | queue st2.actionrunner.work (st2actionrunner) |
| st2.work              | direct | rules                   | {"trigger_instance_id"}       | queue st2.rulesengine.work (st2rulesengine) |
| st2.work              | direct | workflow                | {"workflow_execution_id"} to start, {"execution_id"} of a workflow's child that changed | queue st2.workflowengine.work (st2workflowengine) |
| st2.control           | fanout | (none)                  | {"action": "cancel", "execution_id"} | one auto-delete queue per st2actionrunner |

Work queues are durable and their messages persistent; a message is acknowledged only after its
handler ran. Messages are hints: the database is the truth, and services sweep it for work a lost
message would have announced. Stream stream events (st2.execution*) are transient.
Trigger instances have no stream event: StackStorm 3.9's st2stream sends none.
The stream event name is "<exchange>__<routing key's first word>", e.g. st2.execution__update.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Names:
    prefix: str = "st2"

    @property
    def execution(self) -> str:
        return f"{self.prefix}.execution"

    @property
    def execution_output(self) -> str:
        return f"{self.prefix}.execution.output"

    @property
    def work(self) -> str:
        return f"{self.prefix}.work"

    @property
    def control(self) -> str:
        return f"{self.prefix}.control"

    @property
    def scheduler_queue(self) -> str:
        return f"{self.prefix}.scheduler.work"

    @property
    def runner_queue(self) -> str:
        return f"{self.prefix}.actionrunner.work"

    @property
    def rules_queue(self) -> str:
        return f"{self.prefix}.rulesengine.work"

    @property
    def workflow_queue(self) -> str:
        return f"{self.prefix}.workflowengine.work"

    @property
    def notifier_queue(self) -> str:
        return f"{self.prefix}.notifier.work"


SCHEDULE = "schedule"
RUN = "run"
RULES = "rules"
WORKFLOW = "workflow"
