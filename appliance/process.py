"""The one way runners start and supervise action processes.

Every action process starts in a session of its own, so a timeout or a cancel can kill the whole
process group (the shell, what it forked, what those forked) and not leave orphans behind. Output
is read line by line by two threads and handed to a callback as it arrives, so `st2 execution
tail` sees it live. Parameters never go on a command line, where any local user could read them
in /proc/<pid>/cmdline: they go through stdin or a private file (see `private_file`).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import IO, Callable, Iterator, NamedTuple, Optional, Sequence

from appliance import procfs

LOG = logging.getLogger(__name__)

KILL_GRACE_SECONDS = 2.0  # between SIGTERM and SIGKILL
POLL_SECONDS = 0.05
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
LineSink = Callable[[str, str], None]  # ("stdout" | "stderr", line including its newline)


class ProcessResult(NamedTuple):
    """How a process ended. return_code is negative when a signal killed it (Popen's rule)."""

    return_code: int
    stdout: str
    stderr: str
    timed_out: bool
    canceled: bool


def run(
    argv: Sequence[str],
    *,
    env: Optional[dict[str, str]] = None,
    cwd: Optional[str] = None,
    stdin_data: Optional[str] = None,
    timeout: Optional[float] = None,
    cancel: Optional[threading.Event] = None,
    on_line: Optional[LineSink] = None,
    grace: float = KILL_GRACE_SECONDS,
    sudo: bool = False,
    sudo_password: Optional[str] = None,
    on_start: Optional[Callable[[int], None]] = None,
    leader_first: bool = False,
) -> ProcessResult:
    """Run argv to completion, streaming its output, killing its process group on timeout/cancel.

    sudo=True says argv runs through sudo: its group then holds root processes that only sudo
    itself can signal (sudo relays a signal to its direct child only, not to grandchildren).
    on_start receives the new process group's id, so a supervisor that outlives a crash of this
    process can still find and end the group. leader_first=True sends the first SIGTERM to the
    leader alone and gives it `grace` seconds to end its group itself (a leader that reports on
    its children, like the clush engine, must learn of the stop before they die).
    Raises OSError when the process cannot start (missing program or working directory), so the
    caller can turn it into a clear failed result.
    """
    proc = subprocess.Popen(
        list(argv),
        stdin=subprocess.PIPE if stdin_data is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=cwd or None,
        start_new_session=True,
        close_fds=True,
    )
    if on_start is not None:
        on_start(proc.pid)
    out: list[str] = []
    err: list[str] = []
    sink = _Serialized(on_line) if on_line is not None else None
    threads = [
        threading.Thread(target=_pump, args=(proc.stdout, "stdout", out, sink), daemon=True),
        threading.Thread(target=_pump, args=(proc.stderr, "stderr", err, sink), daemon=True),
    ]
    if stdin_data is not None:
        threads.append(threading.Thread(target=_feed, args=(proc.stdin, stdin_data), daemon=True))
    for thread in threads:
        thread.start()
    readers = threads[:2]

    deadline = None if timeout is None else time.monotonic() + max(float(timeout), 0.0)
    timed_out = canceled = False
    while True:
        if cancel is not None and cancel.is_set():
            canceled = True
        elif deadline is not None and time.monotonic() >= deadline:
            timed_out = True
        if canceled or timed_out:
            if leader_first:
                _stop_leader(proc, grace)
            kill_group(proc, grace, sudo, sudo_password)
            break
        # Block on what ends first (a reader reaching EOF, the process exiting), never on a fixed
        # sleep: a short action must not pay a polling period.
        pending = [t for t in readers if t.is_alive()]
        if pending:
            pending[0].join(POLL_SECONDS)
        elif proc.poll() is None:
            try:
                proc.wait(POLL_SECONDS)
            except subprocess.TimeoutExpired:
                pass
        else:
            break

    for thread in readers:  # EOF comes once every writer is gone; a setsid() escapee may keep it open
        thread.join(grace if (timed_out or canceled) else None)
    code = proc.poll()
    if code is None:  # cannot happen short of an unkillable (D state) leader
        code = -signal.SIGKILL
    return ProcessResult(code, "".join(out), "".join(err), timed_out, canceled)


class _Serialized:
    """Hands lines to the sink one at a time (two reader threads call it) and survives its errors."""

    def __init__(self, sink: LineSink) -> None:
        self._sink = sink
        self._lock = threading.Lock()
        self._failed = False

    def __call__(self, kind: str, line: str) -> None:
        with self._lock:
            try:
                self._sink(kind, line)
            except Exception:  # a broken sink must not stop the reading, or the child blocks
                if not self._failed:
                    LOG.exception("output callback failed; later failures are not logged")
                self._failed = True


def _pump(stream: IO[bytes], kind: str, chunks: list[str], sink: Optional[LineSink]) -> None:
    """Read one pipe to EOF; each line is kept and handed to the sink as soon as it is read."""
    with stream:
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace")
            chunks.append(line)
            if sink is not None:
                sink(kind, line)


def _feed(stream: IO[bytes], data: str) -> None:
    """Write stdin from a thread: a child that does not read it must not block the supervisor."""
    try:
        with stream:
            stream.write(data.encode("utf-8"))
    except (BrokenPipeError, OSError):
        pass  # the child exited or closed its stdin: not our error to report


def _stop_leader(proc: subprocess.Popen, grace: float) -> None:
    with contextlib.suppress(OSError):
        proc.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(grace)


def kill_group(proc: subprocess.Popen, grace: float = KILL_GRACE_SECONDS, sudo: bool = False,
               sudo_password: Optional[str] = None) -> None:
    """SIGTERM the process group, then SIGKILL whatever is left after `grace` seconds."""
    pgid = proc.pid  # start_new_session: the leader's pid is the group id
    via_sudo = sudo and os.geteuid() != 0
    _signal_group(pgid, signal.SIGTERM, via_sudo, sudo_password)
    end = time.monotonic() + grace
    while time.monotonic() < end:
        proc.poll()
        if proc.returncode is not None and not _group_exists(pgid):
            return
        time.sleep(POLL_SECONDS)
    _signal_group(pgid, signal.SIGKILL, via_sudo, sudo_password)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        LOG.warning("process %s survived SIGKILL", proc.pid)


def _group_exists(pgid: int) -> bool:
    """Whether a live (non-zombie) process is left in the group.

    Zombies count for kill(0), and in a container whose PID 1 does not reap, the orphans of a
    killed shell stay zombies forever; /proc tells them apart, kill(0) is the fallback elsewhere.
    """
    try:
        return any(member.pgrp == pgid for member in procfs.live_processes())
    except OSError:
        pass
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # members run as another user (sudo): they exist
    return True


def _signal_group(pgid: int, sig: int, via_sudo: bool = False, sudo_password: Optional[str] = None) -> None:
    if via_sudo:  # root members: only root may signal them; our own kill still reaches sudo itself
        _sudo_kill(pgid, sig, sudo_password)
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _sudo_kill(pgid: int, sig: int, password: Optional[str]) -> None:
    """`sudo kill -SIG -- -pgid`, with the action's sudo password when it has one."""
    auth = ["-S", "-p", ""] if password else ["-n"]
    try:
        subprocess.run(
            ["sudo", *auth, "kill", f"-{signal.Signals(sig).name[3:]}", "--", f"-{pgid}"],
            input=(password + "\n").encode("utf-8") if password else b"",
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10, check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        LOG.warning("could not signal process group %s through sudo: %s", pgid, exc)


def sudo_command(command: str, password: Optional[str] = None) -> tuple[list[str], Optional[str]]:
    """argv and stdin for running a shell command as root the way StackStorm does.

    `sudo -E -- bash -c <command>` keeps the caller's environment (the ST2_ACTION_* variables);
    a password goes first on stdin for `sudo -S`, never on the command line, and the empty
    prompt (-p '') keeps "[sudo] password for ..." out of the action's stderr.
    """
    argv = ["sudo"] + (["-S", "-p", ""] if password else []) + ["-E", "--", "bash", "-c", command]
    return argv, (password + "\n" if password else None)


def source_command(path: str) -> str:
    """Shell text that runs the script in `path` in the current shell (POSIX `.`)."""
    return ". " + shlex.quote(path)


@contextlib.contextmanager
def private_file(content: str, prefix: str = "st2-action-", suffix: str = "") -> Iterator[str]:
    """A temporary file only its owner can read (0600), removed on exit.

    Used to hand a command or parameters to a child without putting them in its argv.
    """
    fd, path = tempfile.mkstemp(prefix=prefix, suffix=suffix)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def action_environment(
    st2_env: dict[str, str],
    user_env: Optional[dict] = None,
    debug: bool = False,
    base: Optional[dict[str, str]] = None,
) -> dict[str, str]:
    """The environment of an action process, merged in StackStorm's order.

    The runner's own environment, then the action's `env` parameter on top, then the
    ST2_ACTION_* variables, which `env` cannot override: actions rely on them being right.
    """
    env = dict(os.environ if base is None else base)
    st2_own = {key: value for key, value in st2_env.items() if key.startswith("ST2_ACTION_")}
    env.update({key: value for key, value in st2_env.items() if key not in st2_own})
    env.update({str(key): str(value) for key, value in (user_env or {}).items() if value is not None})
    env["ST2_ACTION_DEBUG"] = str(bool(debug))
    env.update(st2_own)
    return env


class Backoff:
    """How long a dead child waits before its restart: `first` seconds, doubled each time it dies
    again, up to `longest`; a child that had run `stable` seconds starts over at `first`."""

    def __init__(self, first: float = 1.0, longest: float = 60.0, stable: float = 60.0) -> None:
        self.first, self.longest, self.stable = first, longest, stable
        self._next = first

    def delay(self, ran: float) -> float:
        """The wait before restarting a child that died after running `ran` seconds."""
        if ran >= self.stable:
            self._next = self.first
        delay = self._next
        self._next = min(delay * 2, self.longest)
        return delay


def die_with_parent() -> Optional[Callable[[], None]]:
    """A preexec function that makes the child get SIGTERM when its parent dies (Linux), so a
    supervisor killed with SIGKILL does not leave its services behind; None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before fork, only called after
    parent = os.getpid()

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec
