"""KeyValuePair: a datastore key (`st2 key ...`, `{{ st2kv.system.x }}`), and the body of
PUT /v1/keys/{name} that sets one (StackStorm's KeyValuePairAPI and KeyValuePairSetAPI).

User-scoped keys are stored as StackStorm stores them, named `<user>:<name>` in scope st2kv.user;
their uid `key_value_pair:<scope>:<stored name>` is the unique identity of a key.
"""

from __future__ import annotations

from appliance.models.schema import Entity, Field, Schema

SYSTEM_SCOPE = "st2kv.system"
USER_SCOPE = "st2kv.user"
MAX_TTL = 100 * 365 * 86400  # seconds; far enough, and within what every date library can add


def _check_ttl(value: int) -> None:
    if not 0 <= value <= MAX_TTL:
        raise ValueError(f"ttl must be between 0 (no expiry) and {MAX_TTL} seconds, not {value}")


KEY_VALUE_PAIRS = Entity(
    name="key value pair",
    collection="key_value_pairs",
    fields={
        "id": Field("string", server=True),
        "uid": Field("string", server=True),
        "scope": Field("string", default=SYSTEM_SCOPE, enum=(SYSTEM_SCOPE, USER_SCOPE)),
        "name": Field("string", required=True),
        "value": Field("string", required=True),  # ciphertext (upper-case hex) when secret
        "secret": Field("boolean", default=False),
        "expire_timestamp": Field("string"),
    },
    uid_prefix="key_value_pair",
    uid_fields=("scope", "name"),
    indexed=("expire_timestamp",),  # the purge of expired keys
    unique=("uid",),
)

# StackStorm ignores fields it does not know in this body: the CLI sends `id`, and `st2 key load`
# reads back what `st2 key list -j` printed.
KEY_VALUE_PAIR_REQUEST = Schema(
    name="key value pair",
    open=True,
    fields={
        "name": Field("string", required=True),
        "value": Field("string", required=True),
        "secret": Field("boolean", default=False),
        "encrypted": Field("boolean", default=False),
        "scope": Field(("string", "null")),
        "user": Field(("string", "null")),
        "ttl": Field(("integer", "null"), check=_check_ttl),
    },
)
