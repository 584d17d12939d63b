"""Rules with the real st2 CLI and plain HTTP, on both wirings: `st2 rule create/get/list/update/
enable/disable/delete`, the triggers rules make and release, what a bad rule gets (a 400 naming the
problem, nothing stored), and `st2 rule-enforcement list/get` on enforcements written straight into
the store (as the rules engine writes them).

Every rule here runs core.noop and is deleted at the end, so the shared appliance stays idle.
"""

from __future__ import annotations

import datetime
import json
import pathlib
import re
import shutil
from typing import Iterator

import pytest
from e2e_harness import Appliance, ok, refused

from appliance import config
from appliance.models import RULE_ENFORCEMENTS, format_time, new_id
from appliance.services.context import Context

pytestmark = pytest.mark.e2e

PACK = "e2erules"
WEBHOOK = {"type": "core.st2.webhook", "parameters": {"url": "e2e_rules"}}


def write(tmp_path, name: str, body: dict) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(body))
    return str(path)


def rule_body(name: str, **fields) -> dict:
    return {"name": name, "pack": PACK, "description": f"{name} under test", "trigger": WEBHOOK,
            "criteria": {"trigger.body.level": {"type": "iequals", "pattern": "error"}},
            "action": {"ref": "core.noop"}, **fields}


def stored(appliance: Appliance) -> tuple[list[str], list[str]]:
    """(the refs of this test's rules, the refs of the webhook triggers), read over HTTP."""
    rules = appliance.api("GET", "rules", params={"pack": PACK})
    triggers = appliance.api("GET", "triggers", params={"type": "core.st2.webhook"})
    assert rules.status_code == 200 and triggers.status_code == 200, rules.text + triggers.text
    return [r["ref"] for r in rules.json()], [t["ref"] for t in triggers.json()]


@pytest.fixture
def clean(appliance: Appliance) -> Iterator[Appliance]:
    """The appliance, with this test's rules (and so their triggers) deleted afterwards."""
    yield appliance
    for ref in stored(appliance)[0]:
        appliance.api("DELETE", f"rules/{ref}")


def test_rule_create_get_list_update_enable_disable_delete(clean: Appliance, tmp_path):
    appliance = clean
    triggers_before = stored(appliance)[1]
    done, created = appliance.st2_json("rule", "create", write(tmp_path, "r.json", rule_body("on_error")))
    ok(done)
    assert created["ref"] == f"{PACK}.on_error" and created["uid"] == f"rule:{PACK}:on_error"
    assert created["enabled"] is False  # StackStorm's API default
    assert created["trigger"]["type"] == "core.st2.webhook" and created["trigger"]["parameters"] == {"url": "e2e_rules"}
    trigger_ref = created["trigger"]["ref"]
    assert re.fullmatch(r"core\.[0-9a-f-]{36}", trigger_ref)
    assert created["context"] == {"user": "st2admin"}

    # a second rule on the same url shares the trigger
    done, twin = appliance.st2_json("rule", "create", write(tmp_path, "t.json", rule_body("twin", enabled=True)))
    assert ok(done) and twin["trigger"]["ref"] == trigger_ref and twin["enabled"] is True
    assert stored(appliance)[1] == sorted([*triggers_before, trigger_ref])
    done, specs = appliance.st2_json("trigger", "getspecs", "core.st2.webhook")
    assert ok(done) and trigger_ref in [spec["ref"] for spec in specs]

    done, shown = appliance.st2_json("rule", "get", f"{PACK}.on_error")
    assert ok(done) and shown == created
    text = ok(appliance.st2("rule", "get", f"{PACK}.on_error"))
    assert "on_error under test" in text and trigger_ref in text

    done, listed = appliance.st2_json("rule", "list", "--pack", PACK)
    ok(done)
    assert [(r["ref"], r["enabled"]) for r in listed] == [(f"{PACK}.on_error", False), (f"{PACK}.twin", True)]
    assert set(listed[0]) <= {"id", "ref", "pack", "description", "enabled"}
    done, iftt = appliance.st2_json("rule", "list", "--pack", PACK, "--iftt")
    assert ok(done) and iftt[0] == {"ref": f"{PACK}.on_error", "trigger": {"ref": trigger_ref},
                                    "action": {"ref": "core.noop"}, "enabled": False}
    done, enabled = appliance.st2_json("rule", "list", "--pack", PACK, "--enabled")
    assert ok(done) and [r["ref"] for r in enabled] == [f"{PACK}.twin"]
    done, by_type = appliance.st2_json("rule", "list", "-g", "core.st2.webhook", "-c", "core.noop", "-p", PACK)
    assert ok(done) and len(by_type) == 2

    done, changed = appliance.st2_json("rule", "enable", f"{PACK}.on_error")
    assert ok(done) and changed["enabled"] is True and changed["id"] == created["id"]
    done, changed = appliance.st2_json("rule", "disable", created["id"])
    assert ok(done) and changed["enabled"] is False
    update = write(tmp_path, "u.json", rule_body("on_error", trigger={**WEBHOOK, "parameters": {"url": "e2e_other"}}))
    done, updated = appliance.st2_json("rule", "update", f"{PACK}.on_error", update)
    assert ok(done) and updated["id"] == created["id"] and updated["trigger"]["ref"] != trigger_ref
    assert trigger_ref in stored(appliance)[1]  # twin still uses it

    for ref in (f"{PACK}.twin", f"{PACK}.on_error"):
        deleted = ok(appliance.st2("rule", "delete", ref))
        assert deleted.strip() == f'Resource with id "{ref}" has been successfully deleted.'
    assert "not found" in refused(appliance.st2("rule", "get", f"{PACK}.twin"))
    assert stored(appliance) == ([], triggers_before)  # their triggers went with them


def test_a_packs_rules_register_with_it(clean: Appliance):
    appliance = clean
    pack_dir = pathlib.Path(appliance.packs, PACK)
    (pack_dir / "rules").mkdir(parents=True)
    (pack_dir / "pack.yaml").write_text(f"name: {PACK}\ndescription: rules under test\nversion: 1.0.0\nauthor: e2e\n")
    on_key = {"name": "on_key", "trigger": {"type": "core.st2.key_value_pair.create"}, "action": {"ref": "core.noop"}}
    (pack_dir / "rules" / "on_key.yaml").write_text(json.dumps(on_key))  # JSON is YAML
    try:
        done, counts = appliance.st2_json("pack", "register", PACK)
        assert ok(done) and counts["rules"] == 1
        done, registered = appliance.st2_json("rule", "get", f"{PACK}.on_key")
        ok(done)
        assert registered["metadata_file"] == "rules/on_key.yaml" and registered["enabled"] is False
        assert registered["trigger"]["ref"] == "core.st2.key_value_pair.create"  # the type's shadow trigger

        bad = {**on_key, "name": "bad", "trigger": {"type": "core.st2.webhook", "parameters": {"url": 5}}}
        (pack_dir / "rules" / "bad.yaml").write_text(json.dumps(bad))
        text = refused(appliance.st2("pack", "register", PACK))
        assert "rules/bad.yaml" in text and "5 is not of type 'string'" in text
        assert stored(appliance)[0] == [f"{PACK}.on_key"]
    finally:
        shutil.rmtree(pack_dir)


def test_rules_views_and_rule_types(clean: Appliance):
    appliance = clean
    created = appliance.api("POST", "rules", json=rule_body("viewed"))
    assert created.status_code == 201, created.text
    view = appliance.api("GET", f"rules/views/{PACK}.viewed").json()
    assert view["action"]["description"] == appliance.api("GET", "actions/core.noop").json()["description"]
    assert view["trigger"]["description"] == appliance.api("GET", "triggertypes/core.st2.webhook").json()["description"]
    listed = appliance.api("GET", "rules/views", params={"pack": PACK}).json()
    assert [rule["ref"] for rule in listed] == [f"{PACK}.viewed"]
    types = appliance.api("GET", "ruletypes").json()
    assert [t["name"] for t in types] == ["standard", "backstop"]
    assert appliance.api("GET", f"ruletypes/{types[1]['id']}").json() == types[1]
    deleted = appliance.api("DELETE", f"rules/{created.json()['id']}")
    assert deleted.status_code == 204 and appliance.api("GET", f"rules/{PACK}.viewed").status_code == 404


@pytest.mark.parametrize("fields, message", [
    ({"criteria": {"trigger.body.level": {"type": "looselyequals", "pattern": "x"}}},
     "For field: trigger.body.level, operator looselyequals not in list of allowed operators"),
    ({"criteria": {"trigger.body.level": {"type": "regex", "pattern": "[unclosed"}}},
     "For field: trigger.body.level, invalid regex '[unclosed' for operator regex"),
    ({"trigger": {"type": "e2erules.nothing"}}, 'Trigger type "e2erules.nothing" defined in the rule does not exist'),
    ({"action": {"ref": "core.nothing"}}, 'Action "core.nothing" defined in the rule does not exist'),
    ({"trigger": {"type": "core.st2.CronTimer", "parameters": {"minute": "99"}}}, 'minute "99": 99 is higher'),
], ids=["operator", "regex", "trigger-type", "action", "cron"])
def test_a_bad_rule_is_a_400_naming_the_problem_and_stores_nothing(clean: Appliance, tmp_path, fields, message):
    appliance = clean
    before = stored(appliance)
    assert message in refused(appliance.st2("rule", "create", write(tmp_path, "bad.json", rule_body("bad", **fields))))
    resp = appliance.api("POST", "rules", json=rule_body("bad", **fields))
    assert resp.status_code == 400 and message in resp.json()["faultstring"]
    assert stored(appliance) == before


def test_malformed_json_is_a_400_and_stores_nothing(clean: Appliance):
    appliance = clean
    before = stored(appliance)
    resp = appliance.api("POST", "rules", data=b'{"name": "half", "trigger": {',
                         headers={"Content-Type": "application/json"})
    assert resp.status_code == 400 and "Failed to parse request body" in resp.json()["faultstring"]
    assert stored(appliance) == before


@pytest.fixture
def enforcements(appliance: Appliance) -> Iterator[list[dict]]:
    """Three enforcements of one rule, written into the store as the rules engine writes them (the
    rule need not exist: an enforcement outlives its rule), removed afterwards."""
    rule = {"id": new_id(), "ref": f"{PACK}.enforced", "uid": f"rule:{PACK}:enforced"}
    ctx = Context(config.load(appliance.config_path))
    coll = ctx.store.collection(RULE_ENFORCEMENTS)
    start = datetime.datetime.now(datetime.timezone.utc)
    outcomes = ({"execution_id": new_id()}, {"failure_reason": "Action doesn't exist"}, {"execution_id": new_id()})
    docs = []
    for seconds, outcome in enumerate(outcomes):  # a second apart: their order is certain
        instance = new_id()
        docs.append(coll.insert(RULE_ENFORCEMENTS.build({
            "id": new_id(), "key": f"{rule['id']}:{instance}", "rule": rule, "trigger_instance_id": instance,
            "enforced_at": format_time(start + datetime.timedelta(seconds=seconds)),
            "status": "failed" if "failure_reason" in outcome else "succeeded", **outcome})))
    try:
        yield docs
    finally:
        for doc in docs:
            coll.delete(doc["id"])
        ctx.close()


def test_rule_enforcement_list_and_get(appliance: Appliance, enforcements: list[dict]):
    first, failed, last = enforcements
    done, listed = appliance.st2_json("rule-enforcement", "list", "--rule", f"{PACK}.enforced")
    ok(done)
    assert [e["id"] for e in listed] == [first["id"], failed["id"], last["id"]]  # newest last, as the CLI prints
    assert "failure_reason" not in listed[0] and "execution_id" not in listed[1]  # empty fields are dropped

    done, shown = appliance.st2_json("rule-enforcement", "get", failed["id"])
    ok(done)
    assert shown["failure_reason"] == "Action doesn't exist" and shown["rule"]["ref"] == f"{PACK}.enforced"
    whole = appliance.api("GET", f"ruleenforcements/{failed['id']}").json()
    assert whole["status"] == "failed" and "key" not in whole and "execution_id" not in whole
    text = ok(appliance.st2("rule-enforcement", "get", first["id"]))
    assert first["execution_id"] in text and first["trigger_instance_id"] in text

    for flags, expected in ((("--execution", last["execution_id"]), [last]),
                            (("--trigger-instance", failed["trigger_instance_id"]), [failed]),
                            (("-tg", first["enforced_at"], "--rule", f"{PACK}.enforced"), [failed, last]),
                            (("-tl", last["enforced_at"], "--rule", f"{PACK}.enforced", "-n", "1"), [failed])):
        done, found = appliance.st2_json("rule-enforcement", "list", *flags)
        assert ok(done) and [e["id"] for e in found] == [e["id"] for e in expected], flags
    assert "not found" in refused(appliance.st2("rule-enforcement", "get", "5f0000000000000000000000"))
    resp = appliance.api("GET", "ruleenforcements")
    assert resp.status_code == 200 and resp.headers["X-Limit"] == "50"
