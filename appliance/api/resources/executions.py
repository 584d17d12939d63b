"""/v1/executions: run, list, get, output, re-run, cancel."""

from __future__ import annotations

import json

import falcon

from appliance import models
from appliance.api.http import bad_request, json_object, not_found, respond
from appliance.api.listing import list_collection, project, projection, time_range
from appliance.executions import WORKFLOW_RUNNERS
from appliance.models import EXECUTION_REQUEST, EXECUTIONS, Field, Schema
from appliance.models.schema import shown
from appliance.services.context import Context

# PUT status -> (statuses that already answer it, statuses it applies to, verb and state for the refusal), as
# StackStorm's request_pause / request_resume: st2workflowengine then pauses or resumes the workflow.
PAUSE_RESUME = {models.PAUSING: ((models.PAUSING, models.PAUSED), (models.RUNNING,), "pause", "running"),
                models.RESUMING: ((models.RESUMING, models.RUNNING), (models.PAUSED,), "resume", "paused")}


def _task_names(names: list) -> None:
    """Workflow task names (letters, digits, _), as the workflow language allows them."""
    for name in names:
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"{shown(name)} is not a task name")


# POST /v1/executions/<id>/re_run: StackStorm's ActionExecutionReRunRequest.
RERUN_REQUEST = Schema(
    name="re-run request",
    fields={
        "parameters": Field("object", default={}),
        "tasks": Field("array", default=[], check=_task_names),
        "reset": Field("array", default=[], check=_task_names),
        "delay": Field(("integer", "null"), check=EXECUTION_REQUEST.fields["delay"].check),
    },
)
_BOOL_TRUE = ("true", "1", "yes")


class _Base:
    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.executions = ctx.executions

    def _get(self, execution_id: str) -> dict:
        if execution_id == "last":
            found = self.executions.coll.find(None, sort=[("start_timestamp", -1)], limit=1)
            doc = found[0] if found else None
        else:
            doc = self.executions.get(execution_id)
        if doc is None:
            raise not_found(f'Resource with a id "{execution_id}" not found')
        return doc

    def _public(self, req: falcon.Request, doc: dict) -> dict:
        """The execution as the API shows it: secrets masked unless show_secrets=True; a workflow's with
        StackStorm's `children`, its child executions' ids oldest first (`st2 run --tail` follows them)."""
        runner = (doc.get("runner") or {}).get("name")  # a listing's projection may have left it out
        if runner in WORKFLOW_RUNNERS or (runner is None and "id" in doc and "children" in projection(req)[0]):
            doc = {**doc, "children": self.executions.coll.ids({"parent": doc["id"]}, [("start_timestamp", 1)])}
        if (req.get_param("show_secrets") or "").lower() in _BOOL_TRUE:
            return EXECUTIONS.public(self.executions.reveal(doc), show_secrets=True)
        return EXECUTIONS.public(doc)


def _context_header(req: falcon.Request) -> dict:
    raw = req.get_header("st2-context")
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        raise bad_request("Unable to convert st2-context header to JSON") from None
    if not isinstance(value, dict):
        raise bad_request("st2-context header must be a JSON object")
    return value


class Executions(_Base):
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = EXECUTION_REQUEST.build(json_object(req))
        context = {**body["context"], **_context_header(req)}
        EXECUTION_REQUEST.fields["context"].validate("context", context)
        user = body.get("user") or req.context.user
        doc = self.ctx.action_requests.request(body["action"], body["parameters"], context, user, body.get("delay"),
                                               notify=body.get("notify"))
        respond(resp, self._public(req, doc), 201)

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        filters: dict = {}
        simple = {"action": "action.ref", "status": "status", "user": "context.user",
                  "runner": "runner.name", "liveaction": "liveaction.id",
                  "trigger_instance": "trigger_instance.id", "rule": "rule.ref"}
        for param, path in simple.items():
            value = req.get_param(param)
            if value:
                filters[path] = {"$in": value.split(",")} if "," in value else value
        parent = req.get_param("parent")
        if parent:
            filters["parent"] = None if parent == "null" else parent
        if req.get_param("id"):
            filters["id"] = {"$in": req.get_param("id").split(",")}
        stamps = time_range(req)
        if stamps:
            filters["start_timestamp"] = stamps
        ascending = (req.get_param("sort_asc") or "").lower() in _BOOL_TRUE
        sort = [("start_timestamp", 1 if ascending else -1)]
        docs = list_collection(req, resp, self.executions.coll, filters, sort,
                               self.ctx.config.get("api", "max_page_size"), default_limit=100)
        respond(resp, [self._public(req, doc) for doc in docs])


class Execution(_Base):
    def on_get(self, req: falcon.Request, resp: falcon.Response, execution_id: str) -> None:
        include, exclude = projection(req)
        respond(resp, project(self._public(req, self._get(execution_id)), include, exclude))

    def on_put(self, req: falcon.Request, resp: falcon.Response, execution_id: str) -> None:
        doc = self._get(execution_id)
        status = json_object(req).get("status")
        if doc["status"] in models.COMPLETED_STATUSES:
            raise bad_request(f'Execution "{doc["id"]}" is already in completed state "{doc["status"]}".')
        if status in (models.PAUSING, models.RESUMING) and doc["runner"]["name"] not in WORKFLOW_RUNNERS:
            raise bad_request(f'Runner "{doc["runner"]["name"]}" does not support pause and resume.')
        if not isinstance(status, str) or status not in PAUSE_RESUME:
            raise bad_request(f"Unsupported status change to {shown(status)}.")
        done, sources, verb, state = PAUSE_RESUME[status]
        if doc["status"] not in done:
            if status == models.RESUMING:
                changed = self.executions.resume(doc["id"])
            else:
                changed = self.executions.transition(doc["id"], status, sources)
            if changed is None:
                raise bad_request(f'Unable to {verb} liveaction "{doc["liveaction"]["id"]}" because it is not in '
                                  f"a {state} state.")
            doc = changed
        respond(resp, self._public(req, doc))

    def on_delete(self, req: falcon.Request, resp: falcon.Response, execution_id: str) -> None:
        """Cancel (see Executions.cancel); a completed execution gets StackStorm's 200 with a faultstring."""
        doc = self.executions.cancel(self._get(execution_id)["id"]) or self._get(execution_id)
        if doc["status"] in (models.CANCELED, models.CANCELING):
            respond(resp, self._public(req, doc))
            return
        respond(resp, {"faultstring": f"Action cannot be canceled. State = {doc['status']}."})


class ExecutionOutput(_Base):
    def on_get(self, req: falcon.Request, resp: falcon.Response, execution_id: str) -> None:
        doc = self._get(execution_id)
        output_type = req.get_param("output_type")
        if output_type and output_type not in ("stdout", "stderr", "other"):
            raise bad_request("output_type must be stdout or stderr")
        resp.content_type = "text/plain; charset=utf-8"
        resp.text = self.executions.output_text(doc["id"], output_type)


class ExecutionChildren(_Base):
    def on_get(self, req: falcon.Request, resp: falcon.Response, execution_id: str) -> None:
        """The descendants, depth first: `depth` levels (1, the default: the children; -1: all), as
        `st2 execution get` of a workflow asks for them (`?depth=-1`)."""
        doc = self._get(execution_id)
        depth = req.get_param_as_int("depth", default=1)
        respond(resp, [self._public(req, child) for child in self._descendants(doc["id"], depth)])

    def _descendants(self, parent_id: str, depth: int) -> list[dict]:
        found = []
        for child in self.executions.coll.find({"parent": parent_id}, sort=[("start_timestamp", 1)]):
            found.append(child)
            if depth != 1:
                found += self._descendants(child["id"], depth - 1)
        return found


class ExecutionResult(_Base):
    def on_get(self, req: falcon.Request, resp: falcon.Response, execution_id: str) -> None:
        respond(resp, self._get(execution_id).get("result"))


class ExecutionReRun(_Base):
    def on_post(self, req: falcon.Request, resp: falcon.Response, execution_id: str) -> None:
        original = self._get(execution_id)
        body = RERUN_REQUEST.build(json_object(req))
        tasks, reset = body["tasks"], body["reset"]
        if tasks or reset:
            if (original.get("runner") or {}).get("name") != "orquesta":
                raise bad_request("Only orquesta workflows support re-running selected tasks.")
            if body["parameters"]:
                raise bad_request("Parameters override is not supported when re-running task(s) for a workflow.")
            if set(reset) - set(tasks):
                raise bad_request("List of tasks to reset does not match the tasks to rerun.")
        parameters = {**(self.executions.reveal(original).get("parameters") or {}), **body["parameters"]}
        context = {k: v for k, v in (original.get("context") or {}).items()
                   if k not in ("user", "pack", "re-run", "parent", "workflow_execution")}
        context["re-run"] = {"ref": original["id"], **({"tasks": tasks, "reset": reset} if tasks else {})}
        doc = self.ctx.action_requests.request(original["action"]["ref"], parameters, context, req.context.user,
                                               body.get("delay"))
        respond(resp, self._public(req, doc), 201)

