"""What Linux's /proc says about processes: read in one place, so a field is never miscounted.

The services use it to tell a live process from a zombie or from a reused pid (the kernel's start
time), and to find the members of a process group or session; st2ctl to find its supervisor and
what that supervisor left behind.
"""

from __future__ import annotations

import os
import socket
from typing import NamedTuple, Optional

DEAD_STATES = ("Z", "X")  # zombie (exited, not yet reaped), dead


class Stat(NamedTuple):
    """The fields of /proc/<pid>/stat the appliance uses."""

    pid: int
    state: str
    ppid: int
    pgrp: int
    session: int
    start_time: int  # clock ticks after boot: with the pid, it names one process for good

    @property
    def alive(self) -> bool:
        return self.state not in DEAD_STATES


def parse_stat(pid: int, text: bytes) -> Stat:
    """Parse the text of /proc/<pid>/stat; the command name may hold spaces and ')' itself,
    so the fields are counted from the last ')'. Raises ValueError on other text."""
    try:
        fields = text.rsplit(b")", 1)[1].split()
        return Stat(pid, fields[0].decode("ascii"), int(fields[1]), int(fields[2]), int(fields[3]), int(fields[19]))
    except (IndexError, UnicodeDecodeError) as exc:
        raise ValueError(f"not a /proc/<pid>/stat line: {text[:80]!r}") from exc


def stat(pid: int) -> Optional[Stat]:
    """The process `pid` as /proc shows it now, or None when there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return parse_stat(pid, handle.read())
    except (OSError, ValueError):
        return None


def alive(pid: int) -> bool:
    """Whether `pid` exists and has not exited (a zombie has, only nobody reaped it yet)."""
    current = stat(pid)
    return current is not None and current.alive


def cmdline(pid: int) -> list[str]:
    """argv of `pid` ([] for a kernel thread, a zombie or a process that is gone)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            raw = handle.read()
    except OSError:
        return []
    return [part.decode("utf-8", "replace") for part in raw.split(b"\0") if part]


def live_processes() -> list[Stat]:
    """Every process that is not a zombie. Raises OSError where /proc cannot be listed."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            current = stat(int(entry))
            if current is not None and current.alive:
                found.append(current)
    return found


def process_start_time(pid: int) -> Optional[int]:
    """The kernel's start time of `pid` (clock ticks since boot), so a reused pid is told apart."""
    current = stat(pid)
    return current.start_time if current is not None else None


def runner_identity() -> dict:
    """Who runs an execution: enough to tell later whether that process is still alive."""
    return {"hostname": socket.gethostname(), "pid": os.getpid(), "pid_start": process_start_time(os.getpid())}


def runner_alive(runner_info: dict) -> bool:
    """Whether the process recorded in runner_info still runs on this host (a zombie does not:
    it has exited, only nobody reaped it yet)."""
    if runner_info.get("hostname") != socket.gethostname():
        return True  # another host's runner: not ours to judge
    current = stat(runner_info.get("pid") or 0)
    return current is not None and current.alive and current.start_time == runner_info.get("pid_start")
