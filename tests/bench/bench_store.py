"""Store benchmark: the embedded SQLite engine with execution-like documents.

Figures (one plain line each, `name value`):
  store.sqlite.rows                      documents stored
  store.sqlite.doc_bytes                 mean size of one document as compact JSON
  store.sqlite.insert_per_s              insert_many in batches of 1000 into a fresh file
  store.sqlite.find_filtered.p50_ms      find({status, action.ref}, sort start_timestamp desc, limit 50)
  store.sqlite.find_filtered.p99_ms
  store.sqlite.find_newest.p50_ms        find(sort start_timestamp desc, limit 50), no filter
  store.sqlite.find_newest.p99_ms
  store.sqlite.count_ms                  count() of everything (median)
  store.sqlite.count_filtered_ms         count({status, action.ref}) (median), as X-Total-Count needs
  store.sqlite.get_ms                    get(id) of random ids (median)
  store.sqlite.file_mb                   database file size after the run

Documents are shaped like embedded-db.md describes: ~1 KB, 70% succeeded, ~20% core.local, several
users, a parameters dict, a result with a 500-byte stdout, and context {user, parent}.

Run: python tests/bench/bench_store.py [--rows 100000] [--queries 200] [--path FILE] [--seed 1]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import statistics
import sys
import tempfile
import time
from typing import Callable, Iterator, Optional

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.append(ROOT)  # the appliance package when it is not installed (it normally is)

from appliance import models  # noqa: E402
from appliance.store.sqlite import SQLiteStore  # noqa: E402

BATCH = 1000
STATUSES = [("succeeded", 70), ("failed", 12), ("running", 5), ("requested", 3), ("scheduled", 3),
            ("timeout", 3), ("canceled", 2), ("abandoned", 2)]
ACTIONS = [("core.local", "local-shell-cmd", 20), ("core.remote", "remote-shell-cmd", 15),
           ("core.http", "http-request", 10), ("core.noop", "noop", 10), ("linux.check_loadavg", "python-script", 10),
           ("clush.run", "clush", 15), ("milkcheck.start", "milkcheck", 10), ("packs.install", "orquesta", 10)]
USERS = ["stanley", "admin", "alice", "bob", "carol", "ops-robot"]
FILTER = {"status": "succeeded", "action.ref": "core.local"}
NEWEST = [("start_timestamp", -1)]


def say(line: str) -> None:
    print(line, flush=True)


def note(text: str) -> None:
    print(f"# {text}", flush=True)


def _weighted(rng: random.Random, table: list) -> tuple:
    return rng.choices(table, weights=[row[-1] for row in table])[0]


def documents(rows: int, seed: int) -> Iterator[dict]:
    rng = random.Random(seed)
    start = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    stdout_words = ["node", "ok", "load", "0.42", "uptime", "done", "check", "passed", "cluster", "rack"]
    for i in range(rows):
        status = _weighted(rng, STATUSES)[0]
        ref, runner, _weight = _weighted(rng, ACTIONS)
        begin = start + datetime.timedelta(seconds=i * 7 + rng.random())
        user = rng.choice(USERS)
        stdout = " ".join(rng.choice(stdout_words) for _ in range(120))[:500]
        yield {
            "id": f"{i:08x}{rng.getrandbits(64):016x}",
            "action": {"ref": ref, "runner_type": runner, "pack": ref.split(".")[0]},
            "runner": {"name": runner},
            "status": status,
            "start_timestamp": models.format_time(begin),
            "end_timestamp": models.format_time(begin + datetime.timedelta(seconds=rng.uniform(0.1, 30))),
            "parameters": {"cmd": f"uptime && echo {i}", "hosts": f"node[{i % 100}-{i % 100 + 8}]", "timeout": 60},
            "result": {"stdout": stdout, "stderr": "", "return_code": 0 if status == "succeeded" else 1,
                       "succeeded": status == "succeeded", "failed": status != "succeeded"},
            "context": {"user": user, "parent": None if rng.random() < 0.9 else f"{rng.getrandbits(96):024x}"},
            "liveaction": {"runner_info": {"hostname": f"st2node{i % 4}", "pid": 1000 + i % 5000}},
            "log": [{"status": "requested", "timestamp": models.format_time(begin)},
                    {"status": status, "timestamp": models.format_time(begin)}],
        }


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def _timed(call: Callable[[], object], repeat: int) -> tuple[list[float], object]:
    samples = []
    result: object = None
    for _ in range(repeat):
        begin = time.perf_counter()
        result = call()
        samples.append((time.perf_counter() - begin) * 1000.0)
    return samples, result


def run(path: str, rows: int, queries: int, seed: int) -> int:
    store = SQLiteStore(path)
    coll = store.collection(models.EXECUTIONS)
    note(f"sqlite file {path}, {rows} rows, {queries} queries per figure, SQLite {_sqlite_version()}")

    generated = documents(rows, seed)
    inserted = 0
    spent = 0.0
    sizes = 0
    expected_matches = 0
    all_ids: list[str] = []
    while inserted < rows:
        batch = [doc for _, doc in zip(range(BATCH), generated)]
        sizes += sum(len(json.dumps(doc, separators=(",", ":"))) for doc in batch)
        expected_matches += sum(1 for d in batch if d["status"] == "succeeded" and d["action"]["ref"] == "core.local")
        all_ids.extend(doc["id"] for doc in batch)
        begin = time.perf_counter()
        coll.insert_many(batch)
        spent += time.perf_counter() - begin
        inserted += len(batch)
    say(f"store.sqlite.rows {inserted}")
    say(f"store.sqlite.doc_bytes {sizes // max(1, inserted)}")
    say(f"store.sqlite.insert_per_s {inserted / spent:.0f}")

    filtered, found = _timed(lambda: coll.find(FILTER, sort=NEWEST, limit=50), queries)
    _check_newest(found, min(50, expected_matches), FILTER)
    say(f"store.sqlite.find_filtered.p50_ms {statistics.median(filtered):.2f}")
    say(f"store.sqlite.find_filtered.p99_ms {_percentile(filtered, 0.99):.2f}")

    newest, found = _timed(lambda: coll.find(sort=NEWEST, limit=50), queries)
    _check_newest(found, min(50, inserted), {})
    say(f"store.sqlite.find_newest.p50_ms {statistics.median(newest):.2f}")
    say(f"store.sqlite.find_newest.p99_ms {_percentile(newest, 0.99):.2f}")

    counting, total = _timed(coll.count, max(5, queries // 20))
    if total != inserted:
        raise SystemExit(f"count() returned {total}, expected {inserted}")
    say(f"store.sqlite.count_ms {statistics.median(counting):.2f}")
    counting, matches = _timed(lambda: coll.count(FILTER), max(5, queries // 20))
    if matches != expected_matches:
        raise SystemExit(f"count({FILTER}) returned {matches}, expected {expected_matches}")
    say(f"store.sqlite.count_filtered_ms {statistics.median(counting):.2f}")
    note(f"{matches} documents match {FILTER}")

    rng = random.Random(seed + 1)
    getting, _ = _timed(lambda: coll.get(rng.choice(all_ids)), queries)
    say(f"store.sqlite.get_ms {statistics.median(getting):.3f}")

    for label, sql in _plans(coll):
        note(f"plan {label}: {sql}")
    store.close()
    say(f"store.sqlite.file_mb {_file_bytes(path) / 1e6:.1f}")
    return 0


def _check_newest(found: object, expected: int, filters: dict) -> None:
    """The figures are only worth printing if the query answered right."""
    docs = list(found)  # type: ignore[call-overload]
    if len(docs) != expected:
        raise SystemExit(f"find({filters}) returned {len(docs)} documents, expected {expected}")
    stamps = [doc["start_timestamp"] for doc in docs]
    if stamps != sorted(stamps, reverse=True):
        raise SystemExit(f"find({filters}) is not sorted newest first")
    for doc in docs:
        if filters and (doc["status"], doc["action"]["ref"]) != (filters["status"], filters["action.ref"]):
            raise SystemExit(f"find({filters}) returned a document that does not match: {doc['id']}")


def _plans(coll) -> list[tuple[str, str]]:
    """EXPLAIN QUERY PLAN of the two list queries (to see whether an index answers them)."""
    found = []
    with coll._store.pool.connection() as conn:
        for label, filters in (("find_filtered", FILTER), ("find_newest", {})):
            where, params = coll._where(filters)
            sql = f"EXPLAIN QUERY PLAN SELECT doc FROM {coll._table}{where}{coll._order(NEWEST)} LIMIT 50"
            found.append((label, "; ".join(row[-1] for row in conn.execute(sql, params))))
    return found


def _sqlite_version() -> str:
    import sqlite3

    return sqlite3.sqlite_version


def _file_bytes(path: str) -> int:
    return sum(os.path.getsize(p) for p in (path, path + "-wal", path + "-shm") if os.path.exists(p))


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100000, help="documents to insert (100000)")
    parser.add_argument("--queries", type=int, default=200, help="repetitions of each timed query (200)")
    parser.add_argument("--path", help="database file (default: a fresh temporary file, removed afterwards)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.rows < 1 or args.queries < 1:
        parser.error("--rows and --queries must be positive")
    if args.path:
        if os.path.exists(args.path):
            parser.error(f"{args.path} exists; the benchmark needs a fresh file")
        return run(args.path, args.rows, args.queries, args.seed)
    with tempfile.TemporaryDirectory(prefix="bench-store-") as folder:
        return run(os.path.join(folder, "st2.db"), args.rows, args.queries, args.seed)


if __name__ == "__main__":
    sys.exit(main())
