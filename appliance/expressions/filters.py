"""The Jinja filters StackStorm 3.9 registers wherever it renders (rules, action parameters, notify).

Packs use them in their templates, so names, arguments and results are StackStorm's. Register
them with ``env.filters.update(FILTERS)``; decrypt_kv belongs to the datastore. StackStorm's
version filters call the semver package, which the appliance does not ship: the few semver rules
they need (strict parsing, precedence, match expressions, bumps) are written out here.
"""

from __future__ import annotations

import datetime
import functools
import json
import os.path
import re
from collections.abc import Mapping
from typing import Any, Callable, Dict, List, NamedTuple, Optional

import jsonpath_rw
import orjson
import yaml

# What use_none puts in place of None; the parameter renderer turns it back into None.
NONE_MAGIC_VALUE = "%*****__%NONE%__*****%"

_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_YAML_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def from_json_string(value: Any) -> Any:
    return orjson.loads(str(value))


def from_yaml_string(value: Any) -> Any:
    return yaml.load(str(value), Loader=_YAML_LOADER)


def _plain(value: Any) -> Any:
    """Dicts and lists all the way down: read-only mappings (YAQL results) serialise like dicts."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def to_json_string(
    value: Any, indent: Optional[int] = None, sort_keys: bool = False, separators: Any = (",", ": ")
) -> str:
    return json.dumps(_plain(value), indent=indent, sort_keys=sort_keys, separators=separators)


def to_yaml_string(value: Any, indent: Optional[int] = None, allow_unicode: bool = True) -> str:
    options = {"default_flow_style": False, "indent": indent, "allow_unicode": allow_unicode}
    return yaml.dump(_plain(value), Dumper=_YAML_DUMPER, **options)


def to_complex(value: Any) -> str:
    """JSON text of the value; rule criteria append it to decode a pattern back into a list or number."""
    return json.dumps(value)


def json_escape(value: Any) -> str:
    """The value as the inside of a JSON string: json.dumps, outer double quotes stripped."""
    return json.dumps(value).strip('"')


@functools.lru_cache(maxsize=512)
def _jsonpath(query: str) -> Any:
    """jsonpath-rw builds its parser on every parse (milliseconds): keep the parsed queries."""
    return jsonpath_rw.parse(query)


def jsonpath_query(value: Any, query: str) -> Optional[List[Any]]:
    """Every value the jsonpath-rw `query` finds in `value`, or None when it finds none."""
    return [match.value for match in _jsonpath(query).find(value)] or None


def use_none(value: Any) -> Any:
    return NONE_MAGIC_VALUE if value is None else value


def _flags(ignorecase: bool) -> int:
    return re.IGNORECASE if ignorecase else 0


def regex_match(value: Any, pattern: str, ignorecase: bool = False) -> bool:
    """Anchored at the start (re.match); a non-string value is matched as its str()."""
    return re.match(pattern, value if isinstance(value, str) else str(value), _flags(ignorecase)) is not None


def regex_search(value: Any, pattern: str, ignorecase: bool = False) -> bool:
    return re.search(pattern, value if isinstance(value, str) else str(value), _flags(ignorecase)) is not None


def regex_replace(value: Any, pattern: str, replacement: str, ignorecase: bool = False) -> str:
    return re.sub(pattern, replacement, value if isinstance(value, str) else str(value), flags=_flags(ignorecase))


def regex_substring(value: Any, pattern: str, result_index: int = 0, ignorecase: bool = False) -> Any:
    """The result_index-th re.findall result; IndexError when there are not that many."""
    return re.findall(pattern, value if isinstance(value, str) else str(value), _flags(ignorecase))[result_index]


def to_human_time_from_seconds(seconds: Any) -> str:
    """A duration as "1y12d16h36m37s", from its first non-zero unit; under a second, "<n>μs".

    As StackStorm, days are the day of the month of 0001-01-01 plus the duration, less one: a
    duration over a month loses the whole months (31 days gives "0s"). Kept for identical output.
    """
    if not isinstance(seconds, (int, float)):
        raise TypeError(f"to_human_time_from_seconds expects a number of seconds, not {type(seconds).__name__}")
    if seconds == 0:
        return "0s"
    if seconds < 1:
        return f"{seconds}\u03bcs"
    moment = datetime.datetime(1, 1, 1) + datetime.timedelta(seconds=round(seconds))
    parts = [moment.year - 1, moment.day - 1, moment.hour, moment.minute, moment.second]
    while parts and not parts[0]:
        parts.pop(0)
    if not parts:
        return "0s"
    return "".join(f"{count}{unit}" for count, unit in zip(parts, "ydhms"[-len(parts):]))


class _Version(NamedTuple):
    major: int
    minor: int
    patch: int
    prerelease: Optional[str]


# Semantic Versioning 2.0.0: major.minor.patch, optional -prerelease and +build (ignored in comparisons).
_SEMVER = re.compile(
    r"""^(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)
    (?:-(?P<prerelease>(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?
    (?:\+[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*)?$""",
    re.VERBOSE,
)


def _parse_version(text: Any) -> _Version:
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    if not isinstance(text, str):
        raise TypeError(f"not expecting type '{type(text)}'")
    found = _SEMVER.match(text)
    if found is None:
        raise ValueError(f"{text} is not valid SemVer string")
    return _Version(int(found["major"]), int(found["minor"]), int(found["patch"]), found["prerelease"])


def _sign(left: Any, right: Any) -> int:
    return (left > right) - (left < right)


def _prerelease_order(left: str, right: str) -> int:
    """Dot-separated identifiers in turn: numbers numerically and before words; then the longer wins."""
    left_ids = [int(part) if part.isdigit() else part for part in left.split(".")]
    right_ids = [int(part) if part.isdigit() else part for part in right.split(".")]
    for a, b in zip(left_ids, right_ids):
        if isinstance(a, int) != isinstance(b, int):
            return -1 if isinstance(a, int) else 1
        if a != b:
            return _sign(a, b)
    return _sign(len(left_ids), len(right_ids))


def version_compare(value: Any, pattern: Any) -> int:
    """-1, 0 or 1 by semver precedence: a pre-release sorts before its release, build is ignored."""
    left, right = _parse_version(value), _parse_version(pattern)
    if left[:3] != right[:3]:
        return _sign(left[:3], right[:3])
    if left.prerelease == right.prerelease:
        return 0
    if left.prerelease is None or right.prerelease is None:
        return 1 if left.prerelease is None else -1
    return _prerelease_order(left.prerelease, right.prerelease)


def version_more_than(value: Any, pattern: Any) -> bool:
    return version_compare(value, pattern) == 1


def version_less_than(value: Any, pattern: Any) -> bool:
    return version_compare(value, pattern) == -1


def version_equal(value: Any, pattern: Any) -> bool:
    return version_compare(value, pattern) == 0


# match expression operator -> the version_compare results it accepts
_MATCH_OPERATORS = {"==": (0,), "!=": (-1, 1), ">=": (0, 1), "<=": (-1, 0), ">": (1,), "<": (-1,)}


def version_match(value: Any, expression: str) -> bool:
    """`expression` is <op><version> with op one of < > <= >= == !=; a bare version means ==."""
    if expression[:2] in _MATCH_OPERATORS:
        operator, version = expression[:2], expression[2:]
    elif expression[:1] in ("<", ">"):
        operator, version = expression[:1], expression[1:]
    elif expression[:1] and expression[0] in "0123456789":
        operator, version = "==", expression
    else:
        raise ValueError(
            f"version_match expects <op><version> with <op> one of {list(_MATCH_OPERATORS)}, got {expression!r}"
        )
    return version_compare(value, version) in _MATCH_OPERATORS[operator]


def version_bump_major(value: Any) -> str:
    version = _parse_version(value)
    return f"{version.major + 1}.0.0"


def version_bump_minor(value: Any) -> str:
    version = _parse_version(value)
    return f"{version.major}.{version.minor + 1}.0"


def version_bump_patch(value: Any) -> str:
    version = _parse_version(value)
    return f"{version.major}.{version.minor}.{version.patch + 1}"


def version_strip_patch(value: Any) -> str:
    version = _parse_version(value)
    return f"{version.major}.{version.minor}"


FILTERS: Dict[str, Callable[..., Any]] = {
    "from_json_string": from_json_string,
    "from_yaml_string": from_yaml_string,
    "json_escape": json_escape,
    "jsonpath_query": jsonpath_query,
    "to_complex": to_complex,
    "to_json_string": to_json_string,
    "to_yaml_string": to_yaml_string,
    "regex_match": regex_match,
    "regex_replace": regex_replace,
    "regex_search": regex_search,
    "regex_substring": regex_substring,
    "to_human_time_from_seconds": to_human_time_from_seconds,
    "version_compare": version_compare,
    "version_more_than": version_more_than,
    "version_less_than": version_less_than,
    "version_equal": version_equal,
    "version_match": version_match,
    "version_bump_major": version_bump_major,
    "version_bump_minor": version_bump_minor,
    "version_bump_patch": version_bump_patch,
    "version_strip_patch": version_strip_patch,
    "use_none": use_none,
    "basename": os.path.basename,
    "dirname": os.path.dirname,
}
