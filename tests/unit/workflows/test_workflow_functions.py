"""The functions workflows call (reference orquesta.md §8.2), in YAQL and in Jinja."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import pytest

from appliance.expressions.filters import FILTERS, NONE_MAGIC_VALUE
from appliance.workflows.expressions import ExpressionError, evaluate
from appliance.workflows.functions import CONTEXT_FUNCTIONS, FUNCTIONS

ST2_FUNCTIONS = {
    "st2kv",
    "task",
    "json_parse",
    "from_json_string",
    "yaml_parse",
    "from_yaml_string",
    "json_dump",
    "to_json_string",
    "yaml_dump",
    "to_yaml_string",
    "json_escape",
    "jsonpath_query",
    "regex_match",
    "regex_replace",
    "regex_search",
    "regex_substring",
    "to_human_time_from_seconds",
    "use_none",
    "version_compare",
    "version_more_than",
    "version_less_than",
    "version_equal",
    "version_match",
    "version_bump_major",
    "version_bump_minor",
    "version_bump_patch",
    "version_strip_patch",
    "basename",
    "dirname",
}
ORQUESTA_FUNCTIONS = {"ctx", "json", "zip", "item", "task_status", "succeeded", "failed", "completed", "result"}


class Datastore:
    """The engine's st2kv hook over a dict of "<scope>:<stored name>" -> (value, secret)."""

    def __init__(self, keys: Dict[str, Tuple[str, bool]]) -> None:
        self.keys = keys
        self.calls: List[Tuple[str, bool]] = []

    def __call__(self, key: str, decrypt: bool) -> str:
        self.calls.append((key, decrypt))
        value, secret = self.keys[key]
        if decrypt and not secret:
            raise ValueError("Unable to decrypt: not a secret value")
        return f"clear({value})" if decrypt else value


class Tasks:
    """The engine's task_status and task hooks over {(name, route): status}."""

    def __init__(self, statuses: Dict[Tuple[str, int], str]) -> None:
        self.statuses = statuses
        self.asked: List[Tuple[str, int]] = []

    def status(self, name: str, route: int) -> str:
        self.asked.append((name, route))
        return self.statuses.get((name, route), "null")

    def record(self, name: str, route: int) -> dict:
        self.asked.append((name, route))
        if (name, route) not in self.statuses:
            raise KeyError(name)
        return {"task_name": name, "route": route, "status": self.statuses[(name, route)], "result": {"n": 1}}


def make_context(status: str = "succeeded", item: Any = None, **extra: Any) -> Dict[str, Any]:
    tasks = Tasks({("t1", 0): "succeeded", ("t1", 2): "failed"})
    context = {
        "st2": {"user": "stanley"},
        "data": {"a": [1, 2]},
        "__current_task": {"id": "t1", "route": 2, "result": {"stdout": "out"}, "status": status},
        "__task_status": tasks.status,
        "__task": tasks.record,
        "__st2kv": Datastore(
            {
                "st2kv.system:foo": ("sys", False),
                "st2kv.system:a.b": ("dotted", False),
                "st2kv.user:stanley:foo": ("mine", True),
            }
        ),
        "__hidden": 1,
    }
    if item is not None:
        context["__current_item"] = item
    context.update(extra)
    return context


def both(yaql: str, jinja: str, context: Optional[dict] = None) -> Any:
    """The value of the same call in both languages, which must agree."""
    context = make_context() if context is None else context
    value = evaluate(yaql, context)
    assert evaluate(jinja, context) == value
    return value


def error_of(text: str, context: Optional[dict] = None) -> str:
    with pytest.raises(ExpressionError) as caught:
        evaluate(text, make_context() if context is None else context)
    return str(caught.value)


def test_every_function_of_orquesta_and_st2_is_registered_and_no_other():
    assert set(FUNCTIONS) | set(CONTEXT_FUNCTIONS) == ORQUESTA_FUNCTIONS | ST2_FUNCTIONS
    assert "to_complex" not in FUNCTIONS and "decrypt_kv" not in FUNCTIONS


def test_st2_functions_are_the_shared_filter_implementations():
    for name in ST2_FUNCTIONS - {"st2kv", "task"}:
        target = {
            "json_parse": "from_json_string",
            "yaml_parse": "from_yaml_string",
            "json_dump": "to_json_string",
            "yaml_dump": "to_yaml_string",
        }.get(name, name)
        assert FUNCTIONS[name] is FILTERS[target]


def test_unregistered_st2_filters_are_unknown():
    assert "NoFunctionRegisteredException" in error_of("<% to_complex(1) %>")
    assert "UndefinedError: 'decrypt_kv' is undefined" in error_of("{{ decrypt_kv('x') }}")


# --- ctx -------------------------------------------------------------------------------------------------------------


def test_ctx_without_a_name_is_every_variable_but_the_reserved_ones():
    assert both("<% ctx() %>", "{{ ctx() }}") == {"st2": {"user": "stanley"}, "data": {"a": [1, 2]}}


def test_ctx_with_a_name():
    assert both("<% ctx(data) %>", "{{ ctx('data') }}") == {"a": [1, 2]}
    assert both("<% ctx().data.a %>", "{{ ctx().data.a }}") == [1, 2]


def test_ctx_of_an_undefined_or_reserved_name():
    assert error_of("{{ ctx('nope') }}").endswith('VariableUndefinedError: The variable "nope" is undefined.')
    assert error_of("{{ ctx('__hidden') }}").endswith(
        'VariableInaccessibleError: The variable "__hidden" is for internal use and inaccessible.'
    )


def test_context_functions_are_not_jinja_filters():
    assert "No filter named 'ctx'" in error_of("{{ 'data' | ctx }}")


# --- json, zip -------------------------------------------------------------------------------------------------------


def test_json_parses_a_string_and_passes_a_dict():
    assert both("<% json('{\"a\": [1, null]}') %>", "{{ json('{\"a\": [1, null]}') }}") == {"a": [1, None]}
    assert both("<% json(ctx(data)) %>", "{{ ctx('data') | json }}") == {"a": [1, 2]}


def test_json_refuses_other_types_and_bad_text():
    assert error_of("<% json(1) %>").endswith("TypeError: Given object is not typeof string.")
    assert "JSONDecodeError" in error_of("{{ json('{') }}")


def test_zip_pairs_lists_padded_to_the_longest():
    assert evaluate("<% zip([1, 2, 3], ['a', 'b']) %>", make_context()) == [[1, "a"], [2, "b"], [3, None]]
    assert evaluate("{{ zip([1, 2, 3], ['a', 'b']) }}", make_context()) == [(1, "a"), (2, "b"), (3, None)]


def test_zip_pad_and_none_arguments():
    assert evaluate("<% zip([1, 2], [3], pad => 0) %>", make_context()) == [[1, 3], [2, 0]]
    assert evaluate("{{ zip([1, 2], [3], pad=0) }}", make_context()) == [(1, 3), (2, 0)]
    assert evaluate("<% zip([1], null) %>", make_context()) == [[1, None]]


def test_zip_of_one_list_returns_it():
    assert both("<% zip([1, 2]) %>", "{{ [1, 2] | zip }}") == [1, 2]


# --- item ------------------------------------------------------------------------------------------------------------


def test_item_is_the_current_element_or_one_of_its_keys():
    context = make_context(item={"x": 1, "y": [2]})
    assert both("<% item() %>", "{{ item() }}", context) == {"x": 1, "y": [2]}
    assert both("<% item(y) %>", "{{ item('y') }}", context) == [2]


def test_item_errors():
    assert error_of("<% item(z) %>", make_context(item={"x": 1})).endswith(
        'ExpressionEvaluationException: Item does not have key "z".'
    )
    assert error_of("<% item(z) %>", make_context(item=[1])).endswith(
        "ExpressionEvaluationException: Item is not type of collections.abc.Mapping."
    )
    assert error_of("<% item() %>").endswith(
        "ExpressionEvaluationException: The current item is not set in the context."
    )


# --- task status, succeeded, failed, completed, result ---------------------------------------------------------------


def test_task_status_asks_the_engine_on_the_current_route_by_default():
    context = make_context()
    assert both("<% task_status(t1) %>", "{{ task_status('t1') }}", context) == "failed"
    assert context["__task_status"].__self__.asked == [("t1", 2), ("t1", 2)]
    assert evaluate("<% task_status(t1, 0) %>", context) == "succeeded"
    assert evaluate("<% task_status(t9) %>", context) == "null"


def test_task_status_outside_a_running_workflow():
    assert error_of("<% task_status(t1) %>", {}).endswith(
        "ExpressionEvaluationException: The function task_status() is not available outside a running workflow."
    )


@pytest.mark.parametrize(
    "status, expected",
    [
        ("succeeded", (True, False, True)),
        ("failed", (False, True, True)),
        ("timeout", (False, False, True)),
        ("abandoned", (False, False, True)),
        ("canceled", (False, False, True)),
        ("running", (False, False, False)),
    ],
)
def test_status_tests_read_the_current_task(status, expected):
    calls = "[succeeded(), failed(), completed()]"
    assert both(f"<% {calls} %>", f"{{{{ {calls} }}}}", make_context(status=status)) == list(expected)


def test_result_is_the_current_task_result():
    assert both("<% result().stdout %>", "{{ result().stdout }}") == "out"


def test_current_task_functions_need_a_current_task():
    for function in ("succeeded", "failed", "completed", "result"):
        assert error_of(f"<% {function}() %>", {"x": 1}).endswith(
            "ExpressionEvaluationException: The current task is not set in the context."
        )


# --- st2kv -----------------------------------------------------------------------------------------------------------


def test_st2kv_system_key():
    context = make_context()
    assert both("<% st2kv('system.foo') %>", "{{ st2kv('system.foo') }}", context) == "sys"
    assert evaluate("<% st2kv('system.a.b') %>", context) == "dotted"
    assert context["__st2kv"].calls[0] == ("st2kv.system:foo", False)
    assert context["__st2kv"].calls[-1] == ("st2kv.system:a.b", False)


def test_st2kv_any_other_key_is_the_workflow_users():
    context = make_context()
    assert both("<% st2kv('foo') %>", "{{ st2kv('foo') }}", context) == "mine"
    assert context["__st2kv"].calls[0] == ("st2kv.user:stanley:foo", False)


def test_st2kv_decrypts_on_request():
    assert both("<% st2kv('foo', decrypt => true) %>", "{{ st2kv('foo', decrypt=true) }}") == "clear(mine)"
    assert error_of("<% st2kv('system.foo', decrypt => true) %>").endswith(
        "ExpressionEvaluationException: Unable to decrypt: not a secret value"
    )


def test_st2kv_missing_key_error_or_default():
    assert error_of("<% st2kv('system.nope') %>") == (
        "YaqlEvaluationException: Unable to evaluate expression '<% st2kv('system.nope') %>'. "
        'ExpressionEvaluationException: The key "nope" does not exist in the StackStorm datastore.'
    )
    assert error_of("{{ st2kv('nope') }}").endswith(
        'ExpressionEvaluationException: The key "stanley:nope" does not exist in the StackStorm datastore.'
    )
    assert both("<% st2kv('nope', default => 'dflt') %>", "{{ st2kv('nope', default='dflt') }}") == "dflt"
    assert both("<% st2kv('nope', default => null) %>", "{{ st2kv('nope', default=none) }}") is None


def test_st2kv_argument_types():
    assert error_of("<% st2kv(1) %>").endswith("TypeError: Given key is not typeof string.")
    assert error_of("<% st2kv('foo', decrypt => 'yes') %>").endswith("TypeError: Decrypt parameter is not typeof bool.")
    assert error_of("{{ st2kv('foo', decrypt=1) }}").endswith("TypeError: Decrypt parameter is not typeof bool.")


def test_st2kv_needs_the_workflow_user():
    context = make_context()
    del context["st2"]
    assert error_of("<% st2kv('system.foo') %>", context) == (
        "YaqlEvaluationException: Unable to resolve key 'Could not get user from context.' "
        "in expression '<% st2kv('system.foo') %>' from context."
    )


# --- task ------------------------------------------------------------------------------------------------------------


def test_task_returns_the_engine_record_of_a_task():
    context = make_context()
    record = both("<% task(t1, 0) %>", "{{ task('t1', 0) }}", context)
    assert record == {"task_name": "t1", "route": 0, "status": "succeeded", "result": {"n": 1}}
    assert evaluate("<% task(t1, 0).result.n %>", context) == 1


def test_task_defaults_to_the_current_task_and_route():
    context = make_context()
    assert evaluate("<% task().status %>", context) == "failed"
    assert context["__task"].__self__.asked == [("t1", 2)]


def test_task_unknown():
    assert error_of("<% task(t9) %>").endswith('ExpressionEvaluationException: Unable to find task execution for "t9".')

    def missing(name: str, route: int) -> dict:
        raise ExpressionError(f'Unable to find task execution for "{name}".')

    assert error_of("{{ task('t9') }}", make_context(__task=missing)) == (
        "JinjaEvaluationException: Unable to evaluate expression '{{ task('t9') }}'. "
        'ExpressionEvaluationException: Unable to find task execution for "t9".'
    )


# --- StackStorm's data, regex, time, version and path functions ------------------------------------------------------


def test_json_functions():
    assert both("<% json_parse('[1, {\"a\": 2}]') %>", "{{ '[1, {\"a\": 2}]' | json_parse }}") == [1, {"a": 2}]
    assert both("<% from_json_string('{\"a\": 1}') %>", "{{ from_json_string('{\"a\": 1}') }}") == {"a": 1}
    assert both("<% json_dump(ctx(data)) %>", "{{ ctx('data') | json_dump }}") == '{"a": [1,2]}'
    assert both("<% to_json_string(ctx(data), 2) %>", "{{ to_json_string(ctx('data'), 2) }}") == (
        '{\n  "a": [\n    1,\n    2\n  ]\n}'
    )
    assert both("<% json_escape('a \"b\" c') %>", "{{ 'a \"b\" c' | json_escape }}") == 'a \\"b\\" c'


def test_yaml_functions():
    assert both("<% yaml_parse('a: [1, 2]') %>", "{{ 'a: [1, 2]' | yaml_parse }}") == {"a": [1, 2]}
    assert both("<% from_yaml_string('- x') %>", "{{ from_yaml_string('- x') }}") == ["x"]
    assert both("<% yaml_dump(ctx(data)) %>", "{{ ctx('data') | yaml_dump }}") == "a:\n- 1\n- 2\n"
    assert both("<% to_yaml_string(ctx(data)) %>", "{{ to_yaml_string(ctx('data')) }}") == "a:\n- 1\n- 2\n"


def test_jsonpath_query():
    assert both("<% jsonpath_query(ctx(data), 'a[*]') %>", "{{ ctx('data') | jsonpath_query('a[*]') }}") == [1, 2]
    assert both("<% jsonpath_query(ctx(data), 'b') %>", "{{ jsonpath_query(ctx('data'), 'b') }}") is None


def test_regex_functions():
    assert both("<% regex_match('node12', 'node') %>", "{{ 'node12' | regex_match('node') }}") is True
    assert both("<% regex_match('a node', 'node') %>", "{{ regex_match('a node', 'node') }}") is False
    assert both("<% regex_search('a node', 'NODE', true) %>", "{{ regex_search('a node', 'NODE', true) }}") is True
    assert both("<% regex_replace('n1 n2', '\\\\d', 'X') %>", "{{ 'n1 n2' | regex_replace('\\\\d', 'X') }}") == "nX nX"
    assert both("<% regex_substring('n1 n2', '\\\\d', 1) %>", "{{ regex_substring('n1 n2', '\\\\d', 1) }}") == "2"


def test_time_and_none_functions():
    assert both("<% to_human_time_from_seconds(65) %>", "{{ 65 | to_human_time_from_seconds }}") == "1m5s"
    assert both("<% use_none(null) %>", "{{ none | use_none }}") == NONE_MAGIC_VALUE
    assert both("<% use_none(1) %>", "{{ use_none(1) }}") == 1


def test_version_functions():
    assert both("<% version_compare('1.2.0', '1.10.0') %>", "{{ '1.2.0' | version_compare('1.10.0') }}") == -1
    assert both("<% version_more_than('2.0.0', '1.9.9') %>", "{{ version_more_than('2.0.0', '1.9.9') }}") is True
    assert both("<% version_less_than('2.0.0', '1.9.9') %>", "{{ version_less_than('2.0.0', '1.9.9') }}") is False
    assert both("<% version_equal('1.0.0', '1.0.0+b') %>", "{{ version_equal('1.0.0', '1.0.0+b') }}") is True
    assert both("<% version_match('1.4.0', '>=1.3.0') %>", "{{ '1.4.0' | version_match('>=1.3.0') }}") is True
    assert both("<% version_bump_major('1.2.3') %>", "{{ '1.2.3' | version_bump_major }}") == "2.0.0"
    assert both("<% version_bump_minor('1.2.3') %>", "{{ '1.2.3' | version_bump_minor }}") == "1.3.0"
    assert both("<% version_bump_patch('1.2.3') %>", "{{ '1.2.3' | version_bump_patch }}") == "1.2.4"
    assert both("<% version_strip_patch('1.2.3') %>", "{{ '1.2.3' | version_strip_patch }}") == "1.2"
    assert "ValueError: 1.2 is not valid SemVer string" in error_of("<% version_bump_major('1.2') %>")


def test_path_functions():
    assert both("<% basename('/etc/st2/st2.conf') %>", "{{ '/etc/st2/st2.conf' | basename }}") == "st2.conf"
    assert both("<% dirname('/etc/st2/st2.conf') %>", "{{ dirname('/etc/st2/st2.conf') }}") == "/etc/st2"
