"""milkcheck: runs `milkcheck [options] [SERVICE...] ACTION` for each requested action, in order.

MilkCheck keeps process-wide state (callback singletons, logging handlers), so every action is a
fresh `milkcheck` process, never an in-process call. Each runs in a process group of its own,
streams its output live, and is killed with everything it started on timeout or cancel.
Exit codes: 0 ok, 3 warning, 6 error, 9 usage or configuration error, 12 internal error. A warning
leaves the execution succeeded (saying so) unless warning_fails is set. MilkCheck exits 0 without a
word when no selected service defines the action: the runner counts that as a failure.
MilkCheck's ssh gets st2.conf's [ssh_runner] ssh configuration and the action's ssh_options
through wrappers first on its PATH (see ssh_wrappers): MilkCheck itself takes no ssh options.
"""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass
from typing import Optional

from ClusterShell.NodeSet import NodeSet

from appliance import process
from appliance.runners import RunContext, Runner, RunResult, runner_type
from milkcheck_runner import command, report, ssh_wrappers

# MilkCheck sizes its status lines to the terminal (COLUMNS without one) and caps them at 120
# columns; asking for 120 cuts the fewest service names.
COLUMNS = "120"
NOT_INSTALLED = (
    "MilkCheck is not installed on this host ({name!r} not found): it is not on PyPI, so add its source to "
    "the site mirror with `pyrepo add <milkcheck source dir>` and install it with `pip install milkcheck` into "
    "the appliance's virtualenv (MilkCheck declares no dependencies; ClusterShell and PyYAML come with this "
    "runner), or point milkcheck_path at it."
)


@dataclass
class Step:
    """One milkcheck run: the action, its argv, and how it ended."""

    action: str
    argv: list[str]
    done: process.ProcessResult


class MilkCheckRunner(Runner):
    RUNNER_TYPE = runner_type(
        "milkcheck", "milkcheck_runner", "milkcheck_runner",
        "Runs MilkCheck actions (start, stop, status, ...) over its service dependency graph, one milkcheck "
        "process per action. In MilkCheck service files % is the variable sigil: a literal % is written %%.",
        command.runner_parameters(),
    )
    RUNS_USER_CODE = False

    def run(self, ctx: RunContext) -> RunResult:
        params = ctx.runner_parameters
        env = {**process.action_environment(ctx.env), "COLUMNS": COLUMNS}
        name = params.get("milkcheck_path") or "milkcheck"
        try:
            actions = command.actions(params)
            seconds = command.timeout(params)
            program = command.find_milkcheck(str(name), env)
            if program is None:
                return RunResult("failed", empty_result("not_installed", NOT_INSTALLED.format(name=name)))
            argvs = [command.milkcheck_argv(program, params, action) for action in actions]
            ssh_options = command.ssh_options(params, ctx.settings.ssh_config_options())
        except ValueError as exc:
            return RunResult("failed", empty_result("usage_error", str(exc)))
        with ssh_wrappers.ssh_environment(ssh_options, env) as run_env:
            return self.run_actions(ctx, list(zip(actions, argvs)), run_env, seconds)

    @staticmethod
    def run_actions(ctx: RunContext, planned: list[tuple[str, list[str]]], env: dict[str, str],
                    seconds: int) -> RunResult:
        """One milkcheck process per (action, argv), in order, until one fails, the deadline or a cancel."""
        warning_fails = bool(ctx.runner_parameters.get("warning_fails"))
        deadline = time.monotonic() + seconds
        steps: list[Step] = []
        stopped: Optional[str] = None  # "canceled" or "timeout" when that came between two actions
        for action, argv in planned:
            if ctx.cancel.is_set():
                stopped = "canceled"
            elif time.monotonic() >= deadline:
                stopped = "timeout"
            if stopped:
                break
            try:
                done = process.run(argv, env=env, timeout=deadline - time.monotonic(), cancel=ctx.cancel,
                                   on_line=ctx.emit, on_start=ctx.started)
            except OSError as exc:
                result = empty_result("internal_error", f"Cannot run {argv[0]}: {exc.strerror or exc}.")
                return RunResult("failed", {**result, "command": [step.argv for step in steps] + [argv]})
            steps.append(Step(action, argv, done))
            if step_status(done, warning_fails) != "succeeded":
                break
        return outcome(steps, warning_fails, seconds, stopped)


def empty_result(status: str, error: str) -> dict:
    """The result of an execution that ran no milkcheck: same keys as any other, plus the error."""
    return {"status": status, "return_code": None, "warning": False, "services": [], "failed_nodes": "",
            "stdout": "", "stderr": "", "command": [], "error": error}


def step_status(done: process.ProcessResult, warning_fails: bool) -> str:
    """The execution status one milkcheck run alone would give."""
    if done.canceled:
        return "canceled"
    if done.timed_out:
        return "timeout"
    if done.return_code == 0 or (done.return_code == 3 and not warning_fails):
        rows = report.services(done.stdout)
        return "succeeded" if rows and not report.failures(rows) else "failed"
    return "failed"


def step_error(step: Step, seconds: int) -> Optional[str]:
    """One line saying why this run failed, or None when it did not."""
    done = step.done
    if done.canceled:
        return f"Canceled during MilkCheck action {step.action!r}; milkcheck and its commands were killed."
    if done.timed_out:
        return f"MilkCheck did not finish within {seconds} s (action {step.action!r}); it was killed."
    code = done.return_code
    rows = report.services(done.stdout)
    if code in (0, 3) and not rows:
        return (f"MilkCheck ran nothing for action {step.action!r}: no selected service defines it, "
                "or the services, tags and node filters selected none.")
    if code in (0, 3) and report.failures(rows):
        bad = ", ".join(f"{row['service']} {row['status']}" for row in report.failures(rows))
        return f"MilkCheck action {step.action!r} failed: {bad} (though milkcheck exited with {code})."
    if code < 0 or code >= 128:
        return f"milkcheck ended on signal {signal_name(-code if code < 0 else code - 128)}."
    if code in (6, 9, 12):
        logged = report.logged_errors(done.stderr)
        if logged:
            return f"MilkCheck action {step.action!r}: {'; '.join(logged)}"
        bad = [f"{row['service']} {row['status']}" for row in rows if row["status"] not in ("OK", "SKIPPED")]
        if bad:
            return f"MilkCheck action {step.action!r} failed: {', '.join(bad)}."
        last = [line.strip() for line in done.stderr.splitlines() if line.strip()]
        return f"MilkCheck action {step.action!r} failed with exit code {code}" + (f": {last[-1]}" if last else ".")
    if code == 3:
        return f"MilkCheck action {step.action!r} reported a WARNING and warning_fails is true."
    return f"milkcheck exited with unexpected code {code}."


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


def outcome(steps: list[Step], warning_fails: bool, seconds: int, stopped: Optional[str]) -> RunResult:
    """The execution status and merged result of the milkcheck runs made (the last decides a failure)."""
    rows: list[dict] = []
    failed = NodeSet()
    for step in steps:
        rows += [{**row, "action": step.action} for row in report.services(step.done.stdout)]
        failed.update(report.failed_nodes(step.done.stdout))
    codes = [step.done.return_code for step in steps]
    last = steps[-1] if steps else None
    status = stopped or (step_status(last.done, warning_fails) if last else "failed")
    code = (max(codes) if status == "succeeded" else codes[-1]) if codes else None
    warning = 3 in codes or any(row["status"] == "WARNING" for row in rows)
    result = {
        "status": result_status(status, code, last),
        "return_code": code,
        "warning": warning,
        "services": rows,
        "failed_nodes": str(failed),
        "stdout": "".join(step.done.stdout for step in steps),
        "stderr": "".join(step.done.stderr for step in steps),
        "command": [step.argv for step in steps],
    }
    if stopped:
        result["error"] = ("Canceled between two MilkCheck actions." if stopped == "canceled" else
                           f"MilkCheck actions did not finish within {seconds} s.")
    elif last is not None and status != "succeeded":
        result["error"] = step_error(last, seconds)
    if warning and status == "succeeded":
        result["message"] = ("MilkCheck reported a WARNING (failures within the services' thresholds); the "
                             "execution still succeeds because warning_fails is false.")
    return RunResult(status, result)


def result_status(status: str, code: Optional[int], last: Optional[Step]) -> str:
    """result["status"]: MilkCheck's own verdict, except a silent exit 0 (nothing ran) is a usage error."""
    if status in ("canceled", "timeout"):
        return status
    if code is None or last is None:
        return "internal_error"
    rows = report.services(last.done.stdout)
    if last.done.return_code in (0, 3) and not rows:
        return "usage_error"
    if last.done.return_code in (0, 3) and report.failures(rows):
        return "error"
    return report.exit_status(code)
