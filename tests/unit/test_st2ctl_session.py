"""st2ctl's last step of stop: whatever is left in the supervisor's session ends, even a process that
ignores SIGTERM, while processes in sessions of their own (actions) are left to the action runner."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time

import pytest

from appliance import procfs
from appliance.st2ctl import end_session

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc")


def test_end_session_kills_what_ignores_sigterm_and_spares_other_sessions(tmp_path):
    other = tmp_path / "other-session-pid"
    # A session leader and two members that ignore SIGTERM (ignored signals stay ignored across exec),
    # plus a process that moved to a session of its own, as actions do.
    script = f"trap '' TERM; sleep 60 & sleep 61 & setsid sh -c 'echo $$ > {other}; exec sleep 62' & " \
             "while [ ! -s " + str(other) + " ]; do sleep 0.01; done; echo ready; wait"
    leader = subprocess.Popen(["sh", "-c", script], start_new_session=True, stdout=subprocess.PIPE, text=True)
    try:
        assert leader.stdout.readline() == "ready\n"
        outsider = int(other.read_text())
        members = [p.pid for p in procfs.live_processes() if p.session == leader.pid]
        assert len(members) == 3, members

        began = time.monotonic()
        end_session(leader.pid, grace=0.3)
        assert time.monotonic() - began < 3
        assert not [pid for pid in members if procfs.alive(pid)]
        assert procfs.alive(outsider), "a process in a session of its own is not the supervisor's"
    finally:  # whatever a failed test left: the leader's group, and the outsider
        with contextlib.suppress(ProcessLookupError):
            os.killpg(leader.pid, signal.SIGKILL)
        if other.exists():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(other.read_text()), signal.SIGKILL)
        leader.wait()
