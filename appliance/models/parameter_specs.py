"""Parameter specs, as actions and runner types declare them: {name: a JSON schema plus StackStorm's
own keys}. Checked when the action or runner type is stored, so that a request against the specs
can never fail on the specs themselves."""

from __future__ import annotations

import re

import jsonschema

from appliance.models.schema import ValidationError, shown

ST2_ONLY_KEYS = ("required", "immutable", "secret", "position")
_SPEC_NAME = re.compile(r"^\w+$")
_SPEC_FLAGS = ("required", "immutable", "secret")


def check_specs(specs: dict) -> None:
    """Parameter specs as StackStorm declares them, {name: JSON schema plus required, immutable,
    secret, position}, so that a request against them can never fail on the specs themselves."""
    for name, spec in specs.items():
        if not isinstance(name, str) or not _SPEC_NAME.match(name):
            raise ValidationError(f"{shown(name)} is not a valid parameter name (letters, digits, _)", str(name))
        if not isinstance(spec, dict):
            raise ValidationError(f"{shown(spec)} is not of type 'object'", name)
        for key in _SPEC_FLAGS:
            if key in spec and not isinstance(spec[key], bool):
                raise ValidationError(f"{shown(spec[key])} is not of type 'boolean'", f"{name}.{key}")
        position = spec.get("position")
        if position is not None and (not isinstance(position, int) or isinstance(position, bool) or position < 0):
            raise ValidationError(f"{shown(position)} is not a non-negative integer", f"{name}.position")
        schema = {key: value for key, value in spec.items() if key not in ST2_ONLY_KEYS}
        try:
            jsonschema.Draft4Validator.check_schema(_without_draft3_required(schema))
        except jsonschema.SchemaError as exc:
            where = ".".join([name, *(str(p) for p in exc.path)])
            raise ValidationError(exc.message, where) from None


def _without_draft3_required(schema: object) -> object:
    """StackStorm accepts draft-3 `required: true` at any depth; draft 4 wants a list there."""
    if isinstance(schema, dict):
        return {key: _without_draft3_required(value) for key, value in schema.items()
                if not (key == "required" and isinstance(value, bool))}
    if isinstance(schema, list):
        return [_without_draft3_required(item) for item in schema]
    return schema
