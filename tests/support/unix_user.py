"""A throwaway Unix user whose sudo asks for a password, and code run as that user in a forked child.

The tests run as root, where sudo asks for nothing and may signal anything: the sudo_password path and
the kill of root processes through sudo only run for real as an unprivileged user. The user gets a
sudoers.d entry that needs its password every time (timestamp_timeout=0, so a cached credential
cannot hide a wrong password) and shows no lecture (its text would land in the action's stderr where
sudo is built to show one); the entry and the user are removed afterwards.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import pwd
import select
import shutil
import signal
import subprocess
import time
import traceback
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from appliance import procfs

TOOLS = ("useradd", "userdel", "chpasswd", "sudo", "visudo")
SUDOERS_DIR = "/etc/sudoers.d"


class Unavailable(Exception):
    """This machine cannot host the user (not root, or a tool is missing); the message says why."""


@dataclass(frozen=True)
class SudoUser:
    name: str
    uid: int
    gid: int
    password: str


def _run(argv: list, stdin: str = "") -> str:
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=30, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): {done.stdout}{done.stderr}")
    return done.stdout


@contextlib.contextmanager
def sudo_user() -> Iterator[SudoUser]:
    """A new user allowed to run anything as root through sudo, with its password."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        raise Unavailable(f"missing {', '.join(missing)} (install the passwd and sudo packages)")
    if os.geteuid() != 0:
        raise Unavailable("creating a throwaway user needs root")
    if not os.path.isdir(SUDOERS_DIR):
        raise Unavailable(f"{SUDOERS_DIR} does not exist")
    name = f"st2sudo{uuid.uuid4().hex[:8]}"
    password = f"pw-{uuid.uuid4().hex}"
    sudoers = os.path.join(SUDOERS_DIR, name)
    _run(["useradd", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/bin/sh", "--user-group", name])
    try:
        _run(["chpasswd"], f"{name}:{password}\n")
        with open(os.open(sudoers, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o440), "w", encoding="ascii") as handle:
            handle.write(f"Defaults:{name} timestamp_timeout=0, !lecture\n{name} ALL=(ALL:ALL) ALL\n")
        _run(["visudo", "-c", "-q", "-f", sudoers])
        allowed = _run(["sudo", "-l", "-U", name])
        if "(ALL : ALL) ALL" not in allowed:
            raise Unavailable(f"sudo ignores {sudoers} (no @includedir {SUDOERS_DIR} in /etc/sudoers?): {allowed}")
        entry = pwd.getpwnam(name)
        yield SudoUser(name, entry.pw_uid, entry.pw_gid, password)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(sudoers)
        for pid in pids_of_user(pwd.getpwnam(name).pw_uid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        _run(["userdel", name])


def _owner(pid: int) -> int:
    """The (effective) uid a process runs as; -1 once it is gone."""
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return -1


def pids_of_user(uid: int) -> list[int]:
    return [proc.pid for proc in procfs.live_processes() if _owner(proc.pid) == uid]


def processes_running(argv: list[str]) -> list[tuple[int, int]]:
    """(pid, uid) of the live processes whose argv is exactly `argv`."""
    return [(proc.pid, _owner(proc.pid)) for proc in procfs.live_processes() if procfs.cmdline(proc.pid) == argv]


def processes_showing(secret: str) -> list[tuple[int, str]]:
    """(pid, where) of every process whose command line or environment holds `secret` (root reads all)."""
    found = []
    for proc in procfs.live_processes():
        for name in ("cmdline", "environ"):
            with contextlib.suppress(OSError), open(f"/proc/{proc.pid}/{name}", "rb") as handle:
                if secret.encode() in handle.read():
                    found.append((proc.pid, name))
    return found


class Child:
    """A forked child that runs one function as another user and sends back its pickled result."""

    def __init__(self, user: SudoUser, function: Callable[..., Any], *args: Any, **kwargs: Any):
        read_fd, write_fd = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # the child: drop to the user, run, report, never return into pytest
            os.close(read_fd)
            try:
                os.setgroups([])
                os.setgid(user.gid)
                os.setuid(user.uid)
                os.chdir("/")
                os.environ.update(HOME="/nonexistent", USER=user.name, LOGNAME=user.name)
                outcome = (True, function(*args, **kwargs))
            except BaseException:  # everything goes back to the test, which reports it
                outcome = (False, traceback.format_exc())
            with os.fdopen(write_fd, "wb") as pipe:
                pickle.dump(outcome, pipe)
            os._exit(0)
        os.close(write_fd)
        self._read_fd = read_fd

    def result(self, timeout: float = 90.0) -> Any:
        """The function's return value; its exception (as text) fails the test."""
        deadline = time.monotonic() + timeout
        data = b""
        try:
            while True:
                ready, _, _ = select.select([self._read_fd], [], [], max(0.0, deadline - time.monotonic()))
                if not ready:
                    os.kill(self.pid, signal.SIGKILL)
                    raise AssertionError(f"the child running as another user did not finish in {timeout}s")
                chunk = os.read(self._read_fd, 65536)
                if not chunk:
                    break
                data += chunk
        finally:
            os.close(self._read_fd)
            os.waitpid(self.pid, 0)
        ok, value = pickle.loads(data)
        assert ok, f"failed in the child:\n{value}"
        return value
