"""clush.cmd over 1024 nodes through the appliance, next to plain ClusterShell on the same command set.

Both sides run `true` on node[1-1024] with the exec worker (one local process per node) and fanout
64. Plain ClusterShell is the `clush` program of the same virtualenv (`clush -R exec -f 64 -w ...`),
timed from start to exit. The appliance side is timed from POST /v1/executions to the moment the
API reports the execution succeeded, polling every 20 ms. Rounds alternate the two so machine load
hits both alike; the medians and their ratio are reported (target: ratio <= 1.3). A second pair
runs `echo %h`, so the appliance also stores and streams a line per node (no target, for the record).

Run: python tests/bench/bench_clush.py [--nodes 1024] [--fanout 64] [--rounds 5] [--budget 150]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from typing import Optional

from bench_e2e import ROOT, Appliance, BenchError, Deadline, note

TARGET_RATIO = 1.3
COMMANDS = {"true": "true", "echo": "echo %h"}  # figure name -> command


def report(name: str, value: float, target: Optional[float] = None) -> None:
    line = f"{name} {value:.2f}"
    if target is not None:  # an at-most target: the printed ratio is >= 1 when it is met
        line += f" (target {target:g}, ratio {target / value:.2f})"
    print(line, flush=True)


def plain_clush(nodes: str, cmd: str, fanout: int, timeout: float) -> float:
    """Seconds `clush -R exec` takes from start to exit, after checking it ran every node."""
    clush = os.path.join(os.path.dirname(sys.executable), "clush")
    if not os.path.exists(clush):
        clush = shutil.which("clush") or "clush"
    started = time.perf_counter()
    done = subprocess.run([clush, "-R", "exec", "-f", str(fanout), "-S", "-w", nodes, cmd],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise BenchError(f"clush exited {done.returncode}: {done.stderr.strip()[-300:]}")
    return elapsed


def through_appliance(appliance: Appliance, nodes: str, cmd: str, fanout: int, count: int,
                      deadline: Deadline) -> float:
    """Seconds from POST /v1/executions to a succeeded clush.cmd that ran on `count` nodes."""
    http = appliance.http()
    body = json.dumps({"action": "clush.cmd", "parameters": {"nodes": nodes, "cmd": cmd, "worker": "exec",
                                                             "fanout": fanout}})
    started = time.perf_counter()
    status, _, data = http.request("POST", "/v1/executions", body)
    if status != 201:
        raise BenchError(f"POST /v1/executions answered {status}: {data[:200]!r}")
    execution_id = json.loads(data)["id"]
    while True:
        status, _, data = http.request("GET", f"/v1/executions/{execution_id}",
                                       params={"include_attributes": "status"})
        if status == 200 and json.loads(data)["status"] not in ("requested", "scheduled", "running"):
            break
        deadline.check(f"clush.cmd {execution_id}")
        time.sleep(0.02)
    elapsed = time.perf_counter() - started
    http.close()
    _, _, data = appliance.http().request("GET", f"/v1/executions/{execution_id}")
    execution = json.loads(data)
    if execution["status"] != "succeeded" or execution["result"]["counts"]["ok"] != count:
        raise BenchError(f"clush.cmd ended {execution['status']}: {str(execution.get('result'))[:300]}")
    return elapsed


def run(args: argparse.Namespace) -> int:
    deadline = Deadline(args.budget)
    nodes = f"node[1-{args.nodes}]"
    appliance = Appliance("clush")
    shutil.copytree(os.path.join(ROOT, "packs", "clush"), os.path.join(appliance.packs, "clush"))
    runs = {name: ([], []) for name in COMMANDS}  # name -> (plain seconds, appliance seconds)
    try:
        appliance.start(deadline)
        appliance.login(deadline)
        through_appliance(appliance, "warm[1-4]", "true", args.fanout, 4, deadline)  # first-use costs
        for _ in range(args.rounds):
            for name, cmd in COMMANDS.items():
                runs[name][0].append(plain_clush(nodes, cmd, args.fanout, deadline.cap(120)))
                runs[name][1].append(through_appliance(appliance, nodes, cmd, args.fanout, args.nodes, deadline))
    except BenchError as exc:
        note(f"clush: FAILED: {exc}")
        return 1
    finally:
        appliance.stop()
        appliance.remove()
    for name, (plain, served) in runs.items():
        note(f"clush {COMMANDS[name]!r}: {nodes}, exec worker, fanout {args.fanout}, {len(plain)} rounds; plain "
             f"{', '.join(f'{v:.2f}' for v in plain)} s; appliance {', '.join(f'{v:.2f}' for v in served)} s")
        plain_median, served_median = statistics.median(plain), statistics.median(served)
        prefix = f"clush.{args.nodes}.{name}"
        report(f"{prefix}.plain_s", plain_median)
        report(f"{prefix}.appliance_s", served_median)
        report(f"{prefix}.overhead_ratio", served_median / plain_median, TARGET_RATIO if name == "true" else None)
    return 0


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=1024)
    parser.add_argument("--fanout", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--budget", type=float, default=150.0, help="seconds for everything (150)")
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
