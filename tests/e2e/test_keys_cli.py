"""The datastore through the real `st2 key` commands and plain HTTP, against both wirings: keys in
both scopes, secrets that stay encrypted everywhere but where asked for, ttl expiry, `st2 key load`
of JSON and YAML files, and datastore values in action parameters and pack configs."""

from __future__ import annotations

import glob
import json
import os
import uuid
from typing import Iterator

import pytest
import yaml
from e2e_harness import Appliance, ok, wait_until

from appliance.datastore.crypto import decrypt, read_key

pytestmark = pytest.mark.e2e


@pytest.fixture
def tag(appliance: Appliance) -> Iterator[str]:
    """A key name prefix of this test's own; its keys are deleted afterwards (the appliance is shared)."""
    prefix = f"t{uuid.uuid4().hex[:8]}_"
    yield prefix
    for key in appliance.api("GET", "keys", params={"scope": "all", "prefix": prefix}).json():
        appliance.api("DELETE", f"keys/{key['name']}", params={"scope": key["scope"]})


def failed(done) -> str:
    text = done.stdout + done.stderr
    assert done.returncode != 0 and "Traceback" not in text, text
    return text


def listed(appliance: Appliance, *args: str) -> dict:
    """`st2 key list -j ...` as {(scope, name): key}."""
    done = appliance.st2("key", "list", "-j", *args)
    return {(key["scope"], key["name"]): key for key in json.loads(ok(done) or "[]")}


def test_set_get_list_and_delete(appliance: Appliance, tag):
    name = tag + "greeting"
    ok(appliance.st2("key", "set", name, "hello world"))
    _, got = appliance.st2_json("key", "get", name)
    assert got == {"name": name, "value": "hello world", "secret": False, "encrypted": False, "scope": "st2kv.system"}
    ok(appliance.st2("key", "set", name, "hello again"))
    assert listed(appliance, "--prefix", tag)[("st2kv.system", name)]["value"] == "hello again"
    assert f'Resource with id "{name}" has been successfully deleted.' in ok(appliance.st2("key", "delete", name))
    assert f'Key Value Pair "{name}" is not found.' in failed(appliance.st2("key", "get", name))
    assert listed(appliance, "--prefix", tag) == {}


def test_a_secret_is_never_in_clear_on_disk_in_the_log_or_in_a_plain_list(appliance: Appliance, tag):
    secret = f"pw-{uuid.uuid4().hex}"
    name = tag + "db_password"
    ok(appliance.st2("key", "set", name, secret, "--encrypt"))
    table = ok(appliance.st2("key", "list", "--prefix", tag))
    assert name in table and secret not in table
    shown = listed(appliance, "--prefix", tag)[("st2kv.system", name)]
    assert shown["secret"] is True and shown["encrypted"] is True
    site_key = read_key(os.path.join(appliance.data, "keys", "datastore_key.json"))
    assert decrypt(site_key, shown["value"]) == secret  # StackStorm's ciphertext, with the site's key file
    _, clear = appliance.st2_json("key", "get", name, "--decrypt")
    assert clear["value"] == secret and clear["encrypted"] is False
    assert listed(appliance, "--prefix", tag, "--decrypt")[("st2kv.system", name)]["value"] == secret

    ok(appliance.st2("key", "set", tag + "imported", shown["value"], "--encrypted"))  # pre-encrypted, as is
    assert appliance.st2_json("key", "get", tag + "imported", "-d")[1]["value"] == secret
    refused = failed(appliance.st2("key", "set", tag + "forged", "00" * 60, "--encrypted"))
    assert f'Failed to verify the integrity of the provided value for key "{tag}forged"' in refused

    files = [*glob.glob(os.path.join(appliance.data, "st2.db*")), appliance.log_path]
    assert len(files) > 1, files
    for path in files:
        with open(path, "rb") as handle:
            assert secret.encode() not in handle.read(), path


def test_user_scoped_keys_belong_to_their_user(appliance: Appliance, tag):
    name = tag + "colour"
    ok(appliance.st2("key", "set", name, "blue", "-s", "user"))
    ok(appliance.st2("key", "set", name, "grey"))
    _, mine = appliance.st2_json("key", "get", name, "-s", "user")
    assert (mine["value"], mine["scope"]) == ("blue", "st2kv.user")
    both = listed(appliance, "--prefix", tag)
    assert both[("st2kv.user", name)]["user"] == "st2admin" and both[("st2kv.system", name)]["value"] == "grey"
    assert list(listed(appliance, "--prefix", tag, "-u", "st2admin")) == [("st2kv.user", name)]
    refused = failed(appliance.st2("key", "set", name, "red", "-s", "user", "-u", "mallory"))
    assert '"user" attribute can only be provided by admins when RBAC is enabled' in refused
    ok(appliance.st2("key", "delete", name, "-s", "user"))
    assert list(listed(appliance, "--prefix", tag)) == [("st2kv.system", name)]


def test_a_key_with_a_ttl_expires(appliance: Appliance, tag):
    name = tag + "lease"
    _, shown = appliance.st2_json("key", "set", name, "short-lived", "-l", "2")
    assert shown["expire_timestamp"].endswith("Z")
    assert listed(appliance, "--prefix", tag)[("st2kv.system", name)]["value"] == "short-lived"
    assert wait_until(lambda: appliance.api("GET", f"keys/{name}").status_code == 404, timeout=10)
    assert f'Key Value Pair "{name}" is not found.' in failed(appliance.st2("key", "get", name))
    assert listed(appliance, "--prefix", tag) == {}


def test_load_json_and_yaml_files_and_an_export_round_trip(appliance: Appliance, tag, tmp_path):
    entries = [{"name": tag + "plain", "value": "one"},
               {"name": tag + "hidden", "value": "two", "secret": True},
               {"name": tag + "own", "value": "three", "scope": "user", "user": "st2admin"},
               {"name": tag + "brief", "value": "four", "ttl": 600}]
    (tmp_path / "keys.json").write_text(json.dumps(entries))
    (tmp_path / "one.yaml").write_text(yaml.safe_dump({"name": tag + "single", "value": "five"}))
    (tmp_path / "typed.yaml").write_text(yaml.safe_dump([{"name": tag + "typed", "value": {"a": [1, 2]}}]))
    ok(appliance.st2("key", "load", str(tmp_path / "keys.json")))
    ok(appliance.st2("key", "load", str(tmp_path / "one.yaml")))
    assert "has a value that is not a string" in failed(appliance.st2("key", "load", str(tmp_path / "typed.yaml")))
    ok(appliance.st2("key", "load", "-c", str(tmp_path / "typed.yaml")))
    clear = listed(appliance, "--prefix", tag, "--decrypt")
    assert {name: key["value"] for (_, name), key in clear.items()} == {
        tag + "plain": "one", tag + "hidden": "two", tag + "own": "three", tag + "brief": "four",
        tag + "single": "five", tag + "typed": '{"a": [1, 2]}'}
    assert clear[("st2kv.user", tag + "own")]["user"] == "st2admin"
    assert clear[("st2kv.system", tag + "hidden")]["secret"] is True
    assert clear[("st2kv.system", tag + "brief")]["expire_timestamp"]

    export = tmp_path / "export.json"
    export.write_text(ok(appliance.st2("key", "list", "--prefix", tag, "-j")))
    assert "two" not in export.read_text()
    ok(appliance.st2("key", "delete_by_prefix", "-p", tag))
    ok(appliance.st2("key", "delete", tag + "own", "-s", "user"))
    assert listed(appliance, "--prefix", tag) == {}
    ok(appliance.st2("key", "load", str(export)))
    again = listed(appliance, "--prefix", tag, "--decrypt")
    assert {name: key["value"] for (_, name), key in again.items()} == {
        name: key["value"] for (_, name), key in clear.items()}
    assert again[("st2kv.system", tag + "hidden")]["secret"] is True


def test_action_parameters_read_the_datastore(appliance: Appliance, tag):
    ok(appliance.st2("key", "set", tag + "host", "node1"))
    ok(appliance.st2("key", "set", tag + "login", "alice", "-s", "user"))
    ok(appliance.st2("key", "set", tag + "pass", "open-sesame", "--encrypt"))
    cmd = (f"echo {{{{ st2kv.system.{tag}host }}}} {{{{ st2kv.user.{tag}login }}}} "
           f"{{{{ st2kv.system.{tag}pass | decrypt_kv }}}} [{{{{ st2kv.system.{tag}missing }}}}]")
    _, execution = appliance.st2_json("run", "core.local", f"cmd={cmd}")
    assert execution["result"]["stdout"] == "node1 alice open-sesame []", execution
    _, sealed = appliance.st2_json("run", "core.local", f"cmd=echo {{{{ st2kv.system.{tag}pass }}}}")
    assert sealed["result"]["stdout"] == appliance.api("GET", f"keys/{tag}pass").json()["value"]
    refused = failed(appliance.st2("run", "core.local", f"cmd=echo {{{{ st2kv.system.{tag}nope | decrypt_kv }}}}"))
    assert f'Referenced datastore item "st2kv.system.{tag}nope" doesn\'t exist' in refused

    local = f"testpack.ContextAction:{tag}note"  # what a Python action's get_value(name) reads
    ok(appliance.st2("key", "set", local, "from the datastore"))
    try:
        _, python = appliance.st2_json("run", "testpack.context", f"key={tag}note")
        assert python["result"]["result"]["value"] == "from the datastore", python
    finally:
        ok(appliance.st2("key", "delete", local))


def test_pack_config_values_come_from_the_datastore(appliance: Appliance, tag):
    ok(appliance.st2("key", "set", tag + "token", "tok-123", "--encrypt"))
    ok(appliance.st2("key", "set", tag + "region", "eu-west"))
    ok(appliance.st2("key", "set", tag + "mine", "st2admin's", "-s", "user"))
    schema_path = os.path.join(appliance.packs, "testpack", "config.schema.yaml")
    config_path = os.path.join(appliance.base, "configs", "testpack.yaml")
    os.makedirs(os.path.dirname(config_path), exist_ok=True)
    with open(schema_path, "w", encoding="utf-8") as handle:
        yaml.safe_dump({"token": {"type": "string", "secret": True}, "region": {"type": "string"}}, handle)
    with open(config_path, "w", encoding="utf-8") as handle:
        yaml.safe_dump({"token": f"{{{{ st2kv.system.{tag}token }}}}", "region": f"{{{{ st2kv.system.{tag}region }}}}",
                        "raw": f"{{{{ st2kv.system.{tag}token }}}}", "mine": f"{{{{ st2kv.user.{tag}mine }}}}",
                        "port": 8443}, handle)
    try:
        _, execution = appliance.st2_json("run", "testpack.context")
    finally:
        os.remove(config_path)
        os.remove(schema_path)
    config = execution["result"]["result"]["config"]
    sealed = appliance.api("GET", f"keys/{tag}token").json()["value"]
    assert config == {"token": "tok-123", "region": "eu-west", "raw": sealed, "mine": "st2admin's", "port": 8443}


def test_the_api_answers_as_stackstorms(appliance: Appliance, tag):
    name = tag + "http"
    put = appliance.api("PUT", f"keys/{name}", json={"name": name, "value": "v", "scope": "system", "user": None})
    assert put.status_code == 200, put.text
    assert put.json()["uid"] == f"key_value_pair:st2kv.system:{name}"
    assert appliance.api("GET", f"keys/{name}/", params={"scope": "all"}).json()["value"] == "v"
    page = appliance.api("GET", "keys", params={"prefix": tag, "limit": 1})
    assert page.headers["X-Total-Count"] == "1" and page.headers["X-Limit"] == "1"
    faults = {
        ("GET", "keys/nope", (), 404): 'The key "nope" does not exist in the StackStorm datastore.',
        ("GET", "keys", (("scope", "global"),), 400): "Invalid scope: st2kv.global",
        ("GET", f"keys/{name}", (("scope", "global"),), 400):
            "Scope st2kv.global is not in allowed scopes list: ['system', 'user', 'st2kv.system', 'st2kv.user'].",
        ("GET", "keys", (("user", "mallory"),), 403):
            '"user" attribute can only be provided by admins when RBAC is enabled',
    }
    for (method, path, params, status), faultstring in faults.items():
        resp = appliance.api(method, path, params=dict(params))
        assert (resp.status_code, resp.json()["faultstring"]) == (status, faultstring)
    bad = appliance.api("PUT", f"keys/{name}", json={"name": name, "value": 5})
    assert (bad.status_code, bad.json()["faultstring"]) == (400, "5 is not of type 'string' (field 'value')")
    assert appliance.api("DELETE", f"keys/{name}").status_code == 204
    assert appliance.api("DELETE", f"keys/{name}").status_code == 404
