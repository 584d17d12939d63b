"""The schedule of one timer trigger: when it fires next, and what it sends when it does.

StackStorm hands each timer trigger to APScheduler; the appliance computes the same fire times
itself (no scheduler library is in the offline mirror): an IntervalTimer fires one interval after
it is loaded and every interval after, a DateTimer once (never when its date has passed), a
CronTimer whenever the wall clock of its timezone matches APScheduler-style cron fields.
"""

from __future__ import annotations

import datetime
import itertools
import re
import zoneinfo
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional

from dateutil import parser as date_parser

INTERVAL, DATE, CRON = "core.st2.IntervalTimer", "core.st2.DateTimer", "core.st2.CronTimer"
TIMER_TYPES = (INTERVAL, DATE, CRON)
UTC = datetime.timezone.utc
UNITS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400, "weeks": 604800}

# APScheduler's fields, most significant first, with their bounds and the value a field takes when
# it is left out after the last given one (before it, a left-out field is "*").
CRON_FIELDS = ("year", "month", "day", "week", "day_of_week", "hour", "minute", "second")
_BOUNDS = {"year": (1970, 9999), "month": (1, 12), "day": (1, 31), "week": (1, 53), "day_of_week": (0, 6),
           "hour": (0, 23), "minute": (0, 59), "second": (0, 59)}
_DEFAULTS = {"year": "*", "month": "1", "day": "1", "week": "*", "day_of_week": "*",
             "hour": "0", "minute": "0", "second": "0"}
_NAMES = {"month": ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
          "day_of_week": ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
_ORDINALS = ("1st", "2nd", "3rd", "4th", "5th")
_RANGE = re.compile(r"(?:\*|(?P<first>\w+)(?:-(?P<last>\w+))?)(?:/(?P<step>\d+))?$")
_WEEKDAY_IN_MONTH = re.compile(r"(?P<nth>1st|2nd|3rd|4th|5th|last) +(?P<weekday>\w+)$")

Matcher = Callable[[int, datetime.date], bool]  # (the field's value, the day) -> does it match


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
    fields: dict[str, Matcher]
    tz: datetime.tzinfo

    def next_after(self, moment: datetime.datetime) -> Optional[datetime.datetime]:
        local = moment.astimezone(self.tz).replace(microsecond=0, tzinfo=None) + datetime.timedelta(seconds=1)
        day, earliest = local.date(), local.time()
        while True:
            if not self._matches("year", day.year, day):
                day, earliest = datetime.date(day.year + 1, 1, 1), datetime.time()
            elif not self._matches("month", day.month, day):
                day, earliest = _next_month(day), datetime.time()
            else:
                if self._day_matches(day):
                    found = next(self._instants(day, earliest), None)
                    if found is not None:
                        return found
                day, earliest = day + datetime.timedelta(days=1), datetime.time()
            if day.year >= _BOUNDS["year"][1]:  # the search stops where dates end
                return None

    def _matches(self, name: str, value: int, day: datetime.date) -> bool:
        return self.fields[name](value, day)

    def _day_matches(self, day: datetime.date) -> bool:
        return (self._matches("day", day.day, day) and self._matches("week", day.isocalendar()[1], day)
                and self._matches("day_of_week", day.weekday(), day))

    def _instants(self, day: datetime.date, earliest: datetime.time) -> Iterator[datetime.datetime]:
        """The matching times of `day` from `earliest` on, skipping wall times that a DST change skips."""
        units = [[value for value in range(low, high + 1) if self._matches(name, value, day)]
                 for name, (low, high) in ((name, _BOUNDS[name]) for name in ("hour", "minute", "second"))]
        for hour, minute, second in itertools.product(*units):
            wall = datetime.datetime.combine(day, datetime.time(hour, minute, second))
            if wall.time() < earliest:
                continue
            instant = wall.replace(tzinfo=self.tz).astimezone(UTC)
            if instant.astimezone(self.tz).replace(tzinfo=None) == wall:
                yield instant


def _next_month(day: datetime.date) -> datetime.date:
    return datetime.date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _last_day(day: datetime.date) -> int:
    return (_next_month(day) - datetime.timedelta(days=1)).day


def _number(name: str, text: str) -> int:
    """A field value: digits, or a month or weekday name."""
    if text.isdigit():
        return int(text)
    names = _NAMES.get(name, ())
    if text in names:
        return names.index(text) + (1 if name == "month" else 0)
    raise ValueError(f"{name}: {text!r} is not a valid value")


def _weekday_in_month(text: str) -> Optional[Matcher]:
    """`last` (the month's last day), `2nd fri`, `last sun`: day-field expressions."""
    if text == "last":
        return lambda value, day: value == _last_day(day)
    match = _WEEKDAY_IN_MONTH.match(text)
    if match is None:
        return None
    weekday = _number("day_of_week", match["weekday"])
    nth = match["nth"]

    def matches(value: int, day: datetime.date) -> bool:
        if day.weekday() != weekday:
            return False
        return value + 7 > _last_day(day) if nth == "last" else (value - 1) // 7 == _ORDINALS.index(nth)

    return matches


def _expression(name: str, text: str) -> Matcher:
    """One comma-separated part of a field: `*`, `*/n`, `a`, `a-b`, `a-b/n`, `a/n`, names."""
    special = _weekday_in_month(text) if name == "day" else None
    if special is not None:
        return special
    match = _RANGE.match(text)
    if match is None:
        raise ValueError(f"{name}: {text!r} is not a valid expression")
    low, high = _BOUNDS[name]
    first = low if match["first"] is None else _number(name, match["first"])
    step = int(match["step"] or 1)
    if match["last"] is not None:
        last = _number(name, match["last"])
    else:
        last = high if match["first"] is None or match["step"] else first
    if not low <= first <= last <= high or step < 1:
        raise ValueError(f"{name}: {text!r} is outside {low}-{high}")
    if match["step"] and step > last - first:
        raise ValueError(f"{name}: the step of {text!r} is larger than the range it steps through")
    values = frozenset(range(first, last + 1, step))
    return lambda value, day: value in values


def _field(name: str, spec: Any) -> Matcher:
    parts = [_expression(name, part.strip().lower()) for part in str(spec).split(",")]
    return lambda value, day: any(part(value, day) for part in parts)


def cron_fields(parameters: dict) -> dict[str, Matcher]:
    """The eight field matchers of CronTimer parameters, with APScheduler's defaults."""
    given = [name for name in CRON_FIELDS if parameters.get(name) is not None]
    last_given = CRON_FIELDS.index(given[-1]) if given else len(CRON_FIELDS)
    specs = {name: parameters[name] if name in given else ("*" if index < last_given else _DEFAULTS[name])
             for index, name in enumerate(CRON_FIELDS)}
    return {name: _field(name, spec) for name, spec in specs.items()}


def _timezone(parameters: dict, default: str) -> datetime.tzinfo:
    name = parameters.get("timezone") or default
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {name!r}") from None


def schedule_of(trigger: dict, loaded_at: datetime.datetime, default_timezone: str = "UTC") -> Schedule:
    """The schedule of a stored timer trigger; ValueError when its parameters cannot make one."""
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
            at = at.replace(tzinfo=_timezone(parameters, default_timezone))
        return Date(at.astimezone(UTC))
    if kind == CRON:
        return Cron(cron_fields(parameters), _timezone(parameters, default_timezone))
    raise ValueError(f"{kind!r} is not a timer trigger type")
