"""The parameters of a `core.st2.CronTimer` trigger, read in one place for both of their uses: the
check made when a rule is stored (check_cron) and the fire times st2timersengine computes
(parse_cron(...).next_after).

StackStorm 3.9 hands them to APScheduler 3.11's `CronTrigger(**parameters)` in both places
(st2common/validators/api/reactor.py, st2reactor/timer/base.py), so they are read here as APScheduler
3.x reads them (apscheduler/triggers/cron/__init__.py, fields.py, expressions.py), quirks included:

- fields: year (1970-9999), month (1-12), day (1-31), week (ISO week, 1-53), day_of_week (0-6,
  0 = Monday), hour, minute, second. Fields before the last given one default to `*`, those after
  it to their minimum (`hour: 9` fires at 09:00:00 every day); none given fires every second.
- expressions, comma-separated: `*`, `*/n`, `a`, `a-b`, `a-b/n`, `a/n` (a, a+n, ... up to the
  maximum); month names (`jan`, `jan-mar`) in month, weekday names (`mon`, `mon-fri`) in
  day_of_week; in day only, `last` (the month's last day) and `1st`..`5th` or `last` before a
  weekday name (`2nd fri`, `last sun`).
- a name is matched at the start of the expression only, so `mon-fri/2` passes and means `mon-fri`
  (APScheduler ignores the rest), while numbers are matched whole (`5/0` and `1-70` are refused).

Time zones: a name of the host's time zone database (zoneinfo), or `UTC`, which needs none
(apscheduler.util.astimezone reads it so). Across a DST change, fire times are APScheduler 3.11's on
zoneinfo zones: a wall time the change skips fires at the offset in force before it (PEP 495
fold=0: 02:30 on a spring-forward night fires at 03:30), a wall time it repeats fires at both of its
instants. Where APScheduler 3.11 skips a matching time just after a change (its field increments add
wall-clock differences as elapsed seconds: the midnight ending a 23-hour day), that time fires here.
"""

from __future__ import annotations

import bisect
import calendar
import datetime
import functools
import re
import zoneinfo
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Optional

UTC = datetime.timezone.utc
ONE_SECOND, ONE_DAY = datetime.timedelta(seconds=1), datetime.timedelta(days=1)
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
POSITIONS = ("1st", "2nd", "3rd", "4th", "5th", "last")
# Each field's bounds, in APScheduler's order (the first bad field is the one reported).
BOUNDS = {"year": (1970, 9999), "month": (1, 12), "day": (1, 31), "week": (1, 53), "day_of_week": (0, 6),
          "hour": (0, 23), "minute": (0, 59), "second": (0, 59)}
FIELDS = tuple(BOUNDS)
# What a field left out after the last given one is (before it, a left-out field is "*").
DEFAULTS = {"year": "*", "month": "1", "day": "1", "week": "*", "day_of_week": "*",
            "hour": "0", "minute": "0", "second": "0"}

_SEPARATOR = re.compile(r" *, *")
_EVERY = re.compile(r"\*(?:/(?P<step>\d+))?$")
_NUMBERS = re.compile(r"(?P<first>\d+)(?:-(?P<last>\d+))?(?:/(?P<step>\d+))?$")
_NAMES = re.compile(r"(?P<first>[a-z]+)(?:-(?P<last>[a-z]+))?", re.IGNORECASE)
_POSITION = re.compile(r"(?P<position>1st|2nd|3rd|4th|5th|last) +(?P<weekday>\d+|\w+)", re.IGNORECASE)
_LAST_DAY = re.compile(r"last", re.IGNORECASE)

# The values one expression matches: (the field's minimum, its maximum, the month's first day) ->
# values. Only the day field's depend on the month (its maximum is then the month's length).
Values = Callable[[int, int, Optional[datetime.date]], Iterable[int]]
Compiler = Callable[[str, re.Match], Values]  # (field, match) -> values; ValueError when refused


# -- time zones ------------------------------------------------------------------------------------
def time_zone(name: str) -> datetime.tzinfo:
    """The zone called `name`: `UTC`, or a key of the host's time zone database (never a path to
    read). ValueError naming it otherwise, saying so when the host has no database at all."""
    if name == "UTC":
        return UTC
    try:
        return zoneinfo.ZoneInfo(name)
    except (ValueError, LookupError, OSError):
        pass
    missing = "" if _has_zone_database() else (": this host has no time zone database "
                                               "(install the tzdata package, or use UTC)")
    raise ValueError(f'timezone "{name[:80]}" is not a known time zone (such as "Europe/Paris" or "UTC"){missing}')


def _has_zone_database() -> bool:
    try:
        zoneinfo.ZoneInfo("Etc/UTC")
    except (ValueError, LookupError, OSError):
        return False
    return True


# -- expressions -----------------------------------------------------------------------------------
def _number(text: Optional[str]) -> Optional[int]:
    return None if text is None else int(text)


def _step_fits(step: Optional[int], span: int) -> None:
    if step == 0:
        raise ValueError("the step must be higher than 0")
    if step and step > span:
        raise ValueError(f"the step ({step}) is larger than the range it steps through ({span})")


def _span(field: str, first: int, last: Optional[int], step: Optional[int]) -> Values:
    """A value or a range (`first-last`, `first/step` up to the field's maximum), checked with
    APScheduler's RangeExpression arithmetic."""
    low, high = BOUNDS[field]
    if last is None and step is None:
        last = first
    if last is not None and first > last:
        raise ValueError(f"the range starts after it ends ({first} > {last})")
    _step_fits(step, high - low)
    if first < low:
        raise ValueError(f"{first} is lower than the minimum ({low})")
    if last is not None and last > high:
        raise ValueError(f"{last} is higher than the maximum ({high})")
    _step_fits(step, (last or high) - first)  # APScheduler's arithmetic: a last of 0 counts as none

    def values(minimum: int, maximum: int, month: Optional[datetime.date]) -> range:
        return range(first, (maximum if last is None else min(last, maximum)) + 1, step or 1)

    return values


def _every(field: str, match: re.Match) -> Values:
    """`*` and `*/step`, stepping from the field's minimum."""
    low, high = BOUNDS[field]
    step = _number(match["step"])
    _step_fits(step, high - low)
    return lambda minimum, maximum, month: range(minimum, maximum + 1, step or 1)


def _numbers(field: str, match: re.Match) -> Values:
    return _span(field, int(match["first"]), _number(match["last"]), _number(match["step"]))


def _name_number(names: tuple[str, ...], name: str) -> int:
    try:
        return names.index(name.lower())
    except ValueError:
        raise ValueError(f'"{name}" is not one of {", ".join(names)}') from None


def _named(names: tuple[str, ...], first_number: int) -> Compiler:
    """Names standing for numbers (months from 1, weekdays from 0), alone or as a range."""

    def compile_names(field: str, match: re.Match) -> Values:
        first, last = (None if name is None else _name_number(names, name) + first_number
                       for name in (match["first"], match["last"]))
        return _span(field, first, last, None)

    return compile_names


def _weekday_position(field: str, match: re.Match) -> Values:
    """`2nd fri`, `last sun`: the day of the month that is that weekday."""
    position = POSITIONS.index(match["position"].lower())
    weekday = _name_number(WEEKDAYS, match["weekday"])

    def values(minimum: int, maximum: int, month: Optional[datetime.date]) -> tuple[int, ...]:
        first_hit = (weekday - month.weekday()) % 7 + 1
        weeks = (maximum - first_hit) // 7 if POSITIONS[position] == "last" else position
        day = first_hit + 7 * weeks
        return (day,) if day <= maximum else ()

    return values


def _last_day(field: str, match: re.Match) -> Values:
    """`last`: the month's last day."""
    return lambda minimum, maximum, month: (maximum,)


_ANY_FIELD: tuple[tuple[re.Pattern, Compiler], ...] = ((_EVERY, _every), (_NUMBERS, _numbers))
# What each field accepts, tried in order: the first pattern that matches decides.
_COMPILERS = {
    "month": (*_ANY_FIELD, (_NAMES, _named(MONTHS, 1))),
    "day": (*_ANY_FIELD, (_POSITION, _weekday_position), (_LAST_DAY, _last_day)),
    "day_of_week": (*_ANY_FIELD, (_NAMES, _named(WEEKDAYS, 0))),
}


def _expression(field: str, text: str) -> Values:
    """One comma-separated part of a field; ValueError naming the field and the expression."""
    named = f'{field} "{text[:80]}"'
    for pattern, compile_values in _COMPILERS.get(field, _ANY_FIELD):
        match = pattern.match(text)
        if match:
            try:
                return compile_values(field, match)
            except ValueError as exc:  # also int() of thousands of digits
                raise ValueError(f"{named}: {exc}") from None
    raise ValueError(f"{named} is not a cron expression this field accepts")


def _field(field: str, spec: object) -> tuple[Values, ...]:
    return tuple(_expression(field, text) for text in _SEPARATOR.split(str(spec).strip()))


def _specs(parameters: dict) -> dict[str, object]:
    """Each field's expressions, with APScheduler's defaults for the fields not given (None is not
    given): `*` before the last given field, the field's minimum after it."""
    given = [name for name in FIELDS if parameters.get(name) is not None]
    last_given = FIELDS.index(given[-1]) if given else len(FIELDS)
    return {name: parameters[name] if name in given else ("*" if index < last_given else DEFAULTS[name])
            for index, name in enumerate(FIELDS)}


def _fixed_values(field: str, expressions: tuple[Values, ...]) -> tuple[int, ...]:
    """The sorted values of a field whose values do not depend on the month."""
    low, high = BOUNDS[field]
    return tuple(sorted({value for values in expressions for value in values(low, high, None)}))


# -- fire times ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CronFields:
    """CronTimer fields as APScheduler compiles them: the values each one matches."""

    years: tuple[int, ...]
    months: tuple[int, ...]
    day: tuple[Values, ...]  # the days depend on the month
    weeks: frozenset[int]
    weekdays: frozenset[int]
    hours: tuple[int, ...]
    minutes: tuple[int, ...]
    seconds: tuple[int, ...]

    def next_after(self, moment: datetime.datetime, tz: datetime.tzinfo) -> Optional[datetime.datetime]:
        """The first fire time strictly after `moment` (aware) in zone `tz`, in UTC; None when there is
        none before the year 10000. The day before `moment`'s is looked at too: a wall time skipped late
        on it may fire after midnight."""
        after = moment.astimezone(UTC).replace(microsecond=0, tzinfo=None) + ONE_SECOND
        start = after.replace(tzinfo=UTC).astimezone(tz).date() - ONE_DAY
        try:
            for day in self.dates_from(start):
                found = self._first_on(day, after, tz)
                if found is not None:
                    return found.replace(tzinfo=UTC)
        except OverflowError:  # the last day of the year 9999 has no end to compute with
            pass
        return None

    def dates_from(self, start: datetime.date) -> Iterator[datetime.date]:
        """The dates matching year, month, day, week and day_of_week from `start` on, in order."""
        for year in self.years[bisect.bisect_left(self.years, start.year):]:
            for month in self.months:
                if (year, month) < (start.year, start.month):
                    continue
                for day in self.days(year, month):
                    date = datetime.date(year, month, day)
                    if date >= start:
                        yield date

    def days(self, year: int, month: int) -> list[int]:
        """The days of a month that match day, week and day_of_week, in order."""
        first = datetime.date(year, month, 1)
        length = calendar.monthrange(year, month)[1]
        candidates = sorted({day for values in self.day for day in values(1, length, first)})
        return [day for day in candidates if self._in_week(datetime.date(year, month, day))]

    def _in_week(self, date: datetime.date) -> bool:
        return date.isocalendar()[1] in self.weeks and date.weekday() in self.weekdays

    def times_from(self, earliest: datetime.time) -> Iterator[datetime.time]:
        """The matching times of day from `earliest` (whole seconds) on, in order."""
        for hour in self.hours[bisect.bisect_left(self.hours, earliest.hour):]:
            same_hour = hour == earliest.hour
            for minute in self.minutes[bisect.bisect_left(self.minutes, earliest.minute) if same_hour else 0:]:
                same_minute = same_hour and minute == earliest.minute
                for second in self.seconds[bisect.bisect_left(self.seconds, earliest.second) if same_minute else 0:]:
                    yield datetime.time(hour, minute, second)

    def _first_wall(self, day: datetime.date, lowest: datetime.datetime,
                    below: datetime.datetime) -> Optional[datetime.datetime]:
        """The first matching wall time of `day` in [lowest, below) (naive datetimes)."""
        lowest = max(lowest, datetime.datetime.combine(day, datetime.time()))
        if lowest.date() != day:
            return None
        found = next(self.times_from(lowest.time()), None)
        wall = None if found is None else datetime.datetime.combine(day, found)
        return wall if wall is not None and wall < below else None

    def _first_on(self, day: datetime.date, after: datetime.datetime,
                  tz: datetime.tzinfo) -> Optional[datetime.datetime]:
        """The first fire time (naive UTC) at or after `after` (naive UTC) among the wall times of `day`:
        those before the day's offset change, with the walls a forward change skips (read at the
        earlier offset), then those after it, with the walls a backward change repeats."""
        before, change, then = _offsets(tz, day)
        end = datetime.datetime.combine(day, datetime.time()) + ONE_DAY
        early = self._first_wall(day, after + before, change + max(before, then))
        late = self._first_wall(day, max(after, change) + then, end)
        return min([wall - offset for wall, offset in ((early, before), (late, then)) if wall is not None],
                   default=None)


@functools.lru_cache(maxsize=256)
def _offsets(tz: datetime.tzinfo, day: datetime.date) -> tuple[datetime.timedelta, datetime.datetime,
                                                                datetime.timedelta]:
    """(the offset of `tz` when local `day` starts, the instant (naive UTC) it changes, the offset when
    the day ends); without a change the instant is the day's end. A zone changes offset once a day
    at most."""
    midnight = datetime.datetime.combine(day, datetime.time())
    end = midnight + ONE_DAY
    before, then = midnight.replace(tzinfo=tz).utcoffset(), end.replace(tzinfo=tz).utcoffset()
    if then == before:
        return before, end - before, then
    return before, _change(tz, midnight - before, end - then, before), then


def _change(tz: datetime.tzinfo, low: datetime.datetime, high: datetime.datetime,
            before: datetime.timedelta) -> datetime.datetime:
    """The first whole second of [low, high] (naive UTC) at which `tz`'s offset is no longer `before`."""

    def moved(seconds: int) -> bool:
        instant = (low + datetime.timedelta(seconds=seconds)).replace(tzinfo=UTC)
        return instant.astimezone(tz).utcoffset() != before

    first, last = 0, max(0, int((high - low).total_seconds()))
    while first < last:
        middle = (first + last) // 2
        first, last = (first, middle) if moved(middle) else (middle + 1, last)
    return low + datetime.timedelta(seconds=first)


# -- the two uses ----------------------------------------------------------------------------------
def parse_cron(parameters: dict) -> CronFields:
    """The fields of CronTimer parameters (`timezone` aside); ValueError, naming the field and the
    expression, for what APScheduler 3 refuses. A None value is not given."""
    fields = {name: _field(name, spec) for name, spec in _specs(parameters).items()}
    fixed = {name: _fixed_values(name, expressions) for name, expressions in fields.items() if name != "day"}
    return CronFields(years=fixed["year"], months=fixed["month"], day=fields["day"],
                      weeks=frozenset(fixed["week"]), weekdays=frozenset(fixed["day_of_week"]),
                      hours=fixed["hour"], minutes=fixed["minute"], seconds=fixed["second"])


def check_cron(parameters: dict) -> None:
    """Raise ValueError, naming the field and the expression, for CronTimer parameters APScheduler 3
    refuses (its timezone first, as CronTrigger). Values are already of the parameters_schema's types;
    a None value is not given, nor is an empty timezone."""
    timezone = parameters.get("timezone")
    if timezone:
        time_zone(str(timezone))
    parse_cron(parameters)
