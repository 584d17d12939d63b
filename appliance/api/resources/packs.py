"""/v1/packs and /v1/packs/register."""

from __future__ import annotations

import falcon

from appliance.api.http import json_object, respond
from appliance.api.listing import list_collection, lookup
from appliance.content import CONTENT_TYPES
from appliance.models import PACKS, Field, Schema, ValidationError
from appliance.services.context import Context

# StackStorm's type names (singular and plural) -> the content types registered here.
_TYPES = {"all": CONTENT_TYPES, "runner": ("runners",), "runners": ("runners",), "action": ("actions",),
          "actions": ("actions",), "trigger": ("triggers",), "triggers": ("triggers",), "rule": ("rules",),
          "rules": ("rules",), "sensor": ("sensors",), "sensors": ("sensors",), "config": ("configs",),
          "configs": ("configs",)}


def _strings(value: list) -> None:
    bad = [item for item in value if not isinstance(item, str) or not item]
    if bad:
        raise ValueError(f"{bad[0]!r:.60} is not a non-empty string")


REGISTER_REQUEST = Schema(
    name="pack register request",
    fields={
        "packs": Field(("array", "null"), check=_strings),
        "types": Field(("array", "null"), check=_strings),
        "fail_on_failure": Field("boolean", default=True),
    },
)


class Packs:
    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.packs = ctx.store.collection(PACKS)

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        filters = {}
        for param in ("name", "ref"):
            if req.get_param(param):
                filters[param] = req.get_param(param)
        docs = list_collection(req, resp, self.packs, filters, [("ref", 1)],
                               self.ctx.config.get("api", "max_page_size"))
        respond(resp, [PACKS.public(doc) for doc in docs])


class Pack:
    def __init__(self, ctx: Context):
        self.packs = ctx.store.collection(PACKS)

    def on_get(self, req: falcon.Request, resp: falcon.Response, ref_or_id: str) -> None:
        respond(resp, PACKS.public(lookup(self.packs, "ref", ref_or_id)))


class PackRegister:
    def __init__(self, ctx: Context):
        self.ctx = ctx

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = REGISTER_REQUEST.build(json_object(req))
        requested = body.get("types") or ["all"]
        unknown = sorted(set(requested) - set(_TYPES))
        if unknown:
            raise ValidationError(f"Cannot register content of type(s) {', '.join(unknown)} in this release "
                                  f"(known: {', '.join(sorted(_TYPES))}; field 'types')", "types")
        types = tuple(dict.fromkeys(t for name in requested for t in _TYPES[name]))
        counts = self.ctx.registrar.register(body.get("packs") or None, body["fail_on_failure"], types)
        respond(resp, counts)
