"""`make test`: the test suites side by side, so CI's wall time is the longest suite's, not their sum.

Each suite is one pytest process over a marker expression; most of an end-to-end test's time is spent
waiting on a running appliance, so the suites share the machine's cores well. Each writes its own log
(var/test-logs/<suite>.log); the log of a failed suite is printed whole, the others' last lines only.
Exit status: 0 when every suite passed (a suite that selects no test counts as passed).

Run: python tests/run_suites.py [--only SUITE ...] [extra pytest arguments ...]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOGS = os.path.join(ROOT, "var", "test-logs")
# suite name -> pytest marker expression; together they select every test exactly once
SUITES = {
    "unit": "not e2e and not packaging",
    "e2e-embedded": "e2e and not rabbitmq and not packaging",
    "e2e-rabbitmq": "e2e and rabbitmq and not packaging",
    "packaging": "packaging",
}
NO_TESTS = 5  # pytest's exit code when the expression selects nothing
TAIL = 15


def start(name: str, expression: str, extra: list[str]) -> tuple[subprocess.Popen, str]:
    log = os.path.join(LOGS, f"{name}.log")
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", expression, *extra]
    with open(log, "w") as handle:
        process = subprocess.Popen(argv, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT,
                                   env=dict(os.environ, PYTHONUNBUFFERED="1"))
    return process, log


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=sorted(SUITES), help="run only this suite")
    args, extra = parser.parse_known_args()
    os.makedirs(LOGS, exist_ok=True)
    chosen = {name: SUITES[name] for name in (args.only or SUITES)}
    began = time.monotonic()
    running = {name: start(name, expression, extra) for name, expression in chosen.items()}
    failed = []
    for name, (process, log) in running.items():
        code = process.wait()
        with open(log, errors="replace") as handle:
            lines = handle.read().splitlines()
        passed = code in (0, NO_TESTS)
        print(f"==== {name}: {'passed' if passed else f'FAILED (exit {code})'} ({log})")
        print("\n".join(lines if not passed else lines[-TAIL:]))
        if not passed:
            failed.append(name)
    print(f"==== {len(chosen) - len(failed)}/{len(chosen)} suites passed in {time.monotonic() - began:.0f} s"
          + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
