"""Content revisions: writers of cached content (rules) bump one, readers compare it before using
their cache. One read by id per use instead of reloading every document."""

from __future__ import annotations

from appliance.models.common import new_id
from appliance.models.revision import REVISIONS
from appliance.store import Conflict, Store


def bump(store: Store, kind: str) -> str:
    """Mark `kind` changed; returns the new revision."""
    coll = store.collection(REVISIONS)
    value = new_id()
    if coll.update(kind, set_fields={"value": value}) is None:
        try:
            coll.insert({"id": kind, "value": value})
        except Conflict:  # another process inserted it first: change it instead
            coll.update(kind, set_fields={"value": value})
    return value


def current(store: Store, kind: str) -> str:
    doc = store.collection(REVISIONS).get(kind)
    return doc["value"] if doc else ""
