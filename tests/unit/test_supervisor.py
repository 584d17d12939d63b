"""The supervisor's process model: which layout a config allows, restarts with backoff, and no child
left behind (on SIGTERM, and when the supervisor itself is killed). Real processes, short timings."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from appliance import config, procfs
from appliance.process import Backoff
from appliance.supervisor import Children, mode_problem

PYTHON = sys.executable


def load(tmp_path, text: str) -> config.Config:
    path = tmp_path / "st2.conf"
    path.write_text(text)
    return config.load(str(path))


def wait_for(predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.02)


@pytest.fixture
def running():
    """Runs a Children in a thread; yields a starter and stops it (and checks it ended) at the end."""
    stop = threading.Event()
    threads: list[threading.Thread] = []

    def start(children: Children) -> threading.Thread:
        thread = threading.Thread(target=children.run, args=(stop,), daemon=True)
        thread.start()
        threads.append(thread)
        return thread

    yield start, stop
    stop.set()
    for thread in threads:
        thread.join(30)
        assert not thread.is_alive(), "Children.run did not return after stop"


# -- which layout ----------------------------------------------------------------------------------
def test_threads_is_the_default_and_runs_over_any_bus(tmp_path):
    assert load(tmp_path, "").get("supervisor", "mode") == "threads"
    assert mode_problem(load(tmp_path, "")) is None
    assert mode_problem(load(tmp_path, "[messaging]\nurl = amqp://u:p@h:5672/v\n")) is None


def test_processes_need_a_broker(tmp_path):
    problem = mode_problem(load(tmp_path, "[supervisor]\nmode = processes\n"))
    assert problem and "in-memory bus cannot cross processes" in problem and "\n" not in problem
    conf = "[supervisor]\nmode = processes\n[messaging]\nurl = amqp://u:p@h:5672/v\n"
    assert mode_problem(load(tmp_path, conf)) is None


def test_unknown_mode_names_file_section_and_key(tmp_path):
    problem = mode_problem(load(tmp_path, "[supervisor]\nmode = forks\n"))
    assert problem == f"{tmp_path / 'st2.conf'}: [supervisor] mode: expected one of threads, processes, got 'forks'"


# -- restarts ----------------------------------------------------------------------------------------
def test_backoff_doubles_up_to_the_longest_and_starts_over_after_a_stable_run():
    backoff = Backoff(first=1, longest=60, stable=30)
    assert [backoff.delay(ran=0.5) for _ in range(8)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert backoff.delay(ran=30) == 1
    assert backoff.delay(ran=29) == 2


def test_a_child_that_keeps_dying_is_restarted_after_growing_delays(tmp_path, running, caplog):
    starts = tmp_path / "starts"
    code = f"import sys, time; open({str(starts)!r}, 'a').write(f'{{time.monotonic()}}\\n'); sys.exit(3)"
    children = Children({"flaky": [PYTHON, "-c", code]}, backoff=lambda: Backoff(0.2, 0.8, 30), poll=0.02)
    start, stop = running
    with caplog.at_level(logging.INFO, logger="appliance.supervisor"):
        start(children)
        assert wait_for(lambda: starts.exists() and len(starts.read_text().split()) >= 5, 15)
        stop.set()
    times = [float(line) for line in starts.read_text().split()]
    gaps = [later - earlier for earlier, later in zip(times, times[1:])]
    for gap, delay in zip(gaps, [0.2, 0.4, 0.8, 0.8]):
        assert gap >= delay, f"restarted after {gap:.2f}s, before its {delay}s delay: {gaps}"
    assert gaps[2] > gaps[0] + 0.4, gaps
    waits = [r.getMessage().rsplit(" in ", 1)[1] for r in caplog.records if "restarting it in" in r.getMessage()]
    assert waits[:4] == ["0.2s", "0.4s", "0.8s", "0.8s"], waits
    assert "flaky (pid " in caplog.text and "exited with code 3" in caplog.text


# -- no child left behind ------------------------------------------------------------------------------
def test_stop_terminates_children_and_kills_one_that_ignores_sigterm(tmp_path, running):
    ready = tmp_path / "ready"
    code = f"import signal as s, time; s.signal(s.SIGTERM, s.SIG_IGN); open({str(ready)!r}, 'w'); time.sleep(60)"
    children = Children({"polite": ["sleep", "60"], "stubborn": [PYTHON, "-c", code]}, poll=0.02, grace=0.5)
    start, stop = running
    thread = start(children)
    assert wait_for(ready.exists), "the stubborn child did not start"
    pids = [child.proc.pid for child in children.children]
    began = time.monotonic()
    stop.set()
    thread.join(10)
    assert not thread.is_alive()
    assert 0.4 < time.monotonic() - began < 5, "the stubborn child should be killed after the 0.5 s grace"
    assert not [pid for pid in pids if procfs.alive(pid)]


def test_children_die_with_a_supervisor_killed_by_sigkill(tmp_path):
    """SIGKILL leaves the supervisor no chance to stop its children: the kernel's parent-death
    signal does it."""
    code = (
        "import sys, threading; from appliance.supervisor import Children; "
        "children = Children({'a': ['sleep', '60'], 'b': ['sleep', '61']}, poll=0.02); "
        "threading.Timer(0.5, lambda: print(*[c.proc.pid for c in children.children], flush=True)).start(); "
        "children.run(threading.Event())"
    )
    supervisor = subprocess.Popen([PYTHON, "-c", code], stdout=subprocess.PIPE, text=True,
                                  cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    try:
        pids = [int(pid) for pid in supervisor.stdout.readline().split()]
        assert len(pids) == 2 and all(procfs.alive(pid) for pid in pids), pids
        assert all(procfs.stat(pid).ppid == supervisor.pid for pid in pids)
    finally:
        supervisor.send_signal(signal.SIGKILL)
        supervisor.wait()
    gone = wait_for(lambda: not any(procfs.alive(pid) for pid in pids), 5)
    left = [pid for pid in pids if procfs.alive(pid)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)  # a failed test must not leave them running
    assert gone, f"children outlived their supervisor: {left}"
