"""What a MilkCheck run printed, as data: service status lines, failing nodes, overall status.

MilkCheck (checked against 1.2.4) prints one line per service, `name - description` padded and the
status right-aligned in brackets (`[    OK   ]`, `[  ERROR  ]`, `[ WARNING ]`, `[ TIMEOUT ]`,
`[DEP_ERROR]`, `[ SKIPPED ]`). Failing nodes show as ` > node3 exited with 1` or
` > node1 has timeout` (every node's exit code from -vv up) and, with `-r full`, as
`    Target: node[3,5]` under each failed action of the summary.
"""

from __future__ import annotations

import re

from ClusterShell.NodeSet import NodeSet

# Exit codes of milkcheck (its UI/Cli.py) and the name the result gives them.
EXIT_STATUS = {0: "ok", 3: "warning", 6: "error", 9: "usage_error", 12: "internal_error"}

_SERVICE = re.compile(r"^(?P<label>\S.*?)\s*\[\s*(?P<status>OK|ERROR|TIMEOUT|DEP_ERROR|WARNING|SKIPPED)\s*\]\s*$")
_EXITED = re.compile(r"^ > (?P<nodes>[^\s:]+) exited with (?P<code>\d+)$")
_TIMED_OUT = re.compile(r"^ > (?P<nodes>[^\s:]+) has timeout$")
_TARGET = re.compile(r"^\s+Target: (?P<nodes>\S+)$")
_LOGGED_ERROR = re.compile(r"^\[\d\d:\d\d:\d\d\] (?:ERROR|CRITICAL)\s+- (?P<message>.+)$")


def services(stdout: str) -> list[dict]:
    """Every service status line: {"service", "description", "status"}."""
    found = []
    for line in stdout.splitlines():
        match = _SERVICE.match(line)
        if match:
            name, _, description = match.group("label").partition(" - ")
            found.append({"service": name.strip(), "description": description.strip(),
                          "status": match.group("status")})
    return found


def failed_nodes(stdout: str) -> NodeSet:
    """Nodes MilkCheck reported as failing or timing out, in any form it printed them."""
    nodes = NodeSet()
    for line in stdout.splitlines():
        for pattern in (_EXITED, _TIMED_OUT, _TARGET):
            match = pattern.match(line)
            if match and (pattern is not _EXITED or match.group("code") != "0"):
                nodes.update(match.group("nodes"))
    return nodes


def logged_errors(stderr: str) -> list[str]:
    """MilkCheck's own ERROR/CRITICAL log lines (bad options, unknown services), without timestamps."""
    return [match.group("message").strip() for match in map(_LOGGED_ERROR.match, stderr.splitlines()) if match]


def exit_status(return_code: int) -> str:
    return EXIT_STATUS.get(return_code, "error")
