"""Collection listing as StackStorm does it: limit/offset, X-Total-Count/X-Limit, and
include_attributes/exclude_attributes with dotted paths."""

from __future__ import annotations

import copy
from typing import Optional

import falcon

from appliance.api.http import ApiError, bad_request
from appliance.models import format_time, parse_time
from appliance.store import Collection

_LARGEST = 2**53  # what every engine (SQLite, MongoDB, JSON clients) holds exactly


def _int_param(req: falcon.Request, name: str) -> Optional[int]:
    raw = req.get_param(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or abs(value) > _LARGEST:
        raise bad_request(f"Invalid {name} value {raw[:40]!r}: must be an integer") from None
    return value


def paging(req: falcon.Request, default_limit: Optional[int], max_page_size: int) -> tuple[int, int]:
    """(limit, offset) from the query. No page is ever larger than [api] max_page_size: a larger
    limit, limit=-1 ("all") and no limit at all are served max_page_size documents at most, and
    X-Limit/X-Total-Count tell the client how to page through the rest."""
    limit = _int_param(req, "limit")
    offset = _int_param(req, "offset") or 0
    if offset < 0:
        raise bad_request("Offset value must be a non-negative integer")
    if limit == 0 or (limit is not None and limit < -1):
        raise bad_request(f"Limit, \"{limit}\" specified, must be a positive number.")
    if limit is None:
        limit = default_limit
    if limit is None or limit == -1 or limit > max_page_size:
        limit = max_page_size
    return limit, offset


def _fields(req: falcon.Request, name: str) -> list[str]:
    raw = req.get_param(name) or ""
    return [part.strip() for part in raw.split(",") if part.strip()]


def project(doc: dict, include: list[str], exclude: list[str]) -> dict:
    """Keep only `include` (dotted paths; id always) or drop `exclude` from a document."""
    if include:
        out: dict = {"id": doc["id"]} if "id" in doc else {}
        for path in include:
            _copy_path(doc, out, path.split("."))
        return out
    if exclude:
        out = copy.deepcopy(doc)
        for path in exclude:
            _drop_path(out, path.split("."))
        return out
    return doc


def _copy_path(src: dict, dst: dict, parts: list[str]) -> None:
    head = parts[0]
    if not isinstance(src, dict) or head not in src:
        return
    if len(parts) == 1:
        dst[head] = src[head]
        return
    child = dst.setdefault(head, {})
    if isinstance(child, dict):
        _copy_path(src[head], child, parts[1:])


def _drop_path(doc: dict, parts: list[str]) -> None:
    for part in parts[:-1]:
        doc = doc.get(part) if isinstance(doc, dict) else None
        if doc is None:
            return
    if isinstance(doc, dict):
        doc.pop(parts[-1], None)


def projection(req: falcon.Request) -> tuple[list[str], list[str]]:
    include = _fields(req, "include_attributes")
    exclude = _fields(req, "exclude_attributes")
    if include and exclude:
        raise bad_request("exclude_attributes and include_attributes arguments are mutually exclusive.")
    return include, exclude


def list_collection(
    req: falcon.Request,
    resp: falcon.Response,
    coll: Collection,
    filters: dict,
    sort: list,
    max_page_size: int,
    default_limit: Optional[int] = None,
) -> list[dict]:
    """Find, page and project; sets StackStorm's paging headers on `resp`."""
    limit, offset = paging(req, default_limit, max_page_size)
    include, exclude = projection(req)
    docs = coll.find(filters, sort=sort, limit=limit, offset=offset)
    total = coll.count(filters) if len(docs) == limit or offset else offset + len(docs)
    resp.set_header("X-Total-Count", str(total))
    resp.set_header("X-Limit", str(limit))
    return [project(doc, include, exclude) for doc in docs]


def time_range(req: falcon.Request, after: str = "timestamp_gt", before: str = "timestamp_lt") -> dict:
    """The query parameters `after` and `before` (ISO-8601 times) as a store range filter ({} when
    neither is given); a time that does not parse (or overflows) is a 400."""
    stamps = {}
    for param, op in ((after, "$gt"), (before, "$lt")):
        raw = req.get_param(param)
        if raw:
            try:
                stamps[op] = format_time(parse_time(raw))
            except (ValueError, OverflowError):
                raise bad_request(f"Invalid {param}: {raw[:60]!r} is not an ISO-8601 time") from None
    return stamps


def lookup(coll: Collection, key: str, ref_or_id: str) -> dict:
    """Find by StackStorm ref/name or by id, as every `/{resource}/{ref_or_id}` route does."""
    doc = coll.find_one({key: ref_or_id}) or coll.get(ref_or_id)
    if doc is None:
        raise ApiError(404, f'Resource with a reference or id "{ref_or_id}" not found')
    return doc
