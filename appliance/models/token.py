"""Token: a login session from POST /tokens. Only a hash of the token is stored, so the database
file gives nobody a working token."""

from __future__ import annotations

import hashlib

from appliance.models.schema import Entity, Field

TOKENS = Entity(
    name="token",
    collection="tokens",
    fields={
        "id": Field("string", server=True),
        "user": Field("string", required=True),
        "token_hash": Field("string", required=True, hidden=True),
        "expiry": Field("string", required=True),
        "metadata": Field("object", default={}),
    },
    indexed=("user", "expiry"),
    unique=("token_hash",),
)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
