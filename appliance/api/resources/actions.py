"""/v1/actions and /v1/runnertypes."""

from __future__ import annotations

import falcon

from appliance.api.http import json_object, respond
from appliance.api.listing import list_collection, lookup
from appliance.content import build_action
from appliance.models import ACTIONS, RUNNER_TYPES
from appliance.services.context import Context


class _Actions:
    def __init__(self, ctx: Context):
        self.actions = ctx.store.collection(ACTIONS)
        self.runner_types = ctx.store.collection(RUNNER_TYPES)
        self.max_page_size = ctx.config.get("api", "max_page_size")


class Actions(_Actions):
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        filters = {}
        for param in ("pack", "name", "runner_type"):
            if req.get_param(param):
                filters[param] = req.get_param(param)
        docs = list_collection(req, resp, self.actions, filters, [("pack", 1), ("name", 1)], self.max_page_size)
        respond(resp, [ACTIONS.public(doc) for doc in docs])

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        action = build_action(json_object(req), self.runner_types)
        respond(resp, ACTIONS.public(self.actions.insert(action)), 201)


class Action(_Actions):
    def on_get(self, req: falcon.Request, resp: falcon.Response, ref_or_id: str) -> None:
        respond(resp, ACTIONS.public(lookup(self.actions, "ref", ref_or_id)))

    def on_put(self, req: falcon.Request, resp: falcon.Response, ref_or_id: str) -> None:
        existing = lookup(self.actions, "ref", ref_or_id)
        action = build_action(json_object(req), self.runner_types, existing)
        respond(resp, ACTIONS.public(self.actions.replace({**action, "id": existing["id"]})))

    def on_delete(self, req: falcon.Request, resp: falcon.Response, ref_or_id: str) -> None:
        self.actions.delete(lookup(self.actions, "ref", ref_or_id)["id"])
        resp.status = falcon.HTTP_204


class RunnerTypes(_Actions):
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        filters = {"name": req.get_param("name")} if req.get_param("name") else {}
        docs = list_collection(req, resp, self.runner_types, filters, [("name", 1)], self.max_page_size)
        respond(resp, [RUNNER_TYPES.public(doc) for doc in docs])


class RunnerType(_Actions):
    def on_get(self, req: falcon.Request, resp: falcon.Response, name_or_id: str) -> None:
        respond(resp, RUNNER_TYPES.public(lookup(self.runner_types, "name", name_or_id)))

    def on_put(self, req: falcon.Request, resp: falcon.Response, name_or_id: str) -> None:
        """Only `enabled` may change (the rest is immutable: it comes from the installed package)."""
        existing = lookup(self.runner_types, "name", name_or_id)
        doc = RUNNER_TYPES.build(json_object(req), existing)
        respond(resp, RUNNER_TYPES.public(self.runner_types.update(existing["id"], {"enabled": doc["enabled"]})))
