"""/v1/config_schemas and /v1/configs: packs' config schemas and configs, as `st2 pack config` and the web
UI use them (StackStorm's PackConfigSchemasController and PackConfigsController: their paths, status
codes and faultstrings).

Without RBAC, as in StackStorm, every user may see secrets with ?show_secrets=true.
"""

from __future__ import annotations

import falcon

from appliance.api.http import json_object, not_found, respond
from appliance.api.listing import list_collection
from appliance.models import CONFIG_SCHEMAS, CONFIGS, PACKS
from appliance.models.config import public_config
from appliance.services.context import Context

DEFAULT_LIMIT = 100  # StackStorm's, for both listings


def _show_secrets(req: falcon.Request) -> bool:
    return req.get_param_as_bool("show_secrets", default=False)


def _no_such_pack_ref(pack_ref: str) -> Exception:
    return not_found(f'Unable to identify resource with pack_ref "{pack_ref}".')


class _Base:
    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.packs = ctx.store.collection(PACKS)
        self.schemas = ctx.store.collection(CONFIG_SCHEMAS)
        self.configs = ctx.store.collection(CONFIGS)

    def attributes(self, pack: str) -> dict:
        """The pack's config schema items ({} without a schema: nothing is secret)."""
        return (self.schemas.find_one({"pack": pack}) or {}).get("attributes") or {}

    def listing(self, req: falcon.Request, resp: falcon.Response, coll) -> list[dict]:
        return list_collection(req, resp, coll, {}, [("pack", 1)], self.ctx.config.get("api", "max_page_size"),
                               DEFAULT_LIMIT)


class ConfigSchemas(_Base):
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        respond(resp, [CONFIG_SCHEMAS.public(doc) for doc in self.listing(req, resp, self.schemas)])


class ConfigSchema(_Base):
    def on_get(self, req: falcon.Request, resp: falcon.Response, pack_ref: str) -> None:
        """The pack (by ref or id) must exist; then its schema, by the ref given."""
        if self.packs.find_one({"ref": pack_ref}) is None and self.packs.get(pack_ref) is None:
            raise not_found(f'Resource with a ref or id "{pack_ref}" not found')
        doc = self.schemas.find_one({"pack": pack_ref})
        if doc is None:
            raise _no_such_pack_ref(pack_ref)
        respond(resp, CONFIG_SCHEMAS.public(doc))


class Configs(_Base):
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        show = _show_secrets(req)
        docs = self.listing(req, resp, self.configs)
        respond(resp, [public_config(doc, self.attributes(doc.get("pack", "")), show) for doc in docs])


class Config(_Base):
    def _pack(self, pack_ref: str) -> dict:
        pack = self.packs.find_one({"ref": pack_ref})
        if pack is None:
            raise _no_such_pack_ref(pack_ref)
        return pack

    def on_get(self, req: falcon.Request, resp: falcon.Response, pack_ref: str) -> None:
        self._pack(pack_ref)
        doc = self.configs.find_one({"pack": pack_ref})
        if doc is None:
            raise _no_such_pack_ref(pack_ref)
        respond(resp, public_config(doc, self.attributes(pack_ref), _show_secrets(req)))

    def on_put(self, req: falcon.Request, resp: falcon.Response, pack_ref: str) -> None:
        """The body is the values themselves (what `st2 pack config` sends); validated against the pack's
        schema, written to <configs_path>/<pack>.yaml and registered."""
        show = _show_secrets(req)
        self._pack(pack_ref)
        doc = self.ctx.registrar.save_config(pack_ref, json_object(req))
        respond(resp, public_config(doc, self.attributes(pack_ref), show))
