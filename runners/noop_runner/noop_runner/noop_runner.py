"""noop: succeeds at once without running anything; useful as a placeholder in workflows and rules."""

from __future__ import annotations

from appliance.runners import RunContext, Runner, RunResult, runner_type


class NoopRunner(Runner):
    RUNS_USER_CODE = False
    RUNNER_TYPE = runner_type(
        "noop", "noop_runner", "noop_runner",
        "Does nothing and succeeds, whatever the parameters.",
        {},
    )

    def run(self, ctx: RunContext) -> RunResult:
        return RunResult("succeeded", {"failed": False, "succeeded": True, "return_code": 0})
