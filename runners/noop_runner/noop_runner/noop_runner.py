"""noop: succeeds at once without running anything; useful as a placeholder in workflows and rules."""

from __future__ import annotations

from appliance.runners import RunContext, Runner, RunResult


class NoopRunner(Runner):
    RUNS_USER_CODE = False
    RUNNER_TYPE = {
        "name": "noop",
        "description": "Does nothing and succeeds, whatever the parameters.",
        "enabled": True,
        "runner_package": "noop_runner",
        "runner_module": "noop_runner",
        "runner_parameters": {},
    }

    def run(self, ctx: RunContext) -> RunResult:
        return RunResult("succeeded", {"failed": False, "succeeded": True, "return_code": 0})
