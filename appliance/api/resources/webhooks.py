"""/v1/webhooks (`st2 webhook list/get`) and POST /v1/webhooks/<url>: a request becomes a trigger
instance of every core.st2.webhook trigger registered on that url (rules create those triggers), or,
on the generic hook `st2`, of the trigger the body names.

StackStorm keeps the webhook triggers in memory, fed by a trigger watcher; here they are read from
the store on each request, so every st2api process sees a new rule's webhook at once.
"""

from __future__ import annotations

import urllib.parse
import uuid
from typing import Any, Optional, Union

import falcon

from appliance.api.http import bad_request, json_body, not_found, respond
from appliance.models import TRIGGERS
from appliance.models.schema import shown
from appliance.services.context import Context
from appliance.triggers import SYSTEM_PACK

WEBHOOK_TYPE = f"{SYSTEM_PACK}.st2.webhook"
GENERIC_HOOK = "st2"
TRACE_TAG_HEADER = "St2-Trace-Tag"
# Credentials never reach a trigger payload (nor the rules and executions that read it).
HIDDEN_HEADERS = ("X-Auth-Token", "St2-Api-Key", "Cookie")
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")

Body = Union[dict, list]


def hook_of(trigger: dict) -> str:
    """A webhook trigger's url without its outer slashes, as requests name it."""
    return str((trigger.get("parameters") or {}).get("url", "")).strip("/")


def parse_body(req: falcon.Request) -> Body:
    """The body read by its Content-Type as StackStorm's router does: JSON (also when none is given,
    and for text/plain, as its default server reads it), a form as a dict of lists; a webhook body
    must be an object or an array."""
    content_type = (req.content_type or "application/json").split(";")[0].strip().lower()
    if content_type in ("application/json", "text/plain"):
        body = json_body(req, {})
    elif content_type in FORM_TYPES:
        try:
            body = urllib.parse.parse_qs(req.bounded_stream.read().decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise bad_request(f"Failed to parse request body: {exc}") from None
    else:
        raise bad_request(f'Failed to parse request body: Unsupported Content-Type: "{content_type[:100]}"')
    if not isinstance(body, (dict, list)):
        raise bad_request(f"{shown(body)} is not of type 'object', 'array'")
    return body


def request_headers(req: falcon.Request) -> dict[str, str]:
    """The request headers, named as WSGI servers spell them (`Content-Type`), credentials left out."""
    headers = {name.title(): value for name, value in req.headers.items()}
    return {name: value for name, value in headers.items() if name not in HIDDEN_HEADERS}


class _Base:
    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.triggers = ctx.store.collection(TRIGGERS)

    def registered(self, hook: Optional[str] = None, pack: Optional[str] = None) -> list[dict]:
        """The webhook triggers (on `hook` when given), sorted by url."""
        filters: dict[str, Any] = {"type": WEBHOOK_TYPE, **({"pack": pack} if pack else {})}
        found = [doc for doc in self.triggers.find(filters, [("ref", 1)]) if hook is None or hook_of(doc) == hook]
        return sorted(found, key=hook_of)


class Webhooks(_Base):
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        respond(resp, [TRIGGERS.public(doc) for doc in self.registered(pack=req.get_param("pack"))])


class Webhook(_Base):
    def on_get(self, req: falcon.Request, resp: falcon.Response, hook: str) -> None:
        """The first trigger on that url (StackStorm shows one even when several rules share it)."""
        found = self.registered(hook)
        if not found:
            raise not_found(f"Webhook {hook[:200]} not registered with st2")
        respond(resp, TRIGGERS.public(found[0]))

    def on_post(self, req: falcon.Request, resp: falcon.Response, hook: str) -> None:
        """Dispatch the request; answer 202 with the body. Nothing is stored when it is refused."""
        body = parse_body(req)
        headers = request_headers(req)
        trace_tag = headers.pop(TRACE_TAG_HEADER, None) or f"webhook-{hook}-{uuid.uuid4().hex}"
        trace_context = {"trace_tag": trace_tag}
        if hook == GENERIC_HOOK:
            if not isinstance(body, dict):
                raise bad_request("Webhook body needs to be an object, got: array")
            if not body.get("trigger"):
                raise bad_request("Trigger not specified.")
            self.ctx.triggers.dispatch(body["trigger"], body.get("payload"), trace_context)
        else:
            triggers = self.registered(hook)
            if not triggers:
                raise not_found(f"Webhook {hook[:200]} not registered with st2")
            payload = {"headers": headers, "headers_lower": {name.lower(): value for name, value in headers.items()},
                       "body": body}
            # One payload and one type: if the first dispatch passes validation, the others do too.
            for trigger in triggers:
                self.ctx.triggers.dispatch(trigger["ref"], payload, trace_context)
        respond(resp, body, 202)
