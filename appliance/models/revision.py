"""Revision: one document per kind of content that services keep in memory (rules), changed on
every write of that content, so a cache learns it is stale with one read by id."""

from __future__ import annotations

from appliance.models.common import new_id
from appliance.models.schema import Entity, Field
from appliance.store import Conflict, Store

REVISIONS = Entity(
    name="revision",
    collection="revisions",
    fields={
        "id": Field("string", required=True),  # the kind of content: "rules"
        "value": Field("string", required=True),
    },
)


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
