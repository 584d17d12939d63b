"""Jinja in a chain (`vars`, node parameters, `publish`) and the casting of what it renders.

Templates render in the appliance's sandboxed environment (StackStorm's filters, undefined names are errors).
Unlike an action's own parameters, the values of one mapping never see each other: each renders over the scope
alone, as StackStorm's chain does. Rendered text is then given the type the node action's parameter declares,
as StackStorm casts it (`"3"` for an integer is 3, `"['a', 'b']"` for an array is a list).
"""

from __future__ import annotations

from typing import Any

from appliance.parameters import cast_text, render_template

RESULTS_KEY = "__results"  # every node's result by node name, also reachable when a var shadows a node


class RenderError(ValueError):
    """A template of `key` failed; the message is the template's own error."""

    def __init__(self, template: str, cause: Exception):
        super().__init__(str(cause) or type(cause).__name__)
        self.key = ""  # the top-level key of the mapping, set by render_mapping
        self.template = template


def render_mapping(values: dict, scope: dict) -> dict:
    """`values` with each template rendered over `scope`; values without a template keep their type."""
    rendered = {}
    for key, value in values.items():
        try:
            rendered[key] = _render(value, scope)
        except RenderError as exc:
            exc.key = key
            raise
    return rendered


def _render(value: Any, scope: dict) -> Any:
    """Templates inside mappings and lists render in place, so a structured parameter keeps its structure."""
    if isinstance(value, dict):
        return {key: _render(item, scope) for key, item in value.items()}
    if isinstance(value, list):
        return [_render(item, scope) for item in value]
    if not (isinstance(value, str) and ("{{" in value or "{%" in value)):
        return value
    try:
        return render_template(value, scope)
    except Exception as exc:  # a template's own failure ({{ 1/0 }}, a filter's TypeError) is the chain author's
        raise RenderError(value, exc) from exc


def chain_scope(parameters: dict, results: dict, chain_vars: dict, st2kv: dict, extra: dict) -> dict:
    """What a node's templates see, later entries winning as in StackStorm: the chain's parameters, each node's
    result by node name, the vars (published values included), `__results`, `system` and `st2kv`, then
    `extra` (a node's parameters also get action_context and config_context)."""
    return {**parameters, **results, **chain_vars, RESULTS_KEY: results, "system": st2kv.get("system"),
            "st2kv": st2kv, **extra}


def cast(values: dict, specs: dict) -> dict:
    """Rendered text given its parameter's declared type. Text that does not convert stays text: the child's
    request then refuses it, naming the parameter."""
    return {name: cast_text(value, (specs.get(name) or {}).get("type")) for name, value in values.items()}
