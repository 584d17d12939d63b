"""Lease: a leader lock held in the database (appliance/coordination/lock.py), for appliances run
without a [coordination] url: its id is the lock's name, its holder renews it before it expires."""

from __future__ import annotations

from appliance.models.schema import Entity, Field

LEASES = Entity(
    name="lease",
    collection="leases",
    fields={
        "id": Field("string", required=True),
        "holder": Field("string", required=True),
        "expires_at": Field("string", required=True),
    },
)
