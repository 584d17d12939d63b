"""st2ctl against real appliances: status, restart, reload and its StackStorm flags, private files,
and the process model ([supervisor] mode): stop ends every process it started.

A process belongs to an appliance when its argv holds the appliance's config path (unique per temp
dir): the supervisor and, in processes mode, one child per service.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import stat
import subprocess
import sys
from typing import Iterator

import pytest
from e2e_harness import KEEP, Appliance, processes, wait_until

from appliance.supervisor import SERVICES

pytestmark = pytest.mark.e2e


def appliance_pids(app: Appliance) -> list[int]:
    return [pid for pid, _ppid, argv in processes() if app.config_path in argv]


def reload(app: Appliance, *flags: str) -> subprocess.CompletedProcess:
    """`st2ctl reload <flags>` (the harness's st2ctl() takes a bare command)."""
    return subprocess.run(
        [sys.executable, "-m", "appliance.st2ctl", "reload", *flags, "--config-file", app.config_path],
        env=app.env(), capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=90, check=False,
    )


def registered(done: subprocess.CompletedProcess) -> dict[str, int]:
    """{"runners": 9, ...} from the "Registered N <kind>." lines st2ctl reload prints."""
    return {kind: int(count) for count, kind in re.findall(r"^Registered (\d+) (\w+)\.$", done.stdout, re.M)}


def mode(path: str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def finish(app: Appliance) -> None:
    app.stop()
    if not KEEP:
        app.cleanup()


@pytest.fixture(scope="module")
def embedded() -> Iterator[Appliance]:
    """One embedded appliance for this module, started under the common umask 022, with the shipped
    packs only (reload fails on any invalid pack: the test pack is other tests' business)."""
    app = Appliance("st2ctl")
    shutil.rmtree(os.path.join(app.packs, "testpack"))
    previous = os.umask(0o022)
    try:
        app.start()
        os.umask(previous)  # only st2ctl start ran under 022; the finally covers a failed start
        yield app
    finally:
        os.umask(previous)
        finish(app)


# -- embedded: status, restart, files --------------------------------------------------------------
def test_status_exits_0_while_running_and_3_once_stopped(embedded):
    done = embedded.st2ctl("status")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"st2 supervisor: running, pid {embedded.supervisor_pid()}" in done.stdout
    for name in ("st2auth", "st2api", "st2stream"):
        assert f"{name}: answering on http://127.0.0.1:" in done.stdout

    assert embedded.st2ctl("stop").stdout == "st2 stopped.\n"
    done = embedded.st2ctl("status")
    assert done.returncode == 3, done.stdout + done.stderr
    assert "st2 supervisor: not running" in done.stdout and "st2api: not answering" in done.stdout
    assert embedded.st2ctl("stop").stdout == "st2 is not running.\n"

    embedded.start()
    assert embedded.st2ctl("status").returncode == 0


def test_restart_replaces_the_supervisor_and_keeps_the_installation(embedded):
    before = embedded.supervisor_pid()
    done = embedded.st2ctl("restart")
    assert done.returncode == 0, done.stdout + done.stderr + embedded.log_tail()
    assert "st2 stopped." in done.stdout and "st2 started" in done.stdout
    assert "Created user" not in done.stdout  # same database, same admin
    after = embedded.supervisor_pid()
    assert after and after != before
    assert not wait_until(lambda: before in appliance_pids(embedded), 1), "the old supervisor still runs"
    assert appliance_pids(embedded) == [after], "threads mode: one process"
    assert embedded.api("GET", "actions", params={"limit": 1}).status_code == 200  # old token still valid


def test_data_directory_and_log_are_private(embedded):
    assert mode(embedded.data) == 0o700
    assert mode(os.path.dirname(embedded.log_path)) == 0o700
    assert mode(embedded.log_path) == 0o600


# -- embedded: reload ------------------------------------------------------------------------------
@pytest.mark.parametrize("flags", [(), ("--register-all",)], ids=["no-flag", "register-all"])
def test_reload_registers_everything_by_default(embedded, flags):
    done = reload(embedded, *flags)
    assert done.returncode == 0, done.stdout + done.stderr
    counts = registered(done)
    assert list(counts) == ["runners", "packs", "actions", "configs"], done.stdout
    assert counts["runners"] > 0 and counts["packs"] >= 2 and counts["actions"] > 0


@pytest.mark.parametrize(("flags", "kinds"), [
    (("--register-runners",), ["runners"]),
    (("--register-actions",), ["runners", "packs", "actions"]),  # actions need their runners
    (("--register-configs",), ["packs", "configs"]),
    (("--register-runners", "--register-configs"), ["runners", "packs", "configs"]),
])
def test_reload_registers_what_its_flags_name(embedded, flags, kinds):
    done = reload(embedded, *flags)
    assert done.returncode == 0, done.stdout + done.stderr
    assert list(registered(done)) == kinds, done.stdout


def test_reload_refuses_an_unknown_flag(embedded):
    done = reload(embedded, "--register-everything")
    assert done.returncode == 2
    assert "unrecognized arguments: --register-everything" in done.stderr


def test_reload_fails_on_a_broken_pack_unless_told_not_to(embedded):
    broken = os.path.join(embedded.packs, "broken")
    os.makedirs(broken)
    with open(os.path.join(broken, "pack.yaml"), "w", encoding="utf-8") as handle:
        handle.write("name: [unclosed\n")
    try:
        for flags in ((), ("--register-fail-on-failure",)):
            done = reload(embedded, *flags)
            assert done.returncode == 1, done.stdout + done.stderr
            assert done.stderr.startswith("error: ") and "broken/pack.yaml" in done.stderr
        done = reload(embedded, "--register-actions", "--register-no-fail-on-failure")
        assert done.returncode == 0, done.stdout + done.stderr
        assert registered(done)["packs"] >= 2
    finally:
        os.remove(os.path.join(broken, "pack.yaml"))
        os.rmdir(broken)


# -- the process model -----------------------------------------------------------------------------
def test_processes_mode_with_the_in_memory_bus_is_refused():
    app = Appliance("refused", mode="processes")
    try:
        done = app.st2ctl("start")
        assert done.returncode == 1
        assert done.stdout == ""
        assert done.stderr.count("\n") == 1 and "the in-memory bus cannot cross processes" in done.stderr
        assert not appliance_pids(app) and app.supervisor_pid() is None
    finally:
        finish(app)


@pytest.mark.rabbitmq
def test_stop_in_processes_mode_ends_every_process(rabbitmq):
    app = Appliance("processes-stop", rabbitmq.new_vhost())
    try:
        app.start()
        supervisor = app.supervisor_pid()
        children = [pid for pid, ppid, argv in processes() if ppid == supervisor and app.config_path in argv]
        assert len(children) == len(SERVICES), f"one child per service expected, found {children}"

        done = app.st2ctl("stop")
        assert done.returncode == 0 and done.stdout == "st2 stopped.\n", done.stdout + done.stderr
        assert appliance_pids(app) == [], "st2ctl stop left processes of the appliance running"
        assert app.st2ctl("status").returncode == 3
    finally:
        finish(app)


@pytest.mark.rabbitmq
def test_stop_of_a_hung_supervisor_still_ends_its_children(rabbitmq):
    """A supervisor that does not answer SIGTERM is SIGKILLed after st2ctl's 30 s: its children
    must not outlive it."""
    app = Appliance("processes-hung", rabbitmq.new_vhost())
    try:
        app.start()
        os.kill(app.supervisor_pid(), signal.SIGSTOP)
        done = app.st2ctl("stop")
        assert done.returncode == 0 and done.stdout == "st2 stopped.\n", done.stdout + done.stderr
        assert appliance_pids(app) == [], "st2ctl stop left processes of the appliance running"
    finally:
        finish(app)


@pytest.mark.rabbitmq
def test_children_die_with_a_killed_supervisor(rabbitmq):
    app = Appliance("processes-kill9", rabbitmq.new_vhost())
    try:
        app.start()
        supervisor = app.supervisor_pid()
        assert len(appliance_pids(app)) == len(SERVICES) + 1  # and the supervisor
        os.kill(supervisor, signal.SIGKILL)
        assert wait_until(lambda: not appliance_pids(app), 15), f"left behind: {appliance_pids(app)}"
    finally:
        finish(app)


@pytest.mark.rabbitmq
def test_threads_mode_runs_every_service_in_one_process_over_rabbitmq(rabbitmq):
    app = Appliance("threads-rabbitmq", rabbitmq.new_vhost(), mode="threads")
    try:
        app.start()
        assert appliance_pids(app) == [app.supervisor_pid()]
        execution = app.wait_status(app.post_execution("core.noop")["id"])
        assert execution["status"] == "succeeded", execution
        assert app.st2ctl("stop").returncode == 0
        assert appliance_pids(app) == []
    finally:
        finish(app)
