"""python-script: pack Python actions in a child process, through the wrapper and the st2common shim."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from python_runner.python_runner import PythonRunner, split_output
from python_runner.wrapper import DELIMITER
from runner_helpers import CORE, TESTPACK, load_action, make_ctx, process_alive, run_in_thread, session_cmdlines

from appliance.runners import RunnerSettings

SECRET = "pw-9b1e77"
PY39 = "/root/.pyenv/versions/3.9.18/bin/python"


def run_action(name, parameters=None, pack_dir=TESTPACK, **extra):
    runner_parameters = extra.pop("runner_parameters", {"timeout": 60})
    ctx = make_ctx(load_action(pack_dir, name), runner_parameters=runner_parameters,
                   action_parameters=parameters or {}, pack_dir=pack_dir, **extra)
    return PythonRunner().run(ctx), ctx


def test_runner_type_matches_stackstorm():
    spec = PythonRunner.RUNNER_TYPE
    assert spec["name"] == "python-script" and spec["output_key"] == "result"
    params = spec["runner_parameters"]
    assert set(params) == {"env", "timeout", "log_level", "debug", "content_version"}
    assert params["timeout"]["default"] == 600 and params["log_level"]["default"] == "DEBUG"
    assert params["log_level"]["enum"] == ["AUDIT", "CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"]
    assert set(spec["output_schema"]["properties"]) == {"result", "stdout", "stderr", "exit_code"}


def test_success_returns_the_action_value_and_uses_pack_libs():
    outcome, ctx = run_action("isprime", {"value": 7, "hello": True})
    assert outcome.status == "succeeded", outcome
    assert outcome.result["result"] == {"value": 7, "prime": True, "greeting": "hello from lib"}
    assert outcome.result["exit_code"] == 0 and outcome.result["stdout"] == ""
    assert "actions.python.PrimeCheckerAction: INFO     checking 7" in outcome.result["stderr"]


def test_false_status_tuple_fails_with_the_value_as_result():
    outcome, ctx = run_action("refuse", {"reason": "because"})
    assert outcome.status == "failed"
    assert outcome.result == {"result": {"reason": "because"}, "stdout": "about to refuse\n", "stderr": "",
                              "exit_code": 0}
    assert ctx.emit.text() == "about to refuse\n"  # the result line itself is not streamed


def test_exception_fails_with_traceback_and_error():
    outcome, _ = run_action("explode", {"message": "kaboom"})
    assert outcome.status == "failed"
    assert outcome.result["result"] == "None" and outcome.result["exit_code"] == 1
    assert "Traceback (most recent call last)" in outcome.result["stderr"]
    assert outcome.result["error"] == "ValueError: kaboom"


def test_output_streams_while_the_action_runs():
    ctx = make_ctx(load_action(TESTPACK, "slow"), runner_parameters={"timeout": 60},
                   action_parameters={"ticks": 3, "interval": 0.7})
    thread, box = run_in_thread(PythonRunner(), ctx)
    ctx.emit.wait_for("tick 0")
    assert "result" not in box
    thread.join(20)
    outcome = box["result"]
    assert outcome.status == "succeeded" and outcome.result["result"] == {"ticks": 3, "had_secret": False}
    assert "tick 2\n" in outcome.result["stdout"] and "err 2\n" in outcome.result["stderr"]


def test_timeout_kills_the_action_and_its_children():
    outcome, ctx = run_action("slow", {"ticks": 100, "interval": 1, "grandchild": True},
                              runner_parameters={"timeout": 2})
    assert outcome.status == "timeout"
    assert outcome.result["exit_code"] == -9 and outcome.result["result"] == "None"
    assert outcome.result["error"] == "Action failed to complete in 2 seconds"
    assert not process_alive(int(ctx.emit.wait_for("grandchild").split()[1]))


def test_cancel_kills_the_action():
    ctx = make_ctx(load_action(TESTPACK, "slow"), runner_parameters={"timeout": 60},
                   action_parameters={"ticks": 100, "interval": 1, "grandchild": True})
    thread, box = run_in_thread(PythonRunner(), ctx)
    grandchild = int(ctx.emit.wait_for("grandchild").split()[1])
    ctx.cancel.set()
    thread.join(10)
    assert box["result"].status == "canceled"
    assert not process_alive(grandchild)


def test_parameters_and_config_are_not_on_any_command_line():
    ctx = make_ctx(load_action(TESTPACK, "slow"), runner_parameters={"timeout": 60},
                   action_parameters={"ticks": 2, "interval": 0.7, "secret": SECRET},
                   pack_config={"api_key": SECRET})
    thread, box = run_in_thread(PythonRunner(), ctx)
    pid = int(ctx.emit.wait_for("pid").split()[1])
    cmdlines = session_cmdlines(pid)
    thread.join(20)
    assert cmdlines and not any(SECRET in line for line in cmdlines), cmdlines
    assert box["result"].result["result"] == {"ticks": 2, "had_secret": True}


def test_config_environment_and_missing_config_key():
    outcome, _ = run_action("context", pack_config={"region": "eu"},
                            runner_parameters={"timeout": 60, "env": {"EXTRA": "x", "PYTHONPATH": "/bad"},
                                               "debug": True})
    assert outcome.status == "succeeded", outcome
    result = outcome.result["result"]
    assert result["config"] == {"region": "eu"}
    assert result["env"] == {
        "ST2_ACTION_PACK_NAME": "testpack", "ST2_ACTION_EXECUTION_ID": "5f0000000000000000000001",
        "ST2_ACTION_API_URL": "http://127.0.0.1:9/v1", "ST2_ACTION_AUTH_TOKEN": "token-for-tests",
        "ST2_ACTION_DEBUG": "True", "ST2_AUTH_TOKEN": "token-for-tests", "ST2_API_URL": "http://127.0.0.1:9/v1",
        "EXTRA": "x"}
    assert 'no key "nope"' in result["missing_config"]
    assert result["executable"] == sys.executable  # no pack virtualenv: the appliance's python
    assert result["value"] is None


class FakeKeys(BaseHTTPRequestHandler):
    """Answers GET /v1/keys/<name> like the API, and records what it was asked."""

    seen: list = []

    def do_GET(self):
        FakeKeys.seen.append((self.path, self.headers.get("X-Auth-Token")))
        if self.path.startswith("/v1/keys/testpack.ContextAction%3Agreeting"):
            body = json.dumps({"name": "testpack.ContextAction:greeting", "value": "hi there"}).encode()
            self.send_response(200)
        else:
            body = b'{"faultstring": "not found"}'
            self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_api():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeKeys)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    FakeKeys.seen = []
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_datastore_get_value_goes_to_the_api_with_the_token(fake_api):
    env = {"ST2_ACTION_PACK_NAME": "testpack", "ST2_ACTION_EXECUTION_ID": "e", "ST2_ACTION_API_URL": fake_api,
           "ST2_ACTION_AUTH_TOKEN": "tok"}
    outcome, _ = run_action("context", {"key": "greeting"}, env=env)
    assert outcome.result["result"]["value"] == "hi there", outcome
    assert FakeKeys.seen[0][1] == "tok" and "scope=system" in FakeKeys.seen[0][0]
    outcome, _ = run_action("context", {"key": "absent"}, env=env)
    assert outcome.status == "succeeded" and outcome.result["result"]["value"] is None


def _make_venv(python, path):
    subprocess.run([python, "-m", "venv", "--without-pip", str(path)], check=True, capture_output=True)
    return str(path)


def test_plain_pack_virtualenv_is_used_and_the_shim_is_importable_there(tmp_path):
    venv = _make_venv(sys.executable, tmp_path / "venv")
    outcome, _ = run_action("context", virtualenv=venv)
    assert outcome.status == "succeeded", outcome
    assert outcome.result["result"]["executable"] == os.path.join(venv, "bin", "python")


def test_packs_without_virtualenv_use_python_binary_else_the_appliance_python(tmp_path):
    other = os.path.join(_make_venv(sys.executable, tmp_path / "other"), "bin", "python")
    outcome, _ = run_action("context", settings=RunnerSettings(python_binary=other))
    assert outcome.status == "succeeded", outcome
    assert outcome.result["result"]["executable"] == other
    outcome, _ = run_action("context")  # [actionrunner] python_binary empty
    assert outcome.result["result"]["executable"] == sys.executable
    venv = _make_venv(sys.executable, tmp_path / "venv")  # a pack virtualenv wins over python_binary
    outcome, _ = run_action("context", virtualenv=venv, settings=RunnerSettings(python_binary=other))
    assert outcome.result["result"]["executable"] == os.path.join(venv, "bin", "python")


@pytest.mark.skipif(not os.path.exists(PY39), reason="Python 3.9 is not installed here")
def test_actions_run_in_a_python39_pack_virtualenv(tmp_path):
    venv = _make_venv(PY39, tmp_path / "venv39")
    for name, params, status in (("isprime", {"value": 9}, "succeeded"), ("refuse", {}, "failed"),
                                 ("explode", {}, "failed")):
        outcome, _ = run_action(name, params, virtualenv=venv)
        assert outcome.status == status, outcome
    assert run_action("isprime", {"value": 9}, virtualenv=venv)[0].result["result"] == {"value": 9, "prime": False}


def test_core_pause():
    outcome, _ = run_action("pause", {"max_pause": 1, "random": True}, pack_dir=CORE)
    assert outcome.status == "succeeded" and outcome.result["result"] == 1


def test_missing_entry_point_file_is_a_clear_failure():
    ctx = make_ctx({"name": "ghost", "pack": "testpack", "entry_point": "ghost.py"})
    outcome = PythonRunner().run(ctx)
    assert outcome.status == "failed" and "does not exist" in outcome.result["error"]


def test_result_parsing_edge_cases():
    assert split_output("no result") == ("no result", None)
    assert split_output(f"a{DELIMITER}{{\"result\": 1}}\n{DELIMITER}b") == ("ab", '{"result": 1}')
    # an action that prints the delimiter itself does not confuse the parser: the last pair wins
    assert split_output(f"{DELIMITER}x{DELIMITER}{{}}\n{DELIMITER}")[1] == "{}"
