"""TriggerType: the schema of an event (StackStorm's TriggerTypeAPI; the CLI's "trigger"). It comes
from a pack's triggers/*.yaml, a sensor's trigger_types, the system table (appliance.triggers) or
POST /v1/triggertypes.

Its payload and parameters schemas are checked when it is stored, so that validating a payload
against them can never fail on the schema itself, nor fetch anything from elsewhere.
"""

from __future__ import annotations

from typing import Any

import jsonschema

from appliance.json_schemas import references
from appliance.models.names import check_pack_ref, check_relative_path, check_resource_name
from appliance.models.schema import Entity, Field, ValidationError, shown

# Where a JSON schema holds other schemas: one, a list of them, or a map of them.
_SUBSCHEMAS = ("items", "additionalItems", "additionalProperties", "not", "anyOf", "allOf", "oneOf")
_SUBSCHEMA_MAPS = ("properties", "patternProperties", "definitions", "dependencies")
_META = jsonschema.Draft4Validator(jsonschema.Draft4Validator.META_SCHEMA, format_checker=jsonschema.FormatChecker())


def draft4(schema: Any) -> Any:
    """`schema` as draft 4 reads it. StackStorm writes draft-3 `required: true` on properties; a
    property with a default is never missing, since StackStorm fills defaults in before validating."""
    if isinstance(schema, list):
        return [draft4(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict = {}
    for key, value in schema.items():
        if key in _SUBSCHEMAS:
            out[key] = draft4(value)
        elif key in _SUBSCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: draft4(sub) for name, sub in value.items()}
        elif not (key == "required" and isinstance(value, bool)):
            out[key] = value
    properties = schema.get("properties")
    if isinstance(properties, dict):
        flagged = [name for name, spec in properties.items()
                   if isinstance(spec, dict) and spec.get("required") is True and "default" not in spec]
        listed = out["required"] if isinstance(out.get("required"), list) else []
        if flagged:
            out["required"] = list(dict.fromkeys([*listed, *flagged]))
    return out



def check_schema(schema: dict) -> None:
    """A valid draft-4 schema (draft-3 `required` allowed, regular expressions that compile) whose
    references all point inside itself."""
    converted = draft4(schema)
    error = jsonschema.exceptions.best_match(_META.iter_errors(converted))
    if error is not None:
        raise ValidationError(error.message, ".".join(str(part) for part in error.absolute_path))
    for ref in references(converted):
        if not isinstance(ref, str) or not ref.startswith("#"):
            raise ValidationError(f"{shown(ref)} is not a reference inside the schema (#/...)", "$ref")


TRIGGER_TYPES = Entity(
    name="trigger type",
    collection="trigger_types",
    fields={
        "id": Field("string", server=True),
        "ref": Field("string", server=True),
        "uid": Field("string", server=True),
        "name": Field("string", required=True, immutable=True, check=check_resource_name),
        "pack": Field("string", required=True, immutable=True, check=check_pack_ref),
        "description": Field("string"),
        "payload_schema": Field("object", default={}, check=check_schema),
        "parameters_schema": Field("object", default={}, check=check_schema),
        "tags": Field("array", default=[]),
        "metadata_file": Field("string", default="", check=check_relative_path),
    },
    uid_prefix="trigger_type",
    uid_fields=("pack", "name"),
    indexed=("pack", "name"),
    unique=("ref",),
)

