"""Workflow benchmark: Orquesta workflows of core.noop tasks on an embedded appliance.

Figures:
  workflows.items.<n>.items_per_s       a with-items over n core.noop items (n = 1000, 5000, 10000), from the
                                         workflow's start to its end (target 200 items/s)
  workflows.items.linearity             time of the largest run / (largest n / smallest n) x time of the smallest
                                         (target: 10k within 11x the 1k time, i.e. ratio >= 1 when linear)
  workflows.sequence.100.overhead_ms    100 sequential core.noop tasks: mean gap between one task's end and the
                                         next task's start, the engine's own time per task (target 10)
  workflows.items.<n>.state_kb          the stored workflow execution's size at the end (no context per item)

Run: python tests/bench/bench_workflows.py [--sizes 1000,5000,10000] [--budget 300]
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from bench_e2e import Appliance, Deadline, _terminate  # noqa: E402

ITEMS_TARGET = 200.0
OVERHEAD_TARGET_MS = 10.0
LINEARITY_LIMIT = 11.0  # the 10k run may take at most 11x the 1k run

ITEMS = """version: 1.0
input:
  - count
tasks:
  each:
    with: <% range(ctx().count) %>
    action: core.noop
"""


def sequence(tasks: int) -> str:
    lines = ["version: 1.0", "tasks:"]
    for number in range(1, tasks + 1):
        lines += [f"  t{number}:", "    action: core.noop"]
        if number < tasks:
            lines += ["    next:", f"      - do: t{number + 1}"]
    return "\n".join(lines) + "\n"


def write_pack(packs: str) -> None:
    """A pack `wfbench` with the two workflows."""
    actions = os.path.join(packs, "wfbench", "actions")
    os.makedirs(os.path.join(actions, "workflows"))
    with open(os.path.join(packs, "wfbench", "pack.yaml"), "w") as handle:
        handle.write("ref: wfbench\nname: wfbench\ndescription: benchmark workflows\nversion: 0.1.0\n"
                     "author: appliance developers\n")
    for name, body, params in (("items", ITEMS, "parameters:\n  count:\n    type: integer\n"),
                               ("sequence", sequence(100), "")):
        with open(os.path.join(actions, "workflows", f"{name}.yaml"), "w") as handle:
            handle.write(body)
        with open(os.path.join(actions, f"{name}.yaml"), "w") as handle:
            handle.write(f"name: {name}\nrunner_type: orquesta\nentry_point: workflows/{name}.yaml\n{params}")


def run_workflow(appliance: Appliance, session, action: str, parameters: dict, deadline: Deadline) -> dict:
    """Start a workflow and wait until it completes; its execution."""
    answer = session.post(f"{appliance.api_url}/executions", json={"action": action, "parameters": parameters},
                          timeout=30)
    answer.raise_for_status()
    execution_id = answer.json()["id"]
    while True:
        deadline.check(f"{action} {parameters}")
        doc = session.get(f"{appliance.api_url}/executions/{execution_id}",
                          params={"include_attributes": "id,status,start_timestamp,end_timestamp"}, timeout=30).json()
        if doc["status"] in ("succeeded", "failed", "canceled", "timeout", "abandoned"):
            return doc
        time.sleep(0.2)


def seconds(doc: dict) -> float:
    from appliance.models import parse_time

    return (parse_time(doc["end_timestamp"]) - parse_time(doc["start_timestamp"])).total_seconds()


def stored_kb(appliance: Appliance, execution_id: str) -> float:
    """The size of the workflow execution document the engine stores for this execution."""
    import sqlite3

    with sqlite3.connect(appliance.db_path) as conn:
        rows = conn.execute("SELECT doc FROM workflow_executions").fetchall()
    sizes = [len(row[0]) for row in rows if execution_id in row[0]]
    return max(sizes) / 1024 if sizes else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,5000,10000")
    parser.add_argument("--budget", type=float, default=300.0)
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    signal.signal(signal.SIGTERM, _terminate)  # an overrun's SIGTERM unwinds to the finally: the appliance stops
    deadline = Deadline(args.budget)
    appliance = Appliance("workflows")
    write_pack(appliance.packs)
    try:
        appliance.start(deadline)
        appliance.login(deadline)
        session = appliance.session()
        durations = {}
        for size in sizes:
            doc = run_workflow(appliance, session, "wfbench.items", {"count": size}, deadline)
            if doc["status"] != "succeeded":
                print(f"# workflows: the {size}-item workflow ended {doc['status']}")
                return 1
            durations[size] = seconds(doc)
            rate = size / durations[size]
            print(f"workflows.items.{size}.items_per_s {rate:.0f} (target {ITEMS_TARGET:.0f}, "
                  f"ratio {rate / ITEMS_TARGET:.2f})", flush=True)
            print(f"workflows.items.{size}.state_kb {stored_kb(appliance, doc['id']):.0f}", flush=True)
        small, large = min(sizes), max(sizes)
        if large > small:
            growth = durations[large] / durations[small]
            allowed = LINEARITY_LIMIT * large / 10 / small
            print(f"workflows.items.linearity {growth:.1f}x for {large // small}x the items "
                  f"(target {allowed:.0f}, ratio {allowed / growth:.2f})", flush=True)
        doc = run_workflow(appliance, session, "wfbench.sequence", {}, deadline)
        children = session.get(f"{appliance.api_url}/executions/{doc['id']}/children",
                               params={"include_attributes": "start_timestamp,end_timestamp"}, timeout=60).json()
        children.sort(key=lambda child: child["start_timestamp"])
        from appliance.models import parse_time

        gaps = [(parse_time(after["start_timestamp"]) - parse_time(before["end_timestamp"])).total_seconds()
                for before, after in zip(children, children[1:])]
        overhead = 1000 * sum(gaps) / len(gaps)
        print(f"workflows.sequence.100.overhead_ms {overhead:.1f} (target {OVERHEAD_TARGET_MS:.0f}, "
              f"ratio {OVERHEAD_TARGET_MS / overhead:.2f})", flush=True)
        print(f"workflows.sequence.100.total_s {seconds(doc):.1f}", flush=True)
    finally:
        appliance.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
