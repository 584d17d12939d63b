"""An appliance that has run 500 actions holds no more file descriptors than after the first 50.

Every action has two short-lived threads, its stdout and stderr readers, which store each line
they read; the embedded appliance is one process, so whatever they leave open shows in
/proc/<supervisor pid>/fd. The command prints a line on each stream: `true` alone would give the
readers nothing to store, and so nothing to open.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import pytest
from e2e_harness import Appliance, wait_until

pytestmark = pytest.mark.e2e

RUNS = 500
FIRST = 50
AT_ONCE = 6  # concurrent API clients
MARGIN = 16  # sockets of requests still being closed, a pooled connection more or less
CMD = "echo out; echo err >&2"


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def run_actions(app: Appliance, count: int) -> None:
    """`count` core.local runs over plain HTTP, AT_ONCE at a time; each must succeed."""

    def run_one(_n: int) -> tuple:
        execution = app.wait_status(app.post_execution("core.local", {"cmd": CMD})["id"])
        return execution["status"], execution["result"].get("stdout"), execution["result"].get("stderr")

    with ThreadPoolExecutor(AT_ONCE) as clients:
        outcomes = list(clients.map(run_one, range(count)))
    expected = ("succeeded", "out", "err")
    assert outcomes == [expected] * count, [outcome for outcome in outcomes if outcome != expected][:3]


def test_descriptors_stay_flat_over_500_actions(fresh_appliance):
    app = fresh_appliance("fds-embedded")
    pid = app.supervisor_pid()
    assert pid, "no supervisor pid file"
    run_actions(app, FIRST)
    after_first = open_fds(pid)
    run_actions(app, RUNS - FIRST)
    limit = after_first + MARGIN
    settled = wait_until(lambda: open_fds(pid) <= limit, timeout=10)
    assert settled, (
        f"{open_fds(pid)} descriptors open after {RUNS} actions, {after_first} after {FIRST}: "
        f"the appliance keeps descriptors per action{app.log_tail(10)}"
    )
