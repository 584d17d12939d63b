"""The API side of pack management: POST /v1/packs/register leaves a pack's documents as they were when it
fails (a failed upgrade keeps the previous registration), POST /v1/packs/unload removes every document of a
pack (system packs refused), install/uninstall schedule the packs pack's actions (202 and the execution id,
as StackStorm's), and the index routes read the site's index."""

from __future__ import annotations

import json
import os

import pytest
from falcon import testing

from appliance.api.app import api_app
from appliance.content import ContentError
from appliance.models import ACTIONS, CONFIG_SCHEMAS, PACKS, RULES, SENSOR_TYPES, TRIGGER_TYPES, TRIGGERS
from appliance.packs import PackError, registration
from tests.support.pack_repos import write_pack

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
TRIGGER = "name: ping\ndescription: a ping\n"
SENSOR = ("class_name: Watcher\nentry_point: watcher.py\ntrigger_types:\n  - name: seen\n"
          "    payload_schema:\n      type: object\n")
CRON_RULE = ("name: nightly\ntrigger:\n  type: core.st2.CronTimer\n  parameters:\n    hour: 3\n"
             "action:\n  ref: pkreg.hello\n")
PING_RULE = "name: on_ping\ntrigger:\n  type: pkreg.ping\naction:\n  ref: pkreg.hello\n"
HELLO = "name: hello\nrunner_type: local-shell-cmd\n"


@pytest.fixture
def ctx(make_ctx, tmp_path):
    (tmp_path / "packs").mkdir()
    index = tmp_path / "index.json"
    index.write_text(json.dumps({"packs": {"pkreg": {"name": "pkreg", "description": "registration tests",
                                                     "version": "1.0.0", "repo_url": "file:///srv/pkreg"}}}))
    made = make_ctx(f"[auth]\nenable = false\n[content]\nsystem_packs_base_path = {tmp_path}/packs\n"
                    f"packs_base_paths = {ROOT}/packs\nindex_url = file://{index}\n")
    made.registrar.register()
    return made


@pytest.fixture
def client(ctx):
    return testing.TestClient(api_app(ctx))


def pack_v1(tmp_path) -> str:
    directory = str(tmp_path / "packs" / "pkreg")
    write_pack(directory, "pkreg", "1.0.0", {"actions/hello.yaml": HELLO, "triggers/ping.yaml": TRIGGER,
                                             "sensors/watcher.yaml": SENSOR, "sensors/watcher.py": "",
                                             "rules/nightly.yaml": CRON_RULE, "rules/on_ping.yaml": PING_RULE,
                                             "config.schema.yaml": "region:\n  type: string\n"})
    return directory


def documents(ctx) -> dict:
    """Every document of pack pkreg, and the triggers its rules fire on."""
    store = ctx.store
    found = {entity.collection: sorted((d["id"], d.get("ref") or d.get("pack")) for d in store.collection(entity)
                                       .find({"pack": "pkreg"}))
             for entity in (ACTIONS, TRIGGER_TYPES, TRIGGERS, SENSOR_TYPES, RULES, CONFIG_SCHEMAS)}
    found["pack"] = [d["version"] for d in store.collection(PACKS).find({"ref": "pkreg"})]
    found["cron"] = sorted(t["ref"] for t in store.collection(TRIGGERS).find({"type": "core.st2.CronTimer"}))
    return found


def test_a_failed_registration_leaves_the_previous_one(ctx, client, tmp_path):
    directory = pack_v1(tmp_path)
    assert client.simulate_post("/v1/packs/register", json={"packs": ["pkreg"]}).status_code == 200
    before = documents(ctx)
    assert before["pack"] == ["1.0.0"] and len(before["rules"]) == 2 and len(before["cron"]) == 1

    write_pack(directory, "pkreg", "2.0.0", {
        "actions/extra.yaml": "name: extra\nrunner_type: local-shell-cmd\n",
        "rules/nightly.yaml": CRON_RULE.replace("hour: 3", "hour: 4"),  # a new trigger for the rule
        "rules/zzz_broken.yaml": "name: zzz_broken\ntrigger:\n  type: pkreg.ping\naction:\n  ref: pkreg.nope\n"})
    result = client.simulate_post("/v1/packs/register", json={"packs": ["pkreg"]})
    assert result.status_code == 400 and 'Action "pkreg.nope" defined in the rule does not exist' in \
        result.json["faultstring"]
    assert documents(ctx) == before  # same documents, same ids; the hour-4 trigger is gone again

    with pytest.raises(ContentError):  # the same with the registrar called directly
        with registration.kept(ctx.store, ctx.registrar.rule_definitions, ["pkreg"]):
            ctx.registrar.register(["pkreg"])
    assert documents(ctx) == before


def test_unload_removes_every_document_of_the_pack(ctx, client, tmp_path):
    pack_v1(tmp_path)
    client.simulate_post("/v1/packs/register", json={"packs": ["pkreg"]})
    result = client.simulate_post("/v1/packs/unload", json={"packs": ["pkreg"]})
    assert result.status_code == 200, result.text
    assert result.json == {"packs": 1, "actions": 1, "rules": 2, "sensors": 1, "triggers": 2, "trigger_types": 2,
                           "config_schemas": 1, "configs": 0}
    assert documents(ctx) == {"actions": [], "trigger_types": [], "triggers": [], "sensor_types": [], "rules": [],
                              "config_schemas": [], "pack": [], "cron": []}
    assert client.simulate_get("/v1/packs/pkreg").status_code == 404
    assert client.simulate_get("/v1/actions/core.local").status_code == 200

    refused = client.simulate_post("/v1/packs/unload", json={"packs": ["pkreg", "core"]})
    assert refused.status_code == 400
    assert refused.json["faultstring"] == "Unregister includes an unregisterable pack - core."
    with pytest.raises(PackError):
        registration.unload(ctx.store, ctx.registrar.rule_definitions, [""])


def test_install_and_uninstall_schedule_the_packs_actions(ctx, client):
    result = client.simulate_post("/v1/packs/install", json={"packs": ["file:///srv/x=1.0.0"], "force": True,
                                                             "skip_dependencies": False,
                                                             "env": {"PIP_NO_INDEX": "yes"}})
    assert result.status_code == 202, result.text
    execution = ctx.executions.get(result.json["execution_id"])
    assert set(result.json) == {"execution_id"}
    assert execution["action"]["ref"] == "packs.install"
    assert execution["parameters"] == {"packs": ["file:///srv/x=1.0.0"], "force": True,
                                       "env": {"PIP_NO_INDEX": "yes"}}

    result = client.simulate_post("/v1/packs/uninstall", json={"packs": ["pkreg"]})
    assert result.status_code == 202
    assert ctx.executions.get(result.json["execution_id"])["parameters"] == {"packs": ["pkreg"]}

    for path, body in (("install", {}), ("install", {"packs": []}), ("install", {"packs": ["x"], "env": {"A": []}}),
                       ("install", {"packs": [1]}), ("uninstall", {}), ("unload", {"packs": "x"})):
        assert client.simulate_post(f"/v1/packs/{path}", json=body).status_code == 400, (path, body)


def test_register_accepts_every_stackstorm_type(client):
    result = client.simulate_post("/v1/packs/register", json={"packs": ["core"], "types": [
        "action", "alias", "policy", "policy_type", "rule_type", "config"]})
    assert result.status_code == 200, result.text
    assert result.json["actions"] > 0


def test_index_routes(client):
    found = client.simulate_post("/v1/packs/index/search", json={"query": "REGISTRATION"})
    assert [pack["name"] for pack in found.json] == ["pkreg"]  # the API searches in any case
    assert client.simulate_post("/v1/packs/index/search", json={"pack": "pkreg"}).json["version"] == "1.0.0"
    assert client.simulate_post("/v1/packs/index/search", json={"pack": "absent"}).json == []
    assert client.simulate_post("/v1/packs/index/search", json={}).status_code == 400
    assert list(client.simulate_get("/v1/packs/index").json["index"]) == ["pkreg"]
    health = client.simulate_get("/v1/packs/index/health").json
    assert health["indexes"]["valid"] == 1 and health["packs"]["count"] == 1


def test_an_upgrade_leaves_no_content_of_the_old_version(ctx, client, tmp_path):
    directory = pack_v1(tmp_path)
    client.simulate_post("/v1/packs/register", json={"packs": ["pkreg"]})
    api_made = client.simulate_post("/v1/actions", json={"name": "by_api", "pack": "pkreg", "runner_type": "noop"})
    assert api_made.status_code == 201, api_made.text
    for gone in ("actions/hello.yaml", "rules/nightly.yaml", "rules/on_ping.yaml", "sensors/watcher.yaml"):
        os.unlink(os.path.join(directory, gone))
    write_pack(directory, "pkreg", "2.0.0", {"actions/bye.yaml": HELLO.replace("hello", "bye")})
    assert client.simulate_post("/v1/packs/register", json={"packs": ["pkreg"]}).status_code == 200
    found = documents(ctx)
    assert [ref for _, ref in found["actions"]] == ["pkreg.by_api", "pkreg.bye"]  # made by the API: kept
    assert found["rules"] == [] and found["sensor_types"] == [] and found["cron"] == []
    assert [ref for _, ref in found["trigger_types"]] == ["pkreg.ping"] and found["pack"] == ["2.0.0"]
