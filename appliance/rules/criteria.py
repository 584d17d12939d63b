"""Rule criteria against a trigger instance's payload, as StackStorm's rules engine filters them.

A criteria key is a jsonpath-rw path into ``{"trigger": payload}`` (``trigger.body.items[0].name``;
``trigger.a.0`` is not valid jsonpath), with everything from the first ``#`` dropped so one field
can be tested twice; its value is the first match, or None. A string pattern is a Jinja template
rendered by the caller's `render`, which brings the environment (filters, StrictUndefined) and the
datastore lookups (``st2kv.system``), so storage stays out of here. As in StackStorm, a ``{{ }}``
expression is first tried with ``| to_complex`` appended and the result JSON-decoded, so
``{{ trigger.list }}`` is a list rather than its text; if that is not JSON, the template is
rendered again as plain text. Every criterion must hold; evaluation stops at the first that does not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, List, Mapping, Optional, Tuple

import orjson

from appliance.expressions.filters import jsonpath_query
from appliance.rules import operators

# (template, context) -> rendered text. The context holds "trigger" (or "item" inside a search);
# the caller adds st2kv (and StackStorm's legacy "system") before rendering.
Render = Callable[[str, Mapping[str, Any]], str]

# Greedy and line by line, as StackStorm's: "{{ a }} {{ b }}" becomes "{{a }} {{ b  | to_complex}}".
_EXPRESSION = re.compile(r"{{\s*(.*)\s*}}")


@dataclass(frozen=True)
class Verdict:
    """Whether the criteria matched; if not, the first key that failed and why (for the log).

    `errors` are the exceptions met on the way, as StackStorm words them ("<what failed>: <error>"),
    even when the rule matched (a failing child of an `any` search): StackStorm records each as a
    failed rule enforcement, prefixed 'Failed to match rule "<ref>" against trigger instance "<id>": '.
    """

    matched: bool
    key: Optional[str] = None
    reason: str = ""
    errors: Tuple[str, ...] = ()


def evaluate(criteria: Optional[Mapping[str, Any]], payload: Any, render: Render, rule_ref: str = "",
             looked_up: Optional[dict] = None) -> Verdict:
    """Match `payload` against a rule's `criteria`; `rule_ref` only names the rule in error texts.
    `looked_up` keeps the payload values found by key across the rules one instance is matched
    against (hundreds of rules often test the same few keys)."""
    if criteria and not payload:
        return Verdict(False, reason="the trigger instance has no payload")
    run = _Run(render, rule_ref)
    context = {"trigger": payload}
    for key, spec in (criteria or {}).items():
        holds, why = run.criterion(key, spec, context, looked_up)
        if not holds:
            return Verdict(False, key, why, tuple(run.errors))
    return Verdict(True, errors=tuple(run.errors))


@dataclass(frozen=True)
class Compiled:
    """A rule's criteria made ready once for the many instances it is matched against: `plain`
    holds (key, operator, pattern) when no criterion needs rendering or a search, else None."""

    criteria: Mapping[str, Any]
    plain: Optional[Tuple[Tuple[str, operators.Operator, Any], ...]]


def compile_criteria(criteria: Optional[Mapping[str, Any]]) -> Compiled:
    plain = []
    for key, spec in (criteria or {}).items():
        if not isinstance(spec, dict) or "type" not in spec:
            return Compiled(criteria or {}, None)
        pattern = spec.get("pattern")
        if isinstance(pattern, str) and (pattern.endswith("\n") or any(m in pattern for m in ("{{", "{%", "{#"))):
            return Compiled(criteria or {}, None)
        try:
            compare = operators.get(spec["type"])
        except (ValueError, AttributeError):
            return Compiled(criteria or {}, None)
        if compare is operators.search:
            return Compiled(criteria or {}, None)
        plain.append((key, compare, pattern))
    return Compiled(criteria or {}, tuple(plain))


def evaluate_compiled(compiled: Compiled, payload: Any, render: Render, rule_ref: str, looked_up: dict) -> Verdict:
    """evaluate(), faster for plain criteria; anything unusual (an error to record) goes the full way."""
    if compiled.plain is None or (compiled.criteria and not payload):
        return evaluate(compiled.criteria, payload, render, rule_ref, looked_up)
    context = {"trigger": payload}
    for key, compare, pattern in compiled.plain:
        try:
            value = looked_up[key] if key in looked_up else looked_up.setdefault(key, _lookup(context, key))
            holds = compare(value, pattern)
        except Exception:  # the full evaluation records it as StackStorm words it
            return evaluate(compiled.criteria, payload, render, rule_ref, looked_up)
        if not holds:
            return Verdict(False, key)
    return Verdict(True)


def _render_pattern(pattern: Any, context: Mapping[str, Any], render: Render) -> Any:
    if not isinstance(pattern, str):
        return pattern
    if _EXPRESSION.search(pattern):
        try:
            return orjson.loads(render(_EXPRESSION.sub(r"{{\1 | to_complex}}", pattern), context))
        except ValueError:  # not JSON (or a filter's ValueError): StackStorm falls back to plain text
            pass
    return render(pattern, context)


def _lookup(context: Mapping[str, Any], key: str) -> Any:
    matches = jsonpath_query(context, key.split("#", 1)[0])
    return matches[0] if matches else None


class _Run:
    """One evaluation: the caller's renderer and the errors met so far."""

    def __init__(self, render: Render, rule_ref: str) -> None:
        self.render = render
        self.rule_ref = rule_ref
        self.errors: List[str] = []

    def criterion(self, key: str, spec: Any, context: Mapping[str, Any],
                  looked_up: Optional[dict] = None) -> Tuple[bool, str]:
        """(holds, why not). Without a `type` a criterion is false: StackStorm has no default operator."""
        if not isinstance(spec, dict) or "type" not in spec:  # (criteria come from JSON or YAML: dicts)
            return False, "no operator type"
        name, pattern = spec["type"], spec.get("pattern")
        try:
            pattern = _render_pattern(pattern, context, self.render)
        except Exception as exc:  # any template error fails this criterion
            return self._error(f'Failed to render pattern value "{pattern}" for key "{key}"', exc)
        try:
            if looked_up is None:
                value = _lookup(context, key)
            elif key in looked_up:
                value = looked_up[key]
            else:
                value = looked_up[key] = _lookup(context, key)
        except Exception as exc:  # jsonpath-rw raises a bare Exception on a bad path
            return self._error(f"Failed transforming criteria key {key}", exc)
        try:
            compare = operators.get(name)
            if compare is operators.search:
                holds = compare(value, pattern, spec.get("condition"), self._item_holds)
            else:
                holds = compare(value, pattern)
        except Exception as exc:  # e.g. "a" < 1: recorded, and no match
            return self._error(f"There might be a problem with the criteria in rule {self.rule_ref}", exc)
        return holds, "" if holds else f"{name} {pattern!r} does not hold for value {value!r}"

    def _item_holds(self, key: str, spec: Any, item: Any) -> bool:
        """A search child: rendered and looked up over {"item": item} (no "trigger" there)."""
        return self.criterion(key, spec, {"item": item})[0]

    def _error(self, what: str, exc: Exception) -> Tuple[bool, str]:
        self.errors.append(f"{what}: {exc}")
        return False, self.errors[-1]
