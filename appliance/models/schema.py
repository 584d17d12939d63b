"""How an entity is declared: its fields (type, default, required, immutable, secret), its checks,
its uid, its indexes and its public shape, all in one object.

Content registration, the REST resources, the store and the stream go through the declaration, so a
default, a check or a mask cannot differ between two of them.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Union

from appliance.models.names import ref_of

SECRET_MASK = "********"
MISSING: Any = object()

_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "null": lambda v: v is None,
}


class ValidationError(ValueError):
    """A value breaks its entity's declaration; the message is the API's 400 faultstring and
    names the field."""

    def __init__(self, message: str, field_name: str = ""):
        super().__init__(message)
        self.field = field_name


def shown(value: Any, limit: int = 60) -> str:
    """A short repr of a bad value for an error message (a huge body must not echo back whole)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


Check = Callable[[Any], None]  # raises ValueError with a message; the field name is added


@dataclass(frozen=True)
class Field:
    """One field. `server` fields are computed here and ignored in requests (id, uid, ref);
    `hidden` ones never leave the appliance; `secret` ones are masked unless asked for."""

    type: Union[str, tuple[str, ...]]
    default: Any = MISSING
    required: bool = False
    immutable: bool = False
    secret: bool = False
    hidden: bool = False
    server: bool = False
    enum: Optional[tuple] = None
    check: Optional[Check] = None

    def validate(self, name: str, value: Any) -> None:
        kinds = (self.type,) if isinstance(self.type, str) else self.type
        if not any(_TYPES[kind](value) for kind in kinds):
            wanted = " or ".join(f"'{kind}'" for kind in kinds)
            raise ValidationError(f"{shown(value)} is not of type {wanted} (field '{name}')", name)
        if self.enum is not None and value not in self.enum:
            raise ValidationError(f"{shown(value)} is not one of {list(self.enum)} (field '{name}')", name)
        if self.check is not None and value is not None:
            try:
                self.check(value)
            except ValueError as exc:
                where = f"{name}.{exc.field}" if isinstance(exc, ValidationError) and exc.field else name
                raise ValidationError(f"{exc} (field '{where}')", where) from None


@dataclass(frozen=True)
class Schema:
    """A document shape: the fields of a stored entity, or of a request body that is not stored."""

    name: str
    fields: dict[str, Field]
    open: bool = False  # unknown fields are kept (pack manifests carry keys of their own)

    def build(self, body: Any, existing: Optional[dict] = None) -> dict:
        """A complete document from a request body or a metadata file: server fields dropped,
        defaults applied, every value checked, immutable fields unchanged from `existing`."""
        if not isinstance(body, dict):
            raise ValidationError(f"{shown(body)} is not of type 'object' ({self.name} body)")
        unknown = sorted(k for k in body if k not in self.fields)
        if unknown and not self.open:
            listed = ", ".join(repr(k) for k in unknown)
            raise ValidationError(f"Additional properties are not allowed ({listed} "
                                  f"{'was' if len(unknown) == 1 else 'were'} unexpected)", unknown[0])
        doc = {k: v for k, v in body.items() if k not in self.fields or not self.fields[k].server}
        for name, spec in self.fields.items():
            if spec.server:
                continue
            if name not in doc or doc[name] is None and "null" not in spec.type:
                if existing is not None and name in existing:
                    doc[name] = existing[name]
                elif spec.required:
                    raise ValidationError(f"'{name}' is a required property", name)
                elif spec.default is not MISSING:
                    doc[name] = copy.deepcopy(spec.default)
                else:
                    doc.pop(name, None)
                    continue
            spec.validate(name, doc[name])
            if spec.immutable and existing is not None and name in existing and doc[name] != existing[name]:
                raise ValidationError(f"'{name}' cannot be changed ({shown(existing[name])} -> "
                                      f"{shown(doc[name])})", name)
        return doc

    def public(self, doc: dict, show_secrets: bool = False) -> dict:
        """The document as the API and the stream show it."""
        out = {}
        for name, value in doc.items():
            spec = self.fields.get(name)
            if spec is not None and spec.hidden:
                continue
            out[name] = SECRET_MASK if spec is not None and spec.secret and not show_secrets else value
        return out


@dataclass(frozen=True)
class Entity(Schema):
    """A stored document type: its schema plus collection, identity and indexes.

    uid is `<uid_prefix>:<value of each uid field>` (StackStorm's format); `indexed` fields get
    engine indexes, `unique` ones a unique index, `compound` groups a compound index."""

    collection: str = ""
    uid_prefix: str = ""
    uid_fields: tuple[str, ...] = ()
    indexed: tuple[str, ...] = ()
    unique: tuple[str, ...] = ()
    compound: tuple[tuple[str, ...], ...] = ()
    mask: Optional[Callable[[dict], dict]] = field(default=None, compare=False)

    def uid(self, doc: dict) -> str:
        return ":".join([self.uid_prefix, *(str(doc[name]) for name in self.uid_fields)])

    def identify(self, doc: dict) -> dict:
        """A pack resource (action, trigger type, sensor, rule ...) with its ref and uid, which follow from
        its pack and name."""
        return {**doc, "ref": ref_of(doc["pack"], doc["name"]), "uid": self.uid(doc)}

    def public(self, doc: dict, show_secrets: bool = False) -> dict:
        out = super().public(doc, show_secrets)
        return out if show_secrets or self.mask is None else self.mask(out)
