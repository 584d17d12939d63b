"""What st2actionrunner's sweep does after a runner process died (kill -9, OOM, power loss)."""

from __future__ import annotations

import subprocess
import time

import pytest

from appliance import config, models
from appliance.procfs import process_start_time, runner_identity
from appliance.services.actionrunner import ActionRunnerService
from appliance.services.context import Context

ACTION = {"ref": "core.local", "pack": "core", "name": "local", "runner_type": "local-shell-cmd",
          "parameters": {}}
RUNNER = {"name": "local-shell-cmd", "runner_parameters": {}}


@pytest.fixture
def ctx(tmp_path):
    conf = tmp_path / "st2.conf"
    conf.write_text(f"[system]\nbase_path = {tmp_path}\n[messaging]\nprefix = r{tmp_path.name[-6:]}\n")
    context = Context(config.load(str(conf)))
    yield context
    context.close()


def _dead_runner() -> dict:
    """runner_info of a process that has exited."""
    proc = subprocess.Popen(["true"])
    info = {**runner_identity(), "pid": proc.pid, "pid_start": process_start_time(proc.pid)}
    proc.wait()
    return info


def test_running_execution_of_dead_runner_is_abandoned_and_its_action_killed(ctx):
    orphan = subprocess.Popen(["sleep", "60"], start_new_session=True)
    info = {**_dead_runner(), "process_group": orphan.pid, "process_group_start": process_start_time(orphan.pid)}
    doc = ctx.executions.create(ACTION, RUNNER, {"cmd": "sleep 60"}, {"user": "u"}, status=models.RUNNING)
    ctx.executions.coll.update(doc["id"], set_fields={"liveaction.runner_info": info})

    ActionRunnerService(ctx).sweep()

    after = ctx.executions.get(doc["id"])
    assert after["status"] == models.ABANDONED
    assert "died" in after["result"]["error"]
    deadline = time.time() + 5
    while orphan.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert orphan.returncode == -9


def test_live_runner_and_other_hosts_are_left_alone(ctx):
    mine = ctx.executions.create(ACTION, RUNNER, {}, {}, status=models.RUNNING)
    ctx.executions.coll.update(mine["id"], set_fields={"liveaction.runner_info": runner_identity()})
    remote = ctx.executions.create(ACTION, RUNNER, {}, {}, status=models.RUNNING)
    ctx.executions.coll.update(remote["id"], set_fields={"liveaction.runner_info": {**_dead_runner(),
                                                                                   "hostname": "elsewhere"}})
    ActionRunnerService(ctx).sweep()
    assert ctx.executions.get(mine["id"])["status"] == models.RUNNING
    assert ctx.executions.get(remote["id"])["status"] == models.RUNNING


def test_canceling_execution_of_dead_runner_ends_canceled(ctx):
    doc = ctx.executions.create(ACTION, RUNNER, {}, {}, status=models.CANCELING)
    ctx.executions.coll.update(doc["id"], set_fields={"liveaction.runner_info": _dead_runner()})
    ActionRunnerService(ctx).sweep()
    assert ctx.executions.get(doc["id"])["status"] == models.CANCELED
