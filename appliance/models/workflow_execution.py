"""WorkflowExecution: one run of an Orquesta workflow, the record st2workflowengine advances (StackStorm's
WorkflowExecutionDB). Its action execution (runner `orquesta`) is what users see; this holds the definition,
the conductor's state and the children about to be created.

`rev` grows with every write, and every write expects the rev it read: two engines can never both advance
one workflow from the same state (the loser reads again). Which child reports are still expected is in the
conductor's state (a task run's status, an item's letter), so no per-child record grows with the workflow;
`to_create` lists the requested children whose executions may not exist yet (written before they are
created, so a crash between the two is repaired by the sweep).
"""

from __future__ import annotations

from appliance.models.schema import Entity, Field

WORKFLOW_EXECUTIONS = Entity(
    name="workflow execution",
    collection="workflow_executions",
    fields={
        "id": Field("string", required=True),
        "action_execution": Field("string", required=True),
        "status": Field("string", required=True),
        "definition": Field("string", required=True),
        "inputs": Field("object", default={}),
        "context": Field("object", default={}),
        "state": Field("object", default={}),
        "rev": Field("integer", default=0),
        "to_create": Field("array", default=[]),
        "start_timestamp": Field("string", required=True),
        "updated_at": Field("string"),  # the last transition: a sweep looks for lost reports of idle workflows
        "end_timestamp": Field("string"),
    },
    indexed=("action_execution", "status"),
)
