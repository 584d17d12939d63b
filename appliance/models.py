"""One definition per stored entity: its collection, the fields queries use, and its invariants.

Documents are plain JSON-able dicts shaped like StackStorm's API models, so the API returns what the
store holds. Timestamps are fixed-width ISO-8601 UTC strings with microseconds and a `Z`; they sort
as text on every engine.
"""

from __future__ import annotations

import datetime
import itertools
import os
import threading
import time
from dataclasses import dataclass

# StackStorm's execution statuses (st2common/constants/action.py).
REQUESTED = "requested"
SCHEDULED = "scheduled"
DELAYED = "delayed"
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
TIMEOUT = "timeout"
ABANDONED = "abandoned"
CANCELING = "canceling"
CANCELED = "canceled"
PENDING = "pending"
PAUSING = "pausing"
PAUSED = "paused"
RESUMING = "resuming"

STATUSES = (
    REQUESTED, SCHEDULED, DELAYED, RUNNING, SUCCEEDED, FAILED, TIMEOUT, ABANDONED,
    CANCELING, CANCELED, PENDING, PAUSING, PAUSED, RESUMING,
)
COMPLETED_STATUSES = (SUCCEEDED, FAILED, TIMEOUT, CANCELED, ABANDONED)
CANCELABLE_STATUSES = (REQUESTED, SCHEDULED, DELAYED, RUNNING, PAUSING, PAUSED, RESUMING)


@dataclass(frozen=True)
class Entity:
    """A stored collection: `indexed` fields get engine indexes, `unique` ones a unique index."""

    collection: str
    indexed: tuple[str, ...] = ()
    unique: tuple[str, ...] = ()
    compound: tuple[tuple[str, ...], ...] = ()


EXECUTIONS = Entity(
    "executions",
    # status, action.ref and parent are searched through the compound indexes they lead.
    indexed=("context.user", "start_timestamp", "runner.name", "liveaction.runner_info.hostname"),
    compound=(("status", "start_timestamp"), ("action.ref", "start_timestamp"),
              ("status", "action.ref", "start_timestamp"), ("parent", "start_timestamp")),
)
EXECUTION_OUTPUT = Entity(
    "execution_output", indexed=("execution_id",), compound=(("execution_id", "seq"),)
)
ACTIONS = Entity("actions", indexed=("pack", "name"), unique=("ref",))
RUNNER_TYPES = Entity("runner_types", unique=("name",))
PACKS = Entity("packs", unique=("ref",))
TOKENS = Entity("tokens", indexed=("user", "expiry"), unique=("token",))
API_KEYS = Entity("api_keys", indexed=("user",), unique=("key_hash",))

ENTITIES = (EXECUTIONS, EXECUTION_OUTPUT, ACTIONS, RUNNER_TYPES, PACKS, TOKENS, API_KEYS)


def format_time(moment: datetime.datetime) -> str:
    """StackStorm's timestamp format: `2024-01-01T00:00:00.000000Z`."""
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def now() -> str:
    return format_time(datetime.datetime.now(datetime.timezone.utc))


def parse_time(text: str) -> datetime.datetime:
    """Parse an ISO-8601 timestamp (with `Z` or an offset) into an aware UTC datetime."""
    value = datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return value.astimezone(datetime.timezone.utc)


_counter = itertools.count(int.from_bytes(os.urandom(3), "big"))
_counter_lock = threading.Lock()
_process_random = os.urandom(5)


def new_id() -> str:
    """A 24-hex id laid out like a MongoDB ObjectId (time, per-process random, counter)."""
    with _counter_lock:
        count = next(_counter) & 0xFFFFFF
    return (int(time.time()).to_bytes(4, "big") + _process_random + count.to_bytes(3, "big")).hex()


def ref_of(pack: str, name: str) -> str:
    return f"{pack}.{name}"


def uid_of(kind: str, pack: str, name: str) -> str:
    return f"{kind}:{pack}:{name}"
