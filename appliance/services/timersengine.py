"""st2timersengine: fires the IntervalTimer, DateTimer and CronTimer triggers.

Every engine re-reads the timer triggers every second, so a trigger created, changed or deleted
(by a rule or `POST /v1/triggers`) takes effect within a second, and keeps their schedules; only the
holder of the leader lock fires them (see appliance/coordination), so each tick is dispatched once
however many engines run. A standby keeps its schedules moving and fires from the moment it leads.
Date and Cron timers without `timezone` run in StackStorm's `[timer] local_timezone` when set (its
deprecated name), else `[timersengine] local_timezone` (UTC by default); st2.conf loading has
already refused a zone the host does not know.
"""

from __future__ import annotations

import datetime
import logging
import threading
from dataclasses import dataclass
from typing import Optional

from appliance.config import Config
from appliance.coordination import leader_lock
from appliance.models import TRIGGERS
from appliance.rules.cron import time_zone
from appliance.services.base import Service, run_service
from appliance.timers import TIMER_TYPES, UTC, Schedule, payload, schedule_of
from appliance.triggers import DispatchError

LOG = logging.getLogger(__name__)
RELOAD_SECONDS = 1.0  # how often the triggers are re-read and the leader lock renewed


@dataclass
class Timer:
    trigger: dict
    schedule: Optional[Schedule]  # None: its parameters cannot make a schedule (logged once)
    due: Optional[datetime.datetime]


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(UTC)


def default_time_zone(config: Config) -> datetime.tzinfo:
    """The zone of Date and Cron timers without `timezone`, as StackStorm 3.9 picks it
    (st2reactor/cmd/timersengine.py): `[timer] local_timezone or [timersengine] local_timezone`."""
    return time_zone(config.get("timer", "local_timezone") or config.get("timersengine", "local_timezone") or "UTC")


class TimersEngineService(Service):
    name = "st2timersengine"

    def __init__(self, ctx):
        super().__init__(ctx)
        self.triggers = ctx.store.collection(TRIGGERS)
        self.lock = leader_lock(ctx.config, ctx.store, self.name)
        self.default_zone = default_time_zone(ctx.config)
        self.timers: dict[str, Timer] = {}  # by trigger id
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def reload(self, now: datetime.datetime) -> None:
        """Follow the stored timer triggers: new ones start, changed ones start over, gone ones stop."""
        found = {doc["id"]: doc for doc in self.triggers.find({"type": {"$in": list(TIMER_TYPES)}})}
        for trigger_id in set(self.timers) - set(found):
            LOG.info("timer %s stopped", self.timers.pop(trigger_id).trigger["ref"])
        for trigger_id, doc in found.items():
            known = self.timers.get(trigger_id)
            if known is None or (known.trigger["type"], known.trigger.get("parameters")) != (
                    doc["type"], doc.get("parameters")):
                self.timers[trigger_id] = self._start(doc, now)

    def _start(self, trigger: dict, now: datetime.datetime) -> Timer:
        try:
            schedule = schedule_of(trigger, now, self.default_zone)
        except ValueError as exc:
            LOG.error("timer %s not scheduled: %s", trigger["ref"], exc)
            return Timer(trigger, None, None)
        due = schedule.next_after(now)
        LOG.info("timer %s (%s %s) started, first due %s", trigger["ref"], trigger["type"],
                 trigger.get("parameters"), due or "never (its date has passed)")
        return Timer(trigger, schedule, due)

    def fire_due(self, now: datetime.datetime, leader: bool) -> int:
        """Dispatch (as the leader) each timer due by `now` once, and move it to its next time;
        returns how many fired."""
        fired = 0
        for timer in self.timers.values():
            if timer.due is None or timer.due > now:
                continue
            if leader:
                fired += self._dispatch(timer.trigger, now)
            timer.due = timer.schedule.next_after(now)
        return fired

    def _dispatch(self, trigger: dict, now: datetime.datetime) -> int:
        tag = f"{trigger['type'].split('.', 1)[1]}-{trigger['name']}"
        try:
            # The payload is StackStorm's (schedule is null, which the type's schema does not admit):
            # built here, it needs no check.
            self.ctx.triggers.dispatch(trigger, payload(now), {"trace_tag": tag}, validate=False)
        except DispatchError as exc:  # deleted since the last reload
            LOG.info("timer %s not fired: %s", trigger["ref"], exc)
            return 0
        return 1

    def _next_wait(self, reload_at: datetime.datetime) -> float:
        soonest = min([timer.due for timer in self.timers.values() if timer.due] + [reload_at])
        return max(0.0, (soonest - utc_now()).total_seconds())

    def _loop(self) -> None:
        reload_at = utc_now()
        leader = False
        while not self._stop.is_set():
            now = utc_now()
            try:
                if now >= reload_at:
                    reload_at = now + datetime.timedelta(seconds=RELOAD_SECONDS)
                    self.reload(now)
                    leader = self.lock.hold()
                self.fire_due(now, leader)
            except Exception:
                LOG.exception("timers engine tick failed")
            self._stop.wait(self._next_wait(reload_at))

    def start(self) -> None:
        LOG.info("Date and Cron timers without a timezone run in %s", self.default_zone)
        self._thread = threading.Thread(target=self._loop, daemon=True, name="timers")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.lock.release()


def main() -> None:
    run_service(TimersEngineService)


if __name__ == "__main__":
    main()
