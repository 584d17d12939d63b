"""/v1/actions and /v1/runnertypes."""

from __future__ import annotations

import falcon

from appliance import models
from appliance.api.http import bad_request, json_object, respond
from appliance.api.listing import list_collection, lookup
from appliance.models import ACTIONS, RUNNER_TYPES
from appliance.services.context import Context

_ACTION_FIELDS = ("name", "pack", "description", "enabled", "runner_type", "entry_point",
                  "parameters", "output_schema", "tags", "notify", "metadata_file")


class _Base:
    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.actions = ctx.store.collection(ACTIONS)
        self.runner_types = ctx.store.collection(RUNNER_TYPES)
        self.max_page_size = ctx.config.get("api", "max_page_size")

    def _action_from_body(self, body: dict) -> dict:
        name = body.get("name")
        runner = body.get("runner_type")
        if not name or not isinstance(name, str):
            raise bad_request("'name' is a required property")
        if not runner:
            raise bad_request("'runner_type' is a required property")
        if self.runner_types.find_one({"name": runner}) is None:
            raise bad_request(f'RunnerType "{runner}" is not found.')
        parameters = body.get("parameters") or {}
        if not isinstance(parameters, dict):
            raise bad_request("'parameters' must be an object")
        pack = body.get("pack") or "default"
        action = {field: body[field] for field in _ACTION_FIELDS if field in body}
        action.update(
            pack=pack,
            ref=models.ref_of(pack, name),
            uid=models.uid_of("action", pack, name),
            parameters=parameters,
            enabled=body.get("enabled", True),
            entry_point=body.get("entry_point", ""),
        )
        return action


class Actions(_Base):
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        filters = {}
        for param in ("pack", "name", "runner_type"):
            if req.get_param(param):
                filters[param] = req.get_param(param)
        respond(resp, list_collection(req, resp, self.actions, filters,
                                      [("pack", 1), ("name", 1)], self.max_page_size))

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        action = self._action_from_body(json_object(req))
        respond(resp, self.actions.insert({"id": models.new_id(), **action}), 201)


class Action(_Base):
    def on_get(self, req: falcon.Request, resp: falcon.Response, ref_or_id: str) -> None:
        respond(resp, lookup(self.actions, "ref", ref_or_id, "action"))

    def on_put(self, req: falcon.Request, resp: falcon.Response, ref_or_id: str) -> None:
        existing = lookup(self.actions, "ref", ref_or_id, "action")
        action = self._action_from_body(json_object(req))
        respond(resp, self.actions.replace({**action, "id": existing["id"]}))

    def on_delete(self, req: falcon.Request, resp: falcon.Response, ref_or_id: str) -> None:
        existing = lookup(self.actions, "ref", ref_or_id, "action")
        self.actions.delete(existing["id"])
        resp.status = falcon.HTTP_204


class RunnerTypes(_Base):
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        filters = {"name": req.get_param("name")} if req.get_param("name") else {}
        respond(resp, list_collection(req, resp, self.runner_types, filters, [("name", 1)], self.max_page_size))


class RunnerType(_Base):
    def on_get(self, req: falcon.Request, resp: falcon.Response, name_or_id: str) -> None:
        respond(resp, lookup(self.runner_types, "name", name_or_id, "runner type"))

    def on_put(self, req: falcon.Request, resp: falcon.Response, name_or_id: str) -> None:
        """Only `enabled` may change: the rest comes from the installed runner package."""
        existing = lookup(self.runner_types, "name", name_or_id, "runner type")
        body = json_object(req)
        enabled = body.get("enabled", existing.get("enabled", True))
        if not isinstance(enabled, bool):
            raise bad_request("'enabled' must be a boolean")
        respond(resp, self.runner_types.update(existing["id"], set_fields={"enabled": enabled}))
