"""Credentials: the flat-file (htpasswd) backend, tokens and API keys, shared by st2auth and st2api.

API keys are stored only as StackStorm's hash (sha512 of a fixed salt + key), so `st2 apikey load`
of a StackStorm export keeps working; the key itself is shown once, at creation.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import secrets
from typing import Optional

from passlib.apache import HtpasswdFile

from appliance import models
from appliance.models import API_KEYS, TOKENS
from appliance.models.token import hash_token
from appliance.store import Store

_KEY_SALT = "saltnpepper"
ADMIN_USER = "st2admin"


class AuthError(Exception):
    """Authentication failed; the message is the 401 faultstring."""


def hash_api_key(key: str) -> str:
    return hashlib.sha512((_KEY_SALT + key).encode("utf-8")).hexdigest()


def random_password() -> str:
    """24 URL-safe characters that never start with "-", which `st2 login -p` would read as an option."""
    while True:
        password = secrets.token_urlsafe(18)
        if password[0] != "-":
            return password


class Htpasswd:
    """The flat_file backend: an Apache htpasswd file (bcrypt, apr1, sha1 ... as passlib reads)."""

    def __init__(self, path: str):
        self.path = path

    def check(self, username: str, password: str) -> bool:
        if not os.path.exists(self.path):
            return False
        result = HtpasswdFile(self.path).check_password(username, password)
        return bool(result)

    def set_password(self, username: str, password: str) -> None:
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        new = not os.path.exists(self.path)
        table = HtpasswdFile(self.path, new=new, default_scheme="bcrypt")
        table.set_password(username, password)
        table.save()
        os.chmod(self.path, 0o600)

    def ensure_admin(self) -> Optional[str]:
        """On a first start, create st2admin with a random password and return it (else None)."""
        if os.path.exists(self.path) and HtpasswdFile(self.path).users():
            return None
        password = random_password()
        self.set_password(ADMIN_USER, password)
        return password


class Credentials:
    """Issue and check tokens and API keys."""

    def __init__(self, store: Store, token_ttl: int = 86400):
        self.tokens = store.collection(TOKENS)
        self.api_keys = store.collection(API_KEYS)
        self.token_ttl = token_ttl

    def issue_token(self, user: str, ttl: Optional[int] = None, metadata: Optional[dict] = None) -> dict:
        """A new token: the returned document carries it; the store keeps only its hash."""
        ttl = self.token_ttl if ttl is None else ttl
        expiry = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=ttl)
        token = secrets.token_hex(16)
        doc = TOKENS.build({"user": user, "token_hash": hash_token(token), "expiry": models.format_time(expiry),
                            "metadata": metadata or {}})
        stored = self.tokens.insert({"id": models.new_id(), **doc})
        return {**TOKENS.public(stored), "token": token}

    def check_token(self, token: str) -> dict:
        doc = self.tokens.find_one({"token_hash": hash_token(token)})
        if doc is None:
            raise AuthError(f'Unauthorized - Token with token "{token[:64]}" not found.')
        if doc["expiry"] <= models.now():
            raise AuthError(f'Unauthorized - Token with token "{token[:64]}" has expired.')
        return TOKENS.public(doc)

    def revoke_token(self, token: str) -> None:
        self.tokens.delete_many({"token_hash": hash_token(token)})

    def create_api_key(self, user: str, metadata: Optional[dict] = None) -> tuple[dict, str]:
        """A new API key: (stored document, the key itself, shown once); a bad user or metadata
        is a ValidationError."""
        key = secrets.token_urlsafe(36)
        body = {"user": user, "key_hash": hash_api_key(key), "metadata": {} if metadata is None else metadata}
        return self.store_api_key(body), key

    def store_api_key(self, body: dict) -> dict:
        """Store an API key document (new, or one exported by `st2 apikey list --show-secrets`)."""
        doc = API_KEYS.build(body)
        doc.setdefault("created_at", models.now())
        return self.api_keys.insert({"id": models.new_id(), **doc, "uid": API_KEYS.uid(doc)})

    def check_api_key(self, key: str) -> dict:
        doc = self.api_keys.find_one({"key_hash": hash_api_key(key)})
        if doc is None:
            raise AuthError("Unauthorized - API key provided not found.")
        if not doc.get("enabled", True):
            raise AuthError("Unauthorized - API key is disabled.")
        return doc
