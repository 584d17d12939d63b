"""ConfigSchema and Config: a pack's config.schema.yaml as registered, and its config
(<base_path>/configs/<pack>.yaml) as registered or PUT (StackStorm's ConfigSchemaAPI and ConfigAPI).

What a config must look like is decided here, once, for registration, PUT /v1/configs/<pack> and
the config an action or sensor gets at run time:

- check_config_schema: a schema as StackStorm accepts it. Each key is a word; each item is a JSON
  schema (draft 4) with StackStorm's keys (draft-3 `required: true`, `secret`, `immutable`,
  `position`); at the top of an item only the known keywords and one type are allowed, below it
  any keyword and lists of types.
- validate_config: the values checked as StackStorm's config validation does: defaults filled in
  first, an optional item without a default (or with a null one) may be null, other keys are allowed.
- fill_defaults and properties_for/items_for: the defaults and the per-key schemas as StackStorm's
  config loader applies them at run time.
- mask_config: secret items (at any depth) masked, as the API shows a config.
"""

from __future__ import annotations

import copy
import re
from typing import Any, Iterator

import jsonschema

from appliance.json_schemas import nullable, references
from appliance.models.names import check_pack_ref
from appliance.models.schema import SECRET_MASK, Entity, Field, ValidationError, shown

CONFIG_SCHEMA_FILE = "config.schema.yaml"
_WORD = re.compile(r"^\w+$")
_TEMPLATE_MARKERS = ("{{", "{%")
# What an item with no schema at all accepts (anything but null, as StackStorm's).
_ANY_TYPE = {"anyOf": [{"type": kind} for kind in ("array", "boolean", "integer", "number", "object", "string")]}


def _meta_schema() -> dict:
    """The schema a config schema item must satisfy. Built on jsonschema's own draft-4 meta-schema:
    `required` is a boolean, `secret`/`immutable`/`position` are StackStorm's; the item itself takes
    only known keywords and a single type, what is nested in it any keyword and lists of types."""
    draft4 = copy.deepcopy(jsonschema.Draft4Validator.META_SCHEMA)
    nested = dict(draft4["properties"])
    nested.pop("format", None)
    nested.update({
        "required": {"type": "boolean"},
        "secret": {"type": "boolean"},
        "immutable": {"type": "boolean"},
        "position": {"type": "number", "minimum": 0},
        "enum": {"type": "array", "minItems": 1, "uniqueItems": True},
    })
    top = {**nested, "type": {"$ref": "#/definitions/simpleTypes"}}
    definitions = {**draft4["definitions"],
                   "nested": {"type": "object", "properties": nested, "dependencies": draft4["dependencies"]}}
    root = {"type": "object", "properties": top, "additionalProperties": False,
            "dependencies": draft4["dependencies"], "definitions": definitions}
    return _nestedreferences(root)


def _nestedreferences(value: Any) -> Any:
    """Every reference to the meta-schema itself pointed at the nested form."""
    if isinstance(value, dict):
        return {key: ("#/definitions/nested" if key == "$ref" and item == "#" else _nestedreferences(item))
                for key, item in value.items()}
    if isinstance(value, list):
        return [_nestedreferences(item) for item in value]
    return value


_META = jsonschema.Draft4Validator(_meta_schema(), format_checker=jsonschema.FormatChecker(formats=("regex",)))



def check_config_schema(attributes: dict) -> None:
    """A config.schema.yaml mapping as StackStorm's ConfigSchemaAPI accepts it; references must stay
    inside the item (nothing is fetched from elsewhere)."""
    for key, item in attributes.items():
        if not isinstance(key, str) or not _WORD.match(key):
            raise ValidationError(f"{shown(key)} does not match any of the regexes: '^\\\\w+$'", str(key))
        error = jsonschema.exceptions.best_match(_META.iter_errors(item))
        if error is not None:
            raise ValidationError(error.message, ".".join([key, *(str(part) for part in error.absolute_path)]))
        for ref in references(item):
            if not isinstance(ref, str) or not ref.startswith("#"):
                raise ValidationError(f"{shown(ref)} is not a reference inside the schema (#/...)", f"{key}.$ref")


CONFIG_SCHEMAS = Entity(
    name="config schema",
    collection="config_schemas",
    fields={
        "id": Field("string", server=True),
        "pack": Field("string", required=True, check=check_pack_ref),
        "attributes": Field("object", default={}, check=check_config_schema),
    },
    unique=("pack",),
)

CONFIGS = Entity(
    name="config",
    collection="configs",
    fields={
        "id": Field("string", server=True),
        "pack": Field("string", required=True, check=check_pack_ref),
        "values": Field("object", default={}),
    },
    unique=("pack",),
)


def is_template(value: Any) -> bool:
    """A config value StackStorm renders: a string with a Jinja marker."""
    return isinstance(value, str) and any(marker in value for marker in _TEMPLATE_MARKERS)


# -- validation (registration and PUT) ------------------------------------------------------------

def _has_type(spec: dict, kind: str) -> bool:
    declared = spec.get("type")
    return declared == kind or (isinstance(declared, list) and kind in declared)


def _allow_default_none(schema: dict) -> dict:
    """An optional property without a default, or with a null one, may be null (StackStorm's
    allow_default_none), in nested objects and array items with properties too."""
    schema = dict(schema)
    properties = dict(schema.get("properties") or {})
    for name, original in properties.items():
        if not isinstance(original, dict):
            continue
        spec = original
        if (not original.get("required", False) or "default" in original) and original.get("default") is None:
            spec = nullable(original, "string")
        items = original.get("items")
        if _has_type(original, "array") and isinstance(items, dict) and items.get("properties"):
            spec = {**spec, "items": _allow_default_none(items)}
        if _has_type(original, "object") and original.get("properties"):
            spec = _allow_default_none(spec)
        properties[name] = spec
    schema["properties"] = properties
    return schema


def _defaults_for_validation(instance: Any, schema: dict) -> Any:
    """Defaults put in where a value is missing or null, before validating (StackStorm's
    assign_default_values), through nested objects and arrays."""
    if isinstance(instance, dict) and _has_type(schema, "object"):
        dependencies = schema.get("dependencies") or {}
        properties = schema.get("properties") or {}
        for name, spec in properties.items():
            if not isinstance(spec, dict):
                continue
            has_default = "default" in spec
            if has_default and isinstance(dependencies.get(name), list):
                has_default = all("default" in (properties.get(other) or {}) or other in instance
                                  for other in dependencies[name])
            if has_default and instance.get(name) is None:
                instance[name] = copy.deepcopy(spec["default"])
            if instance.get(name) is not None:
                instance[name] = _defaults_for_validation(instance[name], spec)
    elif isinstance(instance, list) and _has_type(schema, "array"):
        items = schema.get("items")
        specs = [items] * len(instance) if isinstance(items, dict) else items if isinstance(items, list) else []
        for index, spec in enumerate(specs[:len(instance)]):
            if not isinstance(spec, dict):
                continue
            if "default" in spec and instance[index] is None:
                instance[index] = copy.deepcopy(spec["default"])
            if instance[index] is not None:
                instance[index] = _defaults_for_validation(instance[index], spec)
    return instance


def _properties_draft3(validator: Any, properties: dict, instance: Any, schema: dict) -> Iterator:
    """`properties` with StackStorm's draft-3 `required: true` on the property itself."""
    if not validator.is_type(instance, "object"):
        return
    for name, spec in properties.items():
        if name in instance:
            yield from validator.descend(instance[name], spec, path=name, schema_path=name)
        elif isinstance(spec, dict) and spec.get("required"):
            error = jsonschema.ValidationError(f"{name!r} is a required property", validator="required",
                                               validator_value=spec["required"], instance=instance, schema=schema)
            error.path.appendleft(name)
            yield error


def _no_check(validator: Any, value: Any, instance: Any, schema: dict) -> Iterator:
    return iter(())


# Draft 4, but `required` is read on each property (draft 3) as StackStorm's validator does.
_ConfigValidator = jsonschema.validators.extend(
    jsonschema.Draft4Validator, {"properties": _properties_draft3, "required": _no_check})


def values_schema(attributes: dict) -> dict:
    """The JSON schema config values are validated against; other keys are allowed."""
    if not attributes:
        return {}
    properties = {name: spec if spec else _ANY_TYPE for name, spec in attributes.items()}
    return _allow_default_none({"type": "object", "properties": properties, "additionalProperties": True})


def validate_config(values: dict, attributes: dict, pack: str, path: str) -> dict:
    """The config values with the schema's defaults filled in, or a ValidationError naming the
    attribute in StackStorm's words (its first line: jsonschema's message)."""
    from appliance.json_schemas import validator_for  # not at import: it brings the bus codec (kombu)

    schema = values_schema(attributes)
    cleaned = copy.deepcopy(values)
    if not schema:
        return cleaned
    cleaned = _defaults_for_validation(cleaned, schema)
    error = jsonschema.exceptions.best_match(validator_for(schema, _ConfigValidator).iter_errors(cleaned))
    if error is not None:
        where = ".".join(str(part) for part in error.path)
        raise ValidationError(f'Failed validating attribute "{where}" in config for pack "{pack}" ({path}): '
                              f"{error.message}", where)
    for name, value in cleaned.items():
        spec = attributes.get(name)
        if is_template(value) and "decrypt_kv" in value and isinstance(spec, dict) and spec.get("secret"):
            raise ValidationError('Values specified as "secret: True" in config schema are automatically decrypted '
                                  'by default. Use of "decrypt_kv" jinja filter is not allowed for such values. '
                                  'Please check the specified values in the config or the default values in the '
                                  'schema.', name)
    return cleaned


# -- run time: the schema of each value, and defaults (StackStorm's config loader) ----------------

def properties_for(spec: Any, keys: Any) -> dict:
    """The schema of each key of an object: `properties` first, then the `patternProperties` that
    match (merged), then `additionalProperties`; {} for a key none of them describes."""
    spec = spec if isinstance(spec, dict) else {}
    known = spec.get("properties") if isinstance(spec.get("properties"), dict) else {}
    out: dict = {key: {} for key in keys}
    out.update(known)
    extra = [key for key in keys if key not in known]
    patterns = spec.get("patternProperties")
    if extra and isinstance(patterns, dict):
        for key in list(extra):
            merged: dict = {}
            for pattern, sub in patterns.items():
                try:
                    matched = re.search(pattern, str(key))
                except re.error:
                    matched = None
                if matched and isinstance(sub, dict):
                    merged.update(sub)
            if merged:
                out[key] = merged
                extra.remove(key)
    additional = spec.get("additionalProperties")
    if extra and isinstance(additional, dict) and additional:
        for key in extra:
            out[key] = additional
    return out


def items_for(spec: Any, count: int) -> list:
    """The schema of each of `count` array items: `items` (one for all, or positional), then
    `additionalItems` for the items past a positional list."""
    spec = spec if isinstance(spec, dict) else {}
    items = spec.get("items")
    out = [items] * count if isinstance(items, dict) else list(items) if isinstance(items, list) else []
    additional = spec.get("additionalItems")
    if len(out) < count and isinstance(additional, dict) and additional:
        out.extend([additional] * (count - len(out)))
    return [item if isinstance(item, dict) else {} for item in out]


def fill_defaults(config: Any, schemas: Any) -> Any:
    """Defaults put in for keys the config does not have, as StackStorm's config loader does when an
    action or sensor starts: an object item with properties (or an array item with items) that is
    missing or empty becomes {} (or []) with its own defaults. `schemas` maps keys (or lists
    indexes) to schemas. Changes `config` in place and returns it."""
    entries = schemas.items() if isinstance(schemas, dict) else enumerate(schemas)
    for key, spec in entries:
        if not isinstance(spec, dict):
            continue
        if isinstance(config, dict):
            present = key in config
        elif isinstance(key, int) and key < len(config):
            present = True
        else:
            continue  # no slot for it in the list
        if "default" in spec and not present:
            config[key] = copy.deepcopy(spec["default"])
        value = config.get(key) if isinstance(config, dict) else config[key]
        kind = spec.get("type")
        if kind == "object" and (spec.get("properties") or spec.get("patternProperties")
                                 or spec.get("additionalProperties")):
            if not value:
                value = config[key] = {}
            if isinstance(value, dict):
                fill_defaults(value, properties_for(spec, list(value)))
        elif kind == "array" and (spec.get("items") or spec.get("additionalItems")):
            if not value:
                value = config[key] = []
            if isinstance(value, list):
                fill_defaults(value, items_for(spec, len(value)))
    return config


# -- the API's view ---------------------------------------------------------------------------------

def _mask(value: Any, spec: Any) -> Any:
    if not isinstance(spec, dict):
        return value
    if spec.get("secret"):
        return SECRET_MASK
    kind = spec.get("type")
    if kind == "object" and isinstance(value, dict) and isinstance(spec.get("properties"), dict):
        return {key: _mask(item, spec["properties"].get(key)) for key, item in value.items()}
    if kind == "array" and isinstance(value, list) and isinstance(spec.get("items"), dict):
        return [_mask(item, spec["items"]) for item in value]
    return value


def mask_config(values: dict, attributes: dict) -> dict:
    """The values with every item the schema marks secret (at any depth through properties and
    items) shown as the mask; a secret object or array is masked whole."""
    return {key: _mask(value, attributes.get(key)) for key, value in values.items()}


def public_config(doc: dict, attributes: dict, show_secrets: bool = False) -> dict:
    """A config as the API shows it: {id, pack, values}, secrets masked unless asked for."""
    out = CONFIGS.public(doc)
    if not show_secrets:
        out["values"] = mask_config(out.get("values") or {}, attributes or {})
    return out
