"""/v1/apikeys, /v1/user (API) and /tokens (st2auth)."""

from __future__ import annotations

import base64
import binascii

import falcon

from appliance.api.http import ApiError, bad_request, json_body, json_object, respond
from appliance.api.listing import list_collection, project
from appliance.auth import AuthError
from appliance.models import API_KEYS
from appliance.services.context import Context


def _show_secrets(req: falcon.Request) -> bool:
    return req.get_param_as_bool("show_secrets", default=False)


class _ApiKeys:
    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.keys = ctx.store.collection(API_KEYS)

    def _find(self, id_or_key: str) -> dict:
        doc = self.keys.get(id_or_key)
        if doc is None:
            try:
                doc = self.ctx.credentials.check_api_key(id_or_key)
            except AuthError:
                doc = None
        if doc is None:
            raise ApiError(404, f'ApiKey with key_or_id "{id_or_key[:64]}" not found.')
        return doc


class ApiKeys(_ApiKeys):
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        filters = {"user": req.get_param("user")} if req.get_param("user") else {}
        docs = list_collection(req, resp, self.keys, filters, [("created_at", 1)],
                               self.ctx.config.get("api", "max_page_size"))
        respond(resp, [API_KEYS.public(doc, _show_secrets(req)) for doc in docs])

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = json_object(req)
        if "key_hash" in body:  # `st2 apikey load`: import an exported key by its hash
            body = {k: v for k, v in body.items() if k != "id"}
            body.setdefault("user", req.context.user)
            respond(resp, API_KEYS.public(self.ctx.credentials.store_api_key(body)), 201)
            return
        doc, key = self.ctx.credentials.create_api_key(body.get("user") or req.context.user, body.get("metadata"))
        respond(resp, {**API_KEYS.public(doc), "key": key}, 201)


class ApiKey(_ApiKeys):
    def on_get(self, req: falcon.Request, resp: falcon.Response, id_or_key: str) -> None:
        respond(resp, API_KEYS.public(self._find(id_or_key), _show_secrets(req)))

    def on_put(self, req: falcon.Request, resp: falcon.Response, id_or_key: str) -> None:
        """`st2 apikey enable/disable` send the whole key back; enabled and metadata may change."""
        existing = self._find(id_or_key)
        body = {k: v for k, v in json_object(req).items() if not (k == "key_hash" and v == "********")}
        doc = API_KEYS.build(body, existing)
        updated = self.keys.update(existing["id"], {"enabled": doc["enabled"], "metadata": doc["metadata"]})
        respond(resp, API_KEYS.public(updated or existing))

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
        token = json_object(req).get("token")
        if not isinstance(token, str):
            raise bad_request("'token' is a required property and must be a string")
        try:
            self.ctx.credentials.check_token(token)
            respond(resp, {"valid": True})
        except AuthError:
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
