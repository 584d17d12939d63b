"""Criteria evaluation: payload lookups, pattern rendering, search, and the failure texts StackStorm records."""

from __future__ import annotations

import jinja2
import jinja2.sandbox
import pytest

from appliance.expressions.filters import FILTERS
from appliance.rules.criteria import Verdict, evaluate

# Rendered as StackStorm renders criteria patterns: sandboxed, strict, its filters, st2kv.system.
ENV = jinja2.sandbox.SandboxedEnvironment(undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
ENV.filters.update(FILTERS)
DATASTORE = {"system": {"level": "error", "yyy": "YYY", "hosts": '["v1", "v2"]', "limit": "2"}}


def render(template, context):
    return ENV.from_string(template).render({**context, "st2kv": DATASTORE})


PAYLOAD = {
    "p1": "v1",
    "p2": "preYYYpost",
    "bool": True,
    "int": 1,
    "float": 0.8,
    "list": ["v1", True, 1],
    "recursive_list": [
        {"field_name": "Status", "to_value": "Approved"},
        {"field_name": "Signed off by", "to_value": "Stanley"},
    ],
    "body": {
        "level": "error",
        "hosts": [{"name": "n1", "up": True}, {"name": "n2", "up": False}],
        "meta": {"count": "3", "a-b": 5, "none": None},
    },
}

LIST_WITH_COMMAS = """
    [
        {% for item in trigger.list %}
        {{item}}{% if not loop.last %},{% endif %}
        {% endfor %}
    ]
"""
LIST_WITHOUT_COMMAS = """
    [
        {% for item in trigger.list %}
        {{item}}
        {% endfor %}
    ]
"""


def one(key, type_, pattern=None, **extra):
    return {key: {"type": type_, "pattern": pattern, **extra}}


def search_rule(condition, children):
    return one("trigger.recursive_list", "search", children, condition=condition)


MATCHES = [
    ({}, True),
    (one("trigger.p1", "equals", "v1"), True),
    (one("trigger.p1", "equals", "v"), False),
    (one("trigger.p1", "matchregex", "v1$"), True),
    (one("trigger.p1", "matchregex", "v$"), False),
    # patterns rendered with | to_complex and JSON-decoded keep their type
    (one("trigger.p1", "equals", "{{trigger.p1}}"), True),
    (one("trigger.p1", "equals", "{{trigger.p2}}"), False),
    (one("trigger.p1", "equals", "{{'%s' % trigger.p1 if trigger.int}}"), True),
    (one("trigger.list", "equals", LIST_WITH_COMMAS), True),
    (one("trigger.list", "equals", LIST_WITHOUT_COMMAS), False),  # not JSON: compared as text
    (one("trigger.list", "equals", "{{ trigger.list }}"), True),
    (one("trigger.list", "equals", "[\"v1\", true, 1]"), False),  # no expression: a plain string
    (one("trigger.bool", "equals", True), True),
    (one("trigger.bool", "equals", "{{trigger.bool}}"), True),
    (one("trigger.bool", "equals", "{{ trigger.bool }}"), True),
    (one("trigger.bool", "equals", "true"), False),
    (one("trigger.int", "equals", 1), True),
    (one("trigger.int", "equals", "{{trigger.int}}"), True),
    (one("trigger.int", "equals", "1"), False),  # no coercion
    (one("trigger.int", "equals", "{{ 1 }}"), True),
    (one("trigger.float", "equals", 0.8), True),
    (one("trigger.float", "equals", "{{trigger.float}}"), True),
    (one("trigger.body.meta.count", "gt", "{{ st2kv.system.limit }}"), True),  # "3" > "2" as text
    (one("trigger.int", "gt", "{{ st2kv.system.limit | int }}"), False),  # 1 > 2
    (one("trigger.body.level", "equals", "{{ st2kv.system.level }}"), True),
    (one("trigger.p2", "equals", "pre{{ st2kv.system.yyy }}post"), True),
    (one("trigger.p2", "equals", "{{ st2kv.system.yyy }}"), False),
    (one("trigger.p1", "inside", "{{ st2kv.system.hosts | from_json_string }}"), True),
    (one("trigger.p1", "equals", "{{ trigger.p1 }}{{ '' }}"), True),  # two expressions: plain text
    # exists / nexists, falsy patterns
    (one("trigger.float", "exists", "x"), True),
    (one("trigger.floattt", "exists", "x"), False),
    (one("trigger.float", "nexists", "x"), False),
    (one("trigger.floattt", "nexists", "x"), True),
    (one("trigger.body.meta.none", "exists", "x"), False),  # a null field is missing
    (one("trigger.int", "gt", 0), True),
    (one("trigger.int", "lt", 0), False),
    # "#..." is dropped from keys, so one field can be tested twice
    ({"trigger.int": {"type": "gt", "pattern": 0}, "trigger.int#2": {"type": "lt", "pattern": 2}}, True),
    ({"trigger.int": {"type": "gt", "pattern": 2}, "trigger.int#2": {"type": "lt", "pattern": 3}}, False),
    (one("trigger.int#1", "lt", 2), True),
    (one("trigger.int#a#b", "equals", 1), True),
    # nested keys are jsonpath: fields, indexes, wildcards (first match), quoted names
    (one("trigger.body.level", "equals", "error"), True),
    (one("trigger.body.meta.a-b", "equals", 5), True),
    (one("trigger.body.meta.'a-b'", "equals", 5), True),
    (one("trigger.body.hosts[1].name", "equals", "n2"), True),
    (one("trigger.body.hosts[-1].up", "equals", False), True),
    (one("trigger.body.hosts[*].name", "equals", "n1"), True),
    (one("trigger.body.hosts[*].name", "equals", "n2"), False),
    (one("trigger.body.hosts[5].name", "exists", "x"), False),
    (one("trigger.list", "contains", "v1"), True),
    (one("trigger.list", "contains", "v2"), False),
    (one("trigger.p1.deeper", "nexists", "x"), True),
    # search, over "item"
    (search_rule("any", {"item.field_name": {"type": "equals", "pattern": "Status"},
                         "item.to_value": {"type": "equals", "pattern": "Approved"}}), True),
    (search_rule("any", {"item.field_name": {"type": "equals", "pattern": "Status"},
                         "item.to_value": {"type": "equals", "pattern": "Denied"}}), False),
    (search_rule("all", {"item.field_name": {"type": "startswith", "pattern": "S"}}), True),
    (search_rule("all", {"item.field_name": {"type": "equals", "pattern": "Status"},
                         "item.to_value": {"type": "equals", "pattern": "Denied"}}), False),
    (search_rule("all2any", {"item.to_value": {"type": "equals", "pattern": "Approved"},
                             "item.field_name#1": {"type": "contains", "pattern": "off"}}), True),
    (search_rule("all2any", {"item.to_value": {"type": "equals", "pattern": "Approved"}}), False),
    (search_rule("any2any", {"item.to_value": {"type": "equals", "pattern": "Stanley"},
                             "item.field_name": {"type": "equals", "pattern": "Nobody"}}), True),
    (search_rule("any2any", {"item.to_value": {"type": "equals", "pattern": "Nobody"}}), False),
    (search_rule("any", {"item.to_value": {"type": "equals",
                                           "pattern": "{{ item.field_name | replace('Status', 'Approved') }}"}}), True),
    (search_rule("any", {"item.field_name": {"type": "exists"}}), True),  # a child needs no pattern
    (search_rule("any2any", {"item.field_name": {"pattern": "Status"}}), False),  # nor a type (false)
    (one("trigger.body", "search", {"item.level": {"type": "equals", "pattern": "error"}}, condition="all"), True),
]  # fmt: skip


@pytest.mark.parametrize(("criteria", "matched"), MATCHES)
def test_matches(criteria, matched):
    verdict = evaluate(criteria, PAYLOAD, render, "pack.rule")
    assert verdict.matched is matched
    assert verdict.errors == ()


def test_an_empty_payload_matches_only_empty_criteria():
    assert evaluate({}, None, render) == Verdict(True)
    assert evaluate(None, {}, render) == Verdict(True)
    verdict = evaluate(one("trigger.p", "nexists", "x"), {}, render)
    assert verdict == Verdict(False, reason="the trigger instance has no payload")


def test_the_first_failing_criterion_is_named_and_ends_evaluation():
    criteria = {
        "trigger.p1": {"type": "equals", "pattern": "v1"},
        "trigger.int": {"type": "gt", "pattern": 5},
        "trigger.p2": {"type": "equals", "pattern": "{{ trigger.undefined }}"},  # never rendered
    }
    verdict = evaluate(criteria, PAYLOAD, render, "pack.rule")
    assert verdict == Verdict(False, "trigger.int", "gt 5 does not hold for value 1")


def test_a_criterion_without_type_does_not_match():
    """StackStorm has no default operator: the API rejects it, the matcher treats it as false."""
    verdict = evaluate({"trigger.p1": {"pattern": "v1"}}, PAYLOAD, render)
    assert verdict == Verdict(False, "trigger.p1", "no operator type")


def test_every_string_pattern_goes_through_the_renderer():
    """Even without an expression; one with {{ }} is tried first as `| to_complex` JSON."""
    seen = []

    def recording(template, context):
        seen.append((template, sorted(context)))
        return render(template, context)

    criteria = {
        "trigger.p1": {"type": "equals", "pattern": "v1"},
        "trigger.p2": {"type": "equals", "pattern": "pre{{ st2kv.system.yyy }}post"},
        "trigger.int": {"type": "equals", "pattern": 1},
    }
    assert evaluate(criteria, PAYLOAD, recording).matched
    assert seen == [
        ("v1", ["trigger"]),
        ("pre{{st2kv.system.yyy  | to_complex}}post", ["trigger"]),  # 'pre"YYY"post' is not JSON,
        ("pre{{ st2kv.system.yyy }}post", ["trigger"]),  # so it is rendered again as text
    ]


def test_search_children_render_over_item_only():
    seen = []

    def recording(template, context):
        seen.append(sorted(context))
        return render(template, context)

    criteria = search_rule("any", {"item.to_value": {"type": "equals", "pattern": "Stanley"}})
    assert evaluate(criteria, PAYLOAD, recording).matched
    assert seen == [["item"], ["item"]]


RULE = "pack.rule"
PREFIX = "There might be a problem with the criteria in rule pack.rule: "

ERRORS = [
    # (criteria, the texts StackStorm records as failed enforcements)
    (  # the undefined value reaches | to_complex first, as in StackStorm
        one("trigger.p1", "equals", "{{ trigger.nope }}"),
        ["Failed to render pattern value \"{{ trigger.nope }}\" for key \"trigger.p1\": "
         "Object of type StrictUndefined is not JSON serializable"],
    ),
    (
        one("trigger.p1", "equals", "x{% if trigger.nope %}{% endif %}"),
        ["Failed to render pattern value \"x{% if trigger.nope %}{% endif %}\" for key \"trigger.p1\": "
         "'dict object' has no attribute 'nope'"],
    ),
    (
        one("trigger.p1", "equals", "{{ trigger.p1 "),
        ["Failed to render pattern value \"{{ trigger.p1 \" for key \"trigger.p1\": unexpected end of template, "
         "expected 'end of print statement'."],
    ),
    (
        one("trigger.list.0", "equals", "v1"),
        ["Failed transforming criteria key trigger.list.0: Parse error at 1:13 near token 0 (NUMBER)"],
    ),
    (one("trigger.p1", "lt", 5), [PREFIX + "'<' not supported between instances of 'str' and 'int'"]),
    (one("trigger.missing", "contains", "x"), [PREFIX + "argument of type 'NoneType' is not iterable"]),
    (one("trigger.p1", "regex", "("), [PREFIX + "missing ), unterminated subpattern at position 0"]),
    (one("trigger.p1", "timediff_lt", 10), [PREFIX + "Unknown string format: v1"]),
    (one("trigger.p1", "weird", "x"), [PREFIX + "Invalid operator: weird"]),
    (
        search_rule("some", {}),
        [PREFIX + "The 'some' condition is not recognized for type search, 'any', 'all', 'any2any' and "
         "'all2any' are allowed"],
    ),
    (one("trigger.missing", "search", {}, condition="any"), [PREFIX + "'NoneType' object is not iterable"]),
]  # fmt: skip


@pytest.mark.parametrize(("criteria", "errors"), ERRORS)
def test_errors_are_recorded_and_do_not_match(criteria, errors):
    verdict = evaluate(criteria, PAYLOAD, render, RULE)
    assert verdict == Verdict(False, next(iter(criteria)), errors[-1], tuple(errors))


def test_search_children_errors_are_recorded_for_every_item():
    criteria = search_rule("all", {"item.to_value": {"type": "equals", "pattern": "{{ trigger.p1 }}"}})
    verdict = evaluate(criteria, PAYLOAD, render, RULE)
    error = "Failed to render pattern value \"{{ trigger.p1 }}\" for key \"item.to_value\": 'trigger' is undefined"
    assert not verdict.matched
    assert verdict.key == "trigger.recursive_list"
    assert verdict.errors == (error, error)


def test_a_failing_search_child_is_recorded_even_when_the_rule_matches():
    payload = {"items": [{"n": 1}, {"n": "x"}]}
    criteria = one("trigger.items", "search", {"item.n": {"type": "lt", "pattern": 5}}, condition="any")
    verdict = evaluate(criteria, payload, render, RULE)
    assert verdict == Verdict(True, errors=(PREFIX + "'<' not supported between instances of 'str' and 'int'",))
