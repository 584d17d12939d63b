"""The milkcheck runner and pack.

MilkCheck is not on PyPI, so most tests replay output recorded from the real milkcheck 1.2.4
(tests/fixtures/milkcheck/recorded/*.json, made against tests/fixtures/milkcheck/conf) through a
stand-in program; the tests at the end run the real tool whenever it is installed (on PATH, or
named by APPLIANCE_TEST_MILKCHECK).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

import pytest
from milkcheck_runner import report
from milkcheck_runner.milkcheck_runner import MilkCheckRunner
from runner_helpers import CORE, make_ctx, process_alive, run_in_thread, runner_params

from appliance.content import Registrar
from appliance.parameters import render
from appliance.store.sqlite import SQLiteStore

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "milkcheck"
CONF = FIXTURES / "conf"
PACKS = os.path.dirname(CORE)


def recorded(name: str) -> dict:
    return json.loads((FIXTURES / "recorded" / f"{name}.json").read_text())


# -- reading MilkCheck's output ------------------------------------------------------------------
def test_service_lines_and_failed_nodes_of_an_error():
    out = recorded("error_node3")["stdout"]
    assert report.services(out) == [
        {"service": "hello", "description": "Say hello", "status": "OK"},
        {"service": "compute", "description": "Compute daemons", "status": "ERROR"},
    ]
    assert str(report.failed_nodes(out)) == "node3"


@pytest.mark.parametrize("name, statuses, failed", [
    ("ok", ["OK"], ""),
    ("error_full_report", ["OK", "ERROR"], "node3"),
    ("warning", ["WARNING"], ""),
    ("warning_verbose", ["WARNING"], "tn[2,5]"),
    ("timeout", ["TIMEOUT"], "localhost"),
    ("verbose", ["OK", "ERROR"], "node3"),
    ("stop_reverse_order", ["OK", "OK"], ""),
    ("unknown_action", [], ""),
])
def test_every_recorded_output_parses(name, statuses, failed):
    out = recorded(name)["stdout"]
    assert [row["status"] for row in report.services(out)] == statuses
    assert str(report.failed_nodes(out)) == failed


def test_reverse_order_and_logged_errors():
    assert [row["service"] for row in report.services(recorded("stop_reverse_order")["stdout"])] == \
        ["compute", "hello"]
    assert report.logged_errors(recorded("unknown_service")["stderr"]) == ["Undefined service [nosuch]"]
    assert "should be a valid directory" in report.logged_errors(recorded("missing_config_dir")["stderr"])[0]


# -- the runner, with a stand-in that replays recorded runs --------------------------------------
@pytest.fixture
def replay(tmp_path):
    """A `milkcheck` that prints recorded runs in turn and logs the arguments it was given."""
    program = tmp_path / "milkcheck"
    program.write_text(f"""#!{sys.executable}
import json, os, sys
log = os.environ["REPLAY_ARGV_LOG"]
done = open(log).read().count("\\n") if os.path.exists(log) else 0
with open(log, "a") as handle:
    handle.write(json.dumps(sys.argv[1:]) + "\\n")
record = json.load(open(os.environ["REPLAY"].split(",")[done]))
sys.stdout.write(record["stdout"])
sys.stderr.write(record["stderr"])
sys.exit(record["return_code"])
""")
    program.chmod(0o755)

    calls = iter(range(1000))

    def run(*names: str, **given):
        log = tmp_path / f"argv-{next(calls)}.log"
        ctx = make_ctx(runner_parameters=runner_params(MilkCheckRunner, milkcheck_path=str(program), **given))
        ctx.env["REPLAY"] = ",".join(str(FIXTURES / "recorded" / f"{name}.json") for name in names)
        ctx.env["REPLAY_ARGV_LOG"] = str(log)
        outcome = MilkCheckRunner().run(ctx)
        lines = log.read_text().splitlines() if log.exists() else []
        return outcome, [json.loads(line) for line in lines], ctx.emit

    return run


def test_options_become_milkcheck_arguments(replay):
    outcome, argvs, _ = replay("ok", actions=["status"], services=["hello", "compute"], config_dir="/etc/mc",
                               only_nodes="node[1-4]", exclude_nodes="node2", exclude_services=["fake"],
                               tags=["hpc", "io"], variables={"LEVEL": 3}, dry_run=True, nodeps=True,
                               report="default", verbose=1)
    assert outcome.status == "succeeded"
    assert argvs == [["-y", "-v", "-c", "/etc/mc", "-r", "default", "-n", "node[1-4]", "-x", "node2", "-X", "fake",
                      "-t", "hpc,io", "-D", "LEVEL=3", "--dry-run", "--nodeps", "hello", "compute", "status"]]


def test_ok_error_and_streamed_output(replay):
    outcome, _, output = replay("error_node3", actions=["status"])
    assert outcome.status == "failed"
    result = outcome.result
    assert result["status"] == "error" and result["return_code"] == 6
    assert result["failed_nodes"] == "node3"
    assert {"service": "compute", "description": "Compute daemons", "status": "ERROR", "action": "status"} in \
        result["services"]
    assert " > node3 exited with 1\n" in output.text()


def test_a_warning_succeeds_and_says_so_unless_asked_otherwise(replay):
    outcome, _, _ = replay("warning_verbose", actions=["status"])
    assert outcome.status == "succeeded"
    assert outcome.result["warning"] is True and "warnings" in outcome.result["message"]
    assert outcome.result["failed_nodes"] == "tn[2,5]"
    strict, _, _ = replay("warning_verbose", actions=["status"], warning_fails=True)
    assert strict.status == "failed" and strict.result["status"] == "warning"


@pytest.mark.parametrize("name, status", [("unknown_service", "usage_error"), ("missing_config_dir", "usage_error"),
                                          ("timeout", "error")])
def test_failures_map_from_exit_codes(replay, name, status):
    outcome, _, _ = replay(name, actions=["status"])
    assert outcome.status == "failed"
    assert outcome.result["status"] == status


def test_an_action_no_service_defines_fails_clearly(replay):
    outcome, _, _ = replay("unknown_action", actions=["nosuchaction"])
    assert outcome.status == "failed"
    assert "no selected service defines it" in outcome.result["error"]


def test_actions_run_in_order_and_stop_at_the_first_failure(replay):
    outcome, argvs, _ = replay("stop_reverse_order", "start_with_dependency", actions=["stop", "start"])
    assert outcome.status == "succeeded"
    assert [argv[-1] for argv in argvs] == ["stop", "start"]
    assert [(row["action"], row["service"]) for row in outcome.result["services"]] == \
        [("stop", "compute"), ("stop", "hello"), ("start", "hello"), ("start", "compute")]
    failed, argvs, _ = replay("error_node3", "ok", actions=["status", "start"])
    assert failed.status == "failed" and len(argvs) == 1


def test_bad_parameters_and_a_missing_milkcheck_fail_in_one_line(replay):
    outcome, argvs, _ = replay("ok", actions=["status"], variables={"bad": ["a", "b"]})
    assert outcome.status == "failed" and "must be a string or a number" in outcome.result["error"]
    assert argvs == []
    assert "actions is empty" in replay("ok", actions=[])[0].result["error"]
    ctx = make_ctx(runner_parameters=runner_params(MilkCheckRunner, actions=["status"],
                                                   milkcheck_path="milkcheck-not-installed"))
    missing = MilkCheckRunner().run(ctx)
    assert missing.status == "failed"
    assert "pyrepo add" in missing.result["error"] and "\n" not in missing.result["error"]


def slow_milkcheck(tmp_path: Path) -> Path:
    program = tmp_path / "slow-milkcheck"
    program.write_text("#!/bin/sh\necho \"hello - Say hello   [    OK   ]\"\necho $$\nexec sleep 30\n")
    program.chmod(0o755)
    return program


def test_timeout_and_cancel_kill_milkcheck(tmp_path):
    params = runner_params(MilkCheckRunner, actions=["status"], milkcheck_path=str(slow_milkcheck(tmp_path)))
    started = time.monotonic()
    outcome = MilkCheckRunner().run(make_ctx(runner_parameters={**params, "timeout": 1}))
    assert outcome.status == "timeout" and time.monotonic() - started < 10
    assert outcome.result["status"] == "timeout"

    ctx = make_ctx(runner_parameters=params)
    thread, box = run_in_thread(MilkCheckRunner(), ctx)
    ctx.emit.wait_for("hello - Say hello")  # streamed before the process ends
    pid = _pid_line(ctx.emit)
    ctx.cancel.set()
    thread.join(10)
    assert box["result"].status == "canceled"
    assert not process_alive(pid)


def _pid_line(output) -> int:
    """The stand-in's pid, the one line of its output that is a number."""
    end = time.monotonic() + 10
    while time.monotonic() < end:
        for _, _, data in list(output.lines):
            if data.strip().isdigit():
                return int(data.strip())
        time.sleep(0.05)
    raise AssertionError(f"no pid line in {output.lines!r}")


# -- the pack ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def registrar(tmp_path_factory):
    store = SQLiteStore(str(tmp_path_factory.mktemp("milkcheckpack") / "st2.db"))
    registrar = Registrar(store, [PACKS])
    registrar.register(["milkcheck"])
    yield registrar
    store.close()


@pytest.mark.parametrize("ref, given, actions", [
    ("milkcheck.start", {}, ["start"]),
    ("milkcheck.stop", {}, ["stop"]),
    ("milkcheck.status", {"only_nodes": "node[1-4]"}, ["status"]),
    ("milkcheck.restart", {"services": ["slurmd"]}, ["stop", "start"]),
    ("milkcheck.run", {"actions": ["check"]}, ["check"]),
])
def test_pack_actions_resolve_to_runner_parameters(registrar, ref, given, actions):
    action = registrar.actions.find_one({"ref": ref})
    runner_type = registrar.runner_types.find_one({"name": "milkcheck"})
    runner_values, _ = render(runner_type, action, given, {"user": "st2admin"})
    assert runner_values["actions"] == actions
    for name, value in given.items():
        assert runner_values[name] == value


# -- the real MilkCheck, when installed ----------------------------------------------------------
REAL = os.environ.get("APPLIANCE_TEST_MILKCHECK") or shutil.which("milkcheck")
real_only = pytest.mark.skipif(not REAL, reason="MilkCheck is not installed: pip install its source "
                                                "(pyrepo add <milkcheck source dir>), or set APPLIANCE_TEST_MILKCHECK")


def run_real(**given):
    ctx = make_ctx(runner_parameters=runner_params(MilkCheckRunner, milkcheck_path=REAL, config_dir=str(CONF),
                                                   **given))
    return MilkCheckRunner().run(ctx)


@real_only
def test_real_milkcheck_error_warning_and_restart():
    error = run_real(actions=["status"], services=["compute"])
    assert error.status == "failed" and error.result["failed_nodes"] == "node3"
    warning = run_real(actions=["status"], services=["tolerant"])
    assert warning.status == "succeeded" and warning.result["warning"] is True
    assert warning.result["failed_nodes"] == "tn[2,5]"
    restart = run_real(actions=["stop", "start"], services=["compute"], only_nodes="node[1-2]")
    assert restart.status == "succeeded", restart.result
    assert [(row["action"], row["service"], row["status"]) for row in restart.result["services"]] == \
        [("stop", "compute", "OK"), ("start", "hello", "OK"), ("start", "compute", "OK")]
    unknown = run_real(actions=["status"], services=["nosuch"])
    assert unknown.result["status"] == "usage_error" and "Undefined service [nosuch]" in unknown.result["error"]
