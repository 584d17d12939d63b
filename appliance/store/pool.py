"""A bounded pool of sqlite3 connections, each lent for one operation.

Threads come and go (every action has short-lived output readers): a connection per thread would
stay open, with its file descriptors, until the store closes. Here a connection goes back to the
pool when its operation ends; at most `size` are open at once and at most `idle` stay open between
operations, so a thread that ends leaves nothing open.

SQLite itself keeps the database-file descriptor of a closed connection while other connections of
the process hold locks on the file (closing it would drop their POSIX locks), and gives it to the
next connection it opens: so those descriptors are bounded by `size` too, and all go at close().
"""

from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

from appliance.store.base import StoreError


class Pool:
    def __init__(self, connect: Callable[[], sqlite3.Connection], size: int, idle: int, wait: float):
        self._connect = connect
        self._slots = threading.BoundedSemaphore(size)
        self._size = size
        self._keep = idle
        self._wait = wait
        self._idle: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        """A connection for the caller alone until the block ends (waits while `size` are lent)."""
        if not self._slots.acquire(timeout=self._wait):
            raise StoreError(f"sqlite: all {self._size} connections stayed busy for {self._wait:.0f}s")
        try:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                conn = self._connect()
            try:
                yield conn
            finally:
                self._give_back(conn)
        finally:
            self._slots.release()

    def _give_back(self, conn: sqlite3.Connection) -> None:
        # A transaction still open here was not rolled back: drop that connection rather than lend it.
        with self._lock:
            if not self._closed and not conn.in_transaction and len(self._idle) < self._keep:
                self._idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        """Close the idle connections, and each lent one when it comes back. The pool still lends
        afterwards (a late call from a stopping thread works), but keeps nothing open."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
