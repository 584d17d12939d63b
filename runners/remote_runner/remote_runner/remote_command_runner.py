"""remote-shell-cmd: runs the `cmd` parameter on every host over ssh (what core.remote uses)."""

from __future__ import annotations

from appliance.runners import RunContext, runner_type
from remote_runner.base import BaseRemoteShellRunner, param, remote_parameters, wrap_command


class RemoteShellCommandRunner(BaseRemoteShellRunner):
    RUNNER_TYPE = runner_type(
        "remote-shell-cmd", "remote_runner", "remote_command_runner",
        "Runs a shell command on remote hosts over ssh; the result has one entry per host.",
        {"cmd": param("string", "The shell command to run on each host."), **remote_parameters()},
        output_key="stdout",
    )

    def steps(self, ctx: RunContext) -> list[dict]:
        cmd = ctx.runner_parameters.get("cmd")
        if not cmd:
            raise ValueError("Nothing to run: the cmd parameter is empty.")
        command, stdin = wrap_command(str(cmd), ctx)
        step = {"kind": "shell", "command": command, "guarded": True}
        if stdin:
            step["stdin"] = stdin
        return [step]
