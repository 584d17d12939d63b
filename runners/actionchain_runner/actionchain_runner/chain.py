"""An action-chain document (the action's entry point): nodes linked by on-success / on-failure, `vars`, `default`.

It is checked before the chain starts, as StackStorm's pre-run does: its shape, and every route and `default`
naming a node of the chain (a route written as a Jinja expression cannot be checked then, and fails when taken:
StackStorm never renders it). The start node is `default`, else the first node no route leads to, else the first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import jsonschema
import yaml

_NAME_OR_NONE = {"type": ["string", "null"]}
_MAPPING_OR_NONE = {"type": ["object", "null"]}
NODE_SCHEMA = {
    "type": "object",
    "required": ["name", "ref"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string"},
        "ref": {"type": "string"},
        "params": _MAPPING_OR_NONE,
        "parameters": _MAPPING_OR_NONE,
        "on-success": _NAME_OR_NONE,
        "on-failure": _NAME_OR_NONE,
        "publish": _MAPPING_OR_NONE,
        "notify": _MAPPING_OR_NONE,
    },
}
CHAIN_SCHEMA = {
    "type": "object",
    "required": ["chain"],
    "additionalProperties": False,
    "properties": {
        "chain": {"type": "array", "items": NODE_SCHEMA},
        "default": {"type": "string"},
        "vars": _MAPPING_OR_NONE,
    },
}
SUCCESS, FAILURE = "on-success", "on-failure"


class ChainError(ValueError):
    """The chain cannot run as written; the message says why and becomes the execution's error."""


@dataclass(frozen=True)
class Node:
    """One step: the action it runs, its parameter templates, where to go next, what it publishes."""

    name: str
    ref: str
    parameters: dict
    routes: dict  # SUCCESS / FAILURE -> node name ("" ends the chain)
    publish: dict
    spec: dict  # the node as written: its child execution carries it as context.chain


@dataclass(frozen=True)
class Chain:
    """A checked chain: its nodes in file order, where it starts, its `vars` (templates, rendered at start)."""

    nodes: tuple[Node, ...]
    start: Node
    vars: dict

    def node(self, name: str) -> Node:
        """The node called `name` (the first, should two share it, as StackStorm picks)."""
        return _find(self.nodes, name)

    def next(self, node: Node, route: str) -> Optional[Node]:
        """Where `node` leads on `route` (SUCCESS or FAILURE); None ends the chain."""
        target = node.routes[route]
        return self.node(target) if target else None


def load(path: str) -> Chain:
    """The chain in file `path` (YAML or JSON), checked."""
    try:
        with open(path, encoding="utf-8") as handle:
            document = yaml.safe_load(handle)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ChainError(f'Failed to parse action chain definition from "{path}": {exc}') from None
    if not isinstance(document, dict):
        raise ChainError(f'Failed to parse action chain definition from "{path}": it must be a mapping, '
                         f'not {type(document).__name__}.')
    return parse(document)


def parse(document: dict) -> Chain:
    """A chain from its document, refused with the first problem found."""
    error = jsonschema.exceptions.best_match(jsonschema.Draft4Validator(CHAIN_SCHEMA).iter_errors(document))
    if error is not None:
        where = ".".join(str(step) for step in error.path)
        raise ChainError(error.message + (f" (at {where})" if where else ""))
    nodes = tuple(_node(spec) for spec in document["chain"])
    if not nodes:
        raise ChainError("The chain has no node to run.")
    names = {node.name for node in nodes}
    for node in nodes:
        for route, target in node.routes.items():
            if target and target not in names and not _is_expression(target):
                raise ChainError(f'Unable to find node with name "{target}" referenced in "{route}" in task '
                                 f'"{node.name}".')
    default = document.get("default") or _unreferenced(nodes)
    if default not in names:
        raise ChainError(f'Unable to find node with name "{default}" referenced in "default".')
    return Chain(nodes=nodes, start=_find(nodes, default), vars=document.get("vars") or {})


def _node(spec: dict) -> Node:
    """A node from its checked spec; `parameters` is the current name of the older `params`."""
    if spec.get("params") and spec.get("parameters"):
        raise ChainError(f'Task "{spec["name"]}": either "params" or "parameters" needs to be given, not both.')
    return Node(name=spec["name"], ref=spec["ref"], parameters=spec.get("parameters") or spec.get("params") or {},
                routes={SUCCESS: spec.get(SUCCESS) or "", FAILURE: spec.get(FAILURE) or ""},
                publish=spec.get("publish") or {}, spec=spec)


def _find(nodes: tuple[Node, ...], name: str) -> Node:
    """The first node called `name`: StackStorm does not refuse two nodes of one name, it takes the first."""
    for node in nodes:
        if node.name == name:
            return node
    raise ChainError(f'Unable to find node with name "{name}".')


def _unreferenced(nodes: tuple[Node, ...]) -> str:
    """StackStorm's start when there is no `default`: the first node no route leads to, else the first node."""
    targets = {target for node in nodes for target in node.routes.values()}
    return next((node.name for node in nodes if node.name not in targets), nodes[0].name)


def _is_expression(value: Any) -> bool:
    """A route written as Jinja, which StackStorm lets through its check (and then never renders)."""
    return isinstance(value, str) and ("{{" in value or "{%" in value)
