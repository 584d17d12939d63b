"""remote-shell-script: copies the action's script to every host, runs it there with the action's
parameters as arguments (appliance.script_arguments), then removes it."""

from __future__ import annotations

import os
import secrets

from clush_runner.steps import script_command_line, script_steps

from appliance.runners import RunContext, runner_type, script_parameters
from appliance.script_arguments import script_arguments
from remote_runner.base import BaseRemoteShellRunner, remote_parameters, wrap_command


def _script_parameters() -> dict:
    """StackStorm lets script actions choose where the script is copied: `dir` is not immutable here."""
    params = {**script_parameters(), **remote_parameters()}
    params["dir"] = {key: value for key, value in params["dir"].items() if key != "immutable"}
    return params


class RemoteShellScriptRunner(BaseRemoteShellRunner):
    RUNNER_TYPE = runner_type(
        "remote-shell-script", "remote_runner", "remote_script_runner",
        "Copies a pack's script to remote hosts over ssh and runs it there; the result has one entry per host.",
        _script_parameters(),
        output_key="stdout",
    )

    def steps(self, ctx: RunContext) -> list[dict]:
        params = ctx.runner_parameters
        script = ctx.entry_point
        if not script:
            raise ValueError("The action has no entry_point: remote-shell-script needs a script to run.")
        if not os.path.isfile(script):
            raise ValueError(f"The action's script {script} does not exist.")
        directory = str(params.get("dir") or "/tmp")
        if not directory.startswith("/"):
            raise ValueError(f"dir must be an absolute path on the hosts, not {directory!r}.")
        # Unique per run, so two executions (or a retry) never share a file.
        name = f"st2-{ctx.execution_id}-{secrets.token_hex(4)}-{os.path.basename(script)}"
        remote = f"{directory.rstrip('/')}/{name}"
        args = script_arguments(ctx.action_parameters, ctx.action.get("parameters") or {},
                                params.get("kwarg_op") or "--")
        run, stdin = wrap_command(script_command_line(remote, args), ctx)
        return script_steps(script, remote, run, stdin, guarded=True)
