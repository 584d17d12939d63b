"""The Orquesta language model: parsing every task attribute, the schema's syntax errors, the task graph."""

import pytest

from appliance.workflows.spec import Items, build_graph, load, parse, parse_inline_params, syntax_errors

TASK = "properties.tasks.patternProperties.^\\w+$"


def test_document_meta_input_defaults_vars_and_output():
    spec = parse(
        """
version: 1.0
name: demo
description: a demo
tags: [a, b]
input:
  - name
  - greeting: "hi <% ctx().name %>"
vars:
  - count: 0
output:
  - msg: <% ctx().greeting %>
tasks:
  task1:
    action: core.noop
"""
    )
    assert (spec.version, spec.name, spec.description, spec.tags) == (1.0, "demo", "a demo", ("a", "b"))
    assert spec.input == (("name", None), ("greeting", "hi <% ctx().name %>"))
    assert spec.vars == (("count", 0),)
    assert spec.output == (("msg", "<% ctx().greeting %>"),)
    assert list(spec.tasks) == ["task1"]


def test_inline_action_parameters_become_the_input():
    task = parse(
        {"tasks": {"t": {"action": 'core.local cmd="echo hi" n=3 f=1.5 ok=True x=<% ctx().y %> l=[1, 2] z=null'}}}
    ).tasks["t"]
    assert task.action == "core.local"
    assert task.input == {"cmd": "echo hi", "n": 3, "f": 1.5, "ok": True, "x": "<% ctx().y %>", "l": [1, 2], "z": None}


def test_inline_values_in_quotes_stay_text():
    assert parse_inline_params("a='1' b=\"true\" c={{ ctx('x') }}") == [
        ("a", "1"),
        ("b", "true"),
        ("c", "{{ ctx('x') }}"),
    ]


def test_task_without_action_is_action_less():
    task = parse({"tasks": {"t": {"next": [{"do": "u"}]}, "u": {"action": "core.noop"}}}).tasks["t"]
    assert task.action is None and task.input is None


def test_transitions_publish_forms_and_do_forms():
    task = parse(
        {
            "tasks": {
                "t": {
                    "action": "core.noop",
                    "next": [
                        {"when": "<% succeeded() %>", "publish": "a=<% result() %> b=2", "do": "u, v"},
                        {"publish": [{"c": 1}, {"d": "<% ctx().c %>"}], "do": ["u"]},
                        {"when": "<% failed() %>"},
                    ],
                }
            }
        }
    ).tasks["t"]
    first, second, third = task.next
    assert (first.when, first.publish, first.do) == (
        "<% succeeded() %>",
        (("a", "<% result() %>"), ("b", 2)),
        ("u", "v"),
    )
    assert (second.when, second.publish, second.do) == (None, (("c", 1), ("d", "<% ctx().c %>")), ("u",))
    assert third.do == ("continue",) and third.index == 2


def test_join_all_and_count():
    tasks = parse({"tasks": {"a": {"join": "all"}, "b": {"join": 2}, "c": {}}}).tasks
    assert (tasks["a"].join, tasks["b"].join, tasks["c"].join) == ("all", 2, None)
    assert tasks["a"].is_join and not tasks["c"].is_join


def test_with_items_shorthand_and_mapping():
    tasks = parse(
        {
            "tasks": {
                "a": {"action": "x", "with": "<% ctx().xs %>"},
                "b": {"action": "x", "with": {"items": "x, y in <% zip(ctx().a, ctx().b) %>", "concurrency": 2}},
            }
        }
    ).tasks
    assert tasks["a"].items == Items("<% ctx().xs %>")
    assert (tasks["a"].items.expression, tasks["a"].items.keys) == ("<% ctx().xs %>", None)
    assert tasks["b"].items.concurrency == 2
    assert tasks["b"].items.keys == ("x", "y")
    assert tasks["b"].items.expression == "<% zip(ctx().a, ctx().b) %>"


def test_retry_and_delay():
    spec = parse(
        {
            "tasks": {
                "a": {"action": "x", "delay": 5, "retry": {"when": "<% failed() %>", "count": 3, "delay": "<% 2 %>"}},
                "b": {"action": "x", "next": [{"when": "<% failed() %>", "do": "retry"}]},
            }
        }
    )
    assert spec.tasks["a"].delay == 5
    assert spec.retry_of("a") == {"when": "<% failed() %>", "count": 3, "delay": "<% 2 %>"}
    assert spec.retry_of("b") == {"when": "<% failed() %>", "count": 3}


def test_duplicate_keys_and_non_mappings_are_refused():
    with pytest.raises(ValueError, match='Failed to load workflow definition because found duplicate key "a"'):
        load("tasks:\n  a: {}\n  a: {}\n")
    with pytest.raises(ValueError, match="not type of json or yaml"):
        load("- a\n- b\n")


def test_syntax_errors_are_orquestas():
    errors = syntax_errors(
        load(
            """
version: 2.0
foo: bar
input: [{a: 1, b: 2}]
tasks:
  t1:
    action: ""
    join: any
    retry: {delay: 1}
    next: [{do: [a, a], bad: 1}]
"""
        )
    )
    assert sorted(errors, key=lambda e: e["schema_path"]) == [
        {"message": "Additional properties are not allowed ('foo' was unexpected)", "spec_path": None,
         "schema_path": "additionalProperties"},
        {"message": "{'a': 1, 'b': 2} is not valid under any of the given schemas", "spec_path": "input[0]",
         "schema_path": "properties.input.items.oneOf"},
        {"message": "'' is too short", "spec_path": "tasks.t1.action",
         "schema_path": f"{TASK}.properties.action.minLength"},
        {"message": "'any' is not valid under any of the given schemas", "spec_path": "tasks.t1.join",
         "schema_path": f"{TASK}.properties.join.oneOf"},
        {"message": "Additional properties are not allowed ('bad' was unexpected)", "spec_path": "tasks.t1.next[0]",
         "schema_path": f"{TASK}.properties.next.items.additionalProperties"},
        {"message": "['a', 'a'] is not valid under any of the given schemas", "spec_path": "tasks.t1.next[0].do",
         "schema_path": f"{TASK}.properties.next.items.properties.do.oneOf"},
        {"message": "'count' is a required property", "spec_path": "tasks.t1.retry",
         "schema_path": f"{TASK}.properties.retry.required"},
        {"message": "2.0 is not one of ['1.0', 1.0]", "spec_path": "version", "schema_path": "properties.version.enum"},
    ]  # fmt: skip


def test_missing_tasks_and_bad_items_text():
    assert syntax_errors({"version": 1.0}) == [
        {"message": "'tasks' is a required property", "spec_path": None, "schema_path": "required"}
    ]
    errors = syntax_errors({"tasks": {"t": {"action": "x", "with": "x y <% ctx().a %>"}}})
    assert [e["schema_path"] for e in errors] == [f"{TASK}.properties.with.properties.items.pattern"]


def test_graph_start_tasks_edges_splits_and_cycles():
    spec = parse(
        """
version: 1.0
tasks:
  t1:
    next:
      - when: <% succeeded() %>
        do: t2, t3
      - when: <% failed() %>
        do: t2
  t2:
    next: [{do: t4}]
  t3:
    next: [{do: t4}]
  t4:
    next: [{when: <% ctx().again %>, do: t2}, {do: noop}]
"""
    )
    graph = build_graph(spec)
    assert graph.roots == ("t1",)
    assert [(e.target, e.key, e.index, e.id) for e in graph.next_edges("t1")] == [
        ("t2", 0, 0, "t2__t0"),
        ("t2", 1, 1, "t2__t1"),
        ("t3", 0, 0, "t3__t0"),
    ]
    assert graph.in_cycle("t2") and graph.in_cycle("t4") and not graph.in_cycle("t1")
    assert spec.is_split("t4") and spec.is_split("t2") and not spec.is_split("t3")
    assert "noop" in graph.nodes
