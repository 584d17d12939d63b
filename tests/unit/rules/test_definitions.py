"""Rule definitions: what a rule is checked against before it is stored, the trigger it gets, how long
a parameterised trigger lives, and rules/*.yaml registration."""

from __future__ import annotations

import re

import pytest

from appliance.content import ContentError, Registrar
from appliance.models import RUNNER_TYPES, ValidationError
from appliance.revisions import current
from appliance.rules.cron import check_cron
from appliance.rules.definitions import RuleDefinitions
from appliance.store import Conflict
from appliance.store.sqlite import SQLiteStore

POLLED_YAML = """\
name: polled
parameters_schema:
  type: object
  additionalProperties: false
  properties:
    url: {type: string, required: true}
"""
TIMER = {"type": "core.st2.IntervalTimer", "parameters": {"unit": "seconds", "delta": 30}}


def _pack(root, name: str, rules: dict[str, str]):
    pack = root / name
    for folder in ("actions", "triggers", "rules"):
        (pack / folder).mkdir(parents=True)
    (pack / "pack.yaml").write_text(f"name: {name}\ndescription: d\nversion: 1.0.0\nauthor: me\n")
    (pack / "actions" / "hello.yaml").write_text("name: hello\nrunner_type: fake-runner\n")
    (pack / "triggers" / "polled.yaml").write_text(POLLED_YAML)
    for file_name, text in rules.items():
        (pack / "rules" / file_name).write_text(text)
    return pack


@pytest.fixture
def store(tmp_path):
    store = SQLiteStore(str(tmp_path / "st2.db"))
    store.collection(RUNNER_TYPES).insert({"id": "r1", "name": "fake-runner", "runner_parameters": {}})
    yield store
    store.close()


def _registrar(store, tmp_path, validate: bool = True) -> Registrar:
    registrar = Registrar(store, [str(tmp_path / "packs")], validate_trigger_parameters=validate)
    registrar.register_runners = lambda: 0  # runners come from installed packages; not under test here
    return registrar


@pytest.fixture
def registrar(store, tmp_path) -> Registrar:
    """The system trigger types, and pack `demo` with action demo.hello and trigger type demo.polled."""
    _pack(tmp_path / "packs", "demo", {})
    made = _registrar(store, tmp_path)
    made.register()
    return made


@pytest.fixture
def definitions(registrar) -> RuleDefinitions:
    return registrar.rule_definitions


def rule(name: str = "r1", **fields) -> dict:
    return {"name": name, "pack": "demo", "trigger": TIMER, "action": {"ref": "demo.hello"}, **fields}


def triggers_of(definitions: RuleDefinitions, type_ref: str) -> list[dict]:
    return definitions.triggers.find({"type": type_ref})


def test_a_rule_is_stored_with_its_trigger_and_stanleys_defaults(definitions):
    saved = definitions.save(rule(criteria={"trigger.executed_at": {"type": "exists", "pattern": "x"}}),
                             user="st2admin")
    (trigger,) = triggers_of(definitions, "core.st2.IntervalTimer")
    assert re.fullmatch(r"core\.[0-9a-f-]{36}", trigger["ref"]) and trigger["pack"] == "core"
    assert trigger["parameters"] == TIMER["parameters"]
    assert saved["trigger"] == {**TIMER, "ref": trigger["ref"]}
    assert (saved["ref"], saved["uid"], saved["enabled"]) == ("demo.r1", "rule:demo:r1", False)
    assert saved["type"] == {"ref": "standard", "parameters": {}}
    assert saved["action"] == {"ref": "demo.hello", "parameters": {}}
    assert saved["context"] == {"user": "st2admin"}
    assert definitions.rules.get(saved["id"]) == saved


def test_a_parameterless_type_uses_its_shadow_trigger(definitions):
    saved = definitions.save(rule(trigger={"type": "core.st2.key_value_pair.create"}))
    assert saved["trigger"] == {"type": "core.st2.key_value_pair.create", "parameters": {},
                                "ref": "core.st2.key_value_pair.create"}
    definitions.delete(saved)
    assert definitions.triggers.find_one({"ref": "core.st2.key_value_pair.create"}) is not None  # lives with its type


def test_equal_parameters_share_a_trigger_which_goes_with_its_last_rule(definitions):
    first = definitions.save(rule("r1"))
    second = definitions.save(rule("r2", trigger={**TIMER, "parameters": {"delta": 30, "unit": "seconds"}}))
    other = definitions.save(rule("r3", trigger={**TIMER, "parameters": {"unit": "minutes", "delta": 30}}))
    assert first["trigger"]["ref"] == second["trigger"]["ref"] != other["trigger"]["ref"]
    assert len(triggers_of(definitions, "core.st2.IntervalTimer")) == 2

    definitions.delete(first)
    assert definitions.triggers.find_one({"ref": second["trigger"]["ref"]}) is not None  # r2 still uses it
    definitions.delete(second)
    assert definitions.triggers.find_one({"ref": second["trigger"]["ref"]}) is None
    assert [t["ref"] for t in triggers_of(definitions, "core.st2.IntervalTimer")] == [other["trigger"]["ref"]]


def test_changing_a_rules_parameters_releases_its_old_trigger(definitions):
    saved = definitions.save(rule(enabled=True))
    old = saved["trigger"]["ref"]
    changed = definitions.save(rule(trigger={**TIMER, "parameters": {"unit": "hours", "delta": 1}}), saved)
    assert changed["id"] == saved["id"] and changed["trigger"]["ref"] != old
    assert changed["enabled"] is False  # a PUT is the whole rule: what it leaves out gets its default
    assert definitions.triggers.find_one({"ref": old}) is None
    assert definitions.save(rule(trigger=changed["trigger"]), changed)["trigger"]["ref"] == changed["trigger"]["ref"]
    assert len(triggers_of(definitions, "core.st2.IntervalTimer")) == 1


def test_every_rule_write_bumps_the_rules_revision(definitions):
    seen = {current(definitions.store, "rules")}
    saved = definitions.save(rule())
    seen.add(current(definitions.store, "rules"))
    definitions.save(rule(enabled=True), saved)
    seen.add(current(definitions.store, "rules"))
    definitions.delete(saved)
    seen.add(current(definitions.store, "rules"))
    assert len(seen) == 4


@pytest.mark.parametrize("fields, message", [
    ({"criteria": {"trigger.a": {"type": "almost", "pattern": 1}}},
     "For field: trigger.a, operator almost not in list of allowed operators"),
    ({"criteria": {"trigger.a": {"type": "regex", "pattern": "(unclosed"}}},
     "For field: trigger.a, invalid regex '(unclosed' for operator regex"),
    ({"criteria": {"trigger.a": {"type": "equals"}}}, "For field: trigger.a, no pattern specified for operator equals"),
    ({"trigger": {"type": "demo.nothing"}}, "Trigger type \"demo.nothing\" defined in the rule does not exist"),
    ({"action": {"ref": "demo.nothing"}}, "Action \"demo.nothing\" defined in the rule does not exist"),
    ({"action": {"ref": "demo.hello", "params": {}}}, "Additional properties are not allowed ('params' was"),
    ({"type": {"ref": "sometimes"}}, "'sometimes' is not one of ['standard', 'backstop']"),
    ({"trigger": {"type": "core.st2.IntervalTimer", "parameters": {"unit": "fortnights", "delta": 1}}},
     "'fortnights' is not one of"),
    ({"trigger": {"type": "core.st2.IntervalTimer", "parameters": {"unit": "days"}}}, "'delta' is a required property"),
    ({"trigger": {"type": "core.st2.webhook", "parameters": {"url": "x", "port": 1}}}, "Additional properties"),
    ({"trigger": {"type": "core.st2.CronTimer"}}, 'Trigger type "core.st2.CronTimer" takes parameters'),
    ({"trigger": {"type": "core.st2.CronTimer", "parameters": {"hour": "25"}}}, 'hour "25": 25 is higher'),
    ({"trigger": {"type": "core.st2.key_value_pair.create", "parameters": {"a": 1}}}, "takes no parameters"),
    ({"trigger": {"type": "demo.polled", "parameters": {"url": 5}}}, '"demo.polled": 5 is not of type'),
    ({"name": "../up"}, "not a valid name"),
    ({"trigger": "core.st2.webhook"}, "is not of type 'object' (field 'trigger')"),
])
def test_invalid_rules_are_refused_naming_the_problem_and_store_nothing(definitions, fields, message):
    before = definitions.triggers.count()
    with pytest.raises(ValidationError) as caught:
        definitions.save(rule(**fields))
    assert message in str(caught.value)
    assert definitions.rules.count() == 0 and definitions.triggers.count() == before


def test_pack_trigger_parameters_are_validated_only_when_configured(store, tmp_path):
    _pack(tmp_path / "packs", "demo", {})
    loose = _registrar(store, tmp_path, validate=False)
    loose.register()
    saved = loose.rule_definitions.save(rule(trigger={"type": "demo.polled", "parameters": {"uri": "x"}}))
    assert saved["trigger"]["parameters"] == {"uri": "x"}
    with pytest.raises(ValidationError, match="'delta' is a required property"):  # system types: always
        loose.rule_definitions.save(rule("r2", trigger={**TIMER, "parameters": {"unit": "days"}}))


def test_a_duplicate_ref_is_a_conflict_that_leaves_no_trigger_behind(definitions):
    definitions.save(rule())
    with pytest.raises(Conflict):
        definitions.save(rule(trigger={**TIMER, "parameters": {"unit": "days", "delta": 2}}))
    assert len(triggers_of(definitions, "core.st2.IntervalTimer")) == 1


@pytest.mark.parametrize("parameters", [
    {}, {"second": "*/10"}, {"minute": 5, "hour": "9-17", "day_of_week": "mon-fri"}, {"day": "last"},
    {"day": "1st mon, last fri"}, {"month": "jan-mar,dec", "year": 2030}, {"minute": "0-59/15"},
    {"day_of_week": "mon-fri/2"},  # APScheduler matches a name range at the start and ignores the rest
    {"timezone": "Europe/Paris", "hour": 3}, {"hour": " 1 , 2 "}, {"week": "*/2"}, {"timezone": ""},
])
def test_cron_fields_apscheduler_accepts(parameters):
    check_cron(parameters)


@pytest.mark.parametrize("parameters, message", [
    ({"minute": "60"}, 'minute "60": 60 is higher than the maximum (59)'),
    ({"second": "*/0"}, "the step must be higher than 0"),
    ({"minute": "*/60"}, "the step (60) is larger than the range it steps through (59)"),
    ({"hour": "5-2"}, "the range starts after it ends (5 > 2)"),
    ({"hour": "20/5"}, "the step (5) is larger than the range it steps through (3)"),
    ({"year": "1969"}, "1969 is lower than the minimum (1970)"),
    ({"day_of_week": "funday"}, '"funday" is not one of mon, tue'),
    ({"month": "jan-smarch"}, '"smarch" is not one of jan, feb'),
    ({"day": "2nd xyz"}, '"xyz" is not one of mon'),
    ({"hour": "9,"}, 'hour "" is not a cron expression this field accepts'),
    ({"minute": "1-2-3"}, 'minute "1-2-3" is not a cron expression'),
    ({"timezone": "Mars/Olympus_Mons"}, 'timezone "Mars/Olympus_Mons" is not a known time zone'),
    ({"timezone": "/etc/passwd"}, "is not a known time zone"),
])
def test_cron_fields_apscheduler_refuses(parameters, message):
    with pytest.raises(ValueError) as caught:
        check_cron(parameters)
    assert message in str(caught.value)


def test_pack_rules_register_after_every_packs_actions_keeping_ids(store, tmp_path):
    packs = tmp_path / "packs"
    # "alpha" is registered before "beta", whose action its rule runs
    _pack(packs, "alpha", {"on_poll.yaml": "name: on_poll\nenabled: true\ntrigger:\n  type: beta.polled\n"
                                           "  parameters: {url: /x}\naction: {ref: beta.hello}\n"})
    _pack(packs, "beta", {"plain.yml": "name: plain\npack: beta\ntrigger: {type: core.st2.generic.actiontrigger}\n"
                                       "action: {ref: beta.hello}\n"})
    registrar = _registrar(store, tmp_path)
    assert registrar.register() == {"runners": 0, "packs": 2, "actions": 2, "triggers": 2, "sensors": 0, "rules": 2,
                                   "configs": 0}
    rules = registrar.rule_definitions.rules
    on_poll = rules.find_one({"ref": "alpha.on_poll"})
    assert on_poll["enabled"] is True and on_poll["metadata_file"] == "rules/on_poll.yaml"
    assert on_poll["context"] == {}
    assert rules.find_one({"ref": "beta.plain"})["enabled"] is False  # the file does not say: StackStorm's default

    registrar.rule_definitions.save({**on_poll, "enabled": False}, on_poll)  # `st2 rule disable`
    assert registrar.register(["alpha"], types=("rules",)) == {"packs": 1, "rules": 1}
    again = rules.find_one({"ref": "alpha.on_poll"})
    assert again["id"] == on_poll["id"] and again["enabled"] is True  # as StackStorm: the file decides
    assert again["trigger"]["ref"] == on_poll["trigger"]["ref"]
    assert len(registrar.triggers.find({"type": "beta.polled"})) == 1


@pytest.mark.parametrize("text, message", [
    ("name: r\npack: other\ntrigger: {type: core.st2.generic.actiontrigger}\naction: {ref: demo.hello}\n",
     'the file is in pack "demo" but names pack \'other\''),
    ("name: r\ntrigger: {type: core.st2.generic.actiontrigger}\naction: {ref: demo.nothing}\n",
     'Action "demo.nothing" defined in the rule does not exist'),
    ("name: r\ntrigger: {type: core.st2.generic.actiontrigger}\naction: {ref: demo.hello}\n"
     "criteria: {trigger.status: {type: is, pattern: x}}\n", "operator is not in list of allowed operators"),
])
def test_a_bad_rule_file_is_named_or_skipped(store, tmp_path, text, message):
    _pack(tmp_path / "packs", "demo", {"bad.yaml": text})
    registrar = _registrar(store, tmp_path)
    with pytest.raises(ContentError) as caught:
        registrar.register()
    assert "rules/bad.yaml" in str(caught.value) and message in str(caught.value)
    assert registrar.register(fail_on_failure=False)["rules"] == 0
    assert registrar.rule_definitions.rules.count() == 0
