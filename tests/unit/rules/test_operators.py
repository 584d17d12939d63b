"""Criteria operators: StackStorm 3.9's names, results, corner cases and create-time checks."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from appliance.rules import operators
from appliance.rules.operators import OPERATORS, check, search

# StackStorm 3.9's table, in its order (the "not in list of allowed operators" message shows it).
ST2_NAMES = [
    "matchwildcard", "matchregex", "regex", "iregex", "eq", "equals", "neq", "nequals", "ieq", "iequals",
    "contains", "icontains", "ncontains", "incontains", "startswith", "istartswith", "endswith", "iendswith",
    "lt", "lessthan", "gt", "greaterthan", "td_lt", "timediff_lt", "td_gt", "timediff_gt", "exists", "nexists",
    "inside", "in", "ninside", "nin", "search",
]  # fmt: skip

ALIASES = [
    ("eq", "equals"), ("neq", "nequals"), ("ieq", "iequals"), ("lt", "lessthan"), ("gt", "greaterthan"),
    ("td_lt", "timediff_lt"), ("td_gt", "timediff_gt"), ("in", "inside"), ("nin", "ninside"),
]  # fmt: skip

MULTILINE = "ponies\n  moar\n  foo\n  bar\n  yeah!\n"

CASES = [
    # equals: no coercion between types, bytes are text, None pattern never matches
    ("equals", 1, 1, True),
    ("equals", "1", "1", True),
    ("equals", "", "", True),
    ("equals", b"1", "1", True),
    ("equals", "1", b"1", True),
    ("equals", "1", 1, False),
    ("equals", 1, 1.0, True),
    ("equals", True, 1, True),
    ("equals", "True", True, False),
    ("equals", [1, 2], [1, 2], True),
    ("equals", {"a": 1}, {"a": 1}, True),
    ("equals", "1", "2", False),
    ("equals", "1", None, False),
    ("equals", None, None, False),
    ("equals", None, "x", False),
    ("eq", "v1", "v1", True),
    # nequals: a None pattern is not special
    ("nequals", "foo", "bar", True),
    ("nequals", "foo", "FOO", True),
    ("nequals", "True", True, True),
    ("nequals", "None", None, True),
    ("nequals", "True", "True", False),
    ("nequals", None, None, False),
    ("nequals", b"x", "x", False),
    ("neq", 1, "1", True),
    # iequals
    ("iequals", "ABC", "abc", True),
    ("iequals", "AbC", "aBc", True),
    ("iequals", b"AbC", "aBc", True),
    ("iequals", "AbC", b"aBc", True),
    ("iequals", "ABC", "BCA", False),
    ("iequals", "1", None, False),
    ("ieq", "X", "x", True),
    # contains: substring of a string, member of a list, key of a dict
    ("contains", "hasystack needle haystack", "needle", True),
    ("contains", "needle", "needle", True),
    ("contains", b"haystack needle", "needle", True),
    ("contains", "haystack needle", b"needle", True),
    ("contains", "needla", "needle", False),
    ("contains", ["a", "b"], "a", True),
    ("contains", ["ab", "c"], "a", False),
    ("contains", [1, 2], 1, True),
    ("contains", {"key": 1}, "key", True),
    ("contains", "1", None, False),
    ("icontains", "hasystack nEEdle haystack", "needle", True),
    ("icontains", "haystack needle", b"NEEDLE", True),
    ("icontains", "needla", "needle", False),
    ("icontains", "1", None, False),
    ("ncontains", "hasystack needle haystack", "foo", True),
    ("ncontains", "haystack needle", "needle", False),
    ("ncontains", ["a"], "b", True),
    ("ncontains", "1", None, False),
    ("incontains", "needle", "FOO", True),
    ("incontains", "hasystack needle haystack", "nEeDle", False),
    ("incontains", "1", None, False),
    # startswith / endswith
    ("startswith", "hasystack needle", "hasystack", True),
    ("startswith", "a hasystack", "a ", True),
    ("startswith", b"haystack needle", "haystack", True),
    ("startswith", "a hasystack needle", "haystack", False),
    ("startswith", "1", None, False),
    ("istartswith", "HAYSTACK needle", "haystack", True),
    ("istartswith", "haystack needle", "NEEDLE", False),
    ("istartswith", "1", None, False),
    ("endswith", "needle haystackend", "haystackend", True),
    ("endswith", b"haystack b", b"b", True),
    ("endswith", "needle haystackend", "haystack", False),
    ("endswith", "1", None, False),
    ("iendswith", "needle haystackEND", "HAYstackend", True),
    ("iendswith", "a hasystack", "a ", False),
    ("iendswith", "1", None, False),
    # lessthan / greaterthan: Python's ordering, a falsy 0 pattern is still a pattern
    ("lessthan", 1, 2, True),
    ("lessthan", 1, 1, False),
    ("lessthan", "a", "b", True),
    ("lessthan", "aba", "bcb", True),
    ("lessthan", 1.5, 2, True),
    ("lessthan", "1", None, False),
    ("lt", 1, 0, False),
    ("greaterthan", 2, 1, True),
    ("greaterthan", 2, 3, False),
    ("greaterthan", "1", None, False),
    ("gt", 1, 0, True),
    # matchwildcard: shell glob over the whole value, case-sensitive on POSIX
    ("matchwildcard", "v1", "v1", True),
    ("matchwildcard", "test foo test", "foo", False),
    ("matchwildcard", "test foo test", "*foo*", True),
    ("matchwildcard", "bar", "b*r", True),
    ("matchwildcard", "bar", "b?r", True),
    ("matchwildcard", b"bar", b"b?r", True),
    ("matchwildcard", "bar", "b[a-c]r", True),
    ("matchwildcard", "Bar", "bar", False),
    ("matchwildcard", "1", None, False),
    # matchregex: re.match (anchored at the start only) with DOTALL
    ("matchregex", "v1", "v1$", True),
    ("matchregex", "v1_foo", "v1$", False),
    ("matchregex", "xv1", "v1", False),
    ("matchregex", "v1 and more", "v1", True),
    ("matchregex", MULTILINE, ".*bar.*", True),
    ("matchregex", "foo\r\nponies\nbar\nfooooo", ".*ponies.*", True),
    ("matchregex", b"foo ponies bar", b".*ponies.*", True),
    ("matchregex", "V1", "v1", False),
    ("matchregex", "1", None, False),
    # regex: re.search anywhere, no DOTALL; iregex: ignoring case
    ("regex", "v1", "v1$", True),
    ("regex", "fooponiesbarfooooo", "ponies", True),
    ("regex", "apple unicorns oranges", "(ponies|unicorns)", True),
    ("regex", b"apples unicorns oranges", "(ponies|unicorns)", True),
    ("regex", "apple unicorns oranges", "(pikachu|snorlax)", False),
    ("regex", "v1_foo", "v1$", False),
    ("regex", "fooPONIESbar", "ponies", False),
    ("regex", "a\nb", "a.b", False),
    ("regex", "1", None, False),
    ("iregex", "V1", "v1$", True),
    ("iregex", "fooPONIESbarfooooo", "ponies", True),
    ("iregex", b"fooPONIES", b"ponies", True),
    ("iregex", "V1_foo", "v1$", False),
    ("iregex", "1", None, False),
    # exists / nexists: only None is missing, the pattern is ignored
    ("exists", False, None, True),
    ("exists", 0, None, True),
    ("exists", "", None, True),
    ("exists", "foo", "ignored", True),
    ("exists", None, "anything", False),
    ("nexists", False, None, False),
    ("nexists", 1, None, False),
    ("nexists", None, None, True),
    ("nexists", None, "anything", True),
    # inside / ninside: the value in the pattern
    ("inside", "a", "abc", True),
    ("inside", b"a", "abc", True),
    ("inside", "a", b"abc", True),
    ("inside", "a", "bcd", False),
    ("inside", "a", ["a", "b"], True),
    ("inside", 2, [1, 2], True),
    ("inside", "x", {"x": 1}, True),
    ("inside", "a", None, False),
    ("in", "b", ["a"], False),
    ("ninside", "a", "bcd", True),
    ("ninside", "a", "abc", False),
    ("ninside", 3, [1, 2], True),
    ("ninside", "a", None, False),
    ("nin", "a", ["a"], False),
]


@pytest.mark.parametrize(("name", "value", "pattern", "expected"), CASES)
def test_operator(name, value, pattern, expected):
    assert OPERATORS[name](value, pattern) is expected


RAISES = [
    # Python's own errors escape: the criteria evaluator records them as a failed enforcement
    ("lessthan", "a", 1, TypeError),
    ("greaterthan", None, 1, TypeError),
    ("greaterthan", [1], 1, TypeError),
    ("contains", None, "x", TypeError),
    ("contains", 12, "1", TypeError),
    ("contains", "abc", 1, TypeError),
    ("icontains", ["A"], "a", AttributeError),
    ("iequals", 1, "1", AttributeError),
    ("startswith", 12, "1", AttributeError),
    ("startswith", None, "x", AttributeError),
    ("matchwildcard", 12, "1*", TypeError),
    ("regex", 12, "1", TypeError),
    ("regex", None, "x", TypeError),
    ("matchregex", "x", "(", Exception),
    ("regex", "x", "[", Exception),
    ("inside", "a", 5, TypeError),
    ("ninside", None, "abc", TypeError),
]


@pytest.mark.parametrize(("name", "value", "pattern", "error"), RAISES)
def test_operator_errors_escape(name, value, pattern, error):
    with pytest.raises(error):
        OPERATORS[name](value, pattern)


def test_the_table_is_stackstorms():
    assert list(OPERATORS) == ST2_NAMES


@pytest.mark.parametrize(("short", "long"), ALIASES)
def test_aliases_are_the_same_operator(short, long):
    assert OPERATORS[short] is OPERATORS[long]


@pytest.mark.parametrize("name", ["equals", "EQUALS", "Equals", "MATCHregex"])
def test_get_ignores_case(name):
    assert operators.get(name) is OPERATORS[name.lower()]


def test_get_unknown_operator():
    with pytest.raises(ValueError, match=r"^Invalid operator: weird$"):
        operators.get("Weird")


def _ago(seconds: float, tz=timezone.utc) -> datetime:
    return datetime.now(timezone.utc).astimezone(tz) - timedelta(seconds=seconds)


def _iso(seconds: float, tz=timezone.utc) -> str:
    return _ago(seconds, tz).isoformat()


# (operator, a function giving the timestamp when the test runs, seconds pattern, expected)
TIMEDIFF = [
    ("timediff_lt", lambda: _iso(0), 10, True),
    ("timediff_lt", lambda: _iso(0), "10", True),
    ("timediff_lt", lambda: _ago(0).replace(tzinfo=None).isoformat(), 10, True),  # naive means UTC
    ("timediff_lt", lambda: _iso(0, timezone(timedelta(hours=5))), 10, True),
    ("timediff_lt", lambda: _iso(60), 10, False),
    ("timediff_lt", lambda: "2014-07-01T00:01:01.000000", 10, False),
    ("timediff_lt", lambda: "2014-07-01T00:01:01.000000", None, False),
    ("timediff_lt", lambda: _ago(0).strftime("%Y-%m-%d %H:%M:%S"), 10, True),
    ("timediff_lt", lambda: _ago(0), 10, True),  # a datetime is read from its str()
    ("td_lt", lambda: _iso(30), 60.5, True),
    ("timediff_gt", lambda: "2014-07-01T00:01:01.000000", 1, True),
    ("timediff_gt", lambda: "2014-07-01T00:01:01.000000", "1", True),
    ("timediff_gt", lambda: "2014-07-01T00:01:01Z", "1", True),
    ("timediff_gt", lambda: _iso(0), 10, False),
    ("timediff_gt", lambda: _iso(0), "10", False),
    ("timediff_gt", lambda: "2014-07-01T00:01:01.000000", None, False),
    ("td_gt", lambda: _iso(3600), 60, True),
    ("td_gt", lambda: _iso(-3600), 0, False),  # in the future
]


@pytest.mark.parametrize(("name", "value", "pattern", "expected"), TIMEDIFF)
def test_timediff(name, value, pattern, expected):
    assert OPERATORS[name](value(), pattern) is expected


@pytest.mark.parametrize(
    ("value", "pattern", "error"),
    [
        ("not a date", 10, ValueError),
        (None, 10, ValueError),  # "None" is not a date
        (_ago(0).isoformat(), "ten", ValueError),
        (_ago(0).isoformat(), [10], TypeError),
    ],
)
def test_timediff_errors(value, pattern, error):
    with pytest.raises(error):
        OPERATORS["timediff_lt"](value, pattern)


# search: the check function stands for the child criteria; here a child holds when the item's
# "level" satisfies the child's operator and pattern.
def _level_check(key, spec, item):
    return OPERATORS[spec["type"]](item["level"], spec["pattern"])


BETWEEN_40_AND_50 = {"item.level#1": {"type": "gt", "pattern": 40}, "item.level#2": {"type": "lt", "pattern": 50}}
BELOW_10_OR_ABOVE_90 = {"item.level#1": {"type": "lt", "pattern": 10}, "item.level#2": {"type": "gt", "pattern": 90}}

SEARCH = [
    # (items' levels, child criteria, condition, expected)
    ([45, 30], BETWEEN_40_AND_50, "any", True),  # some item matches every child
    ([30, 60], BETWEEN_40_AND_50, "any", False),
    ([45, 46], BETWEEN_40_AND_50, "all", True),  # every item matches every child
    ([45, 30], BETWEEN_40_AND_50, "all", False),
    ([5, 95], BELOW_10_OR_ABOVE_90, "all2any", True),  # every item matches some child
    ([5, 50], BELOW_10_OR_ABOVE_90, "all2any", False),
    ([50, 95], BELOW_10_OR_ABOVE_90, "any2any", True),  # some item matches some child
    ([50, 60], BELOW_10_OR_ABOVE_90, "any2any", False),
    ([5, 95], BELOW_10_OR_ABOVE_90, "all", False),
    ([], BETWEEN_40_AND_50, "any", False),
    ([], BETWEEN_40_AND_50, "any2any", False),
    ([], BETWEEN_40_AND_50, "all", True),  # vacuously
    ([], BETWEEN_40_AND_50, "all2any", True),
    ([45], {}, "all", True),  # no child criteria: all([]) per item
    ([45], {}, "any2any", False),
]


@pytest.mark.parametrize(("levels", "children", "condition", "expected"), SEARCH)
def test_search(levels, children, condition, expected):
    items = [{"level": level} for level in levels]
    assert search(items, children, condition, _level_check) is expected


def test_search_wraps_a_dict_into_one_item():
    assert search({"level": 45}, BETWEEN_40_AND_50, "all", _level_check) is True
    assert search({"level": 30}, BETWEEN_40_AND_50, "all", _level_check) is False


def test_search_checks_every_child_of_every_item():
    """No short cut: StackStorm evaluates them all, so every child error gets recorded."""
    calls = []

    def record(key, spec, item):
        calls.append((key, item["name"]))
        return True

    items = [{"name": "Status"}, {"name": "Assigned"}]
    children = {"item.name": {"type": "equals", "pattern": "x"}, "item.value": {"type": "equals", "pattern": "y"}}
    assert search(items, children, "any2any", record) is True
    assert calls == [("item.name", "Status"), ("item.value", "Status"), ("item.name", "Assigned"),
                     ("item.value", "Assigned")]  # fmt: skip


def test_search_over_a_string_iterates_its_characters():
    seen = []
    search("ab", {"item.x": {}}, "all", lambda key, spec, item: seen.append(item) or True)
    assert seen == ["a", "b"]


@pytest.mark.parametrize("condition", ["weird", None, "ANY", ["any"]])
def test_search_unknown_condition(condition):
    message = (
        f"The '{condition}' condition is not recognized for type search, "
        "'any', 'all', 'any2any' and 'all2any' are allowed"
    )
    with pytest.raises(ValueError) as caught:
        search([], {}, condition, _level_check)
    assert str(caught.value) == message


def test_search_needs_a_list():
    with pytest.raises(TypeError):
        search(None, BETWEEN_40_AND_50, "any", _level_check)


# check(): what the API answers 400 with when a rule is created.
ALLOWED = str(ST2_NAMES)

CHECK_ERRORS = [
    ([], "Criteria should be a dict."),
    ("trigger.a", "Criteria should be a dict."),
    ({"trigger.a": "equals"}, "For field: trigger.a, criteria should be a dict."),
    ({"trigger.a": {"pattern": "x"}}, "Operator not specified for field: trigger.a"),
    ({"trigger.a": {"type": None, "pattern": "x"}}, "Operator not specified for field: trigger.a"),
    (
        {"trigger.a": {"type": "weird", "pattern": "x"}},
        f"For field: trigger.a, operator weird not in list of allowed operators: {ALLOWED}",
    ),
    (  # case-sensitive at create time, as StackStorm's validator
        {"trigger.a": {"type": "Equals", "pattern": "x"}},
        f"For field: trigger.a, operator Equals not in list of allowed operators: {ALLOWED}",
    ),
    (
        {"trigger.a": {"type": 5, "pattern": "x"}},
        f"For field: trigger.a, operator 5 not in list of allowed operators: {ALLOWED}",
    ),
    ({"trigger.a": {"type": "equals"}}, "For field: trigger.a, no pattern specified for operator equals"),
    ({"trigger.a": {"type": "exists"}}, "For field: trigger.a, no pattern specified for operator exists"),
    (
        {"trigger.a": {"type": "equals", "pattern": None}},
        "For field: trigger.a, no pattern specified for operator equals",
    ),
    (
        {"trigger.ok": {"type": "exists", "pattern": "x"}, "trigger.b": {"type": "search", "condition": "any"}},
        "For field: trigger.b, no pattern specified for operator search",
    ),
    (
        {"trigger.a": {"type": "regex", "pattern": "(unclosed"}},
        "For field: trigger.a, invalid regex '(unclosed' for operator regex: "
        "missing ), unterminated subpattern at position 0",
    ),
    (
        {"trigger.a": {"type": "matchregex", "pattern": "[z-a]"}},
        "For field: trigger.a, invalid regex '[z-a]' for operator matchregex: bad character range z-a at position 1",
    ),
    (
        {"trigger.a": {"type": "iregex", "pattern": "*x"}},
        "For field: trigger.a, invalid regex '*x' for operator iregex: nothing to repeat at position 0",
    ),
    (
        {"trigger.l": {"type": "search", "condition": "some", "pattern": {}}},
        "For field: trigger.l, The 'some' condition is not recognized for type search, "
        "'any', 'all', 'any2any' and 'all2any' are allowed",
    ),
    (
        {"trigger.l": {"type": "search", "pattern": {}}},
        "For field: trigger.l, The 'None' condition is not recognized for type search, "
        "'any', 'all', 'any2any' and 'all2any' are allowed",
    ),
    (
        {"trigger.l": {"type": "search", "condition": "any", "pattern": {"item.x": {"type": "weird"}}}},
        f"For field: item.x, operator weird not in list of allowed operators: {ALLOWED}",
    ),
    (
        {"trigger.l": {"type": "search", "condition": "any", "pattern": {"item.x": {"type": "regex", "pattern": "("}}}},
        "For field: item.x, invalid regex '(' for operator regex: missing ), unterminated subpattern at position 0",
    ),
    (
        {"trigger.l": {"type": "search", "condition": "any", "pattern": {"item.x": "equals"}}},
        "For field: item.x, criteria should be a dict.",
    ),
]


@pytest.mark.parametrize(("criteria", "message"), CHECK_ERRORS)
def test_check_rejects(criteria, message):
    with pytest.raises(ValueError) as caught:
        check(criteria)
    assert str(caught.value) == message


CHECK_OK = [
    {},
    {"trigger.a": {"type": "equals", "pattern": "x"}},
    {"trigger.a": {"type": "equals", "pattern": 0}},
    {"trigger.a": {"type": "equals", "pattern": False}},
    {"trigger.a": {"type": "exists", "pattern": "ignored"}},
    {"trigger.a": {"type": "regex", "pattern": "^v[0-9]+$"}},
    {"trigger.a": {"type": "matchregex", "pattern": 5}},  # not text: fails when matched, as StackStorm
    {"trigger.a": {"type": "regex", "pattern": "{{ st2kv.system.re }}"}},  # rendered when matched
    {"trigger.a": {"type": "regex", "pattern": "{% if 1 %}({% endif %}"}},
    {"trigger.a#1": {"type": "gt", "pattern": 1}, "trigger.a#2": {"type": "lt", "pattern": 9}},
    {
        "trigger.l": {
            "type": "search",
            "condition": "all2any",
            "pattern": {
                "item.a": {"type": "equals", "pattern": "x"},
                "item.b": {"type": "exists"},  # a child needs no pattern
                "item.c": {"pattern": "x"},  # nor a type: StackStorm treats it as false
            },
        }
    },
    {"trigger.l": {"type": "search", "condition": "any", "pattern": "{{ st2kv.system.children }}"}},
]


@pytest.mark.parametrize("criteria", CHECK_OK)
def test_check_accepts(criteria):
    check(criteria)
