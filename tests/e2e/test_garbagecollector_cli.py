"""st2garbagecollector in a running appliance, on both wirings, seen with the real st2 CLI: with
`action_executions_ttl = 1` and a collection every second, an execution run with `st2 run` whose timestamps are
set two days back disappears from `st2 execution list` (and `st2 execution get`, and its output with it), while a
recent one and a running one as old stay.

Each wiring gets an appliance of its own: the shared one collects every 600 s with no execution TTL.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Iterator

import pytest
from e2e_harness import Appliance, ok, refused, running_appliance, unique_sleep, wait_until

from appliance import config
from appliance.models import EXECUTION_OUTPUT, EXECUTIONS, format_time
from appliance.services.context import Context

pytestmark = pytest.mark.e2e

GARBAGECOLLECTOR = "\n[garbagecollector]\ncollection_interval = 1\nsleep_delay = 0\naction_executions_ttl = 1\n"


@pytest.fixture(params=[pytest.param("embedded", id="embedded"),
                        pytest.param("rabbitmq", id="rabbitmq", marks=pytest.mark.rabbitmq)])
def collected(request) -> Iterator[Appliance]:
    """A fresh appliance whose garbage collector purges executions older than a day, every second."""
    url = request.getfixturevalue("rabbitmq").new_vhost() if request.param == "rabbitmq" else ""
    with running_appliance(f"gc-{request.param}", url, GARBAGECOLLECTOR) as app:
        yield app


def listed(app: Appliance) -> set[str]:
    done, executions = app.st2_json("execution", "list", "-n", "100")
    ok(done)
    return {execution["id"] for execution in executions}


def test_an_old_completed_execution_leaves_the_cli_and_running_ones_stay(collected: Appliance):
    app, tag = collected, uuid.uuid4().hex[:8]
    old, recent = (app.wait_status(execution_id) for execution_id in
                   [app.st2_async("core.local", f"cmd=echo gc-{tag}-{n}") for n in range(2)])
    assert (old["status"], recent["status"]) == ("succeeded", "succeeded"), (old, recent)
    running = app.st2_async("core.local", f"cmd={' '.join(unique_sleep())}")
    app.wait_status(running, ("running",))
    assert {old["id"], recent["id"], running} <= listed(app)

    ctx = Context(config.load(app.config_path))
    try:
        outputs = ctx.store.collection(EXECUTION_OUTPUT)
        assert outputs.count({"execution_id": old["id"]}) > 0  # `echo` streamed its line
        two_days_ago = format_time(datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=2))
        executions = ctx.store.collection(EXECUTIONS)
        executions.update(old["id"], set_fields={"start_timestamp": two_days_ago, "end_timestamp": two_days_ago})
        executions.update(running, set_fields={"start_timestamp": two_days_ago})

        gone = wait_until(lambda: old["id"] not in listed(app), timeout=15, interval=0.5)
        assert gone, f"{old['id']} still listed" + app.log_tail()
        assert outputs.count({"execution_id": old["id"]}) == 0
    finally:
        ctx.close()
    assert {recent["id"], running} <= listed(app)
    assert old["id"] in refused(app.st2("execution", "get", old["id"]))
    assert app.api("GET", f"executions/{old['id']}/output").status_code == 404
    assert app.execution(running)["status"] == "running"  # not completed: never purged, however old
    ok(app.st2("execution", "cancel", running))
    app.wait_status(running, ("canceled",))
