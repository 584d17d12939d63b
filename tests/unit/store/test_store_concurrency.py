"""Atomicity under concurrency: claims and compare-and-set from many threads and processes.

Run on sqlite and on a real MongoDB (APPLIANCE_TEST_MONGODB_URL). mongomock is skipped: its
find_one_and_update is not thread-safe (4 threads racing for 400 documents made ~180 duplicate
claims plus RuntimeErrors, see /work/shared/reference/embedded-db.md) and it cannot be shared
between processes, so it would only test mongomock.

The processes are separate interpreters (subprocess), each opening the store itself the way two
service processes would, and all released at once by a line on stdin.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading

from appliance.models import EXECUTIONS

DOCS = 400
WORKERS = 4

WORKER = r"""
import json, sys
engine, location, db_name = sys.argv[1:4]
if engine == "sqlite":
    from appliance.store.sqlite import SQLiteStore
    store = SQLiteStore(location)
else:
    from appliance.store.mongo import MongoStore
    store = MongoStore.connect(location, db_name)
from appliance.models import EXECUTIONS
coll = store.collection(EXECUTIONS)
print("ready", flush=True)
sys.stdin.readline()
claimed = []
while True:
    doc = coll.claim({"status": "requested"}, {"status": "scheduled", "by": sys.argv[4]},
                     sort=[("start_timestamp", 1)])
    if doc is None:
        break
    claimed.append(doc["id"])
store.close()
print(json.dumps(claimed), flush=True)
"""


def _requested(count: int) -> list[dict]:
    return [
        {
            "id": f"x{i:04d}",
            "status": "requested",
            "start_timestamp": f"2024-01-01T00:{i // 60:02d}:{i % 60:02d}.000000Z",
            "action": {"ref": "core.local"},
        }
        for i in range(count)
    ]


def _check_claims(coll, per_worker: dict) -> None:
    claimed = [doc_id for ids in per_worker.values() for doc_id in ids]
    spread = {worker: len(ids) for worker, ids in per_worker.items()}
    assert len(claimed) == DOCS, spread
    assert len(set(claimed)) == DOCS, f"{len(claimed) - len(set(claimed))} duplicate claims; {spread}"
    assert coll.count({"status": "requested"}) == 0
    assert coll.count({"status": "scheduled"}) == DOCS
    # every document records the one worker that got it
    for worker, ids in per_worker.items():
        assert coll.count({"id": {"$in": ids}, "by": worker}) == len(ids)


def test_claim_from_threads_never_duplicates(concurrent_target):
    store = concurrent_target.open()
    coll = store.collection(EXECUTIONS)
    coll.insert_many(_requested(DOCS))
    barrier = threading.Barrier(WORKERS)
    per_worker: dict = {}
    errors: list = []

    def work(name: str) -> None:
        mine: list = []
        try:
            barrier.wait(timeout=30)
            while True:
                doc = coll.claim({"status": "requested"}, {"status": "scheduled", "by": name},
                                 sort=[("start_timestamp", 1)])
                if doc is None:
                    break
                assert doc["status"] == "scheduled" and doc["by"] == name
                mine.append(doc["id"])
        except BaseException as exc:  # reported below: a thread's exception is otherwise lost
            errors.append(exc)
        per_worker[name] = mine

    threads = [threading.Thread(target=work, args=(f"t{i}",)) for i in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    _check_claims(coll, per_worker)


def test_claim_from_processes_never_duplicates(concurrent_target):
    store = concurrent_target.open()
    coll = store.collection(EXECUTIONS)
    coll.insert_many(_requested(DOCS))
    args = [concurrent_target.engine, concurrent_target.location, concurrent_target.db_name]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, *args, f"p{i}"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for i in range(WORKERS)
    ]
    try:
        for proc in procs:  # every worker has opened the store before any claims
            line = proc.stdout.readline()
            assert line.strip() == "ready", proc.communicate(timeout=30)
        for proc in procs:
            proc.stdin.write("go\n")
            proc.stdin.flush()
        per_worker = {}
        for i, proc in enumerate(procs):
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
            per_worker[f"p{i}"] = json.loads(out.strip().splitlines()[-1])
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    _check_claims(coll, per_worker)


def test_compare_and_set_race_has_exactly_one_winner(concurrent_target):
    store = concurrent_target.open()
    coll = store.collection(EXECUTIONS)
    threads_count = 8
    rounds = 25
    coll.insert_many({"id": f"r{n}", "status": "requested"} for n in range(rounds))
    for n in range(rounds):
        doc_id = f"r{n}"
        barrier = threading.Barrier(threads_count)
        results: dict = {}
        errors: list = []

        def race(name, doc_id=doc_id, barrier=barrier, results=results, errors=errors) -> None:
            try:
                barrier.wait(timeout=30)
                results[name] = coll.update(
                    doc_id,
                    set_fields={"status": "running", "winner": name},
                    push={"log": name},
                    expect={"status": "requested"},
                )
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=race, args=(f"w{i}",)) for i in range(threads_count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not errors, errors
        winners = [name for name, doc in results.items() if doc is not None]
        assert len(results) == threads_count
        assert len(winners) == 1, f"round {n}: winners {winners}"
        stored = coll.get(doc_id)
        assert stored["status"] == "running"
        assert stored["winner"] == winners[0]
        assert stored["log"] == [winners[0]]  # losers pushed nothing
        assert results[winners[0]] == stored
