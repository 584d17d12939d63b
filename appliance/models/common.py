"""Ids and timestamps, the values every entity carries.

Timestamps are fixed-width ISO-8601 UTC strings with microseconds and a `Z`; they sort as text on
every engine. Ids are laid out like MongoDB ObjectIds, so StackStorm tools that parse them work.
"""

from __future__ import annotations

import datetime
import itertools
import os
import threading
import time


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
