"""The fields of a `core.st2.CronTimer` trigger, checked when a rule is stored.

StackStorm builds an APScheduler 3 CronTrigger from them at rule-create time, so a rule is refused
here exactly when APScheduler refuses it, quirks included: a month or weekday name (`jan-mar`,
`mon-fri`) is matched at the start of the expression only, so `mon-fri/2` passes (APScheduler
ignores the step), while numbers are matched whole (`5/0` and `1-70` are refused).
"""

from __future__ import annotations

import re
import zoneinfo
from typing import Callable, Optional

MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Each field's bounds, in APScheduler's order (the first bad field is the one reported).
BOUNDS = {"year": (1970, 9999), "month": (1, 12), "day": (1, 31), "week": (1, 53), "day_of_week": (0, 6),
          "hour": (0, 23), "minute": (0, 59), "second": (0, 59)}

_SEPARATOR = re.compile(r" *, *")
_EVERY = re.compile(r"\*(?:/(?P<step>\d+))?$")
_NUMBERS = re.compile(r"(?P<first>\d+)(?:-(?P<last>\d+))?(?:/(?P<step>\d+))?$")
_NAMES = re.compile(r"(?P<first>[a-z]+)(?:-(?P<last>[a-z]+))?", re.IGNORECASE)
_POSITION = re.compile(r"(?:1st|2nd|3rd|4th|5th|last) +(?P<weekday>\d+|\w+)", re.IGNORECASE)
_LAST_DAY = re.compile(r"last", re.IGNORECASE)

Check = Callable[[str, re.Match], None]  # (field, match) -> raises ValueError


def _number(text: Optional[str]) -> Optional[int]:
    return None if text is None else int(text)


def _step_fits(step: Optional[int], span: int) -> None:
    if step == 0:
        raise ValueError("the step must be higher than 0")
    if step and step > span:
        raise ValueError(f"the step ({step}) is larger than the range it steps through ({span})")


def _span(field: str, first: int, last: Optional[int], step: Optional[int]) -> None:
    """A value or a range (`first-last`, `first/step` up to the field's maximum)."""
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


def _every(field: str, match: re.Match) -> None:
    low, high = BOUNDS[field]
    _step_fits(_number(match["step"]), high - low)


def _numbers(field: str, match: re.Match) -> None:
    _span(field, int(match["first"]), _number(match["last"]), _number(match["step"]))


def _named(names: tuple[str, ...], first_number: int) -> Check:
    """Names standing for numbers: months from 1, weekdays from 0."""

    def check(field: str, match: re.Match) -> None:
        numbers = [None if name is None else _name_number(names, name) + first_number
                   for name in (match["first"], match["last"])]
        _span(field, numbers[0], numbers[1], None)

    return check


def _name_number(names: tuple[str, ...], name: str) -> int:
    try:
        return names.index(name.lower())
    except ValueError:
        raise ValueError(f'"{name}" is not one of {", ".join(names)}') from None


def _weekday_position(field: str, match: re.Match) -> None:
    _name_number(WEEKDAYS, match["weekday"])


def _last_day(field: str, match: re.Match) -> None:
    """`last`: the month's last day, always valid."""


_ANY_FIELD: tuple[tuple[re.Pattern, Check], ...] = ((_EVERY, _every), (_NUMBERS, _numbers))
# What each field accepts, tried in order: the first pattern that matches decides.
_EXPRESSIONS = {
    "month": (*_ANY_FIELD, (_NAMES, _named(MONTHS, 1))),
    "day": (*_ANY_FIELD, (_POSITION, _weekday_position), (_LAST_DAY, _last_day)),
    "day_of_week": (*_ANY_FIELD, (_NAMES, _named(WEEKDAYS, 0))),
}


def _check_expression(field: str, expression: str) -> None:
    named = f'{field} "{expression[:80]}"'
    for pattern, check in _EXPRESSIONS.get(field, _ANY_FIELD):
        match = pattern.match(expression)
        if match:
            try:
                check(field, match)
            except ValueError as exc:  # also int() of thousands of digits
                raise ValueError(f"{named}: {exc}") from None
            return
    raise ValueError(f"{named} is not a cron expression this field accepts")


def _check_timezone(name: str) -> None:
    """A zone of the system's time zone database (a key, never a path to read)."""
    try:
        zoneinfo.ZoneInfo(name)
    except (ValueError, LookupError, OSError):
        raise ValueError(f'timezone "{name[:80]}" is not a known time zone (such as "Europe/Paris" or "UTC")') from None


def check_cron(parameters: dict) -> None:
    """Raise ValueError, naming the field and the expression, for CronTimer parameters APScheduler 3
    refuses. Values are already of the parameters_schema's types; a None value is not given."""
    timezone = parameters.get("timezone")
    if timezone:
        _check_timezone(str(timezone))
    for field in BOUNDS:
        value = parameters.get(field)
        if value is not None:
            for expression in _SEPARATOR.split(str(value).strip()):
                _check_expression(field, expression)
