"""milkcheck: runs `milkcheck [options] [SERVICE...] ACTION` for each requested action, in order.

MilkCheck keeps process-wide state (callback singletons, logging handlers), so every action is a
fresh `milkcheck` process, never an in-process call. Each runs in a process group of its own,
streams its output live, and is killed with everything it started on timeout or cancel.
Exit codes: 0 ok, 3 warning, 6 error, 9 usage or configuration error, 12 internal error. A warning
leaves the execution succeeded (saying so) unless warning_fails is set.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from typing import Optional

from ClusterShell.NodeSet import NodeSet

from appliance import process
from appliance.runners import RunContext, Runner, RunResult, runner_type
from appliance.runners import parameter as param
from milkcheck_runner import report

DEFAULT_TIMEOUT = 600
NOT_INSTALLED = ("MilkCheck is not installed on this host ({path} not found). It is not on PyPI: put its "
                 "source in the site mirror with `pyrepo add <milkcheck source dir>`, then "
                 "`pip install milkcheck` into the appliance's virtualenv (it declares no dependencies; "
                 "ClusterShell and PyYAML come with this runner), or set milkcheck_path.")


def milkcheck_parameters() -> dict:
    return {
        "actions": param("array", "MilkCheck actions to run one after another (e.g. [stop, start]); the run "
                                  "stops at the first that fails.", items={"type": "string"}, required=True),
        "services": param("array", "Services (or groups) to act on; all services when empty.",
                          items={"type": "string"}, default=[]),
        "config_dir": param("string", "Directory of MilkCheck service YAML files (-c); MilkCheck's own default "
                                      "(/etc/milkcheck/conf) when empty."),
        "only_nodes": param("string", "Act only on these nodes (-n, ClusterShell node set syntax)."),
        "exclude_nodes": param("string", "Leave these nodes out (-x)."),
        "exclude_services": param("array", "Services to skip (-X).", items={"type": "string"}, default=[]),
        "tags": param("array", "Only services with one of these tags (-t).", items={"type": "string"},
                      default=[]),
        "variables": param("object", "MilkCheck variables to define (-D name=value).", default={}),
        "dry_run": param("boolean", "Show what would run, run nothing (--dry-run).", default=False),
        "nodeps": param("boolean", "Ignore dependencies between services (--nodeps).", default=False),
        "report": param("string", "MilkCheck's report after the run (-r).", enum=["no", "default", "full"],
                        default="full"),
        "verbose": param("integer", "MilkCheck verbosity (-v repeated); from 2 every node's exit code is shown, "
                                    "so failed_nodes also lists the nodes behind a WARNING.", default=2),
        "warning_fails": param("boolean", "Fail the execution when MilkCheck reports a WARNING.", default=False),
        "timeout": param("integer", "Seconds all the actions may take together.", default=DEFAULT_TIMEOUT),
        "milkcheck_path": param("string", "The milkcheck program (looked up on PATH and next to the "
                                          "appliance's Python).", default="milkcheck"),
    }


def find_milkcheck(name: str, env: dict) -> Optional[str]:
    search = os.pathsep.join(p for p in (env.get("PATH", ""), os.path.dirname(sys.executable)) if p)
    return shutil.which(name, path=search)


def milkcheck_argv(program: str, params: dict, action: str) -> list[str]:
    """The command line for one action; raises ValueError on parameters MilkCheck cannot take."""
    argv = [program, "-y"]  # nobody can answer a confirm_actions prompt
    argv += ["-v"] * int(params.get("verbose") or 0)
    if params.get("config_dir"):
        argv += ["-c", str(params["config_dir"])]
    if params.get("report"):
        argv += ["-r", str(params["report"])]
    if params.get("only_nodes"):
        argv += ["-n", str(params["only_nodes"])]
    if params.get("exclude_nodes"):
        argv += ["-x", str(params["exclude_nodes"])]
    for service in params.get("exclude_services") or []:
        argv += ["-X", str(service)]
    if params.get("tags"):
        argv += ["-t", ",".join(str(tag) for tag in params["tags"])]
    for name, value in (params.get("variables") or {}).items():
        if isinstance(value, (dict, list)) or value is None:
            raise ValueError(f"MilkCheck variable {name!r} must be a string or a number, not {value!r}.")
        argv += ["-D", f"{name}={value}"]
    if params.get("dry_run"):
        argv.append("--dry-run")
    if params.get("nodeps"):
        argv.append("--nodeps")
    for service in params.get("services") or []:
        if str(service).startswith("-"):
            raise ValueError(f"Service names cannot start with '-': {service!r}.")
        argv.append(str(service))
    if not action or action.startswith("-"):
        raise ValueError(f"Not a MilkCheck action: {action!r}.")
    return argv + [action]


class MilkCheckRunner(Runner):
    RUNNER_TYPE = runner_type(
        "milkcheck", "milkcheck_runner", "milkcheck_runner",
        "Runs MilkCheck actions (start, stop, status, ...) over its service dependency graph. "
        "In service files MilkCheck's % sigil means a literal % is written %%.",
        milkcheck_parameters(),
    )
    RUNS_USER_CODE = False

    def run(self, ctx: RunContext) -> RunResult:
        params = ctx.runner_parameters
        env = process.action_environment(ctx.env)
        actions = [str(action) for action in params.get("actions") or []]
        program = find_milkcheck(str(params.get("milkcheck_path") or "milkcheck"), env)
        try:
            if not actions:
                raise ValueError("No MilkCheck action given (actions is empty).")
            if program is None:
                raise ValueError(NOT_INSTALLED.format(path=params.get("milkcheck_path") or "milkcheck"))
            commands = [milkcheck_argv(program, params, action) for action in actions]
        except ValueError as exc:
            return RunResult("failed", {"status": "usage_error", "error": str(exc)})
        deadline = time.monotonic() + float(params.get("timeout") or DEFAULT_TIMEOUT)
        steps: list[tuple[str, list[str], process.ProcessResult]] = []
        for action, argv in zip(actions, commands):
            done = process.run(argv, env=env, timeout=max(0.0, deadline - time.monotonic()), cancel=ctx.cancel,
                               on_line=ctx.emit, on_start=ctx.started)
            steps.append((action, argv, done))
            if step_status(done, bool(params.get("warning_fails"))) != "succeeded":
                break
        return outcome(steps, bool(params.get("warning_fails")))


def step_status(done: process.ProcessResult, warning_fails: bool) -> str:
    if done.canceled:
        return "canceled"
    if done.timed_out:
        return "timeout"
    if done.return_code == 0 or (done.return_code == 3 and not warning_fails):
        return "succeeded" if report.services(done.stdout) else "failed"
    return "failed"


def outcome(steps: list[tuple[str, list[str], process.ProcessResult]], warning_fails: bool) -> RunResult:
    """The execution status and result of the actions that ran (the last one decides a failure)."""
    rows, errors, failed = [], [], NodeSet()
    for action, _, done in steps:
        found = report.services(done.stdout)
        rows += [{**row, "action": action} for row in found]
        failed.update(report.failed_nodes(done.stdout))
        errors += report.logged_errors(done.stderr)
        if done.return_code == 0 and not found and not (done.canceled or done.timed_out):
            errors.append(f"MilkCheck ran nothing for action {action!r}: no selected service defines it.")
    last = steps[-1][2]
    status = step_status(last, warning_fails)
    codes = [done.return_code for _, _, done in steps]
    code = max(codes) if status == "succeeded" else last.return_code
    warning = any(row["status"] == "WARNING" for row in rows) or 3 in codes
    result = {
        "status": {"canceled": "canceled", "timeout": "timeout"}.get(status, report.exit_status(code)),
        "return_code": code,
        "warning": warning,
        "services": rows,
        "failed_nodes": str(failed),
        "stdout": "".join(done.stdout for _, _, done in steps),
        "stderr": "".join(done.stderr for _, _, done in steps),
        "commands": [argv for _, argv, _ in steps],
    }
    if errors:
        result["error"] = "; ".join(errors)
    if warning and status == "succeeded":
        result["message"] = "MilkCheck reported warnings (failures within the services' thresholds)."
    return RunResult(status, result)
