"""appliance.procfs against real processes: the fields, zombies, reused pids, odd command names."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from appliance import procfs

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc")

MISSING_PID = 2**22 + 12345  # above the kernel's pid_max limit: never a process


def wait_for(predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


@pytest.fixture
def zombie():
    """A child that has exited and is not reaped yet."""
    proc = subprocess.Popen(["true"])
    wait_for(lambda: procfs.stat(proc.pid).state == "Z")  # unreaped, so never None
    yield proc.pid
    proc.wait()


def test_stat_of_this_process_matches_the_os():
    me = procfs.stat(os.getpid())
    assert me is not None and me.alive
    assert (me.pid, me.ppid, me.pgrp, me.session) == (os.getpid(), os.getppid(), os.getpgrp(), os.getsid(0))
    assert me.start_time > 0 and me.start_time == procfs.process_start_time(os.getpid())


def test_command_name_with_spaces_and_parentheses_is_parsed_from_the_last_one():
    code = "open('/proc/self/comm', 'w').write('a) 1 2 (b'); print('ready', flush=True); import time; time.sleep(30)"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, start_new_session=True)
    try:
        assert proc.stdout.readline() == b"ready\n"
        child = procfs.stat(proc.pid)
        assert child is not None
        assert (child.state in "RS", child.ppid, child.pgrp, child.session) == (True, os.getpid(), proc.pid, proc.pid)
        assert child.pid in [p.pid for p in procfs.live_processes()]
        assert procfs.cmdline(proc.pid) == [sys.executable, "-c", code]
    finally:
        proc.kill()
        proc.wait()


def test_parse_stat_rejects_other_text():
    with pytest.raises(ValueError):
        procfs.parse_stat(1, b"no parenthesis here")
    with pytest.raises(ValueError):
        procfs.parse_stat(1, b"1 (x) S 0")


def test_zombie_is_not_alive(zombie):
    assert procfs.stat(zombie).state == "Z"
    assert not procfs.alive(zombie)
    assert zombie not in [p.pid for p in procfs.live_processes()]


def test_missing_process():
    assert procfs.stat(MISSING_PID) is None
    assert procfs.process_start_time(MISSING_PID) is None
    assert not procfs.alive(MISSING_PID)
    assert procfs.cmdline(MISSING_PID) == []


def test_runner_liveness_tells_dead_and_reused_pids_apart():
    me = procfs.runner_identity()
    assert procfs.runner_alive(me)
    assert not procfs.runner_alive({**me, "pid_start": (me["pid_start"] or 0) + 1})
    assert not procfs.runner_alive({**me, "pid": MISSING_PID})
    assert procfs.runner_alive({**me, "hostname": "another-host"})


def test_runner_that_exited_but_is_not_reaped_is_dead(zombie):
    """A runner killed where nobody reaps it (a container's PID 1) must not hold its executions."""
    info = {**procfs.runner_identity(), "pid": zombie, "pid_start": procfs.process_start_time(zombie)}
    assert not procfs.runner_alive(info)
