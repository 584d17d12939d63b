"""How script runners turn action parameters into a script's command-line arguments.

Named parameters become `<kwarg_op><name>=<value>` (true booleans a bare flag; false, null and
empty values left out), then parameters with a `position` follow in position order, serialized as
StackStorm does (booleans 1/0, arrays comma-joined, objects as JSON). Local and remote script
runners share it so a script sees the same arguments wherever it runs.
"""

from __future__ import annotations

import json
from typing import Any


def script_arguments(values: dict, specs: dict, kwarg_op: str = "--") -> list[str]:
    """Named arguments first (in parameter order), then the positional ones by position."""
    positional = sorted(
        (spec["position"], name) for name, spec in specs.items()
        if isinstance(spec, dict) and spec.get("position") is not None
    )
    positional_names = {name for _, name in positional}
    args = []
    for name, value in values.items():
        if name in positional_names or value is None or value is False or value == "":
            continue
        args.append(f"{kwarg_op}{name}" if value is True else f"{kwarg_op}{name}={value}")
    for _, name in positional:
        args.append(positional_value(values.get(name), specs[name].get("type")))
    return args


def positional_value(value: Any, kind: Any) -> str:
    """One positional argument as text, by the parameter's declared type."""
    if kind == "boolean":
        return "" if value is None else ("1" if value else "0")
    if kind in ("array", "list"):
        return ",".join(str(item) for item in value) if value else ""
    if kind == "object":
        return json.dumps(value) if value else ""
    if kind == "null" or value is None:
        return ""
    if kind in ("string", "number", "float", "integer"):
        return str(value)
    return str(value) if value else ""
