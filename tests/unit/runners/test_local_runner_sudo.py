"""local-shell-cmd with sudo, run as an unprivileged user whose sudo asks for a password.

As root (how the tests run) sudo asks for nothing and the runner may signal anything, so these run
the runner in a forked child that has become a throwaway user: sudo_password must get it root, stay
out of every process's command line and environment and out of the output, and a timeout or a
cancel must kill the root processes too, which that user cannot signal itself.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from typing import Iterator, Optional

import pytest
from local_runner.local_shell_command_runner import LocalShellCommandRunner
from runner_helpers import make_ctx, run_in_thread, runner_params

from tests.support.unix_user import (
    Child,
    SudoUser,
    Unavailable,
    processes_running,
    processes_showing,
    sudo_user,
)

CI = os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


@pytest.fixture(scope="module")
def user() -> Iterator[SudoUser]:
    try:
        with sudo_user() as made:
            yield made
    except Unavailable as exc:
        if CI:
            pytest.fail(f"required under CI=true: {exc}", pytrace=False)
        pytest.skip(str(exc))


def run_as_user(cmd: str, cancel_when: Optional[list[str]] = None, **parameters) -> tuple:
    """Run `cmd` through the runner (in the child); with cancel_when, cancel once that argv runs.

    Returns the outcome and everything the runner emitted while it ran."""
    ctx = make_ctx(runner_parameters=runner_params(LocalShellCommandRunner, cmd=cmd, **parameters))
    thread, box = run_in_thread(LocalShellCommandRunner(), ctx)
    if cancel_when:
        deadline = time.monotonic() + 30
        while not processes_running(cancel_when) and time.monotonic() < deadline:
            time.sleep(0.05)
        ctx.cancel.set()
    thread.join(90)
    return box["result"], ctx.emit.text("stdout") + ctx.emit.text("stderr")


def unique_sleep(seconds: int = 60) -> list[str]:
    """argv of a sleep nobody else runs (GNU sleep takes fractions)."""
    return ["sleep", f"{seconds}.{uuid.uuid4().int % 10**6:06d}"]


def wait_for_root(argv: list[str], child: Child, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not processes_running(argv):
        if time.monotonic() > deadline:
            child.result(10)  # shows what the runner did instead
            raise AssertionError(f"{argv} never started")
        time.sleep(0.05)
    assert {uid for _pid, uid in processes_running(argv)} == {0}, "the command does not run as root"


@contextlib.contextmanager
def nothing_left(argv: list[str]) -> Iterator[None]:
    """Assert no process runs `argv` once the block is done (a short grace for the last SIGKILL);
    whatever is left is killed, so a failure leaves no root sleep behind."""
    try:
        yield
        deadline = time.monotonic() + 5
        while processes_running(argv) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = processes_running(argv)
        assert not left, f"still running after the runner ended (pid, uid): {left}"
    finally:
        for pid, _uid in processes_running(argv):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_sudo_password_runs_as_root_and_shows_nowhere(user: SudoUser):
    sleep = unique_sleep(3)
    child = Child(user, run_as_user, f"id -u; whoami >&2; {' '.join(sleep)}", sudo=True,
                  sudo_password=user.password)
    wait_for_root(sleep, child)
    assert processes_showing(user.password) == [], "the sudo password is readable in /proc"
    outcome, emitted = child.result()
    assert outcome.status == "succeeded", outcome
    assert outcome.result["stdout"] == 0 and outcome.result["stderr"] == "root"  # stdout "0" decodes as JSON
    assert user.password not in repr(outcome.result) + emitted


def test_wrong_sudo_password_fails_clearly(user: SudoUser):
    outcome, emitted = Child(user, run_as_user, "id -u", sudo=True, sudo_password="not-the-password").result()
    assert outcome.status == "failed", outcome
    assert outcome.result["return_code"] == -1
    assert outcome.result["error"] == (
        f"Invalid sudo password provided or sudo is not configured for this user ({user.name})")
    assert outcome.result["stdout"] == "", "the command ran although the password was wrong"
    assert "not-the-password" not in repr(outcome.result) + emitted


def test_sudo_without_password_fails_clearly(user: SudoUser):
    outcome, _ = Child(user, run_as_user, "id -u", sudo=True).result()
    assert outcome.status == "failed", outcome
    assert outcome.result["stdout"] == ""
    assert "password is required" in outcome.result["stderr"], outcome.result


def test_timeout_kills_the_root_process(user: SudoUser):
    sleep = unique_sleep()
    with nothing_left(sleep):
        started = time.monotonic()
        child = Child(user, run_as_user, " ".join(sleep), sudo=True, sudo_password=user.password, timeout=3)
        wait_for_root(sleep, child)
        outcome, _ = child.result()
    assert outcome.status == "timeout", outcome
    assert outcome.result["return_code"] == -9
    assert time.monotonic() - started < 20


def test_cancel_kills_the_root_process(user: SudoUser):
    sleep = unique_sleep()
    with nothing_left(sleep):
        child = Child(user, run_as_user, " ".join(sleep), cancel_when=sleep, sudo=True,
                      sudo_password=user.password, timeout=120)
        wait_for_root(sleep, child)
        outcome, _ = child.result()
    assert outcome.status == "canceled", outcome
