"""Revision: one document per kind of content that services keep in memory (rules), changed on
every write of that content (appliance/revisions.py), so a cache learns it is stale with one read."""

from __future__ import annotations

from appliance.models.schema import Entity, Field

REVISIONS = Entity(
    name="revision",
    collection="revisions",
    fields={
        "id": Field("string", required=True),  # the kind of content: "rules"
        "value": Field("string", required=True),
    },
)
