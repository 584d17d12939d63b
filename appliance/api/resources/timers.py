"""/v1/timers (`st2 timer list [--timer-type]`) and /v1/timers/{ref_or_id} (`st2 timer get`): the
stored triggers of the three timer types, as StackStorm's API shows them."""

from __future__ import annotations

import falcon

from appliance.api.http import bad_request, not_found, respond
from appliance.api.listing import list_collection, lookup
from appliance.models import TRIGGERS
from appliance.services.context import Context
from appliance.timers import TIMER_TYPES


class _Base:
    def __init__(self, ctx: Context):
        self.triggers = ctx.store.collection(TRIGGERS)
        self.max_page_size = ctx.config.get("api", "max_page_size")


class Timers(_Base):
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        timer_type = req.get_param("timer_type")
        if timer_type and timer_type not in TIMER_TYPES:
            raise bad_request(f"Timer type {timer_type[:200]} not in supported types - {', '.join(TIMER_TYPES)}.")
        filters = {"type": timer_type or {"$in": list(TIMER_TYPES)}}
        docs = list_collection(req, resp, self.triggers, filters, [("type", 1), ("ref", 1)], self.max_page_size)
        respond(resp, [TRIGGERS.public(doc) for doc in docs])


class Timer(_Base):
    def on_get(self, req: falcon.Request, resp: falcon.Response, ref_or_id: str) -> None:
        doc = lookup(self.triggers, "ref", ref_or_id)
        if doc["type"] not in TIMER_TYPES:
            raise not_found(f'Timer "{ref_or_id[:200]}" not found: trigger {doc["ref"]} is not a timer')
        respond(resp, TRIGGERS.public(doc))
