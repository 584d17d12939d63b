"""/v1/packs: the registered packs, their registration (register, unload), their installation and removal
(install, uninstall: they schedule packs.install and packs.uninstall, 202 with the execution id, as
StackStorm's), and the site's pack index (index, index/search, index/health)."""

from __future__ import annotations

import falcon

from appliance.api.http import bad_request, json_object, respond
from appliance.api.listing import list_collection, lookup
from appliance.content import CONTENT_TYPES
from appliance.models import PACKS, Field, Schema, ValidationError
from appliance.packs import index, registration
from appliance.services.context import Context

# StackStorm's type names (singular and plural) -> the content types registered here.
_TYPES = {"all": CONTENT_TYPES, "runner": ("runners",), "runners": ("runners",), "action": ("actions",),
          "actions": ("actions",), "trigger": ("triggers",), "triggers": ("triggers",), "rule": ("rules",),
          "rules": ("rules",), "sensor": ("sensors",), "sensors": ("sensors",), "config": ("configs",),
          "configs": ("configs",),
          # StackStorm's types the appliance keeps no documents for: accepted, nothing registered
          "rule_type": (), "rule_types": (), "alias": (), "aliases": (), "policy_type": (), "policy_types": (),
          "policy": (), "policies": ()}


def _strings(value: list) -> None:
    bad = [item for item in value if not isinstance(item, str) or not item]
    if bad:
        raise ValueError(f"{bad[0]!r:.60} is not a non-empty string")


def _environment(value: dict) -> None:
    """Environment variables: names to strings (or numbers)."""
    bad = [key for key, item in value.items() if isinstance(item, bool) or not isinstance(item, (str, int, float))]
    if bad:
        raise ValueError(f"the value of {bad[0]!r:.60} is not a string or a number")


INSTALL_REQUEST = Schema(  # StackStorm's PacksInstall, and packs.install's `env`
    name="pack install request",
    fields={
        "packs": Field("array", required=True, check=_strings),
        "force": Field("boolean", default=False),
        "skip_dependencies": Field("boolean", default=False),
        "env": Field(("object", "null"), check=_environment),
    },
)
UNINSTALL_REQUEST = Schema(  # StackStorm's PacksUninstall
    name="pack uninstall request",
    fields={"packs": Field(("array", "null"), check=_strings), "ref_or_id": Field(("string", "null"))},
)
UNLOAD_REQUEST = Schema(name="pack unload request", fields={"packs": Field("array", required=True, check=_strings)})
SEARCH_REQUEST = Schema(  # StackStorm's PacksSearchShow: a query, or a pack's name
    name="pack search request",
    fields={"query": Field("string"), "pack": Field("string")},
)


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
        packs = list(dict.fromkeys(body.get("packs") or []))
        registrar = self.ctx.registrar
        if not packs:
            respond(resp, registrar.register(None, body["fail_on_failure"], types) if types else {})
            return
        # A registration that fails leaves the packs' documents as they were (a failed upgrade keeps its
        # previous version registered).
        with registration.kept(self.ctx.store, registrar.rule_definitions, packs):
            counts = registrar.register(packs, body["fail_on_failure"], types) if types else {}
            registration.prune(self.ctx.store, registrar.rule_definitions, packs, types)  # an upgrade's leftovers
        respond(resp, counts)


class PackUnload:
    """POST /v1/packs/unload {packs}: every document of the packs removed (packs.unload; StackStorm's action
    talks to the database, here it is an authenticated call)."""

    def __init__(self, ctx: Context):
        self.ctx = ctx

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = UNLOAD_REQUEST.build(json_object(req))
        respond(resp, registration.unload(self.ctx.store, self.ctx.registrar.rule_definitions, body["packs"]))


def _schedule(ctx: Context, req: falcon.Request, resp: falcon.Response, action: str, parameters: dict) -> None:
    execution = ctx.action_requests.request(action, parameters, {}, req.context.user)
    respond(resp, {"execution_id": execution["id"]}, 202)


class PackInstall:
    def __init__(self, ctx: Context):
        self.ctx = ctx

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = INSTALL_REQUEST.build(json_object(req))
        if not body["packs"]:
            raise bad_request("No pack to install (field 'packs').")
        parameters: dict = {"packs": body["packs"]}
        for flag in ("force", "skip_dependencies"):
            if body[flag]:
                parameters[flag] = True
        if body.get("env"):
            parameters["env"] = body["env"]
        _schedule(self.ctx, req, resp, "packs.install", parameters)


class PackUninstall:
    def __init__(self, ctx: Context):
        self.ctx = ctx

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = UNINSTALL_REQUEST.build(json_object(req))
        packs = [body["ref_or_id"]] if body.get("ref_or_id") else body.get("packs") or []
        if not packs:
            raise bad_request("No pack to uninstall (field 'packs').")
        _schedule(self.ctx, req, resp, "packs.uninstall", {"packs": packs})


def _index_urls(ctx: Context) -> list[str]:
    return list(ctx.config.get("content", "index_url"))


class PackIndex:
    """GET /v1/packs/index: every index's packs and status."""

    def __init__(self, ctx: Context):
        self.ctx = ctx

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        found, status = index.fetch(_index_urls(self.ctx))
        respond(resp, {"status": status, "index": found})


class PackIndexSearch:
    """POST /v1/packs/index/search: {query} -> the matching packs (any case), {pack} -> that pack or []."""

    def __init__(self, ctx: Context):
        self.ctx = ctx

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = SEARCH_REQUEST.build(json_object(req))
        if body.get("query"):
            respond(resp, index.search(body["query"], _index_urls(self.ctx), case_sensitive=False))
        elif body.get("pack"):
            respond(resp, index.pack_from_index(body["pack"], _index_urls(self.ctx)) or [])
        else:
            raise bad_request("Give a query to search the index with, or a pack to show (field 'query' or 'pack').")


class PackIndexHealth:
    """GET /v1/packs/index/health: how many indexes answer, and how many packs they hold."""

    def __init__(self, ctx: Context):
        self.ctx = ctx

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        urls = _index_urls(self.ctx)
        _, status = index.fetch(urls, allow_empty=True) if urls else ({}, [])
        errors: dict[str, int] = {}
        for entry in status:
            if entry["error"]:
                errors[entry["error"]] = errors.get(entry["error"], 0) + 1
        invalid = sum(errors.values())
        respond(resp, {"indexes": {"count": len(status), "valid": len(status) - invalid, "invalid": invalid,
                                   "errors": errors, "status": status},
                       "packs": {"count": sum(entry["packs"] for entry in status)}})
