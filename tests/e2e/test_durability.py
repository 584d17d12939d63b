"""Killed services: no execution is left `running` forever and queued work survives a dead runner.

Each test has its own appliance (it kills parts of it); RabbitMQ ones get their own vhost.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import requests
from e2e_harness import KEEP, Appliance, children_running, pid_alive, pids_running, unique_sleep, wait_until

pytestmark = pytest.mark.e2e

RUNNER_MODULE = "appliance.services.actionrunner"


def answers(url: str) -> bool:
    """Any HTTP answer (401 included) means the service listens."""
    try:
        requests.get(url, timeout=2)
    except requests.RequestException:
        return False
    return True


def start_running_sleep(app: Appliance) -> tuple[str, list[str]]:
    """A `sleep 30.<unique>` execution, once it runs and its process exists."""
    argv = unique_sleep(30)
    execution_id = app.st2_async("core.local", f"cmd={' '.join(argv)}")
    app.wait_status(execution_id, ("running",))
    assert wait_until(lambda: pids_running(argv), 10), f"{argv} did not start"
    return execution_id, argv


def assert_abandoned(app: Appliance, execution_id: str, argv: list[str], dead_pid: int) -> None:
    execution = app.wait_status(execution_id, timeout=20)
    assert execution["status"] == "abandoned", execution
    assert str(dead_pid) in execution["result"].get("error", ""), execution["result"]
    assert [entry["status"] for entry in execution["log"]][-2:] == ["running", "abandoned"], execution["log"]
    shown = app.st2("execution", "get", execution_id)
    assert "status: abandoned" in shown.stdout, shown.stdout + shown.stderr
    assert wait_until(lambda: not pids_running(argv), 10), f"the orphaned {argv} still runs"


def test_embedded_supervisor_killed(fresh_appliance):
    """kill -9 of the one embedded process, then `st2ctl start`: the running execution is abandoned."""
    app = fresh_appliance("embedded-kill9")
    execution_id, argv = start_running_sleep(app)
    pid = app.supervisor_pid()
    assert pid and pid_alive(pid)

    os.kill(pid, signal.SIGKILL)
    assert wait_until(lambda: not answers(f"{app.api_url}/"), 10), "the API outlived its process"
    assert pids_running(argv), "the action is expected to outlive the killed appliance until the restart"

    done = app.st2ctl("start")
    assert done.returncode == 0 and "st2 started" in done.stdout, done.stdout + done.stderr + app.log_tail()
    assert "Created user" not in done.stdout  # the same installation, the same admin password
    assert_abandoned(app, execution_id, argv, pid)

    after = app.wait_status(app.post_execution("core.noop")["id"])
    assert after["status"] == "succeeded", after


@pytest.mark.rabbitmq
def test_rabbitmq_actionrunner_killed(rabbitmq, fresh_appliance):
    """kill -9 of the st2actionrunner child: the supervisor restarts it and it abandons the execution."""
    app = fresh_appliance("rabbitmq-kill9", rabbitmq.new_vhost())
    supervisor = app.supervisor_pid()
    assert supervisor
    execution_id, argv = start_running_sleep(app)
    runners = children_running(supervisor, RUNNER_MODULE)
    assert len(runners) == 1, f"expected one {RUNNER_MODULE} child of {supervisor}, found {runners}"

    os.kill(runners[0], signal.SIGKILL)
    restarted = wait_until(lambda: [p for p in children_running(supervisor, RUNNER_MODULE) if p != runners[0]], 10)
    assert restarted, "the supervisor did not restart the action runner" + app.log_tail()
    assert_abandoned(app, execution_id, argv, runners[0])

    done, execution = app.st2_json("run", "core.local", "cmd=echo after-restart")
    assert execution["status"] == "succeeded" and execution["result"]["stdout"] == "after-restart", execution


@pytest.mark.rabbitmq
def test_rabbitmq_executions_wait_for_a_runner(rabbitmq):
    """Services run one by one (as systemd units would); with no action runner, executions stay
    queued; a runner that starts later runs all of them."""
    app = Appliance("rabbitmq-norunner", rabbitmq.new_vhost())
    logs = os.path.join(app.data, "logs")

    def spawn(service: str) -> subprocess.Popen:
        with open(os.path.join(logs, f"{service}.out"), "ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", f"appliance.services.{service}", "--config-file", app.config_path],
                env=app.env(), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        app.extra_procs.append(proc)
        return proc

    try:
        app.start()  # st2ctl provisions: admin user, ~/.st2/config, packs registered in the database
        done = app.st2ctl("stop")
        assert done.returncode == 0, done.stdout + done.stderr
        for service in ("auth", "api", "stream", "scheduler"):
            spawn(service)
        for url in (f"{app.auth_url}/tokens", f"{app.api_url}/", f"{app.stream_url}/stream"):
            assert wait_until(lambda url=url: answers(url), 30), f"{url} did not answer" + app.log_tail()

        runner = spawn("actionrunner")
        first = app.wait_status(app.post_execution("core.noop")["id"])
        assert first["status"] == "succeeded", first  # the runner consumes work
        runner.send_signal(signal.SIGKILL)
        runner.wait(10)

        ids = [app.st2_async("core.local", f"cmd=echo queued-{n}") for n in range(3)]
        for execution_id in ids:
            app.wait_status(execution_id, ("requested", "scheduled"), timeout=5)
        time.sleep(1.5)  # time enough for a (wrongly) surviving consumer to take them
        statuses = [app.execution(execution_id)["status"] for execution_id in ids]
        assert set(statuses) <= {"requested", "scheduled"}, statuses
        listed = app.st2("execution", "list", "-n", "3")
        assert listed.stdout.count("scheduled") + listed.stdout.count("requested") == 3, listed.stdout

        spawn("actionrunner")
        for n, execution_id in enumerate(ids):
            execution = app.wait_status(execution_id, timeout=30)
            assert execution["status"] == "succeeded", execution
            assert execution["result"]["stdout"] == f"queued-{n}"
    finally:
        app.stop()
        if not KEEP:
            app.cleanup()
