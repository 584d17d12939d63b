"""JSON on the hot paths (store documents, bus messages, HTTP bodies, stream events).

orjson is several times faster than the standard library and writes the same JSON; the standard
library takes over for what orjson refuses (integers beyond 64 bits, non-string keys).
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from kombu.serialization import register

CONTENT_TYPE = "application/x-appliance-json"
SERIALIZER = "appliance-json"


def dumps_bytes(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def dumps(value: Any) -> str:
    return dumps_bytes(value).decode("utf-8")


def loads(text: str | bytes) -> Any:
    return orjson.loads(text)


register(SERIALIZER, dumps_bytes, loads, content_type=CONTENT_TYPE, content_encoding="binary")
