"""Rule criteria operators: StackStorm 3.9's comparisons, one table from name to function.

A rule written for StackStorm must match the same trigger instances here, so the semantics are
StackStorm's, quirks included: no type coercion (``"1"`` is not ``1``), bytes compared as UTF-8
text, a None pattern never matches (except for nequals, exists and nexists, which ignore it), and
Python's own exceptions (``"a" < 1``, a regex on a number) escape: the caller records them as a
failed rule enforcement, as StackStorm does.
"""

from __future__ import annotations

import fnmatch
import re
from datetime import datetime, timezone
from typing import Any, Callable, Dict, Tuple

from dateutil import parser as dateparser

Operator = Callable[..., bool]
# search's view of one child criterion: (child key, child spec, list item) -> does the item match it
ItemCheck = Callable[[str, Any, Any], bool]

_REGEX_OPERATORS = ("matchregex", "regex", "iregex")
_TEMPLATE_MARKERS = ("{{", "{%", "{#")


def _text(value: Any) -> Any:
    """Trigger payloads may carry bytes; StackStorm compares them as text."""
    return value.decode("utf-8") if isinstance(value, bytes) else value


def _compare(test: Callable[[Any, Any], bool], *, as_text: bool = True) -> Operator:
    """An operator that is False for a None pattern and otherwise applies `test(value, pattern)`."""

    def operator(value: Any, pattern: Any) -> bool:
        if pattern is None:
            return False
        if as_text:
            value, pattern = _text(value), _text(pattern)
        return test(value, pattern)

    return operator


def _not_equals(value: Any, pattern: Any) -> bool:
    """StackStorm does not special-case a None pattern here: None != "x" holds."""
    return _text(value) != _text(pattern)


def _age(timestamp: Any) -> float:
    """Seconds from `timestamp` (any date text dateutil reads; naive means UTC) until now."""
    moment = dateparser.parse(str(timestamp))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return (datetime.now(timezone.utc) - moment).total_seconds()


# condition -> (how item results combine, how one item's child criteria results combine)
_CONDITIONS: Dict[str, Tuple[Callable[[Any], bool], Callable[[Any], bool]]] = {
    "any": (any, all),
    "all": (all, all),
    "all2any": (all, any),
    "any2any": (any, any),
}


def _condition_error(condition: Any) -> str:
    return (
        f"The '{condition}' condition is not recognized for type search, "
        "'any', 'all', 'any2any' and 'all2any' are allowed"
    )


def search(value: Any, pattern: Any, condition: Any, check: ItemCheck) -> bool:
    """Match the items of a payload list against child criteria (`pattern`: child key -> spec).

    A dict value is one item. Every child criterion is checked on every item, with no short cut,
    as StackStorm does, so that every child failure gets reported.
    """
    combine = _CONDITIONS.get(condition) if isinstance(condition, str) else None
    if combine is None:
        raise ValueError(_condition_error(condition))
    over_items, over_children = combine
    items = [value] if isinstance(value, dict) else value
    return over_items([over_children([check(key, spec, item) for key, spec in pattern.items()]) for item in items])


_equals = _compare(lambda value, pattern: value == pattern)
_iequals = _compare(lambda value, pattern: value.lower() == pattern.lower())
_less = _compare(lambda value, pattern: value < pattern, as_text=False)
_greater = _compare(lambda value, pattern: value > pattern, as_text=False)
_younger = _compare(lambda value, pattern: _age(value) < float(pattern), as_text=False)
_older = _compare(lambda value, pattern: _age(value) > float(pattern), as_text=False)
_inside = _compare(lambda value, pattern: value in pattern)
_not_inside = _compare(lambda value, pattern: value not in pattern)

# In StackStorm's order: the "not in list of allowed operators" message lists them so.
OPERATORS: Dict[str, Operator] = {
    "matchwildcard": _compare(fnmatch.fnmatch),
    # deprecated in StackStorm: anchored at the start, "." also matches a newline
    "matchregex": _compare(lambda value, pattern: re.compile(pattern, re.DOTALL).match(value) is not None),
    "regex": _compare(lambda value, pattern: re.compile(pattern).search(value) is not None),
    "iregex": _compare(lambda value, pattern: re.compile(pattern, re.IGNORECASE).search(value) is not None),
    "eq": _equals,
    "equals": _equals,
    "neq": _not_equals,
    "nequals": _not_equals,
    "ieq": _iequals,
    "iequals": _iequals,
    "contains": _compare(lambda value, pattern: pattern in value),
    "icontains": _compare(lambda value, pattern: pattern.lower() in value.lower()),
    "ncontains": _compare(lambda value, pattern: pattern not in value),
    "incontains": _compare(lambda value, pattern: pattern.lower() not in value.lower()),
    "startswith": _compare(lambda value, pattern: value.startswith(pattern)),
    "istartswith": _compare(lambda value, pattern: value.lower().startswith(pattern.lower())),
    "endswith": _compare(lambda value, pattern: value.endswith(pattern)),
    "iendswith": _compare(lambda value, pattern: value.lower().endswith(pattern.lower())),
    "lt": _less,
    "lessthan": _less,
    "gt": _greater,
    "greaterthan": _greater,
    "td_lt": _younger,
    "timediff_lt": _younger,
    "td_gt": _older,
    "timediff_gt": _older,
    "exists": lambda value, pattern: value is not None,
    "nexists": lambda value, pattern: value is None,
    "inside": _inside,
    "in": _inside,
    "ninside": _not_inside,
    "nin": _not_inside,
    "search": search,
}


def get(name: str) -> Operator:
    """The operator called `name`, whatever its case (StackStorm lowercases it when matching)."""
    try:
        return OPERATORS[name.lower()]
    except KeyError:
        raise ValueError(f"Invalid operator: {name.lower()}") from None


def check(criteria: Any) -> None:
    """Reject, at rule-create time, criteria StackStorm rejects (with its messages) and criteria
    that can never be evaluated: an unknown operator, an invalid regex, an unknown search condition,
    also among a search's child criteria. Raises ValueError naming the criteria key."""
    if not isinstance(criteria, dict):
        raise ValueError("Criteria should be a dict.")
    for key, spec in criteria.items():
        _check_criterion(key, spec, child=False)


def _check_criterion(key: str, spec: Any, child: bool) -> None:
    """A child criterion without type or pattern is let through: StackStorm accepts it (it is false,
    or for exists/nexists needs no pattern), and it may be one branch of an any2any search."""
    if not isinstance(spec, dict):
        raise ValueError(f"For field: {key}, criteria should be a dict.")
    name = spec.get("type")
    if name is None:
        if child:
            return
        raise ValueError(f"Operator not specified for field: {key}")
    if not isinstance(name, str) or name not in OPERATORS:
        raise ValueError(f"For field: {key}, operator {name} not in list of allowed operators: {list(OPERATORS)}")
    pattern = spec.get("pattern")
    if pattern is None:
        if child:
            return
        raise ValueError(f"For field: {key}, no pattern specified for operator {name}")
    if name in _REGEX_OPERATORS and isinstance(pattern, str) and not any(m in pattern for m in _TEMPLATE_MARKERS):
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"For field: {key}, invalid regex {pattern!r} for operator {name}: {exc}") from None
    if name == "search":
        condition = spec.get("condition")
        if not isinstance(condition, str) or condition not in _CONDITIONS:
            raise ValueError(f"For field: {key}, {_condition_error(condition)}")
        if isinstance(pattern, dict):
            for child_key, child_spec in pattern.items():
                _check_criterion(child_key, child_spec, child=True)
