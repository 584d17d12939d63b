"""python-script: runs a pack's Python action in a child process of the pack virtualenv's Python
(packs without a virtualenv: [actionrunner] python_binary, else the appliance's own interpreter).

The child is python_runner.wrapper; it gets its request (parameters, pack config) on stdin, so no
secret shows in /proc/<pid>/cmdline, and prints the action's result between StackStorm's
delimiters. Everything else the action prints is its stdout, streamed line by line as it runs.
"""

from __future__ import annotations

import json
import os
from typing import Any, Optional

from appliance import process
from appliance.pack_env import interpreter, python_path
from appliance.runners import RunContext, Runner, RunResult, script_parameters
from python_runner.wrapper import DELIMITER, INVALID_STATUS_EXIT_CODE

WRAPPER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "wrapper.py")
DEFAULT_TIMEOUT = 600
LOG_LEVELS = ["AUDIT", "CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"]
ANY_JSON = {"anyOf": [{"type": kind} for kind in ("object", "string", "integer", "number", "boolean", "array",
                                                  "null")]}


class PythonRunner(Runner):
    RUNNER_TYPE = {
        "name": "python-script",
        "description": "Runs a pack's Python action in the pack's virtualenv.",
        "enabled": True,
        "runner_package": "python_runner",
        "runner_module": "python_runner",
        "output_key": "result",
        "output_schema": {
            "type": "object",
            "properties": {
                "result": ANY_JSON,
                "stderr": {"type": "string", "required": True},
                "stdout": {"type": "string", "required": True},
                "exit_code": {"type": "integer", "required": True},
            },
            "additionalProperties": False,
        },
        "runner_parameters": {
            **script_parameters(),
            "env": {"description": "Extra environment variables for the action's process.", "type": "object"},
            "timeout": {
                "default": DEFAULT_TIMEOUT,
                "description": "Seconds after which the action's process and its children are killed.",
                "type": "integer",
            },
            "log_level": {
                "description": "Level of the action's self.logger messages (written to stderr).",
                "type": "string",
                "default": "DEBUG",
                "enum": LOG_LEVELS,
            },
        },
    }

    def run(self, ctx: RunContext) -> RunResult:
        params = ctx.runner_parameters
        timeout = params.get("timeout", DEFAULT_TIMEOUT)
        if not ctx.entry_point:
            return _failure(f'Action "{ctx.action.get("name", "")}" is missing entry_point attribute')
        if not os.path.isfile(ctx.entry_point):
            return _failure(f"The action's file {ctx.entry_point} does not exist.")
        python, venv_bin = interpreter(ctx.virtualenv, ctx.settings.python_binary)
        request = {
            "pack": ctx.pack,
            "file_path": ctx.entry_point,
            "parameters": ctx.action_parameters,
            "config": ctx.pack_config or {},
            "user": ctx.user,
            "log_level": params.get("log_level") or "DEBUG",
        }
        try:
            stdin = json.dumps(request) + "\n"
        except (TypeError, ValueError) as exc:
            return _failure(f"The parameters cannot be sent to the action as JSON: {exc}")
        env = self.environment(ctx, venv_bin)

        def emit(kind: str, line: str) -> None:
            if DELIMITER not in line:  # the result travels on stdout but is not output
                ctx.emit(kind, line)

        try:
            done = process.run([python, "-u", WRAPPER], env=env, stdin_data=stdin, timeout=timeout,
                               cancel=ctx.cancel, on_line=emit, on_start=ctx.started)
        except OSError as exc:
            return _failure(f"Could not start {python}: {exc}")
        return outcome(done, timeout)

    @staticmethod
    def environment(ctx: RunContext, venv_bin: Optional[str]) -> dict[str, str]:
        """os.environ, PATH and PYTHONPATH for the pack, the `env` parameter, then ST2_ACTION_*."""
        base = dict(os.environ)
        if venv_bin:
            base["PATH"] = venv_bin + os.pathsep + base.get("PATH", os.defpath)
        base["PYTHONPATH"] = python_path(ctx.pack_path, ctx.entry_point, bool(venv_bin), base.get("PYTHONPATH", ""))
        user_env = {key: value for key, value in (ctx.runner_parameters.get("env") or {}).items()
                    if key.lower() != "pythonpath"}  # the pack's import path is not the user's to replace
        env = process.action_environment(ctx.env, user_env, debug=bool(ctx.runner_parameters.get("debug")),
                                         base=base)
        # What st2client inside an action (and sensors) expects, as StackStorm sets it.
        if ctx.env.get("ST2_ACTION_AUTH_TOKEN"):
            env["ST2_AUTH_TOKEN"] = ctx.env["ST2_ACTION_AUTH_TOKEN"]
        if ctx.env.get("ST2_ACTION_API_URL"):
            env["ST2_API_URL"] = ctx.env["ST2_ACTION_API_URL"]
        return env


def split_output(stdout: str) -> tuple[str, Optional[str]]:
    """(stdout without the result, the result payload or None). The last delimiter pair wins."""
    if stdout.count(DELIMITER) < 2:
        return stdout, None
    before, payload, after = stdout.rsplit(DELIMITER, 2)
    return before + after, payload.strip()


def outcome(done: process.ProcessResult, timeout: Any) -> RunResult:
    """StackStorm's result and status for a finished wrapper process."""
    stdout, payload = split_output(done.stdout)
    result: Any = "None"  # what StackStorm reports when the action printed no result
    status = None
    if payload:
        try:
            decoded = json.loads(payload)
        except ValueError:
            result = payload
        else:
            if isinstance(decoded, dict):
                result, status = decoded.get("result"), decoded.get("status")
            else:
                result = decoded
    code = -9 if done.timed_out else done.return_code
    output = {"result": result, "stdout": stdout, "stderr": done.stderr, "exit_code": code}
    error = _error(done, timeout)
    if error:
        output["error"] = error
    if done.timed_out:
        return RunResult("timeout", output)
    if done.canceled:
        return RunResult("canceled", output)
    succeeded = code == 0 and status is not False
    return RunResult("succeeded" if succeeded else "failed", output)


def _error(done: process.ProcessResult, timeout: Any) -> Optional[str]:
    if done.timed_out:
        return f"Action failed to complete in {timeout} seconds"
    if done.return_code == INVALID_STATUS_EXIT_CODE:
        return done.stderr.strip()
    if done.return_code != 0 and "Traceback (most recent call last)" in done.stderr:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        return lines[-1].strip() if lines else None
    return None


def _failure(message: str) -> RunResult:
    return RunResult("failed", {"result": None, "stdout": "", "stderr": "", "exit_code": -1, "error": message})
