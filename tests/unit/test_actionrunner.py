"""st2actionrunner around the runner: the action's token, the pack config, the st2.conf values runners get."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from appliance import models
from appliance.models import PACKS
from appliance.runners import RunnerSettings, load
from appliance.services.actionrunner import ActionRunnerService
from appliance.services.context import Context

REPO = Path(__file__).resolve().parents[2]
TESTPACK = REPO / "tests" / "fixtures" / "packs" / "testpack"
LOCAL = {"ref": "core.local", "pack": "core", "name": "local", "runner_type": "local-shell-cmd", "parameters": {}}


def _schedule(ctx: Context, action: dict, parameters: dict) -> str:
    runner = load(action["runner_type"]).RUNNER_TYPE
    doc = ctx.executions.create(action, runner, parameters, {"user": "st2admin"}, status=models.SCHEDULED)
    return doc["id"]


def _tokens(ctx: Context, execution_id: str) -> list[dict]:
    return [doc for doc in ctx.credentials.tokens.find({}) if doc["metadata"].get("execution_id") == execution_id]


def test_action_token_lives_service_token_ttl_and_is_revoked_at_the_end(make_ctx, tmp_path):
    ctx = make_ctx("[auth]\nservice_token_ttl = 7200\n")
    go = tmp_path / "go"
    execution_id = _schedule(ctx, LOCAL, {"cmd": f"while [ ! -e {go} ]; do sleep 0.05; done"})
    thread = threading.Thread(target=ActionRunnerService(ctx).run, args=(execution_id,))
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not _tokens(ctx, execution_id) and time.monotonic() < deadline:
            time.sleep(0.02)
        [token] = _tokens(ctx, execution_id)
        lifetime = models.parse_time(token["expiry"]) - datetime.datetime.now(datetime.timezone.utc)
        assert 7200 - 60 < lifetime.total_seconds() <= 7200
    finally:
        go.touch()
        thread.join(30)
    assert ctx.executions.get(execution_id)["status"] == models.SUCCEEDED
    assert _tokens(ctx, execution_id) == []


@pytest.mark.parametrize("text, error", [
    ("a: [1, 2\nb: c\n", "is not valid YAML: expected ',' or ']', but got ':' (line 2, column 2)"),
    ("a: b: c\n", "is not valid YAML: mapping values are not allowed here (line 1, column 5)"),
    ("- a\n- b\n", "must be a mapping of keys to values, not a list."),
    (b"key: caf\xe9\n", "is not UTF-8 text (byte 8)."),
])
def test_broken_pack_config_fails_with_one_line_and_no_token(make_ctx, tmp_path, text, error):
    ctx = make_ctx()
    path = tmp_path / "configs" / "core.yaml"
    path.parent.mkdir()
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    execution_id = _schedule(ctx, LOCAL, {"cmd": "true"})
    ActionRunnerService(ctx).run(execution_id)
    doc = ctx.executions.get(execution_id)
    assert doc["status"] == models.FAILED
    message = doc["result"]["error"]
    assert list(doc["result"]) == ["error"] and "\n" not in message
    assert message.startswith(f"The pack config {path} ") and error in message
    assert ctx.credentials.tokens.find({}) == []


def test_runners_get_the_st2_conf_values_they_use(make_ctx, tmp_path):
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "py")], check=True)
    python = str(tmp_path / "py" / "bin" / "python")
    ctx = make_ctx(f"[actionrunner]\npython_binary = {python}\n"
                   "[system_user]\nuser = deploy\nssh_key_file = /etc/st2/keys/deploy_ed25519\n")
    service = ActionRunnerService(ctx)
    assert service.settings == RunnerSettings(python_binary=python, system_user="deploy",
                                              ssh_key_file="/etc/st2/keys/deploy_ed25519")
    ctx.store.collection(PACKS).insert({"id": models.new_id(), "ref": "testpack", "name": "testpack",
                                        "path": str(TESTPACK)})  # no virtualenv under this base_path
    action = {**yaml.safe_load((TESTPACK / "actions" / "context.yaml").read_text()),
              "pack": "testpack", "ref": "testpack.context"}
    execution_id = _schedule(ctx, action, {})
    service.run(execution_id)
    doc = ctx.executions.get(execution_id)
    assert doc["status"] == models.SUCCEEDED, doc["result"]
    assert doc["result"]["result"]["executable"] == python
    assert not os.path.exists(tmp_path / "virtualenvs" / "testpack")
