"""The SQLite engine's connections: borrowed per operation from a bounded pool, so that threads
which come and go (every action's output readers) leave no file descriptor open behind them.

Each connection has a descriptor on the database file and one on its -wal; the process has one on
the -shm. SQLite keeps a closed connection's database descriptor while other connections of the
process hold locks on the file (closing it would drop their POSIX locks) and hands it to the next
connection it opens: so the database descriptors are bounded by the pool's size, while the -wal
descriptors count the connections that are open.
"""

from __future__ import annotations

import os
import threading
import time

from appliance.models import EXECUTIONS
from appliance.store.sqlite import SQLiteStore

THREADS = 400
AT_ONCE = 20  # more than the pool lends at once
SIZE = SQLiteStore.POOL_SIZE
IDLE = SQLiteStore.POOL_IDLE


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def descriptors_of(path: str) -> int:
    """How many of this process's descriptors are open on `path`."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}") == path
        except OSError:  # the descriptor listdir itself used, closed since
            pass
    return count


def run_threads(count: int, target, *args) -> None:
    """`count` short-lived threads, AT_ONCE at a time; fails on the first error one of them hit."""
    errors: list = []

    def guarded(n: int) -> None:
        try:
            target(n, *args)
        except BaseException as exc:  # reported below: a thread's exception is otherwise lost
            errors.append(exc)

    for start in range(0, count, AT_ONCE):
        batch = [threading.Thread(target=guarded, args=(n,)) for n in range(start, min(count, start + AT_ONCE))]
        for thread in batch:
            thread.start()
        for thread in batch:
            thread.join(timeout=60)
        assert not errors, errors[:3]


def operations(n: int, coll) -> None:
    """What an output reader or a request thread does: a write, a read, an update, a query."""
    coll.insert({"id": f"x{n}", "status": "requested", "n": n})
    assert coll.get(f"x{n}")["n"] == n
    assert coll.update(f"x{n}", set_fields={"status": "running"}, expect={"status": "requested"}) is not None
    assert coll.count({"id": {"$regex": "^x"}, "status": "running"}) >= 1  # REGEXP on every connection


def test_short_lived_threads_leave_no_descriptors_open(tmp_path):
    path = str(tmp_path / "st2.db")
    before = open_fds()
    store = SQLiteStore(path)
    try:
        coll = store.collection(EXECUTIONS)
        run_threads(THREADS, operations, coll)
        assert coll.count({"status": "running"}) == THREADS
        # At most a database and a -wal descriptor per pooled connection, and the -shm: a bound set
        # by the pool, whatever the number of threads (one connection per thread: 2 * THREADS).
        after = open_fds()
        assert after <= before + 2 * SIZE + 1, f"{THREADS} short-lived threads left {after - before} descriptors"
        assert descriptors_of(path + "-wal") <= IDLE, "connections beyond the idle ones stayed open"
    finally:
        store.close()
    assert open_fds() == before


def hold(store: SQLiteStore, holding: threading.Barrier, release: threading.Event) -> None:
    """Use a connection, then keep it until `release` (once every holder has one)."""
    with store.pool.connection() as conn:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchall()
        holding.wait(timeout=30)
        release.wait(timeout=30)


def test_a_burst_opens_at_most_pool_size_connections_and_keeps_a_few(tmp_path):
    path = str(tmp_path / "st2.db")
    before = open_fds()
    store = SQLiteStore(path)
    try:
        for _burst in range(3):
            holding = threading.Barrier(SIZE + 1)
            release = threading.Event()
            threads = [threading.Thread(target=hold, args=(store, holding, release)) for _ in range(SIZE)]
            for thread in threads:
                thread.start()
            holding.wait(timeout=30)  # SIZE connections are lent out at this moment
            assert descriptors_of(path) == SIZE
            release.set()
            for thread in threads:
                thread.join(timeout=30)
            assert descriptors_of(path + "-wal") <= IDLE  # the others were closed...
            assert descriptors_of(path) == SIZE  # ...and SQLite reuses their descriptors: no growth
    finally:
        store.close()
    assert open_fds() == before


def test_the_pool_lends_at_most_pool_size_connections_at_once(tmp_path):
    store = SQLiteStore(str(tmp_path / "st2.db"))
    lent: list = []
    most = [0]
    lock = threading.Lock()
    release = threading.Event()

    def borrow(_n: int) -> None:
        with store.pool.connection() as conn:
            with lock:
                lent.append(conn)
                most[0] = max(most[0], len(lent))
            release.wait(timeout=30)
            with lock:
                lent.remove(conn)

    threads = [threading.Thread(target=borrow, args=(n,)) for n in range(SIZE + 8)]
    try:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30
        while len(lent) < SIZE and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)  # time for the 8 others to take a connection too, if the pool let them
        assert len(lent) == SIZE
        assert len({id(conn) for conn in lent}) == SIZE  # each borrower has a connection of its own
    finally:
        release.set()
        for thread in threads:
            thread.join(timeout=30)
        store.close()
    assert most[0] == SIZE and not lent
