"""Inspection: every error kind, as StackStorm 3.9 (with its orquesta) lists them for the same documents."""

import pytest

from appliance.workflows.inspection import inspect

TASK = "properties.tasks.patternProperties.^\\w+$"
ST2 = ("st2", "parent")


def test_a_clean_workflow_has_no_error():
    assert (
        inspect(
            """
version: 1.0
input: [name]
tasks:
  t1:
    action: core.echo message=<% ctx().name %> user=<% ctx(st2).user %>
    next: [{publish: [{out: <% result() %>}], do: t2}]
  t2:
    action: core.echo message={{ ctx('out') }}
""",
            ST2,
        )
        == []
    )


def test_semantic_errors_reserved_name_actionless_items_and_no_start():
    errors = inspect(
        """
version: 1.0
tasks:
  noop:
    action: core.noop
    next: [{do: nothere}]
  t2:
    with: <% ctx().xs %>
""",
        ST2,
    )
    assert errors == [
        {"type": "context", "expression": "<% ctx().xs %>", "language": "yaql",
         "message": 'Variable "xs" is referenced before assignment.',
         "schema_path": f"{TASK}.properties.with.properties.items", "spec_path": "tasks.t2.with.items"},
        {"type": "semantic", "message": 'The task name "noop" is reserved with special function.',
         "schema_path": TASK, "spec_path": "tasks.noop"},
        {"type": "semantic", "message": "The action property is required for with items task.",
         "schema_path": TASK, "spec_path": "tasks.t2"},
    ]  # fmt: skip
    loop = inspect({"tasks": {"a": {"next": [{"do": "b"}]}, "b": {"next": [{"do": "a"}]}}})
    assert [e["message"][:45] for e in loop] == ["Unable to identify any tasks to start the wor"]
    assert loop[0]["spec_path"] == "tasks" and loop[0]["schema_path"] == "properties.tasks"


def test_undefined_do_target_once_per_reference():
    errors = inspect({"version": 1.0, "tasks": {"t1": {"action": "x", "next": [{"do": "a, a"}]}}})
    undefined = [e for e in errors if e["type"] == "semantic"]
    assert undefined == [
        {"type": "semantic", "message": 'The task "a" is not defined.', "spec_path": "tasks.t1.next[0].do",
         "schema_path": f"{TASK}.properties.next.items.properties.do"}
    ] * 2  # fmt: skip


def test_syntax_errors_come_first_by_type_then_schema_path():
    errors = inspect("version: 1.0\nfoo: 1\ntasks:\n  t1:\n    action: ''\n")
    assert [(e["type"], e["schema_path"]) for e in errors] == [
        ("syntax", "additionalProperties"),
        ("syntax", f"{TASK}.properties.action.minLength"),
    ]


def test_expression_syntax_errors():
    errors = inspect(
        """
version: 1.0
vars: [{a: "<% 1 + %>"}, {c: "<% 1 %> {{ 2 }}"}]
tasks:
  t1:
    action: core.echo message="<% ctx( %>"
    next: [{when: "<% $.x ++ %>", publish: "y=<% 1 +%>", do: t2}]
  t2:
    action: core.noop
"""
    )
    assert errors == [
        {"type": "expression", "expression": "<% ctx( %>", "language": "yaql",
         "message": "Parse error: unexpected end of statement", "schema_path": f"{TASK}.properties.input",
         "spec_path": "tasks.t1.input"},
        {"type": "expression", "expression": "<% 1 +%>", "language": "yaql",
         "message": "Parse error: unexpected end of statement",
         "schema_path": f"{TASK}.properties.next.items.properties.publish", "spec_path": "tasks.t1.next[0].publish"},
        {"type": "expression", "expression": "<% $.x ++ %>", "language": "yaql",
         "message": "Parse error: unexpected end of statement",
         "schema_path": f"{TASK}.properties.next.items.properties.when", "spec_path": "tasks.t1.next[0].when"},
        {"type": "expression", "expression": "<% 1 + %>", "language": "yaql",
         "message": "Parse error: unexpected end of statement", "schema_path": "properties.vars", "spec_path": "vars"},
        {"type": "expression", "expression": "<% 1 %> {{ 2 }}", "language": None,
         "message": "Expression with multiple types is not supported.", "schema_path": "properties.vars",
         "spec_path": "vars"},
    ]  # fmt: skip


def test_context_errors_follow_the_graph_and_joins_merge_branches():
    errors = inspect(
        """
version: 1.0
input: [a, {b: <% ctx().a %>}, {c: <% ctx().z %>}]
output: [{o: <% ctx().p %>}, {q: <% ctx().nope %>}]
tasks:
  t1:
    action: core.echo message=<% ctx().p %>
    next: [{publish: [{p: 1}, {r: <% ctx().p %>}], do: "t2, t3"}]
  t2:
    action: core.echo message="{{ ctx('r') }} {{ ctx().zz }}"
    next: [{do: t4}]
  t3:
    action: core.echo
    next: [{publish: [{s: 1}], do: t4}]
  t4:
    join: all
    action: core.echo message=<% ctx().s %>
""",
        ST2,
    )
    assert [(e["spec_path"], e["message"], e["language"]) for e in errors] == [
        ("input[2]", 'Variable "z" is referenced before assignment.', "yaql"),
        ("output[1]", 'Variable "nope" is referenced before assignment.', "yaql"),
        ("tasks.t1.input", 'Variable "p" is referenced before assignment.', "yaql"),
        ("tasks.t2.input", 'Variable "zz" is referenced before assignment.', "jinja"),
    ]
    assert errors[3]["expression"] == "{{ ctx('r') }} {{ ctx().zz }}"
    assert {e["type"] for e in errors} == {"context"}


def test_private_variables_cannot_be_referenced():
    errors = inspect({"vars": [{"__x": 1}, {"d": "{{ ctx('__x') }}"}], "tasks": {"t": {"action": "core.noop"}}})
    assert [e["message"] for e in errors] == [
        'Variable "__x" that is prefixed with double underscores is considered a private variable and cannot be '
        "referenced."
    ]


def test_runner_context_names_are_known():
    document = {"tasks": {"t": {"action": "core.echo", "input": {"message": "<% ctx(st2).user %>"}}}}
    assert [e["message"] for e in inspect(document)] == ['Variable "st2" is referenced before assignment.']
    assert inspect(document, ST2) == []


def test_unloadable_document_raises():
    with pytest.raises(ValueError):
        inspect("tasks: [unclosed")
