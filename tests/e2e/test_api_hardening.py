"""What a user or an attacker meets at the API's edges: bad input is a 400 naming the field and
stores nothing, secrets stay masked on every way out, pages are bounded, credentials behave."""

from __future__ import annotations

import json
import os
import threading

import pytest
import requests
import yaml
from e2e_harness import Appliance

pytestmark = pytest.mark.e2e

MASK = "********"


def _fault(resp: requests.Response, status: int = 400) -> str:
    assert resp.status_code == status, (resp.status_code, resp.text)
    return resp.json()["faultstring"]


@pytest.mark.parametrize("body, field", [
    ({"action": "core.local", "parameters": {"cmd": "true"}, "context": ["a"]}, "context"),
    ({"action": "core.local", "parameters": {"cmd": "true"}, "context": {"parent": "abc"}}, "context.parent"),
    ({"action": "core.local", "parameters": ["cmd"]}, "parameters"),
    ({"action": "core.local", "parameters": {"cmd": "true"}, "delay": "soon"}, "delay"),
])
def test_bad_execution_requests_are_400_and_store_nothing(appliance: Appliance, body, field):
    with appliance.nothing_stored():
        assert field in _fault(appliance.api("POST", "executions", json=body))


def test_routes_without_such_a_method_say_so(appliance: Appliance):
    key = appliance.api("POST", "apikeys", json={}).json()
    assert appliance.api("POST", f"apikeys/{key['id']}", json={}).status_code == 405
    assert appliance.api("GET", "packs/register").status_code == 405
    assert appliance.api("DELETE", f"apikeys/{key['id']}").status_code == 204


def test_pack_register_checks_its_body(appliance: Appliance):
    assert "packs" in _fault(appliance.api("POST", "packs/register", json={"packs": "core"}))
    assert "types" in _fault(appliance.api("POST", "packs/register", json={"types": ["sensors!"]}))
    counts = appliance.api("POST", "packs/register", json={"packs": ["core"], "types": ["actions"]}).json()
    assert counts["packs"] == 1 and counts["actions"] >= 9


@pytest.mark.parametrize("change, field", [
    ({"entry_point": "/etc/passwd"}, "outside of the pack directory"),
    ({"entry_point": "../../../etc/passwd"}, "outside of the pack directory"),
    ({"pack": "../../x"}, "not a valid pack ref"),
    ({"parameters": "cmd"}, "field 'parameters'"),
    ({"parameters": {"cmd": "string"}}, "field 'parameters.cmd'"),
    ({"parameters": {"cmd": {"type": "text"}}}, "field 'parameters.cmd.type'"),
    ({"runner_type": "no-such-runner"}, 'RunnerType "no-such-runner" is not found.'),
])
def test_unsafe_or_malformed_actions_are_refused(appliance: Appliance, change, field):
    body = {"name": "bad_one", "pack": "default", "runner_type": "local-shell-script", "entry_point": "x.sh",
            **change}
    assert field in _fault(appliance.api("POST", "actions", json=body))
    assert appliance.api("GET", "actions/default.bad_one").status_code == 404


def test_action_create_update_delete_through_the_cli(appliance: Appliance, tmp_path):
    meta = tmp_path / "greet.yaml"
    meta.write_text(yaml.safe_dump({
        "name": "greet", "pack": "default", "runner_type": "local-shell-cmd", "description": "say hello",
        "parameters": {"cmd": {"type": "string", "default": "echo hello", "immutable": True}},
    }))
    done = appliance.st2("action", "create", str(meta))
    assert done.returncode == 0, done.stdout + done.stderr
    try:
        done, action = appliance.st2_json("action", "get", "default.greet")
        assert action["uid"] == "action:default:greet" and action["enabled"] is True
        action["description"] = "say hello louder"
        resp = appliance.api("PUT", "actions/default.greet", json=action)
        assert resp.status_code == 200 and resp.json()["description"] == "say hello louder"
        assert resp.json()["id"] == action["id"]
        run = appliance.st2_json("run", "default.greet")[1]
        assert run["status"] == "succeeded" and run["result"]["stdout"] == "hello"
    finally:
        done = appliance.st2("action", "delete", "default.greet")
    assert done.returncode == 0, done.stdout + done.stderr
    assert appliance.api("GET", "actions/default.greet").status_code == 404


def test_api_keys_through_the_cli(appliance: Appliance):
    done, created = appliance.st2_json("apikey", "create", "-m", '{"used_by": "monitoring"}')
    assert done.returncode == 0 and created["key"], done.stdout + done.stderr
    key_id = created["id"]
    try:
        listed = appliance.api("GET", "apikeys").json()
        mine = next(k for k in listed if k["id"] == key_id)
        assert mine["key_hash"] == MASK and mine["metadata"] == {"used_by": "monitoring"}
        secret = appliance.api("GET", f"apikeys/{key_id}", params={"show_secrets": "true"}).json()
        assert len(secret["key_hash"]) == 128
        by_key = appliance.api("GET", "actions/core.local", token=None, headers={"St2-Api-Key": created["key"]})
        assert by_key.status_code == 200
        assert appliance.st2("apikey", "disable", key_id).returncode == 0
        refused = appliance.api("GET", "actions/core.local", token=None, headers={"St2-Api-Key": created["key"]})
        assert refused.status_code == 401 and "disabled" in refused.json()["faultstring"]
        assert appliance.st2("apikey", "enable", key_id).returncode == 0
        moved = appliance.api("PUT", f"apikeys/{key_id}", json={**mine, "user": "mallory"})
        assert "'user' cannot be changed" in _fault(moved)
    finally:
        assert appliance.st2("apikey", "delete", key_id).returncode == 0
    exported = {k: secret[k] for k in ("user", "key_hash", "metadata", "enabled")}
    loaded = appliance.api("POST", "apikeys", json=exported)
    assert loaded.status_code == 201, loaded.text
    by_key = appliance.api("GET", "actions/core.local", token=None, headers={"St2-Api-Key": created["key"]})
    assert by_key.status_code == 200, "a re-loaded export works with the original key"
    assert appliance.api("DELETE", f"apikeys/{loaded.json()['id']}").status_code == 204
    assert "key_hash" in _fault(appliance.api("POST", "apikeys", json={"key_hash": "not-a-hash"}))


def _stream_events(appliance: Appliance, events: list, ready: threading.Event, stop: threading.Event) -> None:
    with requests.get(f"{appliance.stream_url}/stream", headers={"X-Auth-Token": appliance.token},
                      stream=True, timeout=30) as resp:
        ready.set()
        for line in resp.iter_lines(decode_unicode=True):
            if line and line.startswith("data: "):
                events.append(json.loads(line[len("data: "):]))
            if stop.is_set():
                return


def test_secret_parameters_are_masked_in_api_stream_and_list(appliance: Appliance):
    events: list = []
    ready, stop = threading.Event(), threading.Event()
    reader = threading.Thread(target=_stream_events, args=(appliance, events, ready, stop), daemon=True)
    reader.start()
    assert ready.wait(10)
    secret = "s3cr3t-sudo-pw"
    execution = appliance.post_execution("core.local", {"cmd": "true", "sudo_password": secret})
    assert execution["parameters"]["sudo_password"] == MASK
    done = appliance.wait_status(execution["id"])
    assert done["parameters"]["sudo_password"] == MASK
    assert done["liveaction"]["parameters"]["sudo_password"] == MASK
    shown = appliance.api("GET", f"executions/{execution['id']}", params={"show_secrets": "true"}).json()
    assert shown["parameters"]["sudo_password"] == secret
    listed = appliance.api("GET", "executions", params={"limit": 5}).text
    assert secret not in listed
    stop.set()
    mine = [e for e in events if e.get("id") == execution["id"]]
    assert mine, "the stream carried the execution's events"
    assert all(secret not in json.dumps(e) for e in events)
    assert all(e["parameters"]["sudo_password"] == MASK for e in mine)
    with open(appliance.log_path, encoding="utf-8", errors="replace") as handle:
        assert secret not in handle.read()
    for path in _database_files(appliance):
        with open(path, "rb") as handle:
            assert secret.encode() not in handle.read(), f"{path} holds the secret in clear"
    rerun = appliance.api("POST", f"executions/{execution['id']}/re_run", json={}).json()
    assert rerun["parameters"]["sudo_password"] == MASK
    appliance.wait_status(rerun["id"])
    again = appliance.api("GET", f"executions/{rerun['id']}", params={"show_secrets": "true"}).json()
    assert again["parameters"]["sudo_password"] == secret, "a re-run keeps the secret it was given"


def _database_files(appliance: Appliance) -> list:
    files = [os.path.join(appliance.data, name) for name in os.listdir(appliance.data) if name.startswith("st2.db")]
    assert files, os.listdir(appliance.data)
    return files


def test_page_size_is_capped_at_max_page_size(appliance: Appliance):
    for limit in ("100000", "-1"):
        resp = appliance.api("GET", "actions", params={"limit": limit})
        assert resp.status_code == 200 and resp.headers["X-Limit"] == "100", resp.headers
        assert len(resp.json()) <= 100
    assert "must be a positive number" in _fault(appliance.api("GET", "actions", params={"limit": "0"}))
    assert "integer" in _fault(appliance.api("GET", "actions", params={"offset": "9" * 40}))
    page = appliance.api("GET", "actions", params={"limit": 2, "offset": 1})
    assert len(page.json()) == 2 and int(page.headers["X-Total-Count"]) > 3


def test_templates_cannot_reach_the_api_process(appliance: Appliance):
    payload = "{{ cycler.__init__.__globals__.os.popen('id').read() }}"
    resp = appliance.api("POST", "executions", json={"action": "core.local", "parameters": {"cmd": payload}})
    fault = _fault(resp)
    assert "uid=" not in fault and "unsafe" in fault


def test_login_tokens_are_not_stored_in_clear(appliance: Appliance):
    token = appliance.new_token()
    for path in _database_files(appliance):
        with open(path, "rb") as handle:
            assert token.encode() not in handle.read()
    assert appliance.api("GET", "actions/core.local", token=token).status_code == 200
