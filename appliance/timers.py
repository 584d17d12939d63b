"""The schedule of one timer trigger: when it fires next, and what it sends when it does.

StackStorm hands each timer trigger to APScheduler; the appliance computes the same fire times
itself (no scheduler library is in the offline mirror): an IntervalTimer fires one interval after
it is loaded and every interval after, a DateTimer once (never when its date has passed), a
CronTimer whenever the wall clock of its timezone matches its fields, read by appliance.rules.cron
(the parser that also checks them when a rule is stored). A Date or Cron timer without `timezone`
uses the zone the timers engine is given ([timersengine] local_timezone).
"""

from __future__ import annotations

import datetime
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Optional

from dateutil import parser as date_parser

from appliance.rules.cron import UTC, CronFields, parse_cron, time_zone

INTERVAL, DATE, CRON = "core.st2.IntervalTimer", "core.st2.DateTimer", "core.st2.CronTimer"
TIMER_TYPES = (INTERVAL, DATE, CRON)
UNITS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400, "weeks": 604800}


def payload(fired_at: datetime.datetime) -> dict:
    """What a timer sends, as StackStorm does: `executed_at` is str() of the UTC time and `schedule`
    is always null (StackStorm reads a `time` parameter that no timer type has)."""
    return {"executed_at": str(fired_at.astimezone(UTC)), "schedule": None}


class Schedule(ABC):
    @abstractmethod
    def next_after(self, moment: datetime.datetime) -> Optional[datetime.datetime]:
        """The first fire time strictly after `moment` (aware, UTC), or None when it fires no more."""


@dataclass(frozen=True)
class Interval(Schedule):
    every: datetime.timedelta
    start: datetime.datetime  # when the timer was loaded: it first fires one interval later

    def next_after(self, moment: datetime.datetime) -> datetime.datetime:
        ticks = max(1, (moment - self.start) // self.every + 1)
        return self.start + self.every * ticks


@dataclass(frozen=True)
class Date(Schedule):
    at: datetime.datetime

    def next_after(self, moment: datetime.datetime) -> Optional[datetime.datetime]:
        return self.at if self.at > moment else None


@dataclass(frozen=True)
class Cron(Schedule):
    fields: CronFields
    tz: datetime.tzinfo

    def next_after(self, moment: datetime.datetime) -> Optional[datetime.datetime]:
        return self.fields.next_after(moment, self.tz)


def _timezone(parameters: dict, default: datetime.tzinfo) -> datetime.tzinfo:
    """The trigger's `timezone` parameter, or `default` when it has none (or an empty one)."""
    name = parameters.get("timezone")
    return time_zone(str(name)) if name else default


def schedule_of(trigger: dict, loaded_at: datetime.datetime, default_zone: datetime.tzinfo = UTC) -> Schedule:
    """The schedule of a stored timer trigger, a Date or Cron timer without `timezone` in
    `default_zone`; ValueError when its parameters cannot make one."""
    parameters = trigger.get("parameters") or {}
    kind = trigger.get("type")
    if kind == INTERVAL:
        delta, unit = parameters.get("delta"), parameters.get("unit")
        if unit not in UNITS or not isinstance(delta, int) or isinstance(delta, bool) or delta < 1:
            raise ValueError(f"an interval needs a unit in {', '.join(UNITS)} and a positive delta")
        return Interval(datetime.timedelta(seconds=delta * UNITS[unit]), loaded_at)
    if kind == DATE:
        try:
            at = date_parser.parse(str(parameters.get("date")))
        except (ValueError, OverflowError) as exc:
            raise ValueError(f"date {parameters.get('date')!r}: {exc}") from None
        if at.tzinfo is None:
            at = at.replace(tzinfo=_timezone(parameters, default_zone))
        return Date(at.astimezone(UTC))
    if kind == CRON:
        return Cron(parse_cron(parameters), _timezone(parameters, default_zone))
    raise ValueError(f"{kind!r} is not a timer trigger type")
