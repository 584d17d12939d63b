"""Per-node records folded into the stored result, and the execution status they lead to.

A 10k-node run must stay a small record, so nodes whose return code, stdout and stderr are
identical share one entry keyed by their folded node set (`node[1-1024]`), and the lists of
nodes that succeeded, failed or timed out are folded node sets too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

from ClusterShell.NodeSet import NodeSet

OK, FAILED, TIMEOUT, CANCELED = "ok", "failed", "timeout", "canceled"
STATES = (OK, FAILED, TIMEOUT, CANCELED)
_DIGITS = re.compile(r"(\d+)")


@dataclass
class NodeRecord:
    """What one node did in the last step it reached."""

    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    return_code: Optional[int] = None
    state: Optional[str] = None  # None while running
    unstopped: bool = False  # asked to stop, never hung up: the command may still run there

    def close(self, return_code: int) -> None:
        self.return_code = return_code
        self.state = OK if return_code == 0 else FAILED


def fold(nodes: list[str]) -> str:
    return str(NodeSet.fromlist(nodes)) if nodes else ""


def summarize(records: dict[str, NodeRecord], gather: bool = False) -> dict:
    """The stored result: identical per-node outcomes merged, node lists folded."""
    groups: dict[tuple, list[str]] = {}
    by_state: dict[str, list[str]] = {state: [] for state in STATES}
    unstopped = []
    for node, record in records.items():
        state = record.state or CANCELED
        key = (state, record.return_code, "\n".join(record.stdout), "\n".join(record.stderr))
        groups.setdefault(key, []).append(node)
        by_state[state].append(node)
        if record.unstopped:
            unstopped.append(node)
    per_node = {}
    for (state, code, stdout, stderr), nodes in sorted(groups.items(), key=lambda item: _first(item[1])):
        entry = {"return_code": code, "stdout": stdout, "stderr": stderr}
        if state in (TIMEOUT, CANCELED):
            entry[state] = True
        per_node[fold(nodes)] = entry
    result = {
        "nodes": per_node,
        "ok_nodes": fold(by_state[OK]),
        "failed_nodes": fold(by_state[FAILED]),
        "timeout_nodes": fold(by_state[TIMEOUT]),
        "counts": {"total": len(records), **{state: len(by_state[state]) for state in STATES[:3]}},
    }
    if by_state[CANCELED]:
        result["canceled_nodes"] = fold(by_state[CANCELED])
        result["counts"][CANCELED] = len(by_state[CANCELED])
    if unstopped:
        result["unstopped_nodes"] = fold(unstopped)
        result["counts"]["unstopped"] = len(unstopped)
    if gather:
        result["gathered"] = gathered_output(records)
    return result


def gathered_output(records: dict[str, NodeRecord]) -> dict[str, str]:
    """Node set -> stdout, identical outputs merged; silent nodes left out (what `clush -b` shows)."""
    outputs: dict[str, list[str]] = {}
    for node, record in records.items():
        if record.stdout:
            outputs.setdefault("\n".join(record.stdout), []).append(node)
    ordered = sorted(outputs.items(), key=lambda item: _first(item[1]))
    return {fold(nodes): text for text, nodes in ordered}


def _first(nodes: list[str]) -> list:
    """Natural order of a group's first node, so node2 comes before node10."""
    return min(_natural(node) for node in nodes)


def _natural(name: str) -> list:
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in _DIGITS.split(name) if part]


def execution_status(result: dict, max_failed_nodes: int) -> str:
    """succeeded only when at most max_failed_nodes nodes failed or timed out."""
    if result.get("interrupted") == CANCELED:
        return "canceled"
    if result.get("interrupted") == TIMEOUT:
        return "timeout"
    if result.get("error"):
        return "failed"
    counts = result.get("counts", {})
    bad = counts.get(FAILED, 0) + counts.get(TIMEOUT, 0)
    return "succeeded" if bad <= max_failed_nodes else "failed"


def failure_line(result: dict, status: str, worker: str, noun: str = "nodes") -> str:
    """One line saying why a run did not succeed: how many nodes failed, timed out, ... (folded sets).

    Over ssh, exit code 255 is ssh's own failure (no connection, refused login), so those nodes are
    counted as unreachable.
    """
    unreachable = NodeSet()
    if worker == "ssh":
        for nodes, entry in (result.get("nodes") or {}).items():
            if entry.get("return_code") == 255 and not entry.get(TIMEOUT):
                unreachable.update(nodes)
    failed = NodeSet(result.get("failed_nodes") or "")
    failed.difference_update(unreachable)
    kinds = [("failed", failed), ("unreachable", unreachable),
             ("timed out", NodeSet(result.get("timeout_nodes") or "")),
             ("canceled", NodeSet(result.get("canceled_nodes") or ""))]
    parts = [f"{len(nodes)} {word} ({nodes})" for word, nodes in kinds if nodes]
    unstopped = NodeSet(result.get("unstopped_nodes") or "")
    if unstopped:
        parts.append(f"{len(unstopped)} could not be reached to stop the command, which may still run there "
                     f"({unstopped})")
    total = (result.get("counts") or {}).get("total", 0)
    head = {"canceled": "Canceled", "timeout": "Timed out"}.get(status, "Failed")
    return f"{head}: {', '.join(parts)} of {total} {noun}." if parts else f"{head}."
