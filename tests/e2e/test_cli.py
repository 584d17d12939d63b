"""What a cluster admin does with the st2 CLI, against both wirings of a running appliance."""

from __future__ import annotations

import os
import queue
import re
import subprocess
import threading
import time

import pytest
from e2e_harness import ST2, Appliance, pids_running, unique_sleep, wait_until

pytestmark = pytest.mark.e2e


def readable_error(done: subprocess.CompletedProcess) -> list[str]:
    """The non-empty lines a failed command printed; asserts it failed without a traceback."""
    text = done.stdout + done.stderr
    assert done.returncode != 0, f"expected a failure, got exit 0:\n{text}"
    assert "Traceback" not in text, text
    return [line for line in text.splitlines() if line.strip()]


# -- authentication ----------------------------------------------------------------------------
def test_login_whoami_and_bad_password(appliance: Appliance, tmp_path):
    home = str(tmp_path)  # a user with no ~/.st2/config: URLs from the environment, as in a runbook
    urls = {"ST2_AUTH_URL": appliance.auth_url, "ST2_API_URL": appliance.api_url,
            "ST2_STREAM_URL": appliance.stream_url}

    bad = appliance.st2("login", "st2admin", "-p", "not-the-password", home=home, env=urls)
    lines = readable_error(bad)
    assert any("Failed to log in as st2admin" in line for line in lines), lines
    assert any("401" in line or "Invalid or missing credentials" in line for line in lines), lines

    done = appliance.st2("login", "st2admin", "-p", appliance.password, home=home, env=urls)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Logged in as st2admin" in done.stdout
    with open(os.path.join(home, ".st2", "config"), encoding="utf-8") as handle:
        written = handle.read()
    assert "st2admin" in written and appliance.password not in written  # login drops the password

    who = appliance.st2("whoami", home=home, env=urls)
    assert who.returncode == 0, who.stdout + who.stderr
    assert 'Currently logged in as "st2admin"' in who.stdout
    assert "Authentication method: authentication token" in who.stdout


# -- st2 run -----------------------------------------------------------------------------------
def test_run_echo_hi(appliance: Appliance):
    done, execution = appliance.st2_json("run", "core.local", "cmd=echo hi")
    assert done.returncode == 0, done.stdout + done.stderr
    assert execution["status"] == "succeeded"
    assert execution["result"]["stdout"] == "hi"
    assert execution["result"]["return_code"] == 0
    assert execution["context"]["user"] == "st2admin"


def test_run_failing_command(appliance: Appliance):
    done, execution = appliance.st2_json("run", "core.local", "cmd=exit 3")
    assert done.returncode == 1, done.stdout + done.stderr
    assert execution["status"] == "failed"
    assert execution["result"]["return_code"] == 3
    assert execution["result"]["succeeded"] is False


def test_run_timeout(appliance: Appliance):
    started = time.monotonic()
    done, execution = appliance.st2_json("run", "core.local", "cmd=sleep 10", "timeout=1")
    assert execution["status"] == "timeout", execution
    assert "1 seconds" in execution["result"]["error"]
    assert time.monotonic() - started < 8, "the timeout did not end the command early"
    assert execution["parameters"] == {"cmd": "sleep 10", "timeout": 1}


def test_run_tail_streams_output(appliance: Appliance):
    cmd = "for i in 1 2 3; do echo line$i; sleep 1; done"
    proc = subprocess.Popen(
        [ST2, "run", "--tail", "core.local", f"cmd={cmd}"], env=appliance.env(),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True, bufsize=1,
    )
    lines: queue.Queue = queue.Queue()

    def reader() -> None:
        for line in proc.stdout:
            lines.put((time.monotonic(), line.rstrip("\n")))
        lines.put(None)

    threading.Thread(target=reader, daemon=True).start()
    seen: list[tuple[float, str]] = []
    try:
        deadline = time.monotonic() + 20
        while not any(text.strip() == "line1" for _t, text in seen):
            item = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            assert item is not None, "st2 exited before printing line1:\n" + "\n".join(t for _, t in seen)
            seen.append(item)
        # line1 is on screen: the command is still running (it prints for 3 s) and the CLI is waiting.
        assert proc.poll() is None, "the CLI printed line1 only when the command had finished"
        match = next((re.search(r'Tailing execution "([0-9a-f]+)"', t) for _, t in seen if "Tailing" in t), None)
        assert match, seen
        execution_id = match.group(1)
        assert appliance.execution(execution_id)["status"] == "running"
        proc.wait(30)
        while True:
            item = lines.get(timeout=10)
            if item is None:
                break
            seen.append(item)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    texts = [text for _t, text in seen]
    assert proc.returncode == 0, "\n".join(texts)
    at = {name: next(t for t, text in seen if text.strip() == name) for name in ("line1", "line2", "line3")}
    assert at["line1"] < at["line2"] < at["line3"]
    assert at["line3"] - at["line1"] > 1.5, "the lines were not streamed as they were printed"
    assert f"Execution {execution_id} has completed (status=succeeded)." in texts
    assert "status: succeeded" in texts


# -- st2 execution list / get / tail / cancel / re-run ------------------------------------------
def test_execution_list_and_get(appliance: Appliance):
    for _ in range(3):
        appliance.wait_status(appliance.post_execution("core.noop")["id"], ("succeeded",))

    done, rows = appliance.st2_json("execution", "list", "--status", "succeeded", "-n", "2")
    assert done.returncode == 0, done.stderr
    assert len(rows) == 2, rows  # three succeeded exist; -n 2 shows two
    assert {row["status"] for row in rows} == {"succeeded"}

    table = appliance.st2("execution", "list", "--status", "succeeded", "-n", "2")
    assert table.returncode == 0, table.stderr
    ids = re.findall(r"^\| ([0-9a-f]{24}) ", table.stdout, re.M)
    assert sorted(ids) == sorted(row["id"] for row in rows), table.stdout
    assert table.stdout.count("succeeded") == 2, table.stdout
    assert "Only first 2 action executions are displayed" in table.stdout + table.stderr

    resp = appliance.api("GET", "executions", params={"status": "succeeded", "limit": 2})
    assert resp.status_code == 200
    assert len(resp.json()) == 2
    assert int(resp.headers["X-Total-Count"]) >= 3
    assert resp.headers.get("X-Limit") == "2"

    execution_id = rows[0]["id"]
    shown = appliance.st2("execution", "get", execution_id)
    assert shown.returncode == 0, shown.stderr
    for field in (f"id: {execution_id}", "action.ref: core.noop", "status: succeeded", "context.user: st2admin",
                  "start_timestamp:", "end_timestamp:", "result:"):
        assert field in shown.stdout, f"{field!r} missing from:\n{shown.stdout}"

    done, execution = appliance.st2_json("execution", "get", execution_id)
    assert done.returncode == 0
    assert execution["id"] == execution_id
    assert execution["status"] == "succeeded"
    assert execution["action"]["ref"] == "core.noop"
    assert [entry["status"] for entry in execution["log"]][-1] == "succeeded"


def test_execution_tail_of_finished_execution(appliance: Appliance):
    done, execution = appliance.st2_json("run", "core.local", "cmd=echo tail-one; echo tail-two")
    assert execution["status"] == "succeeded", execution
    tail = appliance.st2("execution", "tail", execution["id"])
    assert tail.returncode == 0, tail.stdout + tail.stderr
    lines = tail.stdout.splitlines()
    assert "tail-one" in lines and "tail-two" in lines, tail.stdout
    assert lines.index("tail-one") < lines.index("tail-two")
    assert f"Execution {execution['id']} has completed (status=succeeded)." in tail.stdout


def test_execution_cancel_kills_the_command(appliance: Appliance):
    argv = unique_sleep(30)
    execution_id = appliance.st2_async("core.local", f"cmd={' '.join(argv)}")
    appliance.wait_status(execution_id, ("running",))
    assert wait_until(lambda: pids_running(argv), 10), "the sleep did not start"

    started = time.monotonic()
    done = appliance.st2("execution", "cancel", execution_id)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"action execution with id {execution_id} canceled" in done.stdout.lower(), done.stdout
    execution = appliance.wait_status(execution_id, timeout=10)
    assert execution["status"] == "canceled", execution
    assert time.monotonic() - started < 10
    assert wait_until(lambda: not pids_running(argv), 5), f"{argv} still runs after the cancel"

    again = appliance.st2("execution", "cancel", execution_id)  # already canceled: returned as it is (StackStorm)
    assert "Traceback" not in again.stdout + again.stderr
    assert f"action execution with id {execution_id} canceled" in again.stdout.lower(), again.stdout + again.stderr
    done_id = appliance.post_execution("core.noop")["id"]
    appliance.wait_status(done_id)
    refused = appliance.st2("execution", "cancel", done_id)  # succeeded: a readable refusal
    assert "cannot be canceled" in (refused.stdout + refused.stderr).lower(), refused.stdout + refused.stderr


def test_execution_re_run(appliance: Appliance):
    _done, first = appliance.st2_json("run", "core.local", "cmd=echo again")
    assert first["status"] == "succeeded"
    done, second = appliance.st2_json("execution", "re-run", first["id"])
    assert done.returncode == 0, done.stdout + done.stderr
    assert second["id"] != first["id"]
    assert second["status"] == "succeeded", second
    assert second["parameters"] == first["parameters"] == {"cmd": "echo again"}
    assert second["result"]["stdout"] == "again"
    stored = appliance.execution(second["id"])
    assert stored["context"].get("re-run", {}).get("ref") == first["id"], stored["context"]


# -- actions -----------------------------------------------------------------------------------
def test_action_list_core(appliance: Appliance):
    done = appliance.st2("action", "list", "--pack", "core")
    assert done.returncode == 0, done.stderr
    refs = re.findall(r"^\| (core\.\w+) ", done.stdout, re.M)
    for ref in ("core.local", "core.noop", "core.echo", "core.http"):
        assert ref in refs, done.stdout
    assert all(ref.startswith("core.") for ref in refs)
    _done, actions = appliance.st2_json("action", "list", "--pack", "core")
    assert {a["ref"] for a in actions} == set(refs)


def test_python_action_from_test_pack(appliance: Appliance):
    done, execution = appliance.st2_json("run", "testpack.isprime", "value=7", "hello=true")
    assert done.returncode == 0, done.stdout + done.stderr
    assert execution["status"] == "succeeded", execution
    assert execution["parameters"] == {"value": 7, "hello": True}
    assert execution["result"]["result"] == {"value": 7, "prime": True, "greeting": "hello from lib"}
    assert execution["result"]["exit_code"] == 0


def test_core_echo_immutable_cmd_and_noop(appliance: Appliance):
    done, execution = appliance.st2_json("run", "core.echo", "message=hello world")
    assert execution["status"] == "succeeded", execution
    assert execution["result"]["stdout"] == "hello world"

    with appliance.nothing_stored():
        refused = appliance.st2("run", "core.echo", "message=x", "cmd=touch /tmp/should-not-exist")
        lines = readable_error(refused)
        assert any("immutable" in line for line in lines), lines
        resp = appliance.api("POST", "executions",
                             json={"action": "core.echo", "parameters": {"message": "x", "cmd": "id"}})
        assert resp.status_code == 400 and "immutable" in resp.json()["faultstring"]

    done, execution = appliance.st2_json("run", "core.noop")
    assert done.returncode == 0
    assert execution["status"] == "succeeded"
    assert execution["result"]["succeeded"] is True


# -- bad input ---------------------------------------------------------------------------------
def test_unknown_action(appliance: Appliance):
    with appliance.nothing_stored():
        lines = readable_error(appliance.st2("run", "nope.nope"))
        assert len(lines) == 1 and lines[0].startswith("ERROR:") and "nope.nope" in lines[0], lines
        resp = appliance.api("POST", "executions", json={"action": "nope.nope", "parameters": {}})
        assert resp.status_code == 400 and "nope.nope" in resp.json()["faultstring"]


def test_wrong_parameter_type(appliance: Appliance):
    with appliance.nothing_stored():
        # HTTP: the server validates against the action's schema.
        resp = appliance.api("POST", "executions",
                             json={"action": "core.local", "parameters": {"cmd": "x", "timeout": "abc"}})
        assert resp.status_code == 400, resp.text
        assert "timeout" in resp.json()["faultstring"] and "integer" in resp.json()["faultstring"]
        resp = appliance.api("POST", "executions", json={"action": "testpack.isprime", "parameters": {"value": "7x"}})
        assert resp.status_code == 400 and "value" in resp.json()["faultstring"], resp.text
        # CLI: st2 casts integers itself and fails before sending anything.
        lines = readable_error(appliance.st2("run", "core.local", "cmd=x", "timeout=abc"))
        assert any("abc" in line for line in lines), lines
        # CLI: a value the CLI passes through but the server refuses (enum) comes back as one message.
        lines = readable_error(appliance.st2("run", "core.http", "url=http://127.0.0.1:9/", "method=FETCH"))
        assert any("400" in line for line in lines), lines
        assert any("FETCH" in line for line in lines), lines


def test_missing_and_unknown_parameters(appliance: Appliance):
    with appliance.nothing_stored():
        lines = readable_error(appliance.st2("run", "core.local"))
        assert any("'cmd' is a required property" in line for line in lines), lines
        resp = appliance.api("POST", "executions", json={"action": "testpack.isprime", "parameters": {}})
        assert resp.status_code == 400 and "'value' is a required property" in resp.json()["faultstring"]

        lines = readable_error(appliance.st2("run", "core.local", "cmd=true", "bogus=1"))
        assert any("bogus" in line for line in lines), lines
        resp = appliance.api("POST", "executions",
                             json={"action": "core.local", "parameters": {"cmd": "true", "bogus": 1}})
        assert resp.status_code == 400 and "bogus" in resp.json()["faultstring"]


def test_malformed_body(appliance: Appliance):
    json_header = {"Content-Type": "application/json"}
    with appliance.nothing_stored():
        for body in ('{"action": "core.local", ', "[1, 2]", "not json at all", ""):
            resp = appliance.api("POST", "executions", data=body, headers=json_header)
            assert resp.status_code == 400, (body, resp.status_code, resp.text)
            assert resp.json()["faultstring"], body
        resp = appliance.api("POST", "executions", json={"action": 5})
        assert resp.status_code == 400 and resp.json()["faultstring"]


def test_bad_and_expired_tokens(appliance: Appliance):
    with appliance.nothing_stored():
        for token in ("bad", None):
            resp = appliance.api("GET", "executions", token=token)
            assert resp.status_code == 401, resp.text
            assert resp.json()["faultstring"]
            resp = appliance.api("POST", "executions", token=token, json={"action": "core.noop", "parameters": {}})
            assert resp.status_code == 401, resp.text

        lines = readable_error(appliance.st2("execution", "list", env={"ST2_AUTH_TOKEN": "bad"}))
        assert any("401" in line for line in lines), lines

        short = appliance.new_token(ttl=1)
        assert appliance.api("GET", "executions", token=short, params={"limit": 1}).status_code == 200
        time.sleep(2.1)
        resp = appliance.api("GET", "executions", token=short, params={"limit": 1})
        assert resp.status_code == 401, resp.text
        assert "expired" in resp.json()["faultstring"]
        resp = appliance.api("POST", "executions", token=short, json={"action": "core.noop", "parameters": {}})
        assert resp.status_code == 401, resp.text


def test_template_failure_is_recorded_as_failed(appliance: Appliance):
    """StackStorm's one exception to "nothing stored": a parameter that fails to render is kept as a
    failed execution (so the user can find it) and the request still answers 400."""
    before = appliance.execution_count()
    lines = readable_error(appliance.st2("run", "core.local", "cmd={{ nope.attr }}"))
    assert any("400" in line for line in lines) and any("'nope' is undefined" in line for line in lines), lines
    assert appliance.execution_count() == before + 1
    newest = appliance.api("GET", "executions", params={"limit": 1}).json()[0]
    assert newest["status"] == "failed" and newest["parameters"] == {"cmd": "{{ nope.attr }}"}, newest
    assert "'nope' is undefined" in newest["result"]["error"]


def test_unknown_execution_id(appliance: Appliance):
    missing = "0123456789abcdef01234567"
    for args in (("execution", "get", missing), ("execution", "re-run", missing)):
        lines = readable_error(appliance.st2(*args))
        assert any(missing in line for line in lines), lines
    resp = appliance.api("GET", f"executions/{missing}")
    assert resp.status_code == 404 and missing in resp.json()["faultstring"]
