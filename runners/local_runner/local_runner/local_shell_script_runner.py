"""local-shell-script: runs the action's entry point script with the parameters as arguments.

Named parameters become `<kwarg_op><name>=<value>` (true booleans a bare flag; false, null and
empty values left out), then parameters with a `position` follow in position order, serialized as
StackStorm does (booleans 1/0, arrays comma-joined, objects as JSON).
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
from typing import Any

from appliance.runners import RunContext, script_parameters
from local_runner.base import BaseLocalShellRunner, shell_parameters


class LocalShellScriptRunner(BaseLocalShellRunner):
    RUNNER_TYPE = {
        "name": "local-shell-script",
        "description": "Runs a pack's shell script on the action runner's host.",
        "enabled": True,
        "runner_package": "local_runner",
        "runner_module": "local_shell_script_runner",
        "runner_parameters": {
            **script_parameters(),
            **shell_parameters(),
        },
    }

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


def script_arguments(values: dict, specs: dict, kwarg_op: str = "--") -> list[str]:
    """Named arguments first (in parameter order), then the positional ones by position."""
    positional = sorted(
        (spec["position"], name) for name, spec in specs.items()
        if isinstance(spec, dict) and spec.get("position") is not None
    )
    positional_names = {name for _, name in positional}
    args = []
    for name, value in values.items():
        if name in positional_names or value is None or value is False or value == "":
            continue
        args.append(f"{kwarg_op}{name}" if value is True else f"{kwarg_op}{name}={value}")
    for _, name in positional:
        args.append(positional_value(values.get(name), specs[name].get("type")))
    return args


def positional_value(value: Any, kind: Any) -> str:
    """One positional argument as text, by the parameter's declared type."""
    if kind == "boolean":
        return "" if value is None else ("1" if value else "0")
    if kind in ("array", "list"):
        return ",".join(str(item) for item in value) if value else ""
    if kind == "object":
        return json.dumps(value) if value else ""
    if kind == "null" or value is None:
        return ""
    if kind in ("string", "number", "float", "integer"):
        return str(value)
    return str(value) if value else ""
