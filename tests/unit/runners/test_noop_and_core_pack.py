"""The noop runner, and the core pack registering and running against the installed runners."""

from __future__ import annotations

import pytest
from noop_runner.noop_runner import NoopRunner
from runner_helpers import CORE, TESTPACK, make_ctx

from appliance import runners as runner_plugins
from appliance.content import Registrar
from appliance.parameters import render
from appliance.store.sqlite import SQLiteStore

RUNNERS = ["http-request", "local-shell-cmd", "local-shell-script", "noop", "python-script"]


def test_noop():
    outcome = NoopRunner().run(make_ctx())
    assert outcome.status == "succeeded"
    assert outcome.result == {"failed": False, "succeeded": True, "return_code": 0}


def test_entry_points_are_installed():
    assert set(RUNNERS) <= set(runner_plugins.available())
    for name in RUNNERS:
        assert runner_plugins.load(name).RUNNER_TYPE["name"] == name


@pytest.fixture
def registrar(tmp_path):
    store = SQLiteStore(str(tmp_path / "st2.db"))
    yield Registrar(store, [str(tmp_path / "none"), CORE.rsplit("/", 1)[0], TESTPACK.rsplit("/", 1)[0]])
    store.close()


def test_core_and_test_packs_register(registrar):
    counts = registrar.register(["core", "testpack"])
    assert counts["packs"] == 2 and counts["runners"] >= len(RUNNERS)
    refs = {doc["ref"] for doc in registrar.actions.find({})}
    assert {"core.local", "core.local_sudo", "core.echo", "core.noop", "core.http", "core.pause"} <= refs


def test_core_echo_renders_and_runs(registrar):
    registrar.register(["core"])
    action = registrar.actions.find_one({"ref": "core.echo"})
    runner_type = registrar.runner_types.find_one({"name": "local-shell-cmd"})
    runner_values, action_values = render(runner_type, action, {"message": "hi there"}, {"user": "st2admin"})
    ctx = make_ctx(action, runner_parameters=runner_values, action_parameters=action_values, pack_dir=CORE)
    runner = runner_plugins.load("local-shell-cmd")()
    outcome = runner.run(ctx)
    assert outcome.status == "succeeded" and outcome.result["stdout"] == "hi there"
