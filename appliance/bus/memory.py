"""The embedded transport: kombu's in-memory transport, tuned for one process.

Messages never leave the process, so they skip base64 encoding and their delivery tags come from a
counter (kombu's virtual transport makes a uuid4 for each); and a consumer sleeps until a message
reaches one of its own queues instead of polling every queue every few milliseconds.
"""

from __future__ import annotations

import itertools
import socket
import threading
from collections import defaultdict
from queue import Empty
from time import monotonic
from typing import Any, Optional

from kombu.transport import memory

_WAIT_SECONDS = 0.05  # an upper bound only: a message for the consumer wakes it at once
_waiters: dict[str, set[threading.Event]] = defaultdict(set)
_waiters_lock = threading.Lock()
_delivery_tags = itertools.count(1)  # unique in the process, as far as its messages go


class Channel(memory.Channel):
    body_encoding = None

    def _next_delivery_tag(self) -> int:
        return next(_delivery_tags)

    def _put(self, queue: str, message: Any, **kwargs: Any) -> None:
        super()._put(queue, message, **kwargs)
        for event in list(_waiters.get(queue, ())):
            event.set()


class Transport(memory.Transport):
    Channel = Channel

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._arrived = threading.Event()

    def _listen(self) -> None:
        names = {name for channel in self.channels for name in channel._active_queues}
        with _waiters_lock:
            for name in names:
                _waiters[name].add(self._arrived)

    def drain_events(self, connection: Any, timeout: Optional[float] = None) -> None:
        self._listen()
        start = monotonic()
        while True:
            self._arrived.clear()
            try:
                self.cycle.get(self._deliver, timeout=timeout)
                return
            except Empty:
                remaining = None if timeout is None else timeout - (monotonic() - start)
                if remaining is not None and remaining <= 0:
                    raise socket.timeout() from None
                self._arrived.wait(_WAIT_SECONDS if remaining is None else min(remaining, _WAIT_SECONDS))

    def close_connection(self, connection: Any) -> None:
        with _waiters_lock:
            for events in _waiters.values():
                events.discard(self._arrived)
        super().close_connection(connection)
