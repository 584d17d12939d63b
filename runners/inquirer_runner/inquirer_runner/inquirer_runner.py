"""inquirer: asks a question (core.ask) and leaves its execution `pending` until someone answers.

The execution's result holds what the question is (`schema`, `roles`, `users`, `route`, `ttl`); `st2 inquiry
respond` (PUT /v1/inquiries/{id}) checks an answer against `schema` and completes the execution with it in
`result.response`. `core.st2.generic.inquiry` ({id, route}) is dispatched once the execution is pending, so rules
can tell people where to answer. Under a workflow, the pending task pauses the workflow until the answer.
"""

from __future__ import annotations

from appliance.models import PENDING, ValidationError
from appliance.models.trigger_type import check_schema
from appliance.runners import RunContext, Runner, RunResult, parameter, runner_type

INQUIRY_TRIGGER = "core.st2.generic.inquiry"
DEFAULT_SCHEMA = {
    "title": "response_data",
    "type": "object",
    "properties": {"continue": {"type": "boolean", "description": "Would you like to continue the workflow?",
                                "required": True}},
}
QUESTION = ("schema", "roles", "users", "route", "ttl")  # the runner parameters the result repeats


class InquirerRunner(Runner):
    RUNS_USER_CODE = False
    WAITING_STATUSES = (PENDING,)
    RUNNER_TYPE = runner_type(
        "inquirer", "inquirer_runner", "inquirer_runner",
        "A runner for Inquiries: waits in pending for a response that matches a schema.",
        {
            "schema": parameter("object", "A JSON schema that will be used to validate the response data",
                                default=DEFAULT_SCHEMA, required=True),
            "route": parameter("string", "An arbitrary value for allowing rules to route to proper notification "
                                         "channel", default="", required=False),
            "roles": parameter("array", "A list of roles that are permitted to respond to the action (if nothing "
                                        "provided, all are permitted) - REQUIRES RBAC FEATURES",
                               default=[], required=False),
            "users": parameter("array", "A list of usernames that are permitted to respond to the action (if "
                                        "nothing provided, all are permitted)", default=[], required=False),
            "ttl": parameter("integer", "Time (in minutes) to wait before timing out the inquiry if no response is "
                                        "received", default=1440, required=True),
        },
    )

    def run(self, ctx: RunContext) -> RunResult:
        """Pending with the question; a schema no response could be checked against fails at once instead."""
        question = {name: ctx.runner_parameters.get(name) for name in QUESTION}
        try:
            check_schema(question["schema"])
        except ValidationError as exc:
            where = f" (at '{exc.field}')" if exc.field else ""
            return RunResult("failed", {"error": f"The inquiry's schema is not a valid JSON schema: {exc}{where}"})
        payload = {"id": ctx.execution_id, "route": question["route"]}
        return RunResult(PENDING, question, triggers=[(INQUIRY_TRIGGER, payload)])
