"""Orquesta's expression rules (reference orquesta.md §8.1): evaluation, errors, limits, sandbox, inspection."""

from __future__ import annotations

import threading

import pytest

from appliance.workflows.expressions import ExpressionError, evaluate, extract_vars, validate

CONTEXT = {
    "name": "node1",
    "count": 3,
    "flag": True,
    "nothing": None,
    "xs": [1, 2, 3],
    "d": {"k": "v"},
    "users": [{"n": "a"}, {"n": "b"}, {"n": "a"}],
    "greeting": "hi <% ctx(name) %>",
    "jgreeting": "hi {{ ctx('name') }}",
    "whole": "<% ctx(count) %>",
    "loop": "<% ctx(loop) %>",
    "__hidden": "secret",
}


def error_of(value, context=CONTEXT) -> str:
    with pytest.raises(ExpressionError) as caught:
        evaluate(value, context)
    return str(caught.value)


# --- structure -------------------------------------------------------------------------------------------------------


def test_dicts_are_evaluated_recursively_keys_too():
    value = {"<% ctx(name) %>": {"n": "{{ ctx('count') }}"}, "plain": ["<% ctx(flag) %>", 7]}
    assert evaluate(value, CONTEXT) == {"node1": {"n": 3}, "plain": [True, 7]}


def test_lists_are_evaluated_recursively():
    assert evaluate(["<% ctx(count) %>", ["{{ ctx('name') }}"], None], CONTEXT) == [3, ["node1"], None]


def test_values_without_expressions_are_returned_unchanged():
    for value in (5, 1.5, None, False, "plain text", "50% <done>"):
        assert evaluate(value, CONTEXT) == value


def test_a_key_that_evaluates_to_a_list_is_an_error():
    assert "evaluates to a list" in error_of({"<% ctx(xs) %>": 1})


# --- native values and interpolation ---------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["<% ctx({}) %>", "{{{{ ctx('{}') }}}}"])
@pytest.mark.parametrize("name", ["count", "flag", "nothing", "xs", "d"])
def test_a_string_that_is_exactly_one_expression_gives_the_native_value(language, name):
    result = evaluate(language.format(name), CONTEXT)
    assert result == CONTEXT[name] and type(result) is type(CONTEXT[name])


@pytest.mark.parametrize(
    "text",
    [
        "d=<% ctx(d) %> n=<% ctx(nothing) %> f=<% ctx(flag) %> c=<% ctx(count) %>",
        "d={{ ctx('d') }} n={{ ctx('nothing') }} f={{ ctx('flag') }} c={{ ctx('count') }}",
    ],
)
def test_other_strings_interpolate_the_str_of_each_value(text):
    assert evaluate(text, CONTEXT) == "d={'k': 'v'} n=None f=True c=3"


def test_surrounding_whitespace_makes_interpolation():
    assert evaluate(" <% ctx(count) %>", CONTEXT) == " 3"
    assert evaluate("<% ctx(count) %>\n", CONTEXT) == "3\n"
    assert evaluate("{{ ctx('count') }} ", CONTEXT) == "3 "


def test_two_expressions_alone_still_interpolate():
    assert evaluate("<% ctx(count) %><% ctx(count) %>", CONTEXT) == "33"
    assert evaluate("{{ ctx('count') }}{{ ctx('count') }}", CONTEXT) == "33"


def test_yaql_results_are_plain_lists_and_dicts():
    result = evaluate("<% dict(a => [1, 2], b => ctx(d)) %>", CONTEXT)
    assert result == {"a": [1, 2], "b": {"k": "v"}}
    assert type(result) is dict and type(result["a"]) is list and type(result["b"]) is dict
    assert evaluate("<% set(1, 2) %>", CONTEXT) == [1, 2]


# --- recursive evaluation ------------------------------------------------------------------------------------------


def test_a_result_holding_an_expression_is_evaluated_again():
    assert evaluate("<% ctx(greeting) %>", CONTEXT) == "hi node1"
    assert evaluate("{{ ctx('jgreeting') }}", CONTEXT) == "hi node1"
    assert evaluate("say <% ctx(greeting) %>!", CONTEXT) == "say hi node1!"


def test_a_re_evaluated_result_that_is_one_expression_is_native():
    assert evaluate("<% ctx(whole) %>", CONTEXT) == 3


def test_the_result_may_be_of_the_other_language():
    assert evaluate("<% ctx(jgreeting) %>", CONTEXT) == "hi node1"
    assert evaluate("{{ ctx('greeting') }}", CONTEXT) == "hi node1"


def test_a_variable_that_holds_itself_stops_with_unresolved_variables():
    assert error_of("<% ctx(loop) %>") == "YaqlEvaluationException: There are unresolved variables: <% ctx(loop) %>"


# --- languages -------------------------------------------------------------------------------------------------------


def test_mixing_yaql_and_jinja_in_one_string_is_an_error():
    message = "ExpressionEvaluationException: Expression with multiple types is not supported."
    assert error_of("<% ctx(name) %> {{ ctx('name') }}") == message


def test_yaql_standard_library_and_lambdas():
    assert evaluate("<% ctx(xs).select($ * 2) %>", CONTEXT) == [2, 4, 6]
    assert evaluate("<% ctx(xs).where($ > 1).len() %>", CONTEXT) == 2
    assert evaluate("<% ctx(name).toUpper() %>", CONTEXT) == "NODE1"
    assert evaluate("<% str(ctx(count)) + '-' + ctx(name) %>", CONTEXT) == "3-node1"
    assert evaluate("<% ctx(d).keys() %>", CONTEXT) == ["k"]


def test_yaql_sees_frozen_data_so_hashing_functions_work():
    assert evaluate("<% ctx(users).distinct() %>", CONTEXT) == [{"n": "a"}, {"n": "b"}]


def test_yaql_3_1_has_no_format_function():
    assert 'NoMatchingMethodException: No method "format"' in error_of("<% '{0}'.format(ctx(name)) %>")


def test_yaql_bare_word_in_ctx_is_the_key():
    assert evaluate("<% ctx(name) %>", CONTEXT) == evaluate("<% ctx('name') %>", CONTEXT) == "node1"


def test_yaql_dollar_is_not_the_workflow_context():
    assert "Unable to evaluate expression '<% $.name %>'" in error_of("<% $.name %>")


def test_yaql_cannot_reach_the_engine_data_behind_the_functions():
    assert "YaqlLexicalException" in error_of("<% $#scope %>")
    assert "YaqlLexicalException" in error_of("<% ctx(__hidden) %>")


def test_jinja_sees_only_the_functions_not_the_variables():
    assert error_of("{{ name }}") == (
        "JinjaEvaluationException: Unable to evaluate expression '{{ name }}'. UndefinedError: 'name' is undefined"
    )


def test_jinja_block_renders_the_whole_string_as_a_string():
    assert evaluate("{% if ctx('flag') %}{{ ctx('count') }}{% endif %}", CONTEXT) == "3"


def test_jinja_trims_and_lstrips_blocks():
    template = "{% for x in ctx('xs') %}\n    {% if x > 1 %}\n{{ x }}\n    {% endif %}\n{% endfor %}"
    assert evaluate(template, CONTEXT) == "2\n3\n"


def test_jinja_raw_blocks_are_kept_verbatim():
    assert evaluate("{% raw %}{{ x }}{% endraw %}", CONTEXT) == "{% raw %}{{ x }}{% endraw %}"
    assert evaluate("{% raw %}{{ x }}{% endraw %} {{ ctx('count') }}", CONTEXT) == "{% raw %}{{ x }}{% endraw %} 3"
    assert evaluate("{% if true %}{% raw %}{{ x }}{% endraw %}{% endif %}", CONTEXT) == "{% raw %}{{ x }}{% endraw %}"


def test_text_in_a_raw_block_is_not_an_expression_of_either_language():
    assert evaluate("{% raw %}<% x %>{% endraw %} <% ctx(count) %>", CONTEXT) == "{% raw %}<% x %>{% endraw %} 3"


# --- errors ----------------------------------------------------------------------------------------------------------


def test_yaql_missing_key():
    assert error_of("<% ctx().missing %>") == (
        "YaqlEvaluationException: Unable to resolve key 'missing' in expression '<% ctx().missing %>' from context."
    )


def test_yaql_undefined_and_inaccessible_variables():
    assert error_of("<% ctx(missing) %>") == (
        "YaqlEvaluationException: Unable to evaluate expression '<% ctx(missing) %>'. "
        'VariableUndefinedError: The variable "missing" is undefined.'
    )
    assert error_of("<% ctx('__hidden') %>") == (
        "YaqlEvaluationException: Unable to evaluate expression '<% ctx('__hidden') %>'. "
        'VariableInaccessibleError: The variable "__hidden" is for internal use and inaccessible.'
    )


def test_yaql_unknown_property():
    assert error_of("<% abs(8).value %>") == (
        "YaqlEvaluationException: Unable to evaluate expression '<% abs(8).value %>'. "
        'NoFunctionRegisteredException: Unknown function "#property#value"'
    )


def test_yaql_syntax_error_at_evaluation():
    assert error_of("<% 1 + %>") == (
        "YaqlEvaluationException: Unable to evaluate expression '<% 1 + %>'. "
        "YaqlGrammarException: Parse error: unexpected end of statement"
    )


def test_jinja_missing_attribute():
    assert error_of("{{ ctx().missing }}") == (
        "JinjaEvaluationException: Unable to evaluate expression '{{ ctx().missing }}'. "
        "UndefinedError: 'dict object' has no attribute 'missing'"
    )


def test_jinja_error_in_a_block_quotes_the_whole_string_raw_blocks_included():
    text = "{% raw %}{{ x }}{% endraw %}{% if ctx('missing') %}{% endif %}"
    assert error_of(text) == (
        f"JinjaEvaluationException: Unable to evaluate expression '{text}'. "
        'VariableUndefinedError: The variable "missing" is undefined.'
    )


def test_jinja_syntax_error_at_evaluation():
    assert error_of("{{ 1 + }}").startswith(
        "JinjaEvaluationException: Unable to evaluate expression '{{ 1 + }}'. TemplateSyntaxError: "
    )


# --- limits and sandbox ----------------------------------------------------------------------------------------------


def test_yaql_collections_are_bounded():
    assert "CollectionTooLargeException: Collection length exceeds 100000 elements" in error_of(
        "<% range(1000000).toList() %>"
    )


def test_yaql_limits_leave_room_for_large_with_items_lists():
    nodes = [f"node{index}" for index in range(20000)]
    assert evaluate("<% ctx(nodes).toList() %>", {"nodes": nodes}) == nodes


def test_yaql_memory_is_bounded():
    assert "MemoryQuotaExceededException" in error_of("<% 'x' * 100000000 %>")


@pytest.mark.parametrize(
    "text",
    [
        "{{ cycler.__init__.__globals__ }}",
        "{{ ''.__class__.__mro__ }}",
        "{{ ctx.__globals__ }}",
        "{{ ctx().__class__ }}",
    ],
)
def test_jinja_sandbox_refuses_python_internals(text):
    message = error_of(text)
    assert message.startswith(f"JinjaEvaluationException: Unable to evaluate expression '{text}'. ")
    assert "SecurityError" in message or "UndefinedError" in message


def test_jinja_sandbox_caps_range_repeat_and_power():
    assert "OverflowError" in error_of("{{ range(10000000) | list }}")
    assert "SecurityError: repeating a value" in error_of("{{ 'x' * 100000000 }}")
    assert "SecurityError: repeating a value" in error_of("{{ [0] * 100000000 }}")
    assert "SecurityError: the result of 2 ** 100000000" in error_of("{{ 2 ** 100000000 }}")
    assert evaluate("{{ 'ab' * 2 }}{{ 2 ** 10 }}", CONTEXT) == "abab1024"


def test_evaluation_is_safe_from_several_threads():
    results, errors = [], []

    def work(index: int) -> None:
        try:
            for round_ in range(20):
                results.append(evaluate(f"<% {index} + {round_} %>", CONTEXT) == index + round_)
        except Exception as error:  # a failure must reach the assertion below, not die with the thread
            errors.append(error)

    threads = [threading.Thread(target=work, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(results) == 160 and all(results)


# --- validate --------------------------------------------------------------------------------------------------------


def test_validate_lists_syntax_errors_of_every_expression():
    value = {
        "a": ["<% 1 + %>", "fine <% ctx(x) %>"],
        "<% ) %>": "{{ 1 + }}",
        "block": "{% if x %}no end",
    }
    assert validate(value) == [
        {"type": "yaql", "expression": "<% 1 + %>", "message": "Parse error: unexpected end of statement"},
        {
            "type": "yaql",
            "expression": "<% ) %>",
            "message": "Parse error: unexpected ')' at position 0 of expression ')'",
        },
        {"type": "jinja", "expression": "{{ 1 + }}", "message": "unexpected 'end of template'"},
        {
            "type": "jinja",
            "expression": "{% if x %}no end",
            "message": "Unexpected end of template. Jinja was looking for the following tags: 'elif' or 'else' or "
            "'endif'. The innermost block that needs to be closed is 'if'.",
        },
    ]


def test_validate_reports_a_mixed_string_once():
    text = "<% 1 %> {{ 2 }}"
    assert validate([text]) == [
        {"type": None, "expression": text, "message": "Expression with multiple types is not supported."}
    ]


def test_validate_accepts_good_expressions_and_plain_values():
    assert validate({"a": "<% ctx(x).select($) %>", "b": "{{ ctx('x') | to_json_string }}", "c": 1, "d": None}) == []
    assert validate("{% raw %}{{ 1 + }}{% endraw %}") == []


def test_validate_does_not_evaluate():
    assert validate("<% ctx(missing) %> and <% abs(1).value %>") == []


# --- extract_vars ----------------------------------------------------------------------------------------------------


def test_extract_vars_finds_the_four_ctx_forms_in_both_languages():
    yaql = "<% ctx().a.sub + ctx(b) + ctx('c') + ctx(\"d\") %>"
    jinja = "{{ ctx().e }} {% for i in ctx('f') %}{{ ctx(\"g\") }}{% endfor %}"
    assert extract_vars({"k": [yaql, jinja]}) == [
        (yaql, "a"),
        (yaql, "b"),
        (yaql, "c"),
        (yaql, "d"),
        (jinja, "e"),
        (jinja, "f"),
        (jinja, "g"),
    ]


def test_extract_vars_reads_dict_keys_and_reports_reserved_names():
    assert extract_vars({"<% ctx().__x %>": 1}) == [("<% ctx().__x %>", "__x")]


def test_extract_vars_ignores_methods_plain_text_raw_blocks_and_lambdas():
    texts = ["<% ctx().get(x) %>", "ctx(a) is plain", "{% raw %}{{ ctx('b') }}{% endraw %}", "<% $.c %>"]
    assert extract_vars(texts) == []


def test_extract_vars_has_no_duplicates_and_is_sorted_by_name():
    assert extract_vars(["<% ctx(b) + ctx(b) + ctx(a) %>", "<% ctx(b) + ctx(b) + ctx(a) %>"]) == [
        ("<% ctx(b) + ctx(b) + ctx(a) %>", "a"),
        ("<% ctx(b) + ctx(b) + ctx(a) %>", "b"),
    ]
