"""local-shell-script: runs the action's entry point script with the parameters as arguments
(appliance.script_arguments says how they are laid out)."""

from __future__ import annotations

import contextlib
import os
import shlex

from appliance.runners import RunContext, runner_type, script_parameters
from appliance.script_arguments import script_arguments
from local_runner.base import BaseLocalShellRunner, shell_parameters


class LocalShellScriptRunner(BaseLocalShellRunner):
    RUNNER_TYPE = runner_type(
        "local-shell-script", "local_runner", "local_shell_script_runner",
        "Runs a pack's shell script on the action runner's host.",
        {
            **script_parameters(),
            **shell_parameters(),
        },
    )

    def command(self, ctx: RunContext) -> str:
        script = ctx.entry_point
        if not script:
            raise ValueError("The action has no entry_point: local-shell-script needs a script to run.")
        if not os.path.isfile(script):
            raise ValueError(f"The action's script {script} does not exist.")
        _make_executable(script)
        argv = [script] + script_arguments(ctx.action_parameters, ctx.action.get("parameters") or {},
                                           ctx.runner_parameters.get("kwarg_op", "--"))
        return " ".join(shlex.quote(arg) for arg in argv)


def _make_executable(path: str) -> None:
    """StackStorm chmods +x before running; a read-only pack directory is left as it is."""
    mode = os.stat(path).st_mode
    if mode & 0o111 != 0o111:
        with contextlib.suppress(OSError):
            os.chmod(path, mode | 0o111)
