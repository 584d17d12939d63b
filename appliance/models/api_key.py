"""ApiKey: a long-lived credential (`st2 apikey create/load`); stored as StackStorm's key hash."""

from __future__ import annotations

import re

from appliance.models.schema import Entity, Field

_SHA512_HEX = re.compile(r"^[0-9a-f]{128}$")


def _check_hash(value: str) -> None:
    if not _SHA512_HEX.match(value):
        raise ValueError("key_hash must be the 128 hex digits of StackStorm's sha512 key hash")


API_KEYS = Entity(
    name="api key",
    collection="api_keys",
    fields={
        "id": Field("string", server=True),
        "uid": Field("string", server=True),
        "user": Field("string", required=True, immutable=True),
        "key_hash": Field("string", required=True, immutable=True, secret=True, check=_check_hash),
        "metadata": Field("object", default={}),
        "created_at": Field("string"),
        "enabled": Field("boolean", default=True),
    },
    uid_prefix="api_key",
    uid_fields=("key_hash",),
    indexed=("user",),
    unique=("key_hash",),
)
