"""orquesta: hands a workflow to st2workflowengine and leaves its execution running.

The workflow file (the action's entry point) is inspected first: a workflow with syntax, expression, context or
content errors fails at once with StackStorm's list of errors and never starts. A sound one is stored as a
workflow execution; the engine then runs its tasks as child executions and completes this execution with the
workflow's status and `{"output": ..., "errors": [...]}` result.
"""

from __future__ import annotations

from appliance.runners import RunContext, Runner, RunResult, runner_type

ANY_JSON = {"anyOf": [{"type": kind} for kind in ("object", "string", "integer", "number", "boolean", "array",
                                                  "null")]}


class OrquestaRunner(Runner):
    RUNS_USER_CODE = False
    ASYNC = True
    RUNNER_TYPE = runner_type(
        "orquesta", "orquesta_runner", "orquesta_runner",
        "Runs an Orquesta workflow.",
        {"notify": {"type": "array", "description": "Tasks whose executions get the workflow's notify.",
                    "uniqueItems": True, "items": {"type": "string", "minLength": 1, "pattern": "^\\w+$"},
                    "default": []}},
        output_key="output",
        output_schema={"type": "object", "additionalProperties": False,
                       "properties": {"errors": {"anyOf": [{"type": "object"}, {"type": "array"}]},
                                      "output": ANY_JSON}},
    )

    def run(self, ctx: RunContext) -> RunResult:
        try:
            with open(ctx.entry_point, encoding="utf-8") as handle:
                definition = handle.read()
        except (OSError, UnicodeDecodeError) as exc:
            return RunResult("failed", {"errors": [{"message": f"Cannot read the workflow {ctx.entry_point}: "
                                                               f"{exc}"}], "output": None})
        errors = ctx.request_workflow(definition, ctx.action_parameters)
        if errors:
            return RunResult("failed", {"errors": errors, "output": None})
        return RunResult("running", {})
