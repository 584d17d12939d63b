"""TriggerInstance: one occurrence of a trigger, with its payload (StackStorm's TriggerInstanceAPI).

It is stored by the dispatcher (appliance.triggers) before the rules engine hears of it, so the
rules engine moves it from pending through processing to processed or processing_failed. The trace
context it was dispatched with is kept for the rules engine, and not shown (StackStorm's API has no
such field).
"""

from __future__ import annotations

from appliance.models.schema import Entity, Field

# StackStorm's trigger instance statuses (st2common/constants/triggers.py).
PENDING = "pending"
PROCESSING = "processing"
PROCESSED = "processed"
PROCESSING_FAILED = "processing_failed"
STATUSES = (PENDING, PROCESSING, PROCESSED, PROCESSING_FAILED)

TRIGGER_INSTANCES = Entity(
    name="trigger instance",
    collection="trigger_instances",
    fields={
        "id": Field("string", required=True),
        "trigger": Field("string", required=True),
        "payload": Field("object", default={}),
        "occurrence_time": Field("string", required=True),
        "status": Field("string", required=True, enum=STATUSES),
        "trace_context": Field(("object", "null"), hidden=True),
        # the rules engine process working on it, so that a restart can tell one that died
        "claimed_by": Field("object", hidden=True),
    },
    indexed=("occurrence_time",),
    compound=(("trigger", "occurrence_time"), ("status", "occurrence_time")),
)
