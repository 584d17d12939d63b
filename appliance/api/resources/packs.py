"""/v1/packs and /v1/packs/register."""

from __future__ import annotations

import falcon

from appliance.api.http import bad_request, json_object, respond
from appliance.api.listing import list_collection, lookup
from appliance.content import ContentError
from appliance.models import PACKS
from appliance.services.context import Context

_REGISTERABLE = {"all", "runner", "runners", "action", "actions"}


class Packs:
    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.packs = ctx.store.collection(PACKS)

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        filters = {}
        for param in ("name", "ref"):
            if req.get_param(param):
                filters[param] = req.get_param(param)
        respond(resp, list_collection(req, resp, self.packs, filters, [("ref", 1)],
                                      self.ctx.config.get("api", "max_page_size")))


class Pack(Packs):
    def on_get(self, req: falcon.Request, resp: falcon.Response, ref_or_id: str) -> None:
        respond(resp, lookup(self.packs, "ref", ref_or_id, "pack"))


class PackRegister(Packs):
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = json_object(req)
        packs = body.get("packs") or None
        types = body.get("types") or ["all"]
        unknown = sorted(set(types) - _REGISTERABLE)
        if unknown:
            raise bad_request(f"Cannot register content of type(s) {', '.join(unknown)} in this release")
        try:
            counts = self.ctx.registrar.register(packs, fail_on_failure=body.get("fail_on_failure", True))
        except ContentError as exc:
            raise bad_request(str(exc)) from None
        if set(types) <= {"runner", "runners"}:
            counts = {"runners": counts["runners"]}
        respond(resp, counts)
