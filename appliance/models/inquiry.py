"""Inquiry: an execution of the `inquirer` runner waiting in `pending` for a response. As in StackStorm,
inquiries have no collection of their own: what the API shows of one is read from its execution's result,
and PUT /v1/inquiries/{id} takes the body declared here."""

from __future__ import annotations

from appliance.models.schema import Field, Schema

INQUIRER = "inquirer"  # the runner whose pending executions are the inquiries
SHOWN = ("route", "ttl", "users", "roles", "schema")  # what an inquiry shows besides its id, from its result

# PUT /v1/inquiries/{id}: StackStorm's InquiryResponseAPI.
INQUIRY_RESPONSE = Schema(
    name="inquiry response",
    fields={"id": Field("string", required=True), "response": Field("object", required=True)},
)


def public(execution: dict) -> dict:
    """The inquiry as the API shows it: `{id, route, ttl, users, roles, schema}`."""
    result = execution.get("result") if isinstance(execution.get("result"), dict) else {}
    return {"id": execution["id"], **{name: result.get(name) for name in SHOWN}}
