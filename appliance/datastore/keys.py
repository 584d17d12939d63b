"""The datastore: StackStorm's key-value pairs in scopes st2kv.system and st2kv.user.

Secret values are encrypted with the datastore key before they are stored, so only ciphertext
reaches the database; they come back as that ciphertext (`encrypted: true`) unless decrypted on
request. A key with a ttl is never returned once expired and is purged on the next write or list,
without a delete trigger, as MongoDB's TTL index does for StackStorm. Every change is reported to
`on_change(trigger ref, payload)` with the payloads of StackStorm's core.st2.key_value_pair.*
triggers. Templates read keys through `namespace()`, lazily: only the keys a template prints.
"""

from __future__ import annotations

import datetime
import logging
import re
from typing import Any, Callable, Optional

import jinja2

from appliance import models
from appliance.datastore.crypto import CryptoError, CryptoKey, decrypt, encrypt
from appliance.models import KEY_VALUE_PAIRS, ValidationError
from appliance.models.key_value_pair import SYSTEM_SCOPE, USER_SCOPE
from appliance.store import Conflict, Store

LOG = logging.getLogger(__name__)

ALL_SCOPE = "all"
# As StackStorm lists them in its error message (constants/keyvalue.py ALLOWED_SCOPES).
ALLOWED_SCOPES = ["system", "user", SYSTEM_SCOPE, USER_SCOPE]
TRIGGER_PREFIX = "core.st2.key_value_pair."

OnChange = Callable[[str, dict], None]


class KeyNotFound(LookupError):
    """No such key (or it expired); the message is StackStorm's 404 faultstring."""


def full_scope(scope: str) -> str:
    """StackStorm's short scope names ('system', 'user') in full; 'all' and full names unchanged."""
    return scope if scope == ALL_SCOPE or "st2kv" in scope else f"st2kv.{scope}"


def _checked_scope(scope: Optional[str]) -> str:
    scope = full_scope(scope or SYSTEM_SCOPE)
    if scope not in (SYSTEM_SCOPE, USER_SCOPE):
        raise ValidationError(f"Scope {scope} is not in allowed scopes list: {ALLOWED_SCOPES}.", "scope")
    return scope


def _stored_name(scope: str, name: str, user: Optional[str]) -> str:
    if scope != USER_SCOPE:
        return name
    if not user:
        raise ValidationError("A valid user must be specified for user key ref.", "user")
    return f"{user}:{name}"


def _expired(doc: dict, moment: str) -> bool:
    return bool(doc.get("expire_timestamp")) and doc["expire_timestamp"] <= moment


class Keys:
    """Set, get, list and delete datastore keys."""

    def __init__(self, store: Store, key: CryptoKey, on_change: Optional[OnChange] = None):
        self.coll = store.collection(KEY_VALUE_PAIRS)
        self._key = key
        self._on_change = on_change

    # -- reading ---------------------------------------------------------------------------------
    def get(self, name: str, scope: str = SYSTEM_SCOPE, user: Optional[str] = None) -> dict:
        """The stored key; KeyNotFound when it is missing or expired."""
        scope = _checked_scope(scope)
        stored = _stored_name(scope, name, user)
        doc = self.coll.find_one({"uid": KEY_VALUE_PAIRS.uid({"scope": scope, "name": stored})})
        if doc is None or _expired(doc, models.now()):
            raise KeyNotFound(f'The key "{stored}" does not exist in the StackStorm datastore.')
        return doc

    def list(self, scope: str = ALL_SCOPE, user: Optional[str] = None, prefix: str = "",
             limit: Optional[int] = None, offset: int = 0) -> tuple[list[dict], int]:
        """(one page of keys, how many match) in `scope` ('all' = system keys and `user`'s keys),
        whose name starts with `prefix`; system keys first, each scope by name."""
        scope = full_scope(scope or SYSTEM_SCOPE)
        if scope not in (ALL_SCOPE, SYSTEM_SCOPE, USER_SCOPE):
            raise ValidationError(f"Invalid scope: {scope}", "scope")
        starts = []
        if scope in (ALL_SCOPE, SYSTEM_SCOPE):
            starts.append(KEY_VALUE_PAIRS.uid({"scope": SYSTEM_SCOPE, "name": prefix}))
        if scope == USER_SCOPE or (scope == ALL_SCOPE and user):
            starts.append(KEY_VALUE_PAIRS.uid({"scope": USER_SCOPE, "name": _stored_name(USER_SCOPE, prefix, user)}))
        self.purge_expired()
        filters = {"uid": {"$regex": "^(?:" + "|".join(re.escape(start) for start in starts) + ")"}}
        docs = self.coll.find(filters, sort=[("uid", 1)], limit=limit, offset=offset)
        return docs, self.coll.count(filters)

    def public(self, doc: dict, decrypt_secret: bool = False) -> dict:
        """The key as StackStorm's API shows it: a secret as its ciphertext with `encrypted: true`,
        or in clear when `decrypt_secret`; a user key as its bare name plus `user`."""
        out = KEY_VALUE_PAIRS.public(doc)
        out["encrypted"] = doc["secret"] and not decrypt_secret
        if doc["secret"] and decrypt_secret:
            try:
                out["value"] = self.decrypt(doc["value"])
            except CryptoError as exc:
                raise ValidationError(f'Cannot decrypt the value of key "{doc["name"]}": {exc}', "value") from None
        if doc["scope"] == USER_SCOPE:
            out["user"], _, out["name"] = doc["name"].partition(":")
        return out

    def decrypt(self, ciphertext: str) -> str:
        """A secret value in clear; CryptoError when it was not encrypted with this datastore key."""
        return decrypt(self._key, ciphertext)

    def namespace(self, user: Optional[str]) -> dict:
        """`st2kv` for a template rendered for `user`: st2kv.system.<key> and st2kv.user.<key>."""
        cache: dict = {}
        return {"system": KeyLookup(self, SYSTEM_SCOPE, None, "", cache),
                "user": KeyLookup(self, USER_SCOPE, user, "", cache)}

    # -- writing ---------------------------------------------------------------------------------
    def set(self, name: str, value: str, scope: str = SYSTEM_SCOPE, user: Optional[str] = None,
            secret: bool = False, encrypted: bool = False, ttl: Optional[int] = None) -> dict:
        """Create or replace a key. `secret` encrypts `value`; `encrypted` stores a value already
        encrypted with this datastore key (checked first) as a secret. A ttl of 0 or None never
        expires; setting a key again without one clears its expiry, as in StackStorm."""
        scope = _checked_scope(scope)
        body = {"scope": scope, "name": _stored_name(scope, name, user), "value": value,
                "secret": bool(secret or encrypted)}
        if ttl:
            expiry = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=ttl)
            body["expire_timestamp"] = models.format_time(expiry)
        doc = KEY_VALUE_PAIRS.build(body)
        if encrypted:
            self._verify(doc)
        elif secret:
            doc["value"] = encrypt(self._key, value)
        doc["uid"] = KEY_VALUE_PAIRS.uid(doc)
        self.purge_expired()
        stored, existing = self._write(doc)
        self._emit("update" if existing else "create", {"object": self.public(stored)})
        if existing is not None and existing["value"] != stored["value"]:
            self._emit("value_change", {"old_object": self.public(existing), "new_object": self.public(stored)})
        return stored

    def _write(self, doc: dict) -> tuple[dict, Optional[dict]]:
        """Store `doc` over the key with its uid, or as a new key: (stored, the key it replaced)."""
        existing = self.coll.find_one({"uid": doc["uid"]})
        if existing is not None:
            return self.coll.replace({**doc, "id": existing["id"]}), existing
        try:
            return self.coll.insert({"id": models.new_id(), **doc}), None
        except Conflict:  # the same key, set at the same moment by another request: replace it
            return self._write(doc)

    def _verify(self, doc: dict) -> None:
        try:
            self.decrypt(doc["value"])
        except CryptoError:
            raise ValidationError(
                f'Failed to verify the integrity of the provided value for key "{doc["name"]}". Ensure that the '
                "value is encrypted with the correct key and not corrupted.", "value") from None

    def delete(self, name: str, scope: str = SYSTEM_SCOPE, user: Optional[str] = None) -> dict:
        """Remove a key and return it; KeyNotFound when it is missing or expired."""
        doc = self.get(name, scope, user)
        if not self.coll.delete(doc["id"]):
            raise KeyNotFound(f'The key "{doc["name"]}" does not exist in the StackStorm datastore.')
        self._emit("delete", {"object": self.public(doc)})
        return doc

    def purge_expired(self) -> int:
        """Remove the keys whose ttl has run out (no trigger, as with StackStorm's TTL index)."""
        return self.coll.delete_many({"expire_timestamp": {"$lte": models.now()}})

    def _emit(self, operation: str, payload: dict) -> None:
        if self._on_change is None:
            return
        try:
            self._on_change(TRIGGER_PREFIX + operation, payload)
        except Exception:  # as StackStorm: a failed dispatch is logged, the change stays made
            LOG.exception("Trigger dispatch failed.")


class KeyLookup:
    """`st2kv.system` or `st2kv.user` in a template. Each `.part` or `['part']` names a longer key
    (`st2kv.system.a.b` is the key "a.b"); the key is read only when the template prints it, and a
    missing one prints as "" (StackStorm's KeyValueLookup). No public attributes, so that every
    key name, `get` or `items` included, is a key."""

    def __init__(self, keys: Keys, scope: str, user: Optional[str], path: str, cache: dict):
        self._keys, self._scope, self._user, self._path, self._cache = keys, scope, user, path, cache

    def __getattr__(self, name: str) -> KeyLookup:
        if name.startswith("_"):  # Python's own probes (copy, pickle); the sandbox refuses these names
            raise AttributeError(name)
        return self[name]

    def __getitem__(self, name: Any) -> KeyLookup:
        path = f"{self._path}.{name}" if self._path else str(name)
        return KeyLookup(self._keys, self._scope, self._user, path, self._cache)

    def __str__(self) -> str:
        slot = (self._scope, self._path)
        if slot not in self._cache:
            try:
                self._cache[slot] = self._keys.get(self._path, self._scope, self._user)["value"]
            except (KeyNotFound, ValidationError):  # no such key, or no user for st2kv.user
                self._cache[slot] = ""
        return self._cache[slot]

    def __int__(self) -> int:
        return int(float(str(self)))

    def __float__(self) -> float:
        return float(str(self))

    def _label(self) -> str:
        return f"{self._scope}.{self._path}"


@jinja2.pass_context
def decrypt_kv(context: jinja2.runtime.Context, value: Any) -> str:
    """The `decrypt_kv` Jinja filter: a secret in clear, from `st2kv.<scope>.<key>` or from the
    ciphertext itself (e.g. a key-value pair trigger's payload)."""
    if isinstance(value, KeyLookup):
        keys, text = value._keys, str(value)
        if not text:
            raise jinja2.TemplateRuntimeError(
                f'Referenced datastore item "{value._label()}" doesn\'t exist or it contains an empty string')
    else:
        st2kv = context.get("st2kv")
        system = st2kv.get("system") if isinstance(st2kv, dict) else None
        if not isinstance(system, KeyLookup):
            raise jinja2.TemplateRuntimeError("decrypt_kv needs the datastore, which this template cannot read")
        keys, text = system._keys, str(value)
    try:
        return keys.decrypt(text)
    except CryptoError as exc:
        raise jinja2.TemplateRuntimeError(f"decrypt_kv: {exc}") from None
