"""A killed workflow engine over RabbitMQ (processes mode): kill -9 of the st2workflowengine child while a
with-items workflow runs; the supervisor restarts it and the workflow goes on to succeed, every item run
exactly once and none lost.

The test has its own appliance (it kills part of it) on a vhost of its own.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

import pytest
from e2e_harness import Appliance, children_running, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.rabbitmq]

ENGINE_MODULE = "appliance.services.workflowengine"
COUNT = 30


def test_rabbitmq_workflowengine_killed_mid_run_loses_and_repeats_no_task(rabbitmq, fresh_appliance):
    app: Appliance = fresh_appliance("rabbitmq-workflow-kill9", rabbitmq.new_vhost())
    app.add_fixture_pack("wftest")
    supervisor = app.supervisor_pid()
    engines = children_running(supervisor, ENGINE_MODULE)
    assert len(engines) == 1, f"expected one {ENGINE_MODULE} child of {supervisor}, found {engines}"

    execution_id = app.st2_async("wftest.many", f"count={COUNT}")

    def children() -> list[dict]:
        resp = app.api("GET", f"executions/{execution_id}/children")
        assert resp.status_code == 200, resp.text
        return resp.json()

    assert wait_until(lambda: len(children()) >= 6, timeout=60), "the workflow did not get going" + app.log_tail()
    os.kill(engines[0], signal.SIGKILL)
    assert wait_until(lambda: children_running(supervisor, ENGINE_MODULE) not in ([], engines), timeout=60)

    done = app.wait_status(execution_id, timeout=180)
    assert done["status"] == "succeeded", done
    assert done["result"]["output"]["seen"] == list(range(COUNT))
    items = Counter(child["context"]["orquesta"].get("item_id") for child in children()
                    if child["context"]["orquesta"]["task_name"] == "each")
    assert items == Counter(range(COUNT)), "an item ran twice or never"
    assert [child["context"]["orquesta"]["task_name"] for child in children()].count("last") == 1
    assert all(child["status"] == "succeeded" for child in children())
