"""StackStorm's result of a shell command, shared by the local and remote shell runners.

{failed, succeeded, return_code, stdout, stderr[, error]}, with stdout/stderr stripped of one
trailing newline and JSON-decoded when they parse, so workflows can use result().stdout.key.
"""

from __future__ import annotations

import json
import re
from typing import Any, Optional

BAD_SUDO_PASSWORD = re.compile(r"sudo: \d+ incorrect password attempts?")  # sudo 1.9 says "1 ... attempt"


def strip_one_newline(text: str) -> str:
    """Drop one trailing "\\n", then one "\\r" (StackStorm's strip_shell_chars)."""
    if text.endswith("\n"):
        text = text[:-1]
    if text.endswith("\r"):
        text = text[:-1]
    return text


def maybe_json(text: str) -> Any:
    """JSON-decode output that parses, so workflows can use result().stdout.key; else keep it."""
    try:
        return json.loads(text, parse_constant=_no_constants)
    except ValueError:
        return text


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # NaN/Infinity would not survive storing the result


def shell_result(return_code: int, stdout: str, stderr: str, error: Optional[str] = None) -> dict:
    succeeded = return_code == 0
    result = {
        "failed": not succeeded,
        "succeeded": succeeded,
        "return_code": return_code,
        "stdout": maybe_json(strip_one_newline(stdout)),
        "stderr": maybe_json(strip_one_newline(stderr)),
    }
    if error:
        result["error"] = error
    return result
