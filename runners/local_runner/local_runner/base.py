"""What both local shell runners share: running a shell command and shaping StackStorm's result.

The command text goes to the shell through a private file (`. /tmp/st2-cmd-...`), not through
`sh -c <command>`, because Jinja-rendered commands often carry secrets and argv is world-readable.
"""

from __future__ import annotations

import os
import pwd
import shutil
from abc import abstractmethod
from typing import Any, Optional

from appliance import process
from appliance.runners import RunContext, Runner, RunResult
from appliance.shell_result import BAD_SUDO_PASSWORD, shell_result

SHELL = "/bin/sh"
DEFAULT_TIMEOUT = 60


def shell_parameters() -> dict:
    """The runner parameters both local runners take (StackStorm 3.9 names, types and defaults)."""
    return {
        "cwd": {"description": "Directory the command runs in.", "type": "string"},
        "env": {
            "description": "Extra environment variables for the command (e.g. key1=val1,key2=val2).",
            "type": "object",
        },
        "kwarg_op": {
            "default": "--",
            "description": 'What goes in front of named arguments, e.g. "--" or "-".',
            "type": "string",
        },
        "sudo": {"default": False, "description": "Run the command as root through sudo.", "type": "boolean"},
        "sudo_password": {
            "default": None,
            "description": "Password for sudo, when passwordless sudo is not set up.",
            "type": "string",
            "secret": True,
            "required": False,
        },
        "timeout": {
            "default": DEFAULT_TIMEOUT,
            "description": "Seconds after which the command and everything it started are killed.",
            "type": "integer",
        },
    }


def error_result(message: str) -> RunResult:
    """A failure before anything ran (bad parameters, missing program): clear text, no traceback."""
    return RunResult("failed", shell_result(-1, "", "", message))


class BaseLocalShellRunner(Runner):
    """Runs `command(ctx)` with /bin/sh (or bash under sudo) and maps the outcome like StackStorm."""

    @abstractmethod
    def command(self, ctx: RunContext) -> str:
        """The shell command line to run; raise ValueError when the parameters do not make one."""

    def run(self, ctx: RunContext) -> RunResult:
        params = ctx.runner_parameters
        try:
            command = self.command(ctx)
        except ValueError as exc:
            return error_result(str(exc))
        timeout = params.get("timeout", DEFAULT_TIMEOUT)
        sudo = bool(params.get("sudo"))
        password = params.get("sudo_password") or None
        env = process.action_environment(ctx.env, params.get("env"), debug=bool(params.get("debug")))
        if sudo and shutil.which("sudo", path=env.get("PATH")) is None:
            return error_result('sudo is true but the "sudo" program is not installed on this host.')
        with process.private_file(command + "\n", prefix="st2-cmd-", suffix=".sh") as path:
            inner = process.source_command(path)
            if sudo:
                argv, stdin = process.sudo_command(inner, password)
            else:
                argv, stdin = [SHELL, "-c", inner], None
            try:
                done = process.run(argv, env=env, cwd=params.get("cwd"), stdin_data=stdin,
                                   timeout=timeout, cancel=ctx.cancel, on_line=ctx.emit,
                                   sudo=sudo, sudo_password=password if sudo else None,
                                   on_start=ctx.started)
            except OSError as exc:
                return error_result(f"Could not start the command: {exc}")
        return self.outcome(done, timeout, password)

    @staticmethod
    def outcome(done: process.ProcessResult, timeout: Any, sudo_password: Optional[str]) -> RunResult:
        """StackStorm's mapping: 0 succeeded, -15 (SIGTERM from outside) abandoned, else failed."""
        code, error = done.return_code, None
        if done.timed_out:
            code, error = -9, f"Action failed to complete in {timeout} seconds"
        elif sudo_password and BAD_SUDO_PASSWORD.search(done.stderr):
            user = pwd.getpwuid(os.getuid()).pw_name
            code = -1
            error = f"Invalid sudo password provided or sudo is not configured for this user ({user})"
        result = shell_result(code, done.stdout, done.stderr, error)
        if done.timed_out:
            return RunResult("timeout", result)
        if done.canceled:
            return RunResult("canceled", result)
        if code == 0:
            return RunResult("succeeded", result)
        return RunResult("abandoned" if code == -15 else "failed", result)
