"""The datastore as its users meet it: keys set, read, listed and deleted in both scopes, secrets
sealed with the datastore key, ttl expiry, the key-value pair triggers, and `{{ st2kv... }}` in
action parameters and pack configs."""

from __future__ import annotations

import os
import time

import pytest

from appliance.datastore.crypto import CryptoKey, decrypt, encrypt
from appliance.datastore.keys import KeyNotFound, Keys
from appliance.models import ValidationError, parse_time
from appliance.parameters import ParameterError, render, render_config

RUNNER = {"runner_parameters": {"cmd": {"type": "string"}, "count": {"type": "integer"}}}
ACTION: dict = {"parameters": {}}


@pytest.fixture
def ctx(make_ctx):
    return make_ctx()


@pytest.fixture
def changes() -> list:
    return []


@pytest.fixture
def keys(ctx, changes) -> Keys:
    return Keys(ctx.store, ctx.crypto_key, lambda ref, payload: changes.append((ref, payload)))


def _shown(keys: Keys, doc: dict, decrypt_secret: bool = False) -> dict:
    out = keys.public(doc, decrypt_secret)
    assert len(out.pop("id")) == 24
    return out


def cmd(keys: Keys, template: str, user: str = "alice"):
    return render(RUNNER, ACTION, {"cmd": template}, {"user": user}, keys)[0]["cmd"]


# -- keys and scopes -----------------------------------------------------------------------------
def test_a_system_key_is_set_read_and_deleted(keys):
    keys.set("greeting", "hello")
    assert _shown(keys, keys.get("greeting")) == {
        "uid": "key_value_pair:st2kv.system:greeting", "scope": "st2kv.system", "name": "greeting",
        "value": "hello", "secret": False, "encrypted": False}
    assert keys.get("greeting", "system")["value"] == "hello"  # StackStorm's short scope name
    keys.delete("greeting")
    with pytest.raises(KeyNotFound, match='The key "greeting" does not exist in the StackStorm datastore.'):
        keys.get("greeting")
    with pytest.raises(KeyNotFound):
        keys.delete("greeting")


def test_user_keys_are_stored_as_user_colon_name_and_kept_apart(keys):
    keys.set("token", "system-wide")
    keys.set("token", "alice's", scope="user", user="alice")
    keys.set("token", "bob's", scope="st2kv.user", user="bob")
    stored = keys.get("token", "user", "alice")
    assert stored["name"] == "alice:token"
    assert _shown(keys, stored) == {
        "uid": "key_value_pair:st2kv.user:alice:token", "scope": "st2kv.user", "name": "token", "user": "alice",
        "value": "alice's", "secret": False, "encrypted": False}
    assert keys.get("token", "user", "bob")["value"] == "bob's"
    assert keys.get("token")["value"] == "system-wide"
    with pytest.raises(KeyNotFound, match='The key "carol:token" does not exist'):
        keys.get("token", "user", "carol")
    docs, total = keys.list("all", "alice")
    assert [(d["scope"], d["value"]) for d in docs] == [("st2kv.system", "system-wide"), ("st2kv.user", "alice's")]
    assert total == 2


@pytest.mark.parametrize(("call", "message"), [
    (lambda k: k.set("x", "1", scope="all"), "Scope all is not in allowed scopes list: "
                                             "['system', 'user', 'st2kv.system', 'st2kv.user']."),
    (lambda k: k.get("x", "global"), "Scope st2kv.global is not in allowed scopes list"),
    (lambda k: k.list("global"), "Invalid scope: st2kv.global"),
    (lambda k: k.set("x", "1", scope="user"), "A valid user must be specified for user key ref."),
    (lambda k: k.set("x", 5), "5 is not of type 'string' (field 'value')"),
])
def test_bad_scopes_users_and_values_are_refused_in_stackstorms_words(keys, call, message):
    with pytest.raises(ValidationError) as caught:
        call(keys)
    assert str(caught.value).startswith(message)


def test_listing_by_prefix_and_by_page(keys):
    for name in ("b1", "a2", "a1"):
        keys.set(name, name)
    keys.set("a3", "mine", scope="user", user="alice")
    keys.set("a4", "not mine", scope="user", user="bob")
    names = lambda found: [d["name"] for d in found[0]]  # noqa: E731
    assert names(keys.list("system", prefix="a")) == ["a1", "a2"]
    assert names(keys.list("all", "alice", prefix="a")) == ["a1", "a2", "alice:a3"]
    assert names(keys.list("user", "alice")) == ["alice:a3"]
    assert names(keys.list("all", "alice", prefix="a.*")) == []  # a prefix is text, not a pattern
    page, total = keys.list("all", "alice", limit=2, offset=1)
    assert [d["name"] for d in page] == ["a2", "b1"] and total == 4


# -- secrets -------------------------------------------------------------------------------------
def test_a_secret_is_stored_encrypted_and_shown_as_stackstorm_does(ctx, keys, tmp_path):
    keys.set("db_password", "correct horse", secret=True)
    stored = keys.get("db_password")
    assert stored["value"] != "correct horse" and stored["value"] == stored["value"].upper()
    assert decrypt(ctx.crypto_key, stored["value"]) == "correct horse"
    shown = _shown(keys, stored)
    assert shown["value"] == stored["value"] and shown["encrypted"] is True and shown["secret"] is True
    clear = _shown(keys, stored, decrypt_secret=True)
    assert clear["value"] == "correct horse" and clear["encrypted"] is False
    files = [path for path in tmp_path.rglob("st2.db*") if path.is_file()]
    assert files, "no database file found"
    for path in files:
        assert b"correct horse" not in path.read_bytes(), path


def test_a_pre_encrypted_value_is_checked_with_this_key_and_stored_as_is(ctx, keys):
    ciphertext = encrypt(ctx.crypto_key, "from another site")
    stored = keys.set("imported", ciphertext, encrypted=True)
    assert stored["value"] == ciphertext and stored["secret"] is True
    assert keys.public(stored, True)["value"] == "from another site"
    other = CryptoKey(os.urandom(32), os.urandom(32))
    for wrong in (encrypt(other, "x"), "not hex at all", ciphertext[:-2]):
        with pytest.raises(ValidationError) as caught:
            keys.set("imported", wrong, encrypted=True)
        assert str(caught.value) == (
            'Failed to verify the integrity of the provided value for key "imported". Ensure that the value '
            "is encrypted with the correct key and not corrupted.")
    assert keys.get("imported")["value"] == ciphertext


# -- ttl -----------------------------------------------------------------------------------------
def test_a_key_with_a_ttl_expires_and_is_purged_without_a_trigger(keys, changes):
    before = time.time()
    stored = keys.set("lease", "soon gone", ttl=1)
    assert 0.5 < parse_time(stored["expire_timestamp"]).timestamp() - before < 2
    assert keys.public(keys.get("lease"))["expire_timestamp"] == stored["expire_timestamp"]
    time.sleep(1.2)
    with pytest.raises(KeyNotFound):
        keys.get("lease")
    assert keys.list("all", "alice") == ([], 0)
    assert keys.coll.count() == 0  # purged, not only hidden
    assert [ref for ref, _ in changes] == ["core.st2.key_value_pair.create"]


def test_setting_a_key_again_without_ttl_clears_its_expiry(keys):
    keys.set("lease", "v", ttl=60)
    assert "expire_timestamp" not in keys.set("lease", "v")


# -- triggers ------------------------------------------------------------------------------------
def test_each_change_is_reported_with_stackstorms_trigger_payloads(keys, changes):
    created = keys.set("colour", "red", scope="user", user="alice")
    same = keys.set("colour", "red", scope="user", user="alice")
    changed = keys.set("colour", "blue", scope="user", user="alice")
    keys.delete("colour", "user", "alice")
    assert same["id"] == created["id"] == changed["id"]
    assert changes == [
        ("core.st2.key_value_pair.create", {"object": keys.public(created)}),
        ("core.st2.key_value_pair.update", {"object": keys.public(same)}),
        ("core.st2.key_value_pair.update", {"object": keys.public(changed)}),
        ("core.st2.key_value_pair.value_change", {"old_object": keys.public(same), "new_object": keys.public(changed)}),
        ("core.st2.key_value_pair.delete", {"object": keys.public(changed)}),
    ]
    assert changes[0][1]["object"]["name"] == "colour" and changes[0][1]["object"]["user"] == "alice"


def test_secret_payloads_carry_the_ciphertext_and_a_reencrypted_secret_is_a_value_change(keys, changes):
    keys.set("api_token", "t0ps3cret", secret=True)
    keys.set("api_token", "t0ps3cret", secret=True)
    assert [ref for ref, _ in changes] == ["core.st2.key_value_pair.create", "core.st2.key_value_pair.update",
                                           "core.st2.key_value_pair.value_change"]
    assert "t0ps3cret" not in repr(changes)
    assert changes[0][1]["object"]["encrypted"] is True


def test_a_failing_trigger_dispatch_leaves_the_change_made(ctx):
    def broken(ref, payload):
        raise RuntimeError("bus down")

    keys = Keys(ctx.store, ctx.crypto_key, broken)
    keys.set("k", "v")
    assert keys.get("k")["value"] == "v"


# -- rendering -----------------------------------------------------------------------------------
def test_action_parameters_read_both_scopes_and_decrypt_on_request(keys):
    keys.set("host", "db1")
    keys.set("cluster.name", "hpc")
    keys.set("login", "alice-login", scope="user", user="alice")
    secret = keys.set("password", "pa55", secret=True)
    assert cmd(keys, "ssh {{ st2kv.user.login }}@{{ st2kv.system.host }}") == "ssh alice-login@db1"
    assert cmd(keys, "{{ st2kv.system.cluster.name }} {{ st2kv.system['cluster.name'] }}") == "hpc hpc"
    assert cmd(keys, "[{{ st2kv.system.missing }}] [{{ st2kv.user.login }}]", user="bob") == "[] []"
    assert cmd(keys, "{{ st2kv.system.password }}") == secret["value"]
    assert cmd(keys, "{{ st2kv.system.password | decrypt_kv }}") == "pa55"
    keys.set("retries", "3")
    assert render(RUNNER, ACTION, {"count": "{{ st2kv.system.retries }}"}, {"user": "a"}, keys)[0]["count"] == 3


def test_only_the_keys_a_template_prints_are_read(keys, monkeypatch):
    keys.set("a.b", "deep")
    keys.set("unused", "x")
    read = []
    original = keys.get
    monkeypatch.setattr(keys, "get", lambda name, *rest: read.append(name) or original(name, *rest))
    assert cmd(keys, "{{ st2kv.system.a.b }}/{{ st2kv.system.a.b }}") == "deep/deep"
    assert read == ["a.b"]


@pytest.mark.parametrize(("template", "message"), [
    ("{{ st2kv.system.nope | decrypt_kv }}",
     'Referenced datastore item "st2kv.system.nope" doesn\'t exist or it contains an empty string'),
    ("{{ st2kv.system.plain | decrypt_kv }}", "decrypt_kv: the value is not hex ciphertext"),
    ("{{ st2kv.system._keys }}", "Failed to render parameter 'cmd'"),
])
def test_templates_that_cannot_render_name_the_problem(keys, template, message):
    keys.set("plain", "not a secret")
    with pytest.raises(ParameterError) as caught:
        cmd(keys, template)
    assert message in str(caught.value)


def test_pack_configs_render_datastore_values_and_decrypt_secret_items(keys):
    keys.set("token", "t-123", secret=True)
    keys.set("region", "eu")
    keys.set("own", "alice-only", scope="user", user="alice")
    schema = {"token": {"type": "string", "secret": True},
              "auth": {"type": "object", "properties": {"token": {"secret": True}}},
              "tokens": {"type": "array", "items": {"secret": True}}}
    config = {"token": "{{ st2kv.system.token }}", "raw": "{{ st2kv.system.token }}",
              "filtered": "{{ st2kv.system.token | decrypt_kv }}", "region": "{{ st2kv.system.region }}",
              "auth": {"token": "{{ st2kv.system.token }}", "user": "{{ st2kv.user.own }}"},
              "tokens": ["{{ st2kv.system.token }}"], "empty": "{{ st2kv.system.nothing }}", "port": 443}
    rendered = render_config(config, schema, keys, "alice", "mypack")
    assert rendered == {"token": "t-123", "raw": keys.get("token")["value"], "filtered": "t-123",
                        "region": "eu", "auth": {"token": "t-123", "user": "alice-only"}, "tokens": ["t-123"],
                        "empty": None, "port": 443}


def test_a_pack_config_value_that_cannot_render_fails_with_its_key_and_pack(keys):
    keys.set("plain", "not encrypted")
    with pytest.raises(ParameterError) as caught:
        render_config({"auth": {"token": "{{ st2kv.system.plain }}"}}, {"auth": {"properties": {"token": {
            "secret": True}}}}, keys, "alice", "mypack")
    assert str(caught.value).startswith('Failed to render dynamic configuration value for key "auth.token" with '
                                        'value "{{ st2kv.system.plain }}" for pack "mypack" config: ')
