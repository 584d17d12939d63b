"""st2stream: server-sent events of execution changes and output, as `st2 run --tail`,
`st2 execution tail` and the web UI consume them."""

from __future__ import annotations

import fnmatch
import logging
import queue
import threading
import time
from typing import Iterator, Optional

import falcon

from appliance import codec, models
from appliance.api.http import Authenticate, make_app
from appliance.bus import Subscription
from appliance.models import EXECUTIONS
from appliance.services.context import Context

LOG = logging.getLogger(__name__)
EXECUTION_EVENT_PREFIX = "st2.execution__"
OUTPUT_EVENT = "st2.execution.output__create"
DEFAULT_EVENTS = ("st2.announcement__*", "st2.execution__create", "st2.execution__update",
                  "st2.execution__delete", "st2.liveaction__create", "st2.liveaction__update",
                  "st2.liveaction__delete")


class Client:
    """One connected stream: its events, and whether it fell so far behind that it was dropped."""

    def __init__(self, buffer: int):
        self.events: queue.Queue = queue.Queue(maxsize=buffer)
        self.dropped = False


class Broadcaster:
    """Fans bus events out to every connected client without ever waiting for one: a client whose
    buffer is full (it stopped reading) is dropped, so it cannot hold up the bus or the others."""

    def __init__(self, client_buffer: int = 10000) -> None:
        self._clients: set[Client] = set()
        self._lock = threading.Lock()
        self.client_buffer = client_buffer

    def publish(self, event: str, body: dict) -> None:
        if event.startswith(EXECUTION_EVENT_PREFIX):
            body = EXECUTIONS.public(body)  # secret parameters never leave in clear
        with self._lock:
            clients = list(self._clients)
        for client in clients:
            try:
                client.events.put_nowait((event, body))
            except queue.Full:
                LOG.warning("dropping a stream client that stopped reading (%d events behind)", self.client_buffer)
                client.dropped = True
                self.detach(client)

    def attach(self) -> Client:
        client = Client(self.client_buffer)
        with self._lock:
            self._clients.add(client)
        return client

    def detach(self, client: Client) -> None:
        with self._lock:
            self._clients.discard(client)


def _split(value: Optional[str]) -> list[str]:
    return [part for part in (value or "").split(",") if part]


class _Filter:
    def __init__(self, req: falcon.Request):
        self.events = _split(req.get_param("events")) or list(DEFAULT_EVENTS)
        self.action_refs = set(_split(req.get_param("action_refs")))
        self.execution_ids = set(_split(req.get_param("execution_ids")))
        self.end_event = req.get_param("end_event")
        self.end_execution_id = req.get_param("end_execution_id")

    def wants(self, event: str, body: dict) -> bool:
        if not any(fnmatch.fnmatch(event, pattern) for pattern in self.events):
            return False
        execution_id = body.get("execution_id") or body.get("id")
        if self.execution_ids and execution_id not in self.execution_ids:
            return False
        ref = body.get("action_ref") or (body.get("action") or {}).get("ref")
        return not (self.action_refs and ref not in self.action_refs)

    def ends(self, event: str, body: dict) -> bool:
        return (
            bool(self.end_event)
            and event == self.end_event
            and body.get("id") == self.end_execution_id
            and body.get("status") in models.COMPLETED_STATUSES
        )


def _frame(event: str, body: dict) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + codec.dumps_bytes(body) + b"\n\n"


class Stream:
    def __init__(self, ctx: Context, broadcaster: Broadcaster):
        self.ctx = ctx
        self.broadcaster = broadcaster
        self.heartbeat = ctx.config.get("stream", "heartbeat")

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        wanted = _Filter(req)
        client = self.broadcaster.attach()
        resp.content_type = "text/event-stream; charset=UTF-8"
        resp.set_header("Cache-Control", "no-cache")
        resp.set_header("X-Accel-Buffering", "no")
        resp.stream = self._events(wanted, client)

    def _already_over(self, wanted: _Filter) -> Optional[dict]:
        """An end execution that completed before the client attached would never end the
        stream; answer with its final state instead."""
        if not (wanted.end_event and wanted.end_execution_id):
            return None
        doc = self.ctx.executions.get(wanted.end_execution_id)
        if doc is not None and doc["status"] in models.COMPLETED_STATUSES:
            return doc
        return None

    def _earlier_output(self, wanted: _Filter) -> list[dict]:
        """Output the tailed execution printed before the client attached (`st2 run --tail`
        subscribes only after its POST returns), so a tail shows every line."""
        if not wanted.end_execution_id:
            return []
        lines = self.ctx.executions.output.find(
            {"execution_id": wanted.end_execution_id}, sort=[("timestamp", 1), ("seq", 1)]
        )
        return [line for line in lines if wanted.wants(OUTPUT_EVENT, line)]

    def _events(self, wanted: _Filter, client: Client) -> Iterator[bytes]:
        try:
            yield b"\n"
            finished = self._already_over(wanted)
            if finished is not None:
                yield _frame(wanted.end_event, EXECUTIONS.public(finished))
                return
            replayed = set()
            for line in self._earlier_output(wanted):
                replayed.add(line["id"])
                yield _frame(OUTPUT_EVENT, line)
            next_beat = time.monotonic() + self.heartbeat
            while not client.dropped:
                try:
                    item = client.events.get(timeout=max(0.05, next_beat - time.monotonic()))
                except queue.Empty:
                    yield b"\n"
                    next_beat = time.monotonic() + self.heartbeat
                    continue
                event, body = item
                if event == OUTPUT_EVENT and body.get("id") in replayed:
                    continue
                if wanted.wants(event, body):
                    yield _frame(event, body)
                if wanted.ends(event, body):
                    return
        finally:
            self.broadcaster.detach(client)


def stream_app(ctx: Context, broadcaster: Broadcaster) -> falcon.App:
    app = make_app(ctx.config, [Authenticate(ctx.credentials, ctx.config)])
    app.add_route("/stream", Stream(ctx, broadcaster))
    return app


def subscribe(ctx: Context, broadcaster: Broadcaster, name: str) -> Subscription:
    return ctx.bus.consume_events(broadcaster.publish, name)
