"""The milkcheck runner and the milkcheck pack.

MilkCheck is not on PyPI, so most tests replay output recorded from the real milkcheck 1.2.4
(tests/fixtures/milkcheck/recorded/*.json, made by tests/fixtures/milkcheck/record.py against
tests/fixtures/milkcheck/conf) through a stand-in program. The tests at the end run the real tool
whenever it is installed: on PATH, next to this Python, importable, or named by APPLIANCE_TEST_MILKCHECK.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

import pytest
import yaml
from milkcheck_runner import command, report, ssh_wrappers
from milkcheck_runner.milkcheck_runner import MilkCheckRunner
from runner_helpers import CORE, make_ctx, process_alive, run_in_thread, runner_params

from appliance import runners as runner_plugins
from appliance.content import Registrar
from appliance.parameters import ParameterError, render, validate_request
from appliance.runners import RunnerSettings
from appliance.store.sqlite import SQLiteStore
from tests.support import cluster
from tests.support.cluster import Cluster

REPO = Path(__file__).resolve().parents[3]
FIXTURES = REPO / "tests" / "fixtures" / "milkcheck"
CONF = FIXTURES / "conf"
PACK = REPO / "packs" / "milkcheck"
PACKS = os.path.dirname(CORE)
cluster_nodes = cluster.cluster_nodes
LONG = "a_service_whose_name_is_far_longer_than_what_milkcheck_can_show_on_one_status_line_even_at_120_columns"


def recorded(name: str) -> dict:
    return json.loads((FIXTURES / "recorded" / f"{name}.json").read_text())


def load_recorder():
    spec = importlib.util.spec_from_file_location("milkcheck_record", FIXTURES / "record.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- reading MilkCheck's output ------------------------------------------------------------------
# recording -> (return code, {service: status}, failed_nodes)
EXPECTED = {
    "ok": (0, {"hello": "OK"}, ""),
    "error_node3": (6, {"hello": "OK", "compute": "ERROR"}, "node3"),
    "error_full_report": (6, {"hello": "OK", "compute": "ERROR"}, "node3"),
    "warning": (3, {"tolerant": "WARNING"}, ""),
    "warning_verbose": (3, {"tolerant": "WARNING"}, "tn[2,5]"),
    "warning_full_report": (3, {"tolerant": "WARNING"}, ""),
    "timeout": (6, {"slow": "TIMEOUT"}, "localhost"),
    "dep_error": (6, {"hello": "OK", "compute": "ERROR", "scheduler": "DEP_ERROR"}, "node3"),
    "status_all": (6, {"hello": "OK", "nodesc": "OK", LONG: "OK", "storage": "OK", "storage.mds": "OK",
                       "storage.oss": "OK", "tolerant": "WARNING", "compute": "ERROR", "scheduler": "DEP_ERROR",
                       "slow": "TIMEOUT"}, "localhost,node3"),
    "names": (0, {"nodesc": "OK", "storage": "OK", "storage.mds": "OK", "storage.oss": "OK", LONG: "OK"}, ""),
    "verbose": (6, {"hello": "OK", "compute": "ERROR"}, "node3"),
    "define": (0, {"hello": "OK"}, ""),
    "dry_run": (0, {"hello": "OK", "compute": "OK"}, ""),
    "exclude": (0, {"compute": "OK"}, ""),
    "tags_error_rc0": (0, {"compute": "ERROR"}, "node3"),
    "tags_select_none": (0, {}, ""),
    "unknown_action": (0, {}, ""),
    "unknown_service": (9, {}, ""),
    "bad_nodeset": (9, {}, ""),
    "missing_config_dir": (9, {}, ""),
    "internal_error": (12, {}, ""),
    "stop_reverse_order": (0, {"compute": "OK", "hello": "OK"}, ""),
    "start_with_dependency": (0, {"hello": "OK", "compute": "OK"}, ""),
    "restart_stop": (0, {"compute": "OK"}, ""),
    "restart_start": (0, {"hello": "OK", "compute": "OK"}, ""),
}


def test_every_recording_is_expected_and_says_how_it_was_made():
    names = {path.stem for path in (FIXTURES / "recorded").glob("*.json")}
    assert names == set(EXPECTED) == set(load_recorder().CASES)
    for name in names:
        data = recorded(name)
        assert data["command"][:2] == ["milkcheck", "-y"] and data["milkcheck_version"] == "milkcheck 1.2.4"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_recorded_output_parses(name):
    data = recorded(name)
    code, statuses, failed = EXPECTED[name]
    rows = report.services(data["stdout"])
    assert data["return_code"] == code
    assert {row["service"]: row["status"] for row in rows} == statuses
    assert len(rows) == len(statuses)
    assert str(report.failed_nodes(data["stdout"])) == failed


def test_descriptions_groups_and_cut_names():
    rows = {row["service"]: row for row in report.services(recorded("names")["stdout"])}
    assert rows["nodesc"] == {"service": "nodesc", "description": "", "status": "OK"}
    assert rows["storage.mds"]["description"] == "Metadata server"
    assert rows["storage.oss"]["description"] == "Storage services"  # a group member inherits its desc
    assert rows[LONG]["truncated"] is True and rows[LONG]["description"] == ""
    assert "truncated" not in rows["storage"]
    cut = report.services("hello - a description that MilkCheck had to c...  [    OK   ]\n")
    assert cut == [{"service": "hello", "description": "a description that MilkCheck had to c", "status": "OK",
                    "truncated": True}]
    # a description that ends in dots but fits is not cut
    assert "truncated" not in report.services("x - wait for it...     [    OK   ]\n")[0]


def test_order_colours_and_lines_that_only_look_like_reports():
    assert [row["service"] for row in report.services(recorded("stop_reverse_order")["stdout"])] == \
        ["compute", "hello"]
    coloured = "compute - Compute daemons   [\x1b[91m  ERROR  \x1b[0m]\n > \x1b[96mnode3\x1b[0m exited with 1\n"
    assert report.services(coloured)[0]["status"] == "ERROR"
    assert str(report.failed_nodes(coloured)) == "node3"
    noise = " > node5: the check says node9 exited with 1\n > node[ has timeout\n    Command: Target: x\n"
    assert str(report.failed_nodes(noise)) == ""


def test_logged_errors_are_one_line_each():
    assert report.logged_errors(recorded("unknown_service")["stderr"]) == ["Undefined service [nosuch]"]
    assert report.logged_errors(recorded("bad_nodeset")["stderr"]) == ["Invalid options: node[ is not a valid nodeset"]
    [yaml_error] = report.logged_errors(recorded("internal_error")["stderr"])
    assert yaml_error.startswith("Unexpected Exception : while parsing a flow sequence in ")
    assert "broken/services.yaml" in yaml_error and "line 4" in yaml_error
    assert report.logged_errors(recorded("warning_verbose")["stderr"]) == []  # WARNING and INFO logs are not errors


# -- the runner, with a stand-in that replays recorded runs --------------------------------------
REPLAY = """#!{python}
import json, os, sys
log = os.environ["REPLAY_LOG"]
done = open(log).read().count("\\n") if os.path.exists(log) else 0
with open(log, "a") as handle:
    handle.write(json.dumps({{"argv": sys.argv[1:], "columns": os.environ.get("COLUMNS")}}) + "\\n")
record = json.load(open(os.environ["REPLAY"].split(",")[done]))
sys.stdout.write(record["stdout"])
sys.stderr.write(record["stderr"])
sys.exit(record["return_code"])
"""


@pytest.fixture
def replay(tmp_path):
    """Runs the runner with a `milkcheck` that prints recorded runs in turn and logs how it was called."""
    program = tmp_path / "milkcheck"
    program.write_text(REPLAY.format(python=sys.executable))
    program.chmod(0o755)
    calls = iter(range(1000))

    def run(*names: str, **given):
        log = tmp_path / f"calls-{next(calls)}.log"
        ctx = make_ctx(runner_parameters=runner_params(MilkCheckRunner, milkcheck_path=str(program), **given))
        ctx.env["REPLAY"] = ",".join(str(FIXTURES / "recorded" / f"{name}.json") for name in names)
        ctx.env["REPLAY_LOG"] = str(log)
        outcome = MilkCheckRunner().run(ctx)
        calls_made = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        return outcome, calls_made, ctx.emit

    run.program = str(program)
    return run


def test_the_runner_is_installed_under_its_type_name():
    assert runner_plugins.load("milkcheck") is MilkCheckRunner
    specs = MilkCheckRunner.RUNNER_TYPE["runner_parameters"]
    assert specs["actions"]["required"] and specs["verbose"]["default"] == 0 and specs["timeout"]["default"] == 600


def test_parameters_become_an_argv(replay):
    outcome, calls, _ = replay("ok", actions=["status"], services=["hello", "compute"], config_dir="/etc/mc",
                               only_nodes="node[1-4]", exclude_nodes="node2", exclude_services=["fake", "other"],
                               tags=["hpc", "io"], variables={"LEVEL": 3, "NAME": "a b; rm -rf /", "ON": True},
                               dry_run=True, nodeps=True, report="default", verbose=2)
    expected = ["-y", "-v", "-v", "-c", "/etc/mc", "-r", "default", "-n", "node[1-4]", "-x", "node2", "-X", "fake",
                "-X", "other", "-t", "hpc,io", "-D", "LEVEL=3", "-D", "NAME=a b; rm -rf /", "-D", "ON=true",
                "--dry-run", "--nodeps", "hello", "compute", "status"]
    assert calls == [{"argv": expected, "columns": "120"}]
    assert outcome.status == "succeeded"
    assert outcome.result["command"] == [[replay.program, *expected]]


def test_defaults_make_a_short_argv(replay):
    _, calls, _ = replay("ok", actions=["status"])
    assert calls[0]["argv"] == ["-y", "-r", "full", "status"]
    _, calls, _ = replay("ok", actions=["status"], report="", verbose=0, variables={}, tags=[])
    assert calls[0]["argv"] == ["-y", "status"]


@pytest.mark.parametrize("name, status, result_status, failed_nodes", [
    ("ok", "succeeded", "ok", ""),
    ("names", "succeeded", "ok", ""),
    ("dry_run", "succeeded", "ok", ""),
    ("error_node3", "failed", "error", "node3"),
    ("error_full_report", "failed", "error", "node3"),
    ("dep_error", "failed", "error", "node3"),
    ("timeout", "failed", "error", "localhost"),
    ("status_all", "failed", "error", "localhost,node3"),
    ("unknown_service", "failed", "usage_error", ""),
    ("bad_nodeset", "failed", "usage_error", ""),
    ("missing_config_dir", "failed", "usage_error", ""),
    ("internal_error", "failed", "internal_error", ""),
    ("unknown_action", "failed", "usage_error", ""),
    ("tags_select_none", "failed", "usage_error", ""),
    ("tags_error_rc0", "failed", "error", "node3"),
])
def test_exit_codes_and_output_map_to_a_status(replay, name, status, result_status, failed_nodes):
    outcome, _, _ = replay(name, actions=["status"])
    result = outcome.result
    assert (outcome.status, result["status"], result["failed_nodes"]) == (status, result_status, failed_nodes)
    assert result["return_code"] == recorded(name)["return_code"]
    assert result["stdout"] == recorded(name)["stdout"] and result["stderr"] == recorded(name)["stderr"]
    assert set(result) >= {"status", "return_code", "warning", "services", "failed_nodes", "stdout", "stderr",
                           "command"}
    if status == "failed":
        assert result["error"] and "\n" not in result["error"]
    else:
        assert "error" not in result


def test_failures_say_why_in_one_line(replay):
    def error(name: str) -> str:
        return replay(name, actions=["status"])[0].result["error"]

    assert error("unknown_service") == "MilkCheck action 'status': Undefined service [nosuch]"
    assert "should be a valid directory" in error("missing_config_dir")
    assert "while parsing a flow sequence" in error("internal_error")
    assert error("dep_error") == "MilkCheck action 'status' failed: compute ERROR, scheduler DEP_ERROR."
    assert "no selected service defines it" in error("unknown_action")
    assert "selected none" in error("tags_select_none")
    assert "though milkcheck exited with 0" in error("tags_error_rc0")


def test_a_warning_succeeds_and_says_so_unless_warning_fails(replay):
    outcome, _, _ = replay("warning_verbose", actions=["status"])
    assert outcome.status == "succeeded"
    result = outcome.result
    assert result["status"] == "warning" and result["return_code"] == 3 and result["warning"] is True
    assert "WARNING" in result["message"] and result["failed_nodes"] == "tn[2,5]"
    strict, _, _ = replay("warning", actions=["status"], warning_fails=True)
    assert strict.status == "failed" and strict.result["status"] == "warning" and strict.result["warning"] is True
    assert "warning_fails" in strict.result["error"]
    quiet, _, _ = replay("ok", actions=["status"])
    assert quiet.result["warning"] is False and "message" not in quiet.result


def test_actions_run_in_order_and_their_results_merge(replay):
    outcome, calls, _ = replay("restart_stop", "warning", actions=["stop", "start"], only_nodes="node[1-2]")
    assert [call["argv"][-1] for call in calls] == ["stop", "start"]
    result = outcome.result
    assert outcome.status == "succeeded" and result["status"] == "warning" and result["return_code"] == 3
    assert [(row["action"], row["service"], row["status"]) for row in result["services"]] == \
        [("stop", "compute", "OK"), ("start", "tolerant", "WARNING")]
    assert result["command"] == [[replay.program, "-y", "-r", "full", "-n", "node[1-2]", "stop"],
                                 [replay.program, "-y", "-r", "full", "-n", "node[1-2]", "start"]]
    assert result["stdout"] == recorded("restart_stop")["stdout"] + recorded("warning")["stdout"]


def test_actions_stop_at_the_first_failure(replay):
    failed, calls, _ = replay("error_node3", "ok", actions=["status", "start"])
    assert failed.status == "failed" and len(calls) == 1 and len(failed.result["command"]) == 1
    assert failed.result["status"] == "error" and failed.result["failed_nodes"] == "node3"
    nothing, calls, _ = replay("restart_stop", "unknown_action", actions=["stop", "nosuchaction"])
    assert nothing.status == "failed" and len(calls) == 2
    assert nothing.result["status"] == "usage_error" and "'nosuchaction'" in nothing.result["error"]
    assert [row["action"] for row in nothing.result["services"]] == ["stop"]


@pytest.mark.parametrize("given, words", [
    ({"actions": []}, "actions is empty"),
    ({"actions": [""]}, "non-empty"),
    ({"actions": ["--help"]}, "starts with '-'"),
    ({"actions": "status"}, "must be a list"),
    ({"services": ["-x"]}, "starts with '-'"),
    ({"services": [3]}, "non-empty names"),
    ({"variables": {"bad": ["a", "b"]}}, "must be a string, a number or a boolean"),
    ({"variables": {"bad": None}}, "must be a string, a number or a boolean"),
    ({"variables": {"A=B": "x"}}, "not a MilkCheck variable name"),
    ({"variables": ["A=B"]}, "variables must be an object"),
    ({"verbose": -1}, "verbose must be an integer"),
    ({"timeout": "soon"}, "timeout must be an integer"),
    ({"timeout": 0}, "timeout must be an integer of at least 1"),
    ({"report": "everything"}, "report must be one of"),
    ({"only_nodes": ["node1"]}, "only_nodes must be a string"),
])
def test_bad_parameters_fail_in_one_line_without_running_milkcheck(replay, given, words):
    outcome, calls, _ = replay("ok", **{"actions": ["status"], **given})
    assert outcome.status == "failed" and calls == []
    assert outcome.result["status"] == "usage_error"
    assert words in outcome.result["error"] and "\n" not in outcome.result["error"]
    assert outcome.result["command"] == [] and outcome.result["services"] == []


def test_a_missing_milkcheck_says_how_to_install_it():
    ctx = make_ctx(runner_parameters=runner_params(MilkCheckRunner, actions=["status"],
                                                   milkcheck_path="milkcheck-not-installed"))
    outcome = MilkCheckRunner().run(ctx)
    error = outcome.result["error"]
    assert outcome.status == "failed" and outcome.result["status"] == "not_installed"
    assert "\n" not in error and "not on PyPI" in error and "pyrepo add" in error and "pip install milkcheck" in error
    assert "ClusterShell and PyYAML come with this runner" in error


def test_milkcheck_is_found_next_to_the_python_running_the_appliance(tmp_path, monkeypatch):
    program = tmp_path / "bin" / "milkcheck"
    program.parent.mkdir()
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "bin" / "python"))
    assert command.find_milkcheck("milkcheck", {"PATH": "/nonexistent"}) == str(program)
    assert command.find_milkcheck("milkcheck", {}) == str(program)


def write_program(tmp_path: Path, name: str, text: str) -> str:
    program = tmp_path / name
    program.write_text(text)
    program.chmod(0o755)
    return str(program)


def test_a_milkcheck_that_cannot_start_or_dies_on_a_signal_fails_clearly(tmp_path):
    broken = write_program(tmp_path, "broken-milkcheck", "#!/nonexistent/python\n")
    outcome = MilkCheckRunner().run(make_ctx(runner_parameters=runner_params(
        MilkCheckRunner, actions=["status"], milkcheck_path=broken)))
    assert outcome.status == "failed" and outcome.result["status"] == "internal_error"
    assert outcome.result["error"].startswith(f"Cannot run {broken}: ")
    killed = write_program(tmp_path, "killed-milkcheck", "#!/bin/sh\necho 'hello - Say hello  [    OK   ]'\n"
                                                         "kill -KILL $$\n")
    outcome = MilkCheckRunner().run(make_ctx(runner_parameters=runner_params(
        MilkCheckRunner, actions=["status"], milkcheck_path=killed)))
    assert outcome.status == "failed" and outcome.result["status"] == "error"
    assert outcome.result["return_code"] == -9 and outcome.result["error"] == "milkcheck ended on signal SIGKILL."
    interrupted = write_program(tmp_path, "int-milkcheck", "#!/bin/sh\nexit 130\n")
    outcome = MilkCheckRunner().run(make_ctx(runner_parameters=runner_params(
        MilkCheckRunner, actions=["status"], milkcheck_path=interrupted)))
    assert outcome.status == "failed" and outcome.result["error"] == "milkcheck ended on signal SIGINT."


SLOW = "#!/bin/sh\necho \"hello - Say hello   [    OK   ]\"\necho $$\nexec sleep 30\n"


def test_output_streams_live_and_cancel_kills_milkcheck(tmp_path):
    params = runner_params(MilkCheckRunner, actions=["status", "start"],
                           milkcheck_path=write_program(tmp_path, "slow-milkcheck", SLOW))
    ctx = make_ctx(runner_parameters=params)
    thread, box = run_in_thread(MilkCheckRunner(), ctx)
    ctx.emit.wait_for("hello - Say hello")  # emitted while milkcheck still runs
    pid = _pid_line(ctx.emit)
    assert process_alive(pid) and "result" not in box
    ctx.cancel.set()
    thread.join(10)
    outcome = box["result"]
    assert outcome.status == "canceled" and outcome.result["status"] == "canceled"
    assert len(outcome.result["command"]) == 1  # start never ran
    assert outcome.result["services"] == [{"service": "hello", "description": "Say hello", "status": "OK",
                                           "action": "status"}]
    assert not process_alive(pid)


def test_timeout_kills_milkcheck(tmp_path):
    params = runner_params(MilkCheckRunner, actions=["status"], timeout=1,
                           milkcheck_path=write_program(tmp_path, "slow-milkcheck", SLOW))
    ctx = make_ctx(runner_parameters=params)
    started = time.monotonic()
    outcome = MilkCheckRunner().run(ctx)
    assert outcome.status == "timeout" and time.monotonic() - started < 10
    assert outcome.result["status"] == "timeout" and "within 1 s" in outcome.result["error"]
    assert not process_alive(_pid_line(ctx.emit))


def test_a_cancel_before_the_start_runs_nothing(replay, tmp_path):
    ctx = make_ctx(runner_parameters=runner_params(MilkCheckRunner, actions=["status"], milkcheck_path=replay.program))
    ctx.cancel.set()
    outcome = MilkCheckRunner().run(ctx)
    assert outcome.status == "canceled" and outcome.result["command"] == [] and outcome.result["return_code"] is None


def _pid_line(output) -> int:
    """The stand-in's pid: the one line of its output that is a number."""
    end = time.monotonic() + 10
    while time.monotonic() < end:
        for _, _, data in list(output.lines):
            if data.strip().isdigit():
                return int(data.strip())
        time.sleep(0.05)
    raise AssertionError(f"no pid line in {output.lines!r}")


# -- ssh options for the ssh MilkCheck starts -----------------------------------------------------
# over_ssh.py reaches nodes as MilkCheck does (ClusterShell's ssh worker, `ssh` from PATH); the ssh
# it finds first here logs how it was called and where PATH led, then runs the command locally.
LOGGING_SSH = """#!{python}
import json, os, subprocess, sys
first = os.environ["PATH"].split(os.pathsep)[0]
with open(os.environ["SSH_LOG"], "a") as log:
    log.write(json.dumps({{"argv": sys.argv[1:], "first_on_path": first, "mode": os.stat(first).st_mode & 0o777,
                          "files": sorted(os.listdir(first))}}) + "\\n")
sys.exit(subprocess.call(["/bin/sh", "-c", sys.argv[-1]]))
"""
CLUSTERSHELL_SSH = ["-oForwardAgent=no", "-oForwardX11=no", "-oConnectTimeout=10", "-oBatchMode=yes"]


def over_ssh_milkcheck(tmp_path: Path) -> str:
    """The over_ssh.py stand-in as a milkcheck program run by this Python (which has ClusterShell)."""
    return write_program(tmp_path, "over-ssh-milkcheck",
                         f"#!/bin/sh\nexec {sys.executable} {FIXTURES / 'over_ssh.py'} \"$@\"\n")


@pytest.fixture
def logged_ssh(tmp_path):
    """Runs over_ssh.py through the runner with the logging ssh first on PATH; the outcome and the ssh calls."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    write_program(bin_dir, "ssh", LOGGING_SSH.format(python=sys.executable))
    log = tmp_path / "ssh.log"

    def run(settings: Optional[RunnerSettings] = None, **given):
        params = runner_params(MilkCheckRunner, **{"actions": ["status"], "only_nodes": "node[1-2]",
                                                   "variables": {"CMD": "echo on $(hostname)"},
                                                   "milkcheck_path": over_ssh_milkcheck(tmp_path), **given})
        ctx = make_ctx(runner_parameters=params, settings=settings or RunnerSettings())
        ctx.env.update(PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", SSH_LOG=str(log))
        outcome = MilkCheckRunner().run(ctx)
        calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        log.unlink(missing_ok=True)
        return outcome, sorted(calls, key=lambda call: call["argv"][-2])

    run.bin_dir = str(bin_dir)
    return run


def test_st2_conf_ssh_config_and_ssh_options_reach_milkcheck_ssh_first(logged_ssh, tmp_path):
    pwned = tmp_path / "pwned"
    options = f"-oSetEnv=X='a b; touch {pwned}' '-oUser=$(touch {pwned})' -p 2222 -4v"
    outcome, calls = logged_ssh(RunnerSettings(ssh_config_file="/etc/st2/ssh_config"), ssh_options=options)
    assert outcome.status == "succeeded", outcome.result
    mine = ["-F", "/etc/st2/ssh_config", f"-oSetEnv=X=a b; touch {pwned}", f"-oUser=$(touch {pwned})", "-p",
            "2222", "-4v"]
    assert [call["argv"] for call in calls] == [[*mine, *CLUSTERSHELL_SSH, node, "echo on $(hostname)"]
                                                for node in ("node1", "node2")]
    assert not pwned.exists()  # each option stayed one word, never read by a shell
    wrappers = calls[0]["first_on_path"]
    assert calls[0]["mode"] == 0o700 and calls[0]["files"] == ["scp", "ssh"]
    assert not os.path.exists(wrappers), "the wrapper directory outlived the run"
    assert f" > node[1-2]: on {os.uname().nodename}" in outcome.result["stdout"]


def test_an_action_ssh_options_alone_and_no_ssh_configuration(logged_ssh):
    outcome, calls = logged_ssh(ssh_options="-oPort=2222")
    assert outcome.status == "succeeded"
    assert calls[0]["argv"] == ["-oPort=2222", *CLUSTERSHELL_SSH, "node1", "echo on $(hostname)"]
    outcome, calls = logged_ssh()
    assert outcome.status == "succeeded"
    assert calls[0]["argv"] == [*CLUSTERSHELL_SSH, "node1", "echo on $(hostname)"]
    assert calls[0]["first_on_path"] == logged_ssh.bin_dir  # nothing to give: PATH as it was


def test_the_wrappers_are_removed_when_milkcheck_cannot_start(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)
    broken = write_program(tmp_path, "broken-milkcheck", "#!/nonexistent/python\n")
    outcome = MilkCheckRunner().run(make_ctx(runner_parameters=runner_params(
        MilkCheckRunner, actions=["status"], milkcheck_path=broken, ssh_options="-oPort=2222")))
    assert outcome.result["status"] == "internal_error"
    assert not list(tmp_path.glob("milkcheck-ssh-*"))


@pytest.mark.parametrize("options, words", [
    ("-p", "'-p' needs a value"),
    ("-oPort=22 node9", "'node9' is not an ssh option"),
    ("-- node9", "'--' is not an ssh option"),
    ("-oUser='unterminated", "cannot be split into words"),
    (["-p", "22"], "ssh_options must be a string"),
])
def test_bad_ssh_options_fail_in_one_line_without_running_milkcheck(replay, options, words):
    outcome, calls, _ = replay("ok", actions=["status"], ssh_options=options)
    assert outcome.status == "failed" and calls == [] and outcome.result["status"] == "usage_error"
    assert words in outcome.result["error"] and "\n" not in outcome.result["error"]


def test_ssh_option_words_follow_ssh_option_syntax():
    assert ssh_wrappers.option_words("-4Cp 22 -oA=b -i '/k ey' -vvv -J jump") == \
        ["-4Cp", "22", "-oA=b", "-i", "/k ey", "-vvv", "-J", "jump"]
    assert ssh_wrappers.option_words("  ") == []
    with pytest.raises(ValueError, match="'-Cp' needs a value"):
        ssh_wrappers.option_words("-Cp")


def test_a_wrapper_is_one_exec_of_quoted_words(tmp_path):
    script = ssh_wrappers.wrapper_script("/usr/bin/ssh", ["-oX=a b", "-oY=$(id)"])
    assert script == "#!/bin/sh\nexec /usr/bin/ssh '-oX=a b' '-oY=$(id)' \"$@\"\n"


def test_over_ssh_reaches_cluster_nodes_only_with_the_given_ssh_config(cluster_nodes: Cluster, tmp_path):
    """8 nodes (a network namespace and a real sshd each) that only the cluster's ssh config names."""
    program = over_ssh_milkcheck(tmp_path)

    def run(settings: RunnerSettings, **given):
        params = runner_params(MilkCheckRunner, **{"actions": ["status"], "only_nodes": cluster_nodes.names,
                                                   "milkcheck_path": program, **given})
        return MilkCheckRunner().run(make_ctx(runner_parameters=params, settings=settings))

    alone = run(RunnerSettings())
    assert alone.status == "failed" and alone.result["failed_nodes"] == cluster_nodes.names
    assert "Could not resolve hostname" in alone.result["stdout"]
    for outcome in (run(RunnerSettings(ssh_config_file=str(cluster_nodes.ssh_config))),
                    run(RunnerSettings(), ssh_options=f"-F {cluster_nodes.ssh_config}")):
        assert outcome.status == "succeeded", outcome.result
        lines = set(outcome.result["stdout"].splitlines())
        assert {f" > {node.name}: {node.name}" for node in cluster_nodes.nodes} <= lines  # each node's hostname


# -- the pack ------------------------------------------------------------------------------------
ACTIONS = {"start": ["start"], "stop": ["stop"], "status": ["status"], "restart": ["stop", "start"], "run": None}


@pytest.fixture(scope="module")
def registrar(tmp_path_factory):
    store = SQLiteStore(str(tmp_path_factory.mktemp("milkcheckpack") / "st2.db"))
    registrar = Registrar(store, [PACKS])
    registrar.register(["milkcheck"])
    yield registrar
    store.close()


def test_pack_metadata_and_every_action_file():
    pack = yaml.safe_load((PACK / "pack.yaml").read_text())
    assert pack["ref"] == "milkcheck" and {"version", "description", "author", "email"} <= set(pack)
    assert {path.stem for path in (PACK / "actions").glob("*.yaml")} == set(ACTIONS)
    specs = MilkCheckRunner.RUNNER_TYPE["runner_parameters"]
    for name in ACTIONS:
        meta = yaml.safe_load((PACK / "actions" / f"{name}.yaml").read_text())
        assert meta["name"] == name and meta["runner_type"] == "milkcheck" and meta["enabled"] is True
        assert "%%" in meta["description"]
        for pname, spec in meta["parameters"].items():
            if pname in specs and "type" in spec:
                assert spec["type"] == specs[pname]["type"], (name, pname)
        assert {"nodes", "services", "exclude_nodes", "config_dir", "tags", "variables", "dry_run",
                "report"} <= set(meta["parameters"])


@pytest.mark.parametrize("ref", [f"milkcheck.{name}" for name in ACTIONS])
def test_pack_actions_resolve_to_valid_runner_parameters(registrar, ref, tmp_path):
    action = registrar.actions.find_one({"ref": ref})
    runner_type = registrar.runner_types.find_one({"name": "milkcheck"})
    given = {"nodes": "node[1-4]", "services": ["slurmd"], "exclude_nodes": "node2", "tags": ["hpc"],
             "variables": {"V": "1"}, "dry_run": True, "report": "default", "config_dir": str(CONF)}
    if ACTIONS[ref.split(".")[1]] is None:
        given["actions"] = ["check", "status"]
    validate_request(runner_type, action, given)
    runner_values, _ = render(runner_type, action, given, {"user": "st2admin"})
    assert runner_values["actions"] == (ACTIONS[ref.split(".")[1]] or ["check", "status"])
    assert runner_values["only_nodes"] == "node[1-4]"
    argv = command.milkcheck_argv("milkcheck", runner_values, runner_values["actions"][0])
    assert argv == ["milkcheck", "-y", "-c", str(CONF), "-r", "default", "-n", "node[1-4]", "-x", "node2",
                    "-t", "hpc", "-D", "V=1", "--dry-run", "slurmd", runner_values["actions"][0]]
    defaults, _ = render(runner_type, action, {"actions": ["status"]} if "actions" in given else {}, {})
    assert command.milkcheck_argv("milkcheck", defaults, "status") == ["milkcheck", "-y", "-r", "full", "status"]


def test_pack_actions_keep_their_fixed_actions(registrar):
    runner_type = registrar.runner_types.find_one({"name": "milkcheck"})
    for name in ("start", "stop", "status", "restart"):
        action = registrar.actions.find_one({"ref": f"milkcheck.{name}"})
        with pytest.raises(ParameterError, match="immutable"):
            validate_request(runner_type, action, {"actions": ["stop"]})
        validate_request(runner_type, action, {"only_nodes": "node1"})  # the runner's name works too
    with pytest.raises(ParameterError):
        validate_request(runner_type, registrar.actions.find_one({"ref": "milkcheck.run"}), {})


# -- the real MilkCheck, when installed ----------------------------------------------------------
def real_milkcheck(tmp_dir: Path) -> Optional[str]:
    """The installed milkcheck program, or one that runs an importable MilkCheck package."""
    named = os.environ.get("APPLIANCE_TEST_MILKCHECK")
    if named:
        return named
    found = command.find_milkcheck("milkcheck", dict(os.environ))
    if found:
        return found
    if importlib.util.find_spec("MilkCheck") is not None:
        return write_program(tmp_dir, "milkcheck", f"#!{sys.executable}\nimport sys\n"
                                                   "from MilkCheck.UI.Cli import CommandLine\n"
                                                   "sys.exit(CommandLine().execute(sys.argv[1:]))\n")
    return None


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    program = real_milkcheck(tmp_path_factory.mktemp("realmilkcheck"))
    if not program:
        pytest.skip("MilkCheck is not installed (it is not on PyPI): `pip install <milkcheck source dir>` into "
                    "this virtualenv, or set APPLIANCE_TEST_MILKCHECK=/path/to/milkcheck")
    return program


def run_real(program: str, **given):
    ctx = make_ctx(runner_parameters=runner_params(MilkCheckRunner, milkcheck_path=program,
                                                   config_dir=str(CONF), **given))
    return MilkCheckRunner().run(ctx), ctx.emit


@pytest.mark.parametrize("name", sorted(set(EXPECTED) - {"status_all"}))  # status_all waits on a 1 s timeout
def test_real_milkcheck_still_prints_what_was_recorded(real, name):
    data = recorded(name)
    done = subprocess.run([real, *data["command"][1:]], cwd=REPO, env={**os.environ, "COLUMNS": "120"},
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, start_new_session=True,
                          timeout=60)
    code, statuses, failed = EXPECTED[name]
    assert done.returncode == code
    assert {row["service"]: row["status"] for row in report.services(done.stdout)} == statuses
    assert str(report.failed_nodes(done.stdout)) == failed
    assert report.logged_errors(done.stderr) == report.logged_errors(data["stderr"])


def test_real_milkcheck_through_the_runner(real):
    error, output = run_real(real, actions=["status"], services=["compute"])
    assert error.status == "failed" and error.result["failed_nodes"] == "node3"
    assert " > node3 exited with 1\n" in output.text()
    warning, _ = run_real(real, actions=["status"], services=["tolerant"], verbose=2)
    assert warning.status == "succeeded" and warning.result["warning"] is True
    assert warning.result["failed_nodes"] == "tn[2,5]"
    strict, _ = run_real(real, actions=["status"], services=["tolerant"], warning_fails=True)
    assert strict.status == "failed" and strict.result["status"] == "warning"
    restart, _ = run_real(real, actions=["stop", "start"], services=["compute"], only_nodes="node[1-2]",
                          variables={"WHO": "appliance"}, verbose=1)
    assert restart.status == "succeeded", restart.result
    assert [(row["action"], row["service"], row["status"]) for row in restart.result["services"]] == \
        [("stop", "compute", "OK"), ("start", "hello", "OK"), ("start", "compute", "OK")]
    assert " > echo Hello appliance" in restart.result["stdout"]
    unknown, _ = run_real(real, actions=["status"], services=["nosuch"])
    assert unknown.result["status"] == "usage_error" and "Undefined service [nosuch]" in unknown.result["error"]
    nothing, _ = run_real(real, actions=["nosuchaction"], services=["hello"])
    assert nothing.status == "failed" and "no selected service defines it" in nothing.result["error"]
    timeout, _ = run_real(real, actions=["status"], services=["slow"])
    assert timeout.status == "failed" and timeout.result["failed_nodes"] == "localhost"
    dry, _ = run_real(real, actions=["status"], services=["compute"], dry_run=True)
    assert dry.status == "succeeded" and dry.result["failed_nodes"] == ""
