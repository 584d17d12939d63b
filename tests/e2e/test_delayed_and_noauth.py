"""Delayed executions (POST /v1/executions with `delay` in ms) and an appliance with `[auth] enable = false`.

A delayed execution is `delayed` until its delay has passed, then runs, never before; canceled
while delayed, it never runs. Without authentication StackStorm answers every request without a
token, and records the requester as the `[system_user] user` (st2api falls back to
UserDB(cfg.CONF.system_user.user) when no user authenticated).
"""

from __future__ import annotations

import configparser
import time
import uuid

import pytest
from e2e_harness import Appliance, parse_json_output

pytestmark = pytest.mark.e2e

DELAY_MS = 3000


# -- delayed executions ----------------------------------------------------------------------------
def test_delayed_execution_runs_after_its_delay_not_before(appliance: Appliance):
    posted = time.time()
    resp = appliance.api("POST", "executions",
                         json={"action": "core.local", "parameters": {"cmd": "date +%s.%N"}, "delay": DELAY_MS})
    assert resp.status_code == 201, resp.text
    execution = resp.json()
    assert execution["status"] in ("requested", "delayed")
    assert execution["delay"] == DELAY_MS
    appliance.wait_status(execution["id"], ("delayed",), timeout=DELAY_MS / 1000 / 2)
    time.sleep(max(0.0, posted + DELAY_MS / 1000 - 0.5 - time.time()))  # until just before the delay ends
    assert appliance.execution(execution["id"])["status"] == "delayed", "it ran before its delay had passed"

    done = appliance.wait_status(execution["id"], timeout=DELAY_MS / 1000 + 20)
    assert done["status"] == "succeeded", done
    ran_at = float(done["result"]["stdout"])
    assert ran_at >= posted + DELAY_MS / 1000, f"ran {ran_at - posted:.2f}s after the request"
    assert ran_at < posted + DELAY_MS / 1000 + 15, "ran long after its delay"
    statuses = [entry["status"] for entry in done["log"]]
    assert statuses.index("delayed") < statuses.index("running") < statuses.index("succeeded"), statuses


def test_cancel_while_delayed_never_runs(appliance: Appliance, tmp_path):
    marker = tmp_path / f"ran-{uuid.uuid4().hex}"
    resp = appliance.api("POST", "executions",
                         json={"action": "core.local", "parameters": {"cmd": f"touch {marker}"}, "delay": DELAY_MS})
    assert resp.status_code == 201, resp.text
    execution_id = resp.json()["id"]
    appliance.wait_status(execution_id, ("delayed",), timeout=DELAY_MS / 1000 / 2)

    canceled = appliance.st2("execution", "cancel", execution_id)
    assert canceled.returncode == 0, canceled.stdout + canceled.stderr
    assert appliance.execution(execution_id)["status"] == "canceled"

    time.sleep(DELAY_MS / 1000 + 3)  # past the delay, when the scheduler wakes up for it
    execution = appliance.execution(execution_id)
    assert execution["status"] == "canceled", execution
    assert "running" not in [entry["status"] for entry in execution["log"]]
    assert not marker.exists(), "the canceled execution ran"


# -- [auth] enable = false ---------------------------------------------------------------------------
def restart_with(app: Appliance, sections: dict) -> None:
    """Stop `app`, add `sections` to the st2.conf write_st2_conf gave it, and start it again."""
    app.stop()
    config = configparser.ConfigParser(interpolation=None)
    config.read(app.config_path)
    for name, values in sections.items():
        if not config.has_section(name):
            config.add_section(name)
        config[name].update(values)
    with open(app.config_path, "w", encoding="utf-8") as handle:
        config.write(handle)
    app.start()


def test_without_auth_no_token_is_needed_and_the_system_user_is_recorded(fresh_appliance, tmp_path):
    system_user = "st2svc"  # not StackStorm's default (stanley), so the setting is seen to be read
    app = fresh_appliance("noauth")
    restart_with(app, {"auth": {"enable": "false"}, "system_user": {"user": system_user}})

    listed = app.api("GET", "actions", token=None, params={"pack": "core"})
    assert listed.status_code == 200, listed.text
    assert "core.local" in [action["ref"] for action in listed.json()]
    posted = app.api("POST", "executions", token=None, json={"action": "core.noop"})
    assert posted.status_code == 201, posted.text
    assert posted.json()["context"]["user"] == system_user

    assert app.wait_status(posted.json()["id"])["status"] == "succeeded"

    # The CLI of a user who never logged in: no ~/.st2/config, no token, only the URLs.
    home = str(tmp_path)
    urls = {"ST2_AUTH_URL": app.auth_url, "ST2_API_URL": app.api_url, "ST2_STREAM_URL": app.stream_url}
    actions = app.st2("action", "list", "--pack", "core", "-j", home=home, env=urls)
    assert actions.returncode == 0, actions.stdout + actions.stderr
    assert "core.local" in [action["ref"] for action in parse_json_output(actions.stdout)]
    run = app.st2("run", "core.local", "cmd=echo no login", "-j", home=home, env=urls)
    assert run.returncode == 0, run.stdout + run.stderr
    execution = parse_json_output(run.stdout)
    assert execution["result"]["stdout"] == "no login"
    assert execution["context"]["user"] == system_user
    shown = app.st2("execution", "get", execution["id"], home=home, env=urls)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert f"context.user: {system_user}" in shown.stdout
