"""local-shell-cmd: runs the `cmd` parameter with /bin/sh on the action runner's host."""

from __future__ import annotations

from appliance.runners import RunContext, runner_type
from local_runner.base import BaseLocalShellRunner, shell_parameters


class LocalShellCommandRunner(BaseLocalShellRunner):
    RUNNER_TYPE = runner_type(
        "local-shell-cmd", "local_runner", "local_shell_command_runner",
        "Runs a shell command on the action runner's host.",
        {
            "cmd": {"description": "The shell command to run on the host.", "type": "string"},
            **shell_parameters(),
        },
    )

    def command(self, ctx: RunContext) -> str:
        if ctx.entry_point:
            raise ValueError("entry_point is only valid for the local-shell-script runner")
        cmd = ctx.runner_parameters.get("cmd")
        if not cmd:
            raise ValueError("Nothing to run: the cmd parameter is empty.")
        return str(cmd)
