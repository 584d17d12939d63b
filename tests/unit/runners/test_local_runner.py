"""local-shell-cmd and local-shell-script, run directly through their classes."""

from __future__ import annotations

import os
import shutil
import time

import pytest
from local_runner.local_shell_command_runner import LocalShellCommandRunner
from local_runner.local_shell_script_runner import LocalShellScriptRunner
from runner_helpers import CORE, TESTPACK, load_action, make_ctx, process_alive, run_in_thread, session_cmdlines

from appliance.script_arguments import script_arguments

SECRET = "s3cr3t-4c7d"


def run_cmd(cmd, **runner_parameters):
    ctx = make_ctx(runner_parameters={"cmd": cmd, "timeout": 30, **runner_parameters})
    return LocalShellCommandRunner().run(ctx), ctx


def test_runner_types_match_stackstorm():
    cmd, script = LocalShellCommandRunner.RUNNER_TYPE, LocalShellScriptRunner.RUNNER_TYPE
    assert cmd["name"] == "local-shell-cmd" and script["name"] == "local-shell-script"
    assert set(cmd["runner_parameters"]) == {"cmd", "cwd", "env", "kwarg_op", "sudo", "sudo_password", "timeout"}
    assert set(script["runner_parameters"]) == {"cwd", "env", "kwarg_op", "sudo", "sudo_password", "timeout",
                                                "debug", "content_version"}
    for spec in (cmd, script):
        params = spec["runner_parameters"]
        assert params["timeout"]["default"] == 60 and params["kwarg_op"]["default"] == "--"
        assert params["sudo"]["default"] is False and params["sudo_password"]["secret"] is True
        assert spec["enabled"] is True and spec["runner_package"] == "local_runner"
    assert script["runner_parameters"]["debug"]["default"] is False


def test_echo_through_core_echo_metadata():
    action = load_action(CORE, "echo")
    ctx = make_ctx(action, runner_parameters={"cmd": 'echo "hello world"', "timeout": 60}, pack_dir=CORE,
                   action_parameters={"message": "hello world"})
    outcome = LocalShellCommandRunner().run(ctx)
    assert outcome.status == "succeeded"
    assert outcome.result == {"failed": False, "succeeded": True, "return_code": 0,
                              "stdout": "hello world", "stderr": ""}
    assert ctx.emit.text() == "hello world\n"


def test_non_zero_exit_fails_and_keeps_stderr():
    outcome, _ = run_cmd("echo out; echo bad >&2; exit 4")
    assert outcome.status == "failed"
    assert outcome.result == {"failed": True, "succeeded": False, "return_code": 4, "stdout": "out", "stderr": "bad"}


def test_json_output_is_decoded_and_one_newline_stripped():
    outcome, _ = run_cmd("""echo '{"a": [1, 2]}'; printf 'x\\n\\n' >&2""")
    assert outcome.result["stdout"] == {"a": [1, 2]}
    assert outcome.result["stderr"] == "x\n"


def test_runs_with_bin_sh_semantics():
    outcome, _ = run_cmd('echo "$0"; [ -n "$BASH_VERSION" ] && echo bash || echo posix')
    assert outcome.result["stdout"] == "/bin/sh\nposix"


def test_timeout_kills_the_whole_group_and_reports_like_stackstorm():
    outcome, ctx = run_cmd("sleep 300 & echo $!; sleep 300", timeout=1)
    assert outcome.status == "timeout"
    assert outcome.result["return_code"] == -9 and outcome.result["failed"] is True
    assert outcome.result["error"] == "Action failed to complete in 1 seconds"
    assert not process_alive(int(ctx.emit.wait_for("")))


def test_output_arrives_before_the_command_ends():
    ctx = make_ctx(runner_parameters={"cmd": "echo first; sleep 2; echo second", "timeout": 30})
    thread, box = run_in_thread(LocalShellCommandRunner(), ctx)
    ctx.emit.wait_for("first")
    assert "result" not in box  # still running when the first line is already out
    thread.join(10)
    assert box["result"].result["stdout"] == "first\nsecond"


def test_cancel_stops_the_command_and_its_children():
    ctx = make_ctx(runner_parameters={"cmd": "sleep 300 & echo $!; sleep 300", "timeout": 60})
    thread, box = run_in_thread(LocalShellCommandRunner(), ctx)
    grandchild = int(ctx.emit.wait_for(""))
    ctx.cancel.set()
    thread.join(10)
    assert box["result"].status == "canceled"
    assert not process_alive(grandchild)


def test_env_parameter_cwd_and_st2_variables(tmp_path):
    outcome, _ = run_cmd('echo "$EXTRA|$(pwd)|$ST2_ACTION_PACK_NAME|$ST2_ACTION_EXECUTION_ID|$ST2_ACTION_DEBUG"',
                         env={"EXTRA": "given", "ST2_ACTION_PACK_NAME": "not-allowed"}, cwd=str(tmp_path))
    assert outcome.result["stdout"] == f"given|{tmp_path}|testpack|5f0000000000000000000001|False"


def test_missing_cwd_is_a_clear_failure():
    outcome, _ = run_cmd("true", cwd="/nonexistent/dir")
    assert outcome.status == "failed"
    assert "Could not start the command" in outcome.result["error"] and "/nonexistent/dir" in outcome.result["error"]


def test_empty_cmd_and_entry_point_mistakes_fail_cleanly():
    assert "cmd parameter is empty" in run_cmd("")[0].result["error"]
    ctx = make_ctx({"name": "x", "pack": "testpack", "entry_point": "args.sh"}, runner_parameters={"cmd": "true"})
    assert "only valid for the local-shell-script" in LocalShellCommandRunner().run(ctx).result["error"]


def test_command_text_is_not_on_any_command_line():
    ctx = make_ctx(runner_parameters={"cmd": f"echo $$; sleep 1.5; echo {SECRET} >/dev/null", "timeout": 30})
    thread, box = run_in_thread(LocalShellCommandRunner(), ctx)
    shell_pid = int(ctx.emit.wait_for(""))
    cmdlines = session_cmdlines(shell_pid)
    thread.join(10)
    assert cmdlines and not any(SECRET in line for line in cmdlines), cmdlines
    assert box["result"].status == "succeeded"


def test_script_arguments_named_then_positional():
    action = load_action(TESTPACK, "args")
    values = {"name": "a b", "flag": True, "off": False, "empty": "", "count": 0,
              "first": "x y", "second": [1, 2], "third": True}
    assert script_arguments(values, action["parameters"]) == \
        ["--name=a b", "--flag", "--count=0", "x y", "1,2", "1"]
    assert script_arguments({"name": "n", "first": None, "second": None, "third": None}, action["parameters"], "-") \
        == ["-name=n", "", "", ""]


def test_script_runs_with_arguments_env_and_cwd(tmp_path):
    action = load_action(TESTPACK, "args")
    ctx = make_ctx(action, runner_parameters={"timeout": 30, "cwd": str(tmp_path), "env": {"EXTRA": "yes"},
                                              "kwarg_op": "--"},
                   action_parameters={"name": "it's", "flag": True, "first": "one two", "second": ["a", "b"],
                                      "third": False})
    outcome = LocalShellScriptRunner().run(ctx)
    assert outcome.status == "succeeded", outcome
    assert outcome.result["stdout"].splitlines() == [
        "arg:--name=it's", "arg:--flag", "arg:one two", "arg:a,b", "arg:0", f"cwd:{tmp_path}", "extra:yes"]


def test_script_is_made_executable(tmp_path):
    pack = tmp_path / "pack"
    (pack / "actions").mkdir(parents=True)
    script = pack / "actions" / "hi.sh"
    script.write_text("#!/bin/sh\necho hi \"$@\"\nexit 2\n")
    script.chmod(0o644)
    ctx = make_ctx({"name": "hi", "pack": "pack", "entry_point": "hi.sh", "parameters": {}},
                   runner_parameters={"timeout": 30}, action_parameters={"x": 1}, pack_dir=str(pack))
    outcome = LocalShellScriptRunner().run(ctx)
    assert outcome.status == "failed" and outcome.result["return_code"] == 2
    assert outcome.result["stdout"] == "hi --x=1"


def test_script_missing_is_a_clear_failure():
    ctx = make_ctx({"name": "gone", "pack": "testpack", "entry_point": "gone.sh"}, runner_parameters={"timeout": 5})
    outcome = LocalShellScriptRunner().run(ctx)
    assert outcome.status == "failed" and "does not exist" in outcome.result["error"]


def test_sigterm_from_outside_is_abandoned():
    outcome, _ = run_cmd("kill -TERM $$")
    assert outcome.status == "abandoned" and outcome.result["return_code"] == -15


@pytest.mark.skipif(shutil.which("sudo") is not None, reason="sudo is installed here")
def test_sudo_without_sudo_installed_fails_with_a_clear_message():
    outcome, _ = run_cmd("id -u", sudo=True)
    assert outcome.status == "failed"
    assert outcome.result["error"] == 'sudo is true but the "sudo" program is not installed on this host.'


@pytest.mark.skipif(shutil.which("sudo") is None or os.geteuid() != 0, reason="needs sudo, run as root")
def test_sudo_runs_the_command_as_root_with_the_action_environment():
    outcome, _ = run_cmd('id -u; echo "$ST2_ACTION_PACK_NAME"', sudo=True)
    assert outcome.status == "succeeded", outcome
    assert outcome.result["stdout"] == "0\ntestpack"


@pytest.mark.skipif(shutil.which("sudo") is None or os.geteuid() != 0, reason="needs sudo, run as root")
def test_sudo_timeout_kills_the_group():
    start = time.monotonic()
    outcome, ctx = run_cmd("sleep 300 & echo $!; sleep 300", sudo=True, timeout=1)
    assert outcome.status == "timeout" and time.monotonic() - start < 8
    assert not process_alive(int(ctx.emit.wait_for("")))
