"""/v1/apikeys, /v1/user (API) and /tokens (st2auth)."""

from __future__ import annotations

import base64
import binascii

import falcon

from appliance.api.http import ApiError, bad_request, json_body, json_object, respond
from appliance.api.listing import list_collection, project
from appliance.models import API_KEYS
from appliance.services.context import Context


def _public_key(doc: dict, show_secrets: bool) -> dict:
    return doc if show_secrets else {k: v for k, v in doc.items() if k != "key_hash"}


class ApiKeys:
    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.keys = ctx.store.collection(API_KEYS)

    def _find(self, id_or_key: str) -> dict:
        doc = self.keys.get(id_or_key)
        if doc is None:
            try:
                doc = self.ctx.credentials.check_api_key(id_or_key)
            except Exception:
                doc = None
        if doc is None:
            raise ApiError(404, f'ApiKey with key_or_id "{id_or_key}" not found.')
        return doc

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        filters = {"user": req.get_param("user")} if req.get_param("user") else {}
        show = req.get_param_as_bool("show_secrets") or False
        docs = list_collection(req, resp, self.keys, filters, [("created_at", 1)],
                               self.ctx.config.get("api", "max_page_size"))
        respond(resp, [_public_key(doc, show) for doc in docs])

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = json_object(req)
        if "key_hash" in body:  # `st2 apikey load`: import an exported key by its hash
            doc = {k: body[k] for k in ("user", "key_hash", "metadata", "created_at", "enabled") if k in body}
            from appliance import models

            doc.setdefault("user", req.context.user)
            doc.setdefault("enabled", True)
            doc.setdefault("created_at", models.now())
            doc.update(id=body.get("id") or models.new_id(), uid=f"api_key:{doc['key_hash']}")
            respond(resp, self.keys.insert(doc), 201)
            return
        user = body.get("user") or req.context.user
        doc, key = self.ctx.credentials.create_api_key(user, body.get("metadata") or {})
        respond(resp, {**_public_key(doc, False), "key": key}, 201)


class ApiKey(ApiKeys):
    def on_get(self, req: falcon.Request, resp: falcon.Response, id_or_key: str) -> None:
        respond(resp, _public_key(self._find(id_or_key), req.get_param_as_bool("show_secrets") or False))

    def on_put(self, req: falcon.Request, resp: falcon.Response, id_or_key: str) -> None:
        doc = self._find(id_or_key)
        body = json_object(req)
        changes = {k: body[k] for k in ("enabled", "metadata") if k in body}
        if "enabled" in changes and not isinstance(changes["enabled"], bool):
            raise bad_request("'enabled' must be a boolean")
        respond(resp, _public_key(self.keys.update(doc["id"], set_fields=changes) or doc, False))

    def on_delete(self, req: falcon.Request, resp: falcon.Response, id_or_key: str) -> None:
        self.keys.delete(self._find(id_or_key)["id"])
        resp.status = falcon.HTTP_204


class User:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        auth = project(req.context.auth, ["method", "location", "token_expire"], [])
        auth.pop("id", None)
        respond(resp, {"username": req.context.user, "authentication": auth,
                       "rbac": {"enabled": False, "roles": [], "is_admin": True}})


class Tokens:
    """POST /tokens with HTTP Basic credentials checked against the htpasswd file."""

    def __init__(self, ctx: Context):
        self.ctx = ctx

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        user, password = _basic_auth(req)
        if not self.ctx.htpasswd.check(user, password):
            raise ApiError(401, "Invalid or missing credentials")
        body = json_body(req, {}) or {}
        if not isinstance(body, dict):
            raise bad_request("Request body must be a JSON object")
        ttl = body.get("ttl")
        max_ttl = self.ctx.config.get("auth", "token_ttl")
        if ttl is not None:
            if not isinstance(ttl, int) or isinstance(ttl, bool) or ttl <= 0:
                raise bad_request("TTL must be a positive integer")
            if ttl > max_ttl:
                raise bad_request(f"TTL specified {ttl} is greater than max allowed {max_ttl}.")
        token = self.ctx.credentials.issue_token(user, ttl)
        respond(resp, token, 201)


class TokenValidation:
    def __init__(self, ctx: Context):
        self.ctx = ctx

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        token = json_object(req).get("token") or ""
        try:
            self.ctx.credentials.check_token(token)
            respond(resp, {"valid": True})
        except Exception:
            respond(resp, {"valid": False})


def _basic_auth(req: falcon.Request) -> tuple[str, str]:
    header = req.get_header("Authorization") or ""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise ApiError(401, "Invalid or missing credentials")
    try:
        user, _, password = base64.b64decode(encoded.strip()).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise ApiError(401, "Invalid or missing credentials") from None
    return user, password
