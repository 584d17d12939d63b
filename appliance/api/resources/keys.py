"""/v1/keys: the datastore as `st2 key list/get/set/delete/load` use it (StackStorm's
KeyValuePairController: its query parameters, defaults, status codes and faultstrings).

Without RBAC, as in StackStorm, a caller reads and writes their own user-scoped keys only: naming
another user is a 403.
"""

from __future__ import annotations

from typing import Optional

import falcon

from appliance.api.http import ApiError, json_object, not_found, respond
from appliance.api.listing import paging
from appliance.datastore.keys import ALL_SCOPE, KeyNotFound
from appliance.models import KEY_VALUE_PAIR_REQUEST
from appliance.models.key_value_pair import SYSTEM_SCOPE, USER_SCOPE
from appliance.services.context import Context


def _owner(req: falcon.Request, user: Optional[str]) -> str:
    """The user whose keys are meant: the caller, who may also name themselves."""
    if user and user != req.context.user:
        raise ApiError(403, '"user" attribute can only be provided by admins when RBAC is enabled')
    return req.context.user


def _one_scope(req: falcon.Request) -> str:
    """?scope for one key: system when absent or 'all'."""
    scope = req.get_param("scope")
    return SYSTEM_SCOPE if not scope or scope == ALL_SCOPE else scope


def _decrypt(req: falcon.Request) -> bool:
    return req.get_param_as_bool("decrypt", default=False)


class _Base:
    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.keys = ctx.keys


class Keys(_Base):
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """?user implies the user scope; no ?scope means system keys only (the CLI sends 'all')."""
        user = req.get_param("user")
        scope = USER_SCOPE if user else req.get_param("scope") or SYSTEM_SCOPE
        limit, offset = paging(req, None, self.ctx.config.get("api", "max_page_size"))
        decrypt = _decrypt(req)
        docs, total = self.keys.list(scope, _owner(req, user), req.get_param("prefix") or "", limit, offset)
        resp.set_header("X-Total-Count", str(total))
        resp.set_header("X-Limit", str(limit))
        respond(resp, [self.keys.public(doc, decrypt) for doc in docs])


class Key(_Base):
    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        user = req.get_param("user")
        scope = USER_SCOPE if user else _one_scope(req)
        try:
            doc = self.keys.get(name, scope, _owner(req, user))
        except KeyNotFound as exc:
            raise not_found(str(exc)) from None
        respond(resp, self.keys.public(doc, _decrypt(req)))

    def on_put(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        """The path names the key; the body's scope, when given, wins over ?scope."""
        body = KEY_VALUE_PAIR_REQUEST.build(json_object(req))
        scope = _one_scope(req) if body.get("scope") is None else body["scope"]
        doc = self.keys.set(name, body["value"], scope, _owner(req, body.get("user")), secret=body["secret"],
                            encrypted=body["encrypted"], ttl=body.get("ttl"))
        respond(resp, self.keys.public(doc))

    def on_delete(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        try:
            self.keys.delete(name, _one_scope(req), _owner(req, req.get_param("user")))
        except KeyNotFound as exc:
            raise not_found(str(exc)) from None
        resp.status = falcon.HTTP_204
