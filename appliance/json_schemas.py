"""JSON-schema validators kept per schema and thread.

Building a jsonschema validator (its RefResolver stores every meta-schema) costs several times more
than validating a small document with it, and every execution request and dispatched trigger
validates against one of a few schemas. A validator keeps per-call state while it resolves
references, so each thread keeps its own.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Iterator

import jsonschema

from appliance import codec

Builder = Callable[[dict], jsonschema.Draft4Validator]
KEPT = 256  # schemas a thread keeps validators for; past that it starts over

_local = threading.local()


def validator_for(schema: dict, build: Builder) -> jsonschema.Draft4Validator:
    """The validator `build(schema)` returns, built once per thread for schemas equal to `schema`."""
    kept = getattr(_local, "validators", None)
    if kept is None or len(kept) >= KEPT:
        kept = _local.validators = {}
    key = (build, codec.dumps(schema))
    found = kept.get(key)
    if found is None:
        found = kept[key] = build(schema)
    return found


def nullable(spec: dict, default_type: str = "") -> dict:
    """`spec` also accepting null, the way StackStorm widens the schema of a value that may be left out
    (its allow_default_none, for action parameters and pack configs alike): null joins the type, or the
    anyOf/oneOf options. `default_type` is the type a spec without one has ("string" for a config key)."""
    for combinator in ("anyOf", "oneOf"):
        if combinator in spec:
            options = spec[combinator] if isinstance(spec[combinator], list) else []
            if any(isinstance(option, dict) and option.get("type", default_type) == "null" for option in options):
                return spec
            return {**spec, combinator: [*options, {"type": "null"}]}
    declared = spec.get("type", default_type)
    if isinstance(declared, list):
        return spec if "null" in declared else {**spec, "type": [*declared, "null"]}
    if declared and declared != "null":
        return {**spec, "type": [declared, "null"]}
    return spec


def references(schema: Any) -> Iterator[Any]:
    """Every `$ref` value in a schema, at any depth (a schema the appliance accepts refers only inside itself)."""
    if isinstance(schema, dict):
        for key, item in schema.items():
            if key == "$ref":
                yield item
            else:
                yield from references(item)
    elif isinstance(schema, list):
        for item in schema:
            yield from references(item)
