"""URL scheme -> implementation tables, the way kombu's TRANSPORT_ALIASES picks a transport.

The store engines and the bus transports each keep one table {scheme: "module:Class"}. A class is
imported only when its scheme is used, so a site without pymongo can still run on SQLite, and a
URL with an unknown scheme is one line that names the nearest known scheme.
"""

from __future__ import annotations

import difflib
import importlib
import re
from typing import Mapping

_PASSWORD = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://[^:/@]*:)[^@/]*@")


class SchemeError(ValueError):
    """A URL selects no usable implementation; the message says why and what would do."""


def masked(url: str) -> str:
    """`url` with the password it carries (scheme://user:password@...) shown as ***."""
    return _PASSWORD.sub(r"\1***@", url)


def scheme_of(url: str, table: Mapping[str, str]) -> str:
    """The scheme of `url` when `table` has it; otherwise SchemeError, with a "did you mean"."""
    scheme, separator, _rest = url.partition("://")
    if separator and scheme in table:
        return scheme
    typed = scheme if separator else url.partition(":")[0]
    nearest = difflib.get_close_matches(typed.lower(), list(table), n=1)
    problem = f"unknown scheme {scheme!r}" if separator else "not a URL"
    hint = f"; did you mean {nearest[0]}://...?" if nearest else ""
    known = ", ".join(f"{name}://" for name in sorted(table))
    raise SchemeError(f"{problem} in {masked(url)!r}{hint} (known: {known})")


def load(table: Mapping[str, str], scheme: str) -> type:
    """The class `table` names for `scheme`, imported now (SchemeError when it cannot be)."""
    module, _, name = table[scheme].partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except ImportError as exc:
        raise SchemeError(f"{scheme}:// needs the module {module}, which cannot be imported: {exc}") from exc
