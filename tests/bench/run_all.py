"""`make bench`: every benchmark, one after the other, within a fixed time budget (< 19 minutes).

Runs tests/bench/bench_e2e.py (a real appliance, embedded and over RabbitMQ, plus listing over 100k
stored executions), tests/bench/bench_clush.py (clush.cmd over 1024 nodes against plain ClusterShell),
tests/bench/bench_rules.py (rules-engine throughput with 500 rules), tests/bench/bench_webhook.py
(webhook to execution latency), tests/bench/bench_workflows.py (with-items over 1k/5k/10k core.noop items,
100 sequential tasks), tests/bench/bench_packs.py (st2 run packs.install of a pack with 3 requirements from a
local mirror, st2-run-pack-tests on a pack of 20 tests) and tests/bench/bench_store.py,
each as a child process whose output is passed through as it comes.
A child that overruns its share gets SIGTERM (it then stops its appliances and deletes its vhosts),
then SIGKILL if it has not exited 60 s later.

Run: python tests/bench/run_all.py [--budget 1090] [arguments for bench_e2e.py ...]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import threading
import time
from typing import Optional

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
GRACE = 60.0  # seconds bench_e2e.py gets after SIGTERM to stop its appliances and delete its vhosts
STORE_GRACE = 10.0  # bench_store.py only removes a temporary file
STORE_RESERVE = 90.0  # seconds kept for bench_store.py while bench_e2e.py runs
CLUSH_BUDGET = 150.0  # seconds for bench_clush.py (start, 2 x 5 rounds of ~2 x 2.5 s, stop)
RULES_BUDGET = 60.0  # seconds for bench_rules.py (500 rules, 3000 trigger instances: ~5 s)
WEBHOOK_BUDGET = 90.0  # seconds for bench_webhook.py (start, 200 webhooks one at a time, stop)
WORKFLOWS_BUDGET = 240.0  # seconds for bench_workflows.py (16,000 items at ~250/s, 100 tasks, start and stop)
PACKS_BUDGET = 90.0  # seconds for bench_packs.py (2 pack test runs ~5 s, start, one install ~5-10 s, stop: ~25 s)
TARGET = re.compile(r"^(\S+) (\S+) \(target (\S+), ratio (\S+)\)$")


def run(argv: list[str], timeout: float, grace: float, lines: list[str]) -> int:
    """Run a child, echo its output line by line, stop it after `timeout` seconds; its exit code."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH", ""), ROOT) if p)
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, text=True, errors="replace")

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            print(line, end="", flush=True)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        proc.wait(max(1.0, timeout))
    except (subprocess.TimeoutExpired, KeyboardInterrupt) as exc:
        if isinstance(exc, subprocess.TimeoutExpired):
            print(f"# {os.path.basename(argv[1])}: over its {timeout:.0f}s budget; stopping it", flush=True)
            proc.terminate()
        # Ctrl-C reached the child too: either way it now stops its appliances; give it the time.
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        if isinstance(exc, KeyboardInterrupt):
            raise
    reader.join(5)
    return proc.returncode


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=float, default=1090.0, help="seconds for everything (1090)")
    args, e2e_args = parser.parse_known_args(argv)
    started = time.monotonic()
    lines: list[str] = []
    failed: list[str] = []
    store = os.path.join(HERE, "bench_store.py")
    has_store = os.path.exists(store)

    # bench_e2e.py keeps to its own --budget; its child timeout adds the time it needs to clean up.
    e2e_budget = (args.budget - GRACE - CLUSH_BUDGET - RULES_BUDGET - WEBHOOK_BUDGET - WORKFLOWS_BUDGET
                  - PACKS_BUDGET - (STORE_RESERVE if has_store else 0.0))
    print(f"# bench_e2e.py (budget {e2e_budget:.0f}s)", flush=True)
    code = run([sys.executable, os.path.join(HERE, "bench_e2e.py"), "--budget", str(e2e_budget), *e2e_args],
               e2e_budget + 30.0, GRACE, lines)
    if code != 0:
        failed.append(f"bench_e2e.py (exit {code})")

    print(f"# bench_clush.py (budget {CLUSH_BUDGET:.0f}s)", flush=True)
    code = run([sys.executable, os.path.join(HERE, "bench_clush.py"), "--budget", str(CLUSH_BUDGET)],
               CLUSH_BUDGET + 30.0, GRACE, lines)
    if code != 0:
        failed.append(f"bench_clush.py (exit {code})")

    print(f"# bench_rules.py (budget {RULES_BUDGET:.0f}s)", flush=True)
    code = run([sys.executable, os.path.join(HERE, "bench_rules.py")], RULES_BUDGET, STORE_GRACE, lines)
    if code != 0:
        failed.append(f"bench_rules.py (exit {code})")

    print(f"# bench_webhook.py (budget {WEBHOOK_BUDGET:.0f}s)", flush=True)
    code = run([sys.executable, os.path.join(HERE, "bench_webhook.py")], WEBHOOK_BUDGET, GRACE, lines)
    if code != 0:
        failed.append(f"bench_webhook.py (exit {code})")

    print(f"# bench_workflows.py (budget {WORKFLOWS_BUDGET:.0f}s)", flush=True)
    code = run([sys.executable, os.path.join(HERE, "bench_workflows.py"), "--budget", str(WORKFLOWS_BUDGET - 30)],
               WORKFLOWS_BUDGET, GRACE, lines)
    if code != 0:
        failed.append(f"bench_workflows.py (exit {code})")

    print(f"# bench_packs.py (budget {PACKS_BUDGET:.0f}s)", flush=True)
    code = run([sys.executable, os.path.join(HERE, "bench_packs.py"), "--budget", str(PACKS_BUDGET - 30)],
               PACKS_BUDGET, GRACE, lines)
    if code != 0:
        failed.append(f"bench_packs.py (exit {code})")

    if has_store:
        left = args.budget - (time.monotonic() - started) - STORE_GRACE
        print(f"# bench_store.py (budget {left:.0f}s)", flush=True)
        code = run([sys.executable, store], left, STORE_GRACE, lines)
        if code != 0:
            failed.append(f"bench_store.py (exit {code})")
    else:
        print("# bench_store.py: not present, skipped", flush=True)

    targets = [match.groups() for match in map(TARGET.match, lines) if match]
    missed = [name for name, _, _, ratio in targets if float(ratio) < 1.0]
    print(f"# bench: {time.monotonic() - started:.0f}s; targets met {len(targets) - len(missed)}/{len(targets)}"
          + (f"; missed: {', '.join(missed)}" if missed else "")
          + (f"; failed: {', '.join(failed)}" if failed else ""), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
