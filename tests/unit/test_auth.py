"""htpasswd users, tokens and API keys."""

from __future__ import annotations

import os
import stat

import pytest

from appliance.auth import ADMIN_USER, AuthError, Credentials, Htpasswd, hash_api_key, random_password
from appliance.store.sqlite import SQLiteStore


@pytest.fixture
def credentials(tmp_path):
    store = SQLiteStore(str(tmp_path / "st2.db"))
    yield Credentials(store, token_ttl=60)
    store.close()


def test_first_start_creates_admin_with_random_password(tmp_path):
    first = Htpasswd(str(tmp_path / "htpasswd"))
    password = first.ensure_admin()
    assert password and len(password) >= 20
    assert first.check(ADMIN_USER, password)
    assert not first.check(ADMIN_USER, "wrong")
    assert stat.S_IMODE(os.stat(first.path).st_mode) == 0o600
    assert first.ensure_admin() is None  # never reset on later starts
    other = Htpasswd(str(tmp_path / "other"))
    assert other.ensure_admin() != password


def test_token_lifecycle(credentials):
    token = credentials.issue_token("alice")
    assert credentials.check_token(token["token"])["user"] == "alice"
    credentials.revoke_token(token["token"])
    with pytest.raises(AuthError, match="not found"):
        credentials.check_token(token["token"])


def test_expired_token_is_rejected(credentials):
    token = credentials.issue_token("alice", ttl=0)
    with pytest.raises(AuthError, match="expired"):
        credentials.check_token(token["token"])


def test_api_key_stored_only_as_stackstorm_hash(credentials):
    doc, key = credentials.create_api_key("bob")
    assert key not in str(doc)
    assert doc["key_hash"] == hash_api_key(key)
    assert credentials.check_api_key(key)["user"] == "bob"
    with pytest.raises(AuthError):
        credentials.check_api_key(key + "x")
    credentials.api_keys.update(doc["id"], set_fields={"enabled": False})
    with pytest.raises(AuthError, match="disabled"):
        credentials.check_api_key(key)


def test_a_generated_admin_password_never_starts_with_a_dash():
    # `st2 login st2admin -p -xyz` reads -xyz as an option: one password in 64 would be unusable so
    passwords = [random_password() for _ in range(2000)]
    assert not [p for p in passwords if p.startswith("-")] and len(set(passwords)) == 2000
