"""What a MilkCheck run printed, as data: service status lines, failing nodes, logged errors, exit status.

MilkCheck has no machine-readable output, so the runner reads its text. Checked against 1.2.4:
- one line per service, `name - description` (or just `name`) left-justified and padded, then the
  status right-aligned in brackets: `[    OK   ]`, `[  ERROR  ]`, `[ WARNING ]`, `[ TIMEOUT ]`,
  `[DEP_ERROR]`, `[ SKIPPED ]`. A label too long for its column (at most 107 characters, at the
  120 columns the runner asks for) is cut and ends with `...`, leaving exactly two spaces before `[`.
- failing nodes as ` > node3 exited with 1` or ` > node[1-2] has timeout` (every node's exit code
  from -vv up, where code 0 also shows) and, with `-r full`, as `    Target: node3` in the summary.
- its own log lines on stderr as `[HH:MM:SS] LEVEL    - message`.
Colours only appear on a terminal, but they are stripped anyway so a copy pasted from one parses too.
"""

from __future__ import annotations

import re

from ClusterShell.NodeSet import NodeSet, NodeSetException

# milkcheck's exit codes (its UI/Cli.py) and the names the result gives them.
EXIT_STATUS = {0: "ok", 3: "warning", 6: "error", 9: "usage_error", 12: "internal_error"}
STATUSES = ("OK", "ERROR", "TIMEOUT", "DEP_ERROR", "WARNING", "SKIPPED")
FAILED = ("ERROR", "TIMEOUT", "DEP_ERROR")

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_SERVICE = re.compile(r"^(?P<label>\S.*?)(?P<pad>\s*)\[\s*(?P<status>" + "|".join(STATUSES) + r")\s*\]\s*$")
_EXITED = re.compile(r"^ > (?P<nodes>[^\s:]+) exited with (?P<code>\d+)\s*$")
_TIMED_OUT = re.compile(r"^ > (?P<nodes>[^\s:]+) has timeout\s*$")
_TARGET = re.compile(r"^    Target: (?P<nodes>\S+)\s*$")
_LOG_LINE = re.compile(r"^\[\d\d:\d\d:\d\d\] [A-Z]+\s+- ")
_LOGGED_ERROR = re.compile(r"^\[\d\d:\d\d:\d\d\] (?:ERROR|CRITICAL)\s+- (?P<message>.+)$")
_CUT = "..."


def _lines(text: str) -> list[str]:
    return _ANSI.sub("", text).splitlines()


def services(stdout: str) -> list[dict]:
    """Every service status line as {"service", "description", "status"}, in the order printed.

    A row whose label MilkCheck cut to fit the line also has "truncated": True (its name or
    description then ends where the cut was, without the dots).
    """
    found = []
    for line in _lines(stdout):
        match = _SERVICE.match(line)
        if not match:
            continue
        label = match.group("label")
        truncated = label.endswith(_CUT) and len(match.group("pad")) <= 2
        if truncated:  # the dots are MilkCheck's, and a cut right after the name leaves " -" behind
            label = label[: -len(_CUT)]
            label = label[:-2] if label.endswith(" -") else label
        name, _, description = label.partition(" - ")
        row = {"service": name.strip(), "description": description.strip(), "status": match.group("status")}
        if truncated:
            row["truncated"] = True
        found.append(row)
    return found


def failed_nodes(stdout: str) -> NodeSet:
    """Nodes MilkCheck reported as failing (non-zero exit) or timing out, in any form it printed them."""
    nodes = NodeSet()
    for line in _lines(stdout):
        for pattern in (_EXITED, _TIMED_OUT, _TARGET):
            match = pattern.match(line)
            if match and not (pattern is _EXITED and match.group("code") == "0"):
                try:
                    nodes.update(match.group("nodes"))
                except NodeSetException:  # a command's own output that only looks like a report line
                    pass
    return nodes


def logged_errors(stderr: str) -> list[str]:
    """MilkCheck's own ERROR/CRITICAL log messages (bad options, unknown services, YAML errors), each on
    one line: without the timestamp, with the indented lines that continue it (a YAML error's position)."""
    messages: list[str] = []
    current: list[str] = []
    for line in _lines(stderr) + [""]:
        match = _LOGGED_ERROR.match(line)
        if match or not line.strip() or _LOG_LINE.match(line):
            if current:
                messages.append(" ".join(" ".join(current).split()))
            current = [match.group("message")] if match else []
        elif current:
            current.append(line)
    return messages


def failures(rows: list[dict]) -> list[dict]:
    """The rows MilkCheck counts as failed; with -t it can print these and still exit 0."""
    return [row for row in rows if row["status"] in FAILED]


def exit_status(return_code: int) -> str:
    """The result status for a milkcheck exit code; any other code (a signal, a crash) is an error."""
    return EXIT_STATUS.get(return_code, "error")
