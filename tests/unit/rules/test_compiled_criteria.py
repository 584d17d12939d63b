"""The rules engine's fast path decides exactly as the full evaluation does."""

from __future__ import annotations

import pytest

from appliance.parameters import render_template
from appliance.rules.criteria import compile_criteria, evaluate, evaluate_compiled

PAYLOADS = [{"n": 5, "s": "Error: disk", "l": [1, 2], "d": {"x": None}}, {"n": "5"}, {}, {"s": b"Error"}]
CRITERIA = [
    {"trigger.n": {"type": "equals", "pattern": 5}},
    {"trigger.n": {"type": "gt", "pattern": 3}, "trigger.s": {"type": "icontains", "pattern": "disk"}},
    {"trigger.s": {"type": "regex", "pattern": "^Error"}},
    {"trigger.s": {"type": "startswith", "pattern": "{{ 'Err' }}"}},
    {"trigger.d.x": {"type": "nexists", "pattern": "x"}},
    {"trigger.l": {"type": "search", "condition": "any", "pattern": {"item": {"type": "gt", "pattern": 1}}}},
    {"trigger.n": {"type": "lt", "pattern": "a"}},  # str vs int: an error, recorded by the full path
    {"trigger.n": {"type": "Equals", "pattern": 5}},
    {},
]


@pytest.mark.parametrize("criteria", CRITERIA)
@pytest.mark.parametrize("payload", PAYLOADS)
def test_fast_path_agrees_with_full_evaluation(criteria, payload):
    full = evaluate(criteria, payload, render_template, "r", {})
    fast = evaluate_compiled(compile_criteria(criteria), payload, render_template, "r", {})
    assert (fast.matched, fast.errors) == (full.matched, full.errors)
