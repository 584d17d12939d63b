"""/v1/inquiries: the pending executions of the inquirer runner (`st2 inquiry list/get/respond`)."""

from __future__ import annotations

import falcon

from appliance import inquiries, models
from appliance.api.http import ApiError, json_object, not_found, respond
from appliance.api.listing import paging
from appliance.inquiries import InquiryError
from appliance.models.inquiry import INQUIRER, INQUIRY_RESPONSE, public
from appliance.services.context import Context


class _Base:
    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.executions = ctx.executions

    def _open(self, inquiry_id: str) -> dict:
        """The inquiry's execution, timed out first if its TTL passed (with [garbagecollector] purge_inquiries);
        404 or 400 unless it is an open inquiry."""
        doc = self.executions.get(inquiry_id)
        if doc is None:
            raise not_found(f'Resource with a id "{inquiry_id}" not found')
        try:
            if self.ctx.config.get("garbagecollector", "purge_inquiries"):
                doc = inquiries.expire(self.executions, doc)
            inquiries.check(doc)
        except InquiryError as exc:
            raise ApiError(exc.status, str(exc)) from None
        return doc


class Inquiries(_Base):
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Newest first, 50 by default; only id and result of each execution are read, as StackStorm's."""
        limit, offset = paging(req, 50, self.ctx.config.get("api", "max_page_size"))
        filters = {"runner.name": INQUIRER, "status": models.PENDING}
        docs = self.executions.coll.find(filters, sort=[("start_timestamp", -1)], limit=limit, offset=offset)
        total = self.executions.coll.count(filters) if len(docs) == limit or offset else offset + len(docs)
        resp.set_header("X-Total-Count", str(total))
        resp.set_header("X-Limit", str(limit))
        respond(resp, [public(doc) for doc in docs])


class Inquiry(_Base):
    def on_get(self, req: falcon.Request, resp: falcon.Response, inquiry_id: str) -> None:
        respond(resp, public(self._open(inquiry_id)))

    def on_put(self, req: falcon.Request, resp: falcon.Response, inquiry_id: str) -> None:
        """Answer: checked against the inquiry's schema (a 400 leaves it pending), then the execution succeeds
        with `result.response` and st2workflowengine resumes its workflow."""
        body = INQUIRY_RESPONSE.build(json_object(req))
        doc = self._open(inquiry_id)
        try:
            inquiries.check_permission(doc, req.context.user)
            response = inquiries.validated_response(doc, body["response"])
            inquiries.respond(self.executions, doc, response)
        except InquiryError as exc:
            raise ApiError(exc.status, str(exc)) from None
        respond(resp, {"id": doc["id"], "response": response})
