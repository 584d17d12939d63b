"""StackStorm's Jinja filters, through a sandboxed environment as packs' templates use them."""

from __future__ import annotations

import json
from types import MappingProxyType

import jinja2
import jinja2.sandbox
import pytest
import yaml

from appliance.expressions import filters
from appliance.expressions.filters import FILTERS, NONE_MAGIC_VALUE

ENV = jinja2.sandbox.SandboxedEnvironment(undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
ENV.filters.update(FILTERS)


def render(template, **context):
    return ENV.from_string(template).render(context)


def test_the_names_are_stackstorms_but_decrypt_kv():
    assert sorted(FILTERS) == sorted([
        "from_json_string", "from_yaml_string", "json_escape", "jsonpath_query", "to_complex", "to_json_string",
        "to_yaml_string", "regex_match", "regex_replace", "regex_search", "regex_substring",
        "to_human_time_from_seconds", "version_compare", "version_more_than", "version_less_than", "version_equal",
        "version_match", "version_bump_major", "version_bump_minor", "version_bump_patch", "version_strip_patch",
        "use_none", "basename", "dirname",
    ])  # fmt: skip


OBJ = {"a": "b", "c": {"d": "e", "f": 1, "g": True}}

RENDERED = [
    # (template, context, output)
    ("{{ k | from_json_string }}", {"k": '{"a": "b", "c": {"d": "e", "f": 1, "g": true}}'}, str(OBJ)),
    ("{{ (k | from_json_string).c.f + 1 }}", {"k": '{"c": {"f": 1}}'}, "2"),
    ("{{ k | from_json_string }}", {"k": 12}, "12"),  # read from its str()
    ("{{ k | from_yaml_string }}", {"k": "---\na: b\nc:\n  d: e\n  f: 1\n  g: true\n"}, str(OBJ)),
    ("{{ k | from_yaml_string }}", {"k": "- a\n- b\n"}, "['a', 'b']"),
    # StackStorm's default separators are (",", ": "): no space after a comma
    ("{{ k | to_json_string }}", {"k": {"b": 1, "a": [1, 2]}}, '{"b": 1,"a": [1,2]}'),
    ("{{ k | to_json_string(sort_keys=True) }}", {"k": {"b": 1, "a": 2}}, '{"a": 2,"b": 1}'),
    ("{{ k | to_json_string(separators=None) }}", {"k": {"b": 1, "a": 2}}, '{"b": 1, "a": 2}'),
    ("{{ k | to_json_string(indent=2) }}", {"k": {"a": [1]}}, '{\n  "a": [\n    1\n  ]\n}'),
    ("{{ k | to_json_string(separators=(',', ':')) }}", {"k": {"a": 1, "b": 2}}, '{"a":1,"b":2}'),
    ("{{ k | to_json_string }}", {"k": "é"}, '"\\u00e9"'),
    ("{{ k | to_yaml_string }}", {"k": {"b": [1, 2], "a": "x"}}, "a: x\nb:\n- 1\n- 2\n"),  # block style, sorted
    ("{{ k | to_json_string }}", {"k": MappingProxyType({"a": [MappingProxyType({"b": 1})]})}, '{"a": [{"b": 1}]}'),
    ("{{ k | to_yaml_string }}", {"k": MappingProxyType({"a": [MappingProxyType({"b": 1})]})}, "a:\n- b: 1\n"),
    ("{{ k | to_yaml_string(indent=4) }}", {"k": {"a": {"b": 1}}}, "a:\n    b: 1\n"),
    ("{{ k | to_yaml_string }}", {"k": {"name": "café"}}, "name: café\n"),
    ("{{ k | to_yaml_string(allow_unicode=False) }}", {"k": {"name": "café"}}, 'name: "caf\\xE9"\n'),
    ("{{ k | to_complex }}", {"k": [1, "a", None, True]}, '[1, "a", null, true]'),
    ("{{ k | to_complex }}", {"k": "text"}, '"text"'),
    ("{{ k | json_escape }}", {"k": 'foo """ bar'}, 'foo \\"\\"\\" bar'),
    ("{{ k | json_escape }}", {"k": r"foo \ bar"}, "foo \\\\ bar"),
    ("{{ k | json_escape }}", {"k": "foo \b \f \n \r \t bar"}, "foo \\b \\f \\n \\r \\t bar"),
    ("{{ k | json_escape }}", {"k": 'ends with "'}, "ends with \\"),  # every outer quote is stripped
    ("{{ k | json_escape }}", {"k": 5}, "5"),
    ("{{ k | use_none }}", {"k": None}, NONE_MAGIC_VALUE),
    ("{{ k | use_none }}", {"k": 0}, "0"),
    ("{{ k | basename }}", {"k": "/some/path/to/file.txt"}, "file.txt"),
    ("{{ k | basename }}", {"k": "/some/path/to/dir/"}, ""),
    ("{{ k | dirname }}", {"k": "/some/path/to/file.txt"}, "/some/path/to"),
    ("{{ k | dirname }}", {"k": "/some/path/to/dir/"}, "/some/path/to/dir"),
    ("{{ k | dirname }}", {"k": "file"}, ""),
]


@pytest.mark.parametrize(("template", "context", "output"), RENDERED)
def test_rendered(template, context, output):
    assert render(template, **context) == output


def test_round_trips():
    assert json.loads(render("{{ k | to_json_string }}", k=OBJ)) == OBJ
    assert yaml.safe_load(render("{{ k | to_yaml_string }}", k=OBJ)) == OBJ


PEOPLE = {
    "people": [
        {"first": "James", "last": "d"},
        {"first": "Jacob", "last": "e"},
        {"first": "Jayden", "last": "f"},
        {"missing": "different"},
    ],
    "foo": {"bar": "baz"},
}


@pytest.mark.parametrize(
    ("query", "result"),
    [
        ("people[*].first", ["James", "Jacob", "Jayden"]),
        ("people[*].last", ["d", "e", "f"]),
        ("foo.bar", ["baz"]),  # a list even for one match
        ("foo", [{"bar": "baz"}]),
        ("people[1].first", ["Jacob"]),
        ("query_returns_no_results", None),
        ("people[9]", None),
    ],
)
def test_jsonpath_query(query, result):
    assert filters.jsonpath_query(PEOPLE, query) == result
    assert render("{{ obj | jsonpath_query(query) }}", obj=PEOPLE, query=query) == str(result)


def test_jsonpath_query_bad_query():
    with pytest.raises(Exception, match="Parse error"):
        filters.jsonpath_query(PEOPLE, "people first")


VERSION = r"^v(\d+\.)?(\d+\.)?(\*|\d+)$"

REGEX = [
    ('{{ k | regex_match("x") }}', "xyz", "True"),
    ('{{ k | regex_match("y") }}', "xyz", "False"),  # anchored at the start
    ("{{ k | regex_match(p) }}", "v0.10.1", "True"),
    ('{{ k | regex_match("X") }}', "xyz", "False"),
    ('{{ k | regex_match("X", ignorecase=True) }}', "xyz", "True"),
    ('{{ k | regex_match("X", True) }}', "xyz", "True"),
    ('{{ k | regex_match("1") }}', 12, "True"),  # non-strings through str()
    ('{{ k | regex_match("N") }}', None, "True"),
    ('{{ k | regex_search("y") }}', "xyz", "True"),
    ('{{ k | regex_search("Y") }}', "xyz", "False"),
    ('{{ k | regex_search("Y", ignorecase=True) }}', "xyz", "True"),
    ("{{ k | regex_search(p) }}", "v0.10.1", "True"),
    ('{{ k | regex_search("2") }}', 12, "True"),
    ('{{ k | regex_replace("x", "y") }}', "xyz", "yyz"),
    ('{{ k | regex_replace("(blue|white|red)", "color") }}', "blue socks and red shoes", "color socks and color shoes"),
    ('{{ k | regex_replace("BLUE", "color", ignorecase=True) }}', "blue Blue", "color color"),
    ('{{ k | regex_replace("(\\\\w+)@(\\\\w+)", "\\\\2 at \\\\1") }}', "me@host", "host at me"),
    ('{{ k | regex_replace("1", "one") }}', 121, "one2one"),
    (r'{{ k | regex_substring("([0-9]{3} \\w+ (?:Ave|St|Dr))") }}', "My address is 123 Somewhere Ave. See you",
     "123 Somewhere Ave"),
    (r'{{ k | regex_substring("([0-9]{3} \\w+ (?:Ave|St|Dr))", 1) }}',
     "Your address is 567 Elsewhere Dr. My address is 123 Somewhere Ave.", "123 Somewhere Ave"),
    (r'{{ k | regex_substring("(\\d)-(\\d)") }}', "1-2 3-4", "('1', '2')"),  # groups: a tuple
    (r'{{ k | regex_substring("[a-z]+", -1) }}', "ab cd ef", "ef"),
    (r'{{ k | regex_substring("A", ignorecase=True) }}', "xa", "a"),
]  # fmt: skip


@pytest.mark.parametrize(("template", "value", "output"), REGEX)
def test_regex(template, value, output):
    assert render(template, k=value, p=VERSION) == output


@pytest.mark.parametrize(
    ("template", "value"),
    [
        (r'{{ k | regex_substring("([0-9]{3} \\w+ (?:Ave|St|Dr))", 1) }}', "Your address is 567 Elsewhere Dr."),
        (r'{{ k | regex_substring("([0-3]{3} \\w+ (?:Ave|St|Dr))") }}', "My address is 986 Somewhere Ave."),
    ],
)
def test_regex_substring_without_that_match(template, value):
    with pytest.raises(IndexError):
        render(template, k=value)


@pytest.mark.parametrize(
    ("seconds", "human"),
    [
        (0, "0s"),
        (0.0, "0s"),
        (0.1, "0.1\u03bcs"),
        (0.999, "0.999\u03bcs"),
        (-5, "-5\u03bcs"),
        (1, "1s"),
        (56, "56s"),
        (56.2, "56s"),
        (59.6, "1m0s"),
        (65, "1m5s"),
        (456, "7m36s"),
        (3600, "1h0m0s"),
        (4560, "1h16m0s"),
        (12345, "3h25m45s"),
        (86400, "1d0h0m0s"),
        (86400 * 27 + 1, "27d0h0m1s"),
        (86400 * 31, "0s"),  # as StackStorm: whole months are lost
        (86400 * 32, "1d0h0m0s"),
        (86400 * 365, "1y0d0h0m0s"),
        (45678997, "1y12d16h36m37s"),
        (True, "1s"),
    ],
)
def test_to_human_time_from_seconds(seconds, human):
    assert filters.to_human_time_from_seconds(seconds) == human


@pytest.mark.parametrize("value", ["stuff", "5", None, [1]])
def test_to_human_time_from_seconds_needs_a_number(value):
    with pytest.raises(TypeError):
        render("{{ k | to_human_time_from_seconds }}", k=value)


VERSIONS = [
    # (template, version, output)
    ('{{ v | version_compare("0.10.0") }}', "0.9.0", "-1"),
    ('{{ v | version_compare("0.10.0") }}', "0.10.1", "1"),
    ('{{ v | version_compare("0.10.0") }}', "0.10.0", "0"),
    ('{{ v | version_compare("1.0.0") }}', "1.0.0-rc.1", "-1"),  # a pre-release comes first
    ('{{ v | version_compare("1.0.0-alpha") }}', "1.0.0-alpha.1", "1"),  # more identifiers win
    ('{{ v | version_compare("1.0.0-alpha.beta") }}', "1.0.0-alpha.1", "-1"),  # numbers before words
    ('{{ v | version_compare("1.0.0-beta.11") }}', "1.0.0-beta.2", "-1"),  # numerically
    ('{{ v | version_compare("1.0.0-rc.1") }}', "1.0.0-beta.11", "-1"),  # words as text
    ('{{ v | version_compare("1.0.0+other") }}', "1.0.0+build.5", "0"),  # build ignored
    ('{{ v | version_compare("2.0.0") }}', "10.0.0", "1"),
    ('{{ v | version_more_than("0.10.0") }}', "0.9.0", "False"),
    ('{{ v | version_more_than("0.10.0") }}', "0.10.1", "True"),
    ('{{ v | version_more_than("0.10.0") }}', "0.10.0", "False"),
    ('{{ v | version_less_than("0.10.0") }}', "0.9.0", "True"),
    ('{{ v | version_less_than("0.10.0") }}', "0.10.1", "False"),
    ('{{ v | version_less_than("0.10.0") }}', "0.10.0", "False"),
    ('{{ v | version_equal("0.10.0") }}', "0.9.0", "False"),
    ('{{ v | version_equal("0.10.0") }}', "0.10.0", "True"),
    ('{{ v | version_equal("0.10.0") }}', "0.10.0+b1", "True"),
    ('{{ v | version_match(">0.10.0") }}', "0.10.1", "True"),
    ('{{ v | version_match(">0.10.0") }}', "0.1.1", "False"),
    ('{{ v | version_match("<0.10.0") }}', "0.1.0", "True"),
    ('{{ v | version_match("<0.10.0") }}', "1.1.0", "False"),
    ('{{ v | version_match("==0.10.0") }}', "0.10.0", "True"),
    ('{{ v | version_match("==0.10.0") }}', "0.10.1", "False"),
    ('{{ v | version_match(">=0.10.0") }}', "0.10.0", "True"),
    ('{{ v | version_match("<=0.10.0") }}', "0.10.1", "False"),
    ('{{ v | version_match("!=0.10.0") }}', "0.10.1", "True"),
    ('{{ v | version_match("!=0.10.0") }}', "0.10.0", "False"),
    ('{{ v | version_match("0.10.0") }}', "0.10.0", "True"),  # a bare version means ==
    ('{{ v | version_bump_major }}', "0.10.1", "1.0.0"),
    ('{{ v | version_bump_minor }}', "0.10.1", "0.11.0"),
    ('{{ v | version_bump_patch }}', "0.10.1", "0.10.2"),
    ('{{ v | version_bump_patch }}', "1.2.3-rc.1+b7", "1.2.4"),  # pre-release and build dropped
    ('{{ v | version_bump_minor }}', "1.2.3-rc.1", "1.3.0"),
    ('{{ v | version_strip_patch }}', "0.10.1", "0.10"),
    ('{{ v | version_strip_patch }}', "3.2.1-rc.1", "3.2"),
]


@pytest.mark.parametrize(("template", "version", "output"), VERSIONS)
def test_versions(template, version, output):
    assert render(template, v=version) == output


@pytest.mark.parametrize(
    ("template", "version", "error", "message"),
    [
        ('{{ v | version_compare("1.0.0") }}', "1.0", ValueError, "1.0 is not valid SemVer string"),
        ('{{ v | version_compare("1.0.0") }}', "v1.0.0", ValueError, "v1.0.0 is not valid SemVer string"),
        ('{{ v | version_compare("1.0.0") }}', "01.0.0", ValueError, "01.0.0 is not valid SemVer string"),
        ('{{ v | version_compare("1.0.0") }}', "1.0.0-01", ValueError, "1.0.0-01 is not valid SemVer string"),
        ('{{ v | version_compare("1.0") }}', "1.0.0", ValueError, "1.0 is not valid SemVer string"),
        ("{{ v | version_bump_major }}", 1, TypeError, "not expecting type '<class 'int'>'"),
        ('{{ v | version_match("=1.0.0") }}', "1.0.0", ValueError, "version_match expects <op><version>"),
        ('{{ v | version_match("") }}', "1.0.0", ValueError, "version_match expects <op><version>"),
        ('{{ v | version_match(">") }}', "1.0.0", ValueError, " is not valid SemVer string"),
    ],
)
def test_version_errors(template, version, error, message):
    with pytest.raises(error) as caught:
        render(template, v=version)
    assert message in str(caught.value)


def test_versions_accept_bytes():
    assert filters.version_compare(b"1.0.0", "1.0.1") == -1
