"""st2garbagecollector: deletes what has outlived its `[garbagecollector]` TTL, as StackStorm 3.9's does.

Every `collection_interval` seconds (and at once on SIGUSR2) it goes through the kinds of documents in
StackStorm's order, waiting `sleep_delay` seconds between two kinds; each TTL is in days, and a kind
without one is left alone (st2.conf loading has already refused a TTL below the 1-day minimum):

- `action_executions_ttl`: executions completed as StackStorm counts them (succeeded, failed, timeout,
  canceled: an abandoned one is kept, as StackStorm keeps it) that started and ended before the cutoff,
  with their output lines and, for a workflow, its engine's record. Nothing else is ever deleted, so a
  running, paused or pending execution stays however old it is.
- `action_executions_output_ttl` (7 by default): output lines older than that, of any execution.
- `trigger_instances_ttl`, `rule_enforcements_ttl`: by occurrence and enforcement time.
- `tokens_ttl`: tokens that expired longer ago than that.
- `traces_ttl`: accepted and checked; the appliance keeps no traces, so there is nothing to purge.
- `purge_inquiries`: pending inquiries past their own `ttl` (minutes) time out (appliance/inquiries.py),
  and their workflows go on as after an answer. This service is the only one that looks for them, and it
  looks every INQUIRY_SECONDS besides each collection: an inquiry's TTL counts in minutes, the collection
  interval in tens of minutes (StackStorm's waiting workflows sit there until the next collection).

Deletions go through the store, a batch of ids at a time (SQLite's one writer is never held long, and
MongoDB does the same). Only the holder of the leader lock collects (see appliance/coordination), and it
renews the lock between two batches: a collector that loses it stops at once, and a standby takes over.
"""

from __future__ import annotations

import datetime
import logging
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Optional

from appliance import inquiries, models
from appliance.coordination import leader_lock
from appliance.models import (
    EXECUTION_OUTPUT,
    EXECUTIONS,
    RULE_ENFORCEMENTS,
    TOKENS,
    TRIGGER_INSTANCES,
    WORKFLOW_EXECUTIONS,
    Entity,
)
from appliance.services.base import Service, run_service
from appliance.store import Collection

LOG = logging.getLogger(__name__)
RENEW_SECONDS = 1.0  # how often the leader lock is renewed, between collections as between batches
BATCH = 200  # documents deleted at a time
INQUIRY_SECONDS = 5.0  # how often pending inquiries are checked for their TTL between collections
LONGEST_TTL_DAYS = 365_000  # a longer TTL purges nothing either, and its cutoff would leave the calendar
# StackStorm's DONE_STATES (st2common/garbage_collection/executions.py): abandoned is not one of them.
DONE = (models.SUCCEEDED, models.FAILED, models.TIMEOUT, models.CANCELED)


@dataclass(frozen=True)
class Purge:
    """One kind of document, deleted once each of its `stamps` is older than now minus its TTL."""

    key: str  # [garbagecollector] <key>: the TTL in days
    entity: Entity
    stamps: tuple[str, ...]
    what: str  # as the log names them
    only: dict = field(default_factory=dict)  # more filters: which of them may go at all
    # documents that go with each one: (entity, the field that holds its id)
    dependents: tuple[tuple[Entity, str], ...] = ()


PURGES = (
    Purge("action_executions_ttl", EXECUTIONS, ("start_timestamp", "end_timestamp"), "executions",
          only={"status": {"$in": list(DONE)}},
          dependents=((EXECUTION_OUTPUT, "execution_id"), (WORKFLOW_EXECUTIONS, "action_execution"))),
    Purge("action_executions_output_ttl", EXECUTION_OUTPUT, ("timestamp",), "execution output lines"),
    Purge("trigger_instances_ttl", TRIGGER_INSTANCES, ("occurrence_time",), "trigger instances"),
    Purge("tokens_ttl", TOKENS, ("expiry",), "tokens"),
    Purge("rule_enforcements_ttl", RULE_ENFORCEMENTS, ("enforced_at",), "rule enforcements"),
)


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


class GarbageCollectorService(Service):
    name = "st2garbagecollector"

    def __init__(self, ctx):
        super().__init__(ctx)
        self.lock = leader_lock(ctx.config, ctx.store, self.name)
        self._stop = threading.Event()
        self._asked = threading.Event()  # SIGUSR2: collect now
        self._thread: Optional[threading.Thread] = None
        self._renewed_at = 0.0
        self._previous_handler = None

    def setting(self, key: str):
        return self.ctx.config.get("garbagecollector", key)

    # -- leadership ---------------------------------------------------------------------------------
    def leads(self) -> bool:
        """Whether this collector may go on: not stopping, and the leader (the lock is taken if it can be,
        and renewed once its last renewal is RENEW_SECONDS old)."""
        if self._stop.is_set():
            return False
        if not self.lock.held or time.monotonic() - self._renewed_at >= RENEW_SECONDS:
            self.lock.hold()
            self._renewed_at = time.monotonic()
        return self.lock.held

    def _pause(self, seconds: float) -> None:
        """Wait `seconds` (less when the lead is lost or the service stops), renewing the lock meanwhile."""
        deadline = time.monotonic() + seconds
        while self.leads() and time.monotonic() < deadline:
            self._stop.wait(min(RENEW_SECONDS, deadline - time.monotonic()))

    # -- one collection -----------------------------------------------------------------------------
    def collect(self, now: Optional[datetime.datetime] = None) -> dict[str, int]:
        """One collection, as the leader (nothing when this collector does not lead): how many of each
        kind went. It stops between two batches when the lead is lost or the service stops."""
        now = now or utc_now()
        done: dict[str, int] = {}
        for purge in PURGES:
            ttl = self.setting(purge.key)
            if ttl and self.leads():
                cutoff = now - datetime.timedelta(days=min(ttl, LONGEST_TTL_DAYS))
                done[purge.what] = self._purge(purge, models.format_time(cutoff))
                self._pause(self.setting("sleep_delay"))
        if self.setting("purge_inquiries") and self.leads():
            done["inquiries timed out"] = inquiries.expire_due(self.ctx.executions)
        for what, count in done.items():
            if count:
                LOG.info("garbage collection: %d %s", count, what)
        return done

    def _purge(self, purge: Purge, cutoff: str) -> int:
        """Delete, a batch at a time, what `purge` finds older than `cutoff`, each batch after its
        dependents (none is ever left without its document); how many went."""
        coll = self.ctx.store.collection(purge.entity)
        filters = {**purge.only, **{stamp: {"$lt": cutoff} for stamp in purge.stamps}}
        deleted = 0
        while self.leads():
            ids = [doc["id"] for doc in coll.find(filters, sort=[(purge.stamps[0], 1)], limit=BATCH)]
            if not ids or not all(self._delete_all(self.ctx.store.collection(entity), {id_field: {"$in": ids}})
                                  for entity, id_field in purge.dependents):
                break
            count = coll.delete_many({**filters, "id": {"$in": ids}})  # one that changed meanwhile stays
            deleted += count
            if len(ids) < BATCH or not count:
                break
        return deleted

    def _delete_all(self, coll: Collection, filters: dict) -> bool:
        """Delete everything `filters` matches, a batch at a time; False when stopped before the end."""
        while self.leads():
            ids = [doc["id"] for doc in coll.find(filters, limit=BATCH)]
            count = coll.delete_many({"id": {"$in": ids}}) if ids else 0
            if len(ids) < BATCH:
                return True
            if not count:
                break
        return False

    # -- service ------------------------------------------------------------------------------------
    def _loop(self) -> None:
        due = time.monotonic()  # the first collection at once, as StackStorm's (after its 0-3 s jitter)
        inquiries_due = due + INQUIRY_SECONDS
        while not self._stop.is_set():
            try:
                if self.leads() and (time.monotonic() >= due or self._asked.is_set()):
                    self._asked.clear()
                    self.collect()
                    due = time.monotonic() + self.setting("collection_interval")
                elif time.monotonic() >= inquiries_due and self.setting("purge_inquiries") and self.leads():
                    inquiries_due = time.monotonic() + INQUIRY_SECONDS
                    if inquiries.expire_due(self.ctx.executions):
                        LOG.info("garbage collection: inquiries past their TTL timed out")
            except Exception:
                LOG.exception("garbage collection failed")
                due = time.monotonic() + self.setting("collection_interval")
            self._stop.wait(RENEW_SECONDS)

    def start(self) -> None:
        ttls = [f"{purge.key} = {self.setting(purge.key)}" for purge in PURGES if self.setting(purge.key)]
        LOG.info("garbage collection every %s s: %s%s", self.setting("collection_interval"),
                 ", ".join(ttls) or "no TTL set", ", purge_inquiries" if self.setting("purge_inquiries") else "")
        if self.setting("traces_ttl"):
            LOG.info("traces_ttl is set, but the appliance keeps no traces: nothing to purge")
        if threading.current_thread() is threading.main_thread():
            self._previous_handler = signal.signal(signal.SIGUSR2, lambda *_: self._asked.set())
        self._thread = threading.Thread(target=self._loop, daemon=True, name="garbagecollector")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._previous_handler is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGUSR2, self._previous_handler)
        self.lock.release()


def main() -> None:
    run_service(GarbageCollectorService)


if __name__ == "__main__":
    main()
