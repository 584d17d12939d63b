"""The Orquesta workflow language (version 1.0): a YAML document parsed into small frozen dataclasses, its
JSON schema (syntax errors are reported as Orquesta reports them) and the task graph the runtime walks.

The document is parsed leniently: a value of the wrong type is reported by `syntax_errors` and read as absent,
so inspection can still report every other kind of error in one pass, as Orquesta does.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Iterator, Optional, Union

import jsonschema
import yaml

RESERVED_TASK_NAMES = ("continue", "fail", "noop", "retry")
"""Engine commands usable in `do`; no task may be named after them."""

_EXPRESSION_PATTERNS = ("{{.*?}}", "<%.*?%>")

# --- loading -------------------------------------------------------------------------------------------------------


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses duplicate keys: Orquesta refuses them rather than keep the last one."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        mapping: dict = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                hash(key)
            except TypeError as exc:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found unacceptable key ({exc})",
                    key_node.start_mark,
                ) from exc
            if key in mapping:
                raise yaml.constructor.ConstructorError(f'found duplicate key "{key_node.value}"')
            mapping[key] = self.construct_object(value_node, deep=deep)
        return mapping


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _UniqueKeyLoader.construct_mapping)


def load(document: Union[str, bytes, dict]) -> dict:
    """The workflow document as a dict; a YAML error or a non-mapping is a ValueError in Orquesta's words."""
    if isinstance(document, dict):
        return document
    if not document:
        raise ValueError("The spec cannot be type of None.")
    try:
        data = yaml.load(document, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except Exception as exc:  # every YAML failure is reported the same way
        raise ValueError(f"Failed to load workflow definition because {exc}.") from exc
    if not isinstance(data, dict):
        raise ValueError("The spec is not type of json or yaml.")
    return data


# --- inline parameters ---------------------------------------------------------------------------------------------

_INLINE_VALUE = "|".join(
    (r"\[.*\]\s*", r"\"[^\"]*\"\s*", r"'[^']*'\s*", r"[-]?\d*\.\d+", r"[-]?\d+", "(?i:true)", "(?i:false)", "null")
    + _EXPRESSION_PATTERNS
)
_INLINE_PARAM = re.compile(rf"([\w]+)=({_INLINE_VALUE})")
_QUOTED = re.compile(r"\"[^\"]*\"\s*|'[^']*'\s*")


def _inline_value(text: str) -> Any:
    """One `k=v` value: quotes dropped, JSON literals decoded unless the value was quoted (then it stays text)."""
    value = text.strip()
    quoted = bool(_QUOTED.search(value))
    value = re.sub("^'", "", re.sub("'$", "", re.sub('^"', "", re.sub('"$', "", value))))
    if value and quoted and not (value[0] == "{" and value[-1] == "}"):
        return value
    try:
        return json.loads(value.lower() if value.lower() in ("true", "false") else value)
    except ValueError:
        return value


def parse_inline_params(text: Any) -> list[tuple[str, Any]]:
    """`a=1 b="x y" c=<% ctx().c %>` as ordered (name, value) pairs: the inline form of action input and publish."""
    if not isinstance(text, str) or not text:
        return []
    return [(name, _inline_value(value)) for name, value in _INLINE_PARAM.findall(text)]


# --- schema --------------------------------------------------------------------------------------------------------

_NONEMPTY_STRING = {"type": "string", "minLength": 1}
_UNIQUE_STRING_LIST = {"type": "array", "items": _NONEMPTY_STRING, "uniqueItems": True, "minItems": 1}
_POSITIVE_INTEGER = {"type": "integer", "minimum": 0}
_STRING_OR_POSITIVE_INTEGER = {"oneOf": [_NONEMPTY_STRING, _POSITIVE_INTEGER]}
_ANY_NULLABLE = {"anyOf": [{"type": t} for t in ("null", "array", "boolean", "integer", "number", "object", "string")]}
_ONE_KEY_DICT = {
    "type": "object",
    "minProperties": 1,
    "maxProperties": 1,
    "patternProperties": {r"^\w+$": _ANY_NULLABLE},
}
_UNIQUE_ONE_KEY_DICT_LIST = {"type": "array", "items": _ONE_KEY_DICT, "uniqueItems": True, "minItems": 1}
_ITEMS_PATTERN = r"^(\s+)?({expr})(\s+)?$|^(\s+)?((\w+,\s?|\s+)+)?(\w+)\s+in\s+({expr})(\s+)?$".format(
    expr="|".join(_EXPRESSION_PATTERNS)
)

_TRANSITION_SCHEMA = {
    "type": "object",
    "properties": {
        "when": _NONEMPTY_STRING,
        "publish": {"oneOf": [_NONEMPTY_STRING, _UNIQUE_ONE_KEY_DICT_LIST]},
        "do": {"oneOf": [_NONEMPTY_STRING, _UNIQUE_STRING_LIST]},
    },
    "additionalProperties": False,
}

_TASK_SCHEMA = {
    "type": "object",
    "properties": {
        "delay": _STRING_OR_POSITIVE_INTEGER,
        "join": {"oneOf": [{"enum": ["all"]}, _POSITIVE_INTEGER]},
        "with": {
            "type": "object",
            "properties": {
                "items": {"type": "string", "minLength": 1, "pattern": _ITEMS_PATTERN},
                "concurrency": _STRING_OR_POSITIVE_INTEGER,
            },
            "additionalProperties": False,
        },
        "action": _NONEMPTY_STRING,
        "input": {
            "oneOf": [
                _NONEMPTY_STRING,
                {"type": "object", "minProperties": 1, "patternProperties": {r"^\w+$": _ANY_NULLABLE}},
            ]
        },
        "retry": {
            "type": "object",
            "properties": {
                "when": _NONEMPTY_STRING,
                "count": _STRING_OR_POSITIVE_INTEGER,
                "delay": _STRING_OR_POSITIVE_INTEGER,
            },
            "required": ["count"],
            "additionalProperties": False,
        },
        "next": {"type": "array", "items": _TRANSITION_SCHEMA},
    },
    "additionalProperties": False,
}

SCHEMA = {
    "type": "object",
    "properties": {
        "vars": _UNIQUE_ONE_KEY_DICT_LIST,
        "input": {
            "type": "array",
            "items": {"oneOf": [_NONEMPTY_STRING, _ONE_KEY_DICT]},
            "uniqueItems": True,
            "minItems": 1,
        },
        "output": _UNIQUE_ONE_KEY_DICT_LIST,
        "tasks": {"type": "object", "minProperties": 1, "patternProperties": {r"^\w+$": _TASK_SCHEMA}},
        "name": _NONEMPTY_STRING,
        "version": {
            "anyOf": [_NONEMPTY_STRING, _POSITIVE_INTEGER, {"type": "number", "minimum": 0.0}],
            "enum": ["1.0", 1.0],
        },
        "description": _NONEMPTY_STRING,
        "tags": _UNIQUE_STRING_LIST,
    },
    "required": ["tasks"],
    "additionalProperties": False,
}
"""Orquesta 1.0's workflow schema, resolved into one document (the paths in syntax errors point into it)."""

_VALIDATOR = jsonschema.Draft4Validator(SCHEMA)


def _dotted(path: Any) -> Optional[str]:
    """A jsonschema path as Orquesta writes it: `tasks.task1.next[0].do`."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or None


def syntax_errors(document: dict) -> list[dict]:
    """Schema violations as {message, spec_path, schema_path}, the string shorthand of `with` resolved first."""
    errors = []
    for error in _VALIDATOR.iter_errors(_with_shorthand(document)):
        errors.append(
            {
                "message": error.message.encode("utf-8").decode("unicode_escape"),
                "spec_path": _dotted(error.absolute_path),
                "schema_path": _dotted(error.absolute_schema_path),
            }
        )
    return errors


def _with_shorthand(document: dict) -> dict:
    """`with: <expr>` means `with: {items: <expr>}`; Orquesta rewrites it before validating."""
    tasks = document.get("tasks")
    if not isinstance(tasks, dict) or not any(
        isinstance(t, dict) and isinstance(t.get("with"), str) for t in tasks.values()
    ):
        return document
    rewritten = dict(tasks)
    for name, task in tasks.items():
        if isinstance(task, dict) and isinstance(task.get("with"), str):
            rewritten[name] = {**task, "with": {"items": task["with"]}}
    return {**document, "tasks": rewritten}


# --- the model -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Transition:
    """One entry of a task's `next`: fires when `when` holds, publishes in order, then stages `do`."""

    index: int
    when: Optional[str] = None
    publish: tuple[tuple[str, Any], ...] = ()
    do: tuple[str, ...] = ("continue",)


@dataclass(frozen=True)
class Items:
    """`with`: the items expression, the optional names each element is bound to, and the concurrency."""

    items: str
    concurrency: Union[None, int, str] = None

    @property
    def expression(self) -> str:
        """The part after ` in ` (or the whole text): what must evaluate to a list."""
        return self.items[self.items.index(" in ") + 4 :].strip() if " in " in self.items else self.items.strip()

    @property
    def keys(self) -> Optional[tuple[str, ...]]:
        """The names in `x, y in <expr>`, or None when items are used as they are."""
        if " in " not in self.items:
            return None
        return tuple(self.items[: self.items.index(" in ")].replace(" ", "").split(","))


@dataclass(frozen=True)
class Retry:
    """`retry`: re-run the task while `when` holds (default: it abended), at most `count` times."""

    count: Union[int, str]
    when: Optional[str] = None
    delay: Union[None, int, str] = None


@dataclass(frozen=True)
class TaskSpec:
    """One task. `action` None is an action-less task; `input` may still be a single expression string."""

    name: str
    action: Optional[str] = None
    input: Any = None
    next: tuple[Transition, ...] = ()
    join: Union[None, str, int] = None
    items: Optional[Items] = None
    retry: Optional[Retry] = None
    delay: Union[None, int, str] = None

    @property
    def is_join(self) -> bool:
        """A barrier, even `join: 0` (Orquesta tests the key, not its truth)."""
        return self.join is not None


@dataclass(frozen=True)
class WorkflowSpec:
    """A parsed workflow; `document` is the dict it came from (kept for inspection and storage)."""

    document: dict
    tasks: dict = field(default_factory=dict)
    input: tuple[tuple[str, Any], ...] = ()
    vars: tuple[tuple[str, Any], ...] = ()
    output: tuple[tuple[str, Any], ...] = ()
    version: Any = None
    name: Optional[str] = None
    description: Optional[str] = None
    tags: tuple[str, ...] = ()

    def task(self, name: str) -> TaskSpec:
        """The task of that name; an engine command is an empty task, even where a task was given its name."""
        return TaskSpec(name) if name in RESERVED_TASK_NAMES else self.tasks.get(name) or TaskSpec(name)

    def has_task(self, name: str) -> bool:
        """Defined in `tasks`, or an engine command."""
        return name in RESERVED_TASK_NAMES or name in self.tasks

    def next_names(self, name: str) -> list[tuple[str, Optional[str], int]]:
        """(next task, when, transition index) of every `do` target of the task, sorted by target name."""
        targets = [(target, t.when, t.index) for t in self.task(name).next for target in t.do]
        return sorted(targets, key=lambda entry: entry[0])

    @cached_property
    def _inbound_names(self) -> dict:
        """Every `do` target mapped to the (task, when, transition index) naming it, sorted by task."""
        found: dict[str, list] = {}
        for src in sorted(self.tasks):
            for target, when, idx in self.next_names(src):
                found.setdefault(target, []).append((src, when, idx))
        return found

    def prev_names(self, name: str) -> list[tuple[str, Optional[str], int]]:
        """(task, when, transition index) of every transition of any task that names this one in `do`."""
        return list(self._inbound_names.get(name, ()))

    def start_tasks(self) -> list[str]:
        """Tasks no transition leads to, by name: they all start at once."""
        return sorted(name for name in self.tasks if not self.prev_names(name))

    def is_split(self, name: str) -> bool:
        """Not a join and reached by more than one transition: runs once per incoming path, each on its route."""
        return not self.task(name).is_join and len(self.prev_names(name)) > 1

    def in_cycle(self, name: str) -> bool:
        """Whether following transitions from the task can lead back to it."""
        seen: set[str] = set()
        pending = [target for target, _, _ in self.next_names(name)]
        while pending:
            current = pending.pop()
            if current == name:
                return True
            if current not in seen:
                seen.add(current)
                pending.extend(target for target, _, _ in self.next_names(current))
        return False

    def retry_of(self, name: str) -> Optional[dict]:
        """The task's retry policy as the runtime reads it; `do: retry` overrides `retry:` with count 3."""
        task = self.task(name)
        policy = (
            None
            if task.retry is None
            else {"when": task.retry.when, "count": task.retry.count, "delay": task.retry.delay}
        )
        for target, when, _ in self.next_names(name):
            if target == "retry":
                policy = {"when": when or "<% completed() %>", "count": 3}
        return policy


# --- the graph -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Edge:
    """A transition from `source` to `target`; `key` numbers the edges between the same two tasks."""

    source: str
    target: str
    key: int
    when: Optional[str]
    index: int

    @property
    def id(self) -> str:
        """How task states name the transition: `<target>__t<key>`."""
        return f"{self.target}__t{self.key}"

    @property
    def backref(self) -> str:
        """How the target's state names where it came from: `<source>__t<key>`."""
        return f"{self.source}__t{self.key}"


@dataclass(frozen=True)
class Graph:
    """The tasks reachable from the start tasks and their transitions (`retry` is a policy, not an edge)."""

    roots: tuple[str, ...]
    nodes: frozenset
    outbound: dict
    inbound: dict
    cycles: frozenset

    def next_edges(self, name: str) -> tuple[Edge, ...]:
        """Outbound transitions sorted by target, then key."""
        return self.outbound.get(name, ())

    def prev_edges(self, name: str) -> tuple[Edge, ...]:
        """Inbound transitions."""
        return self.inbound.get(name, ())

    def in_cycle(self, name: str) -> bool:
        """On a cycle of the graph."""
        return name in self.cycles


def build_graph(spec: WorkflowSpec) -> Graph:
    """Walk from the start tasks, numbering the edges between each pair of tasks in transition order."""
    outbound: dict[str, list[Edge]] = {}
    visited: set[str] = set()
    pending = list(spec.start_tasks())
    nodes = set(pending)
    while pending:
        name = pending.pop(0)
        if name in visited:
            continue
        visited.add(name)
        edges: list[Edge] = []
        for target, when, index in spec.next_names(name):
            if target == "retry" or any(e.target == target and e.index == index for e in edges):
                continue
            key = sum(1 for e in edges if e.target == target)
            edges.append(Edge(name, target, key, when, index))
            nodes.add(target)
            pending.append(target)
        outbound[name] = edges
    inbound: dict[str, list[Edge]] = {}
    for edges in outbound.values():
        for edge in edges:
            inbound.setdefault(edge.target, []).append(edge)
    return Graph(
        roots=tuple(spec.start_tasks()),
        nodes=frozenset(nodes),
        outbound={k: tuple(v) for k, v in outbound.items()},
        inbound={k: tuple(v) for k, v in inbound.items()},
        cycles=frozenset(_cyclic_nodes(outbound)),
    )


def _cyclic_nodes(outbound: dict[str, list[Edge]]) -> set[str]:
    """Nodes on a cycle: members of a strongly connected component larger than one, or with a self-loop."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: set[str] = set()

    def visit(root: str) -> None:
        work: list[tuple[str, Iterator[Edge]]] = [(root, iter(outbound.get(root, ())))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            edge = next(edges, None)
            if edge is not None:
                if edge.target == node:
                    found.add(node)
                if edge.target not in index:
                    index[edge.target] = low[edge.target] = len(index)
                    stack.append(edge.target)
                    on_stack.add(edge.target)
                    work.append((edge.target, iter(outbound.get(edge.target, ()))))
                elif edge.target in on_stack:
                    low[node] = min(low[node], index[edge.target])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.update(component)

    for node in list(outbound):
        if node not in index:
            visit(node)
    return found


# --- parsing -------------------------------------------------------------------------------------------------------


def _pairs(value: Any, bare_names: bool = False) -> tuple[tuple[str, Any], ...]:
    """A list of one-key dicts (and, for input, bare names defaulting to None) as ordered pairs."""
    if not isinstance(value, list):
        return ()
    pairs = []
    for entry in value:
        if isinstance(entry, dict) and len(entry) == 1:
            pairs.append(next(iter(entry.items())))
        elif bare_names and isinstance(entry, str):
            pairs.append((entry, None))
    return tuple(pairs)


def _do_names(value: Any) -> tuple[str, ...]:
    """`do` as names: a comma string is split and stripped, a list kept; absent means `continue`."""
    if not value:
        return ("continue",)
    if isinstance(value, str):
        return tuple(name.strip() for name in value.split(","))
    if isinstance(value, list):
        return tuple(str(name) for name in value)
    return ("continue",)


def _transition(index: int, raw: Any) -> Transition:
    raw = raw if isinstance(raw, dict) else {}
    publish = raw.get("publish")
    pairs = tuple(parse_inline_params(publish)) if isinstance(publish, str) else _pairs(publish)
    when = raw.get("when") if isinstance(raw.get("when"), str) and raw.get("when") else None
    return Transition(index=index, when=when, publish=pairs, do=_do_names(raw.get("do")))


def _scalar(value: Any) -> Union[None, int, str]:
    """An int or an expression string (schema `STRING_OR_POSITIVE_INTEGER`), else absent."""
    return value if isinstance(value, (int, str)) and not isinstance(value, bool) and value != "" else None


def _task(name: str, raw: Any) -> TaskSpec:
    raw = raw if isinstance(raw, dict) else {}
    action = raw.get("action") if isinstance(raw.get("action"), str) and raw.get("action") else None
    task_input = raw.get("input") if isinstance(raw.get("input"), (dict, str)) and raw.get("input") else None
    inline = dict(parse_inline_params(action))
    if inline:
        action, task_input = action.partition(" ")[0], inline
    join = raw.get("join")
    join = join if join == "all" or (isinstance(join, int) and not isinstance(join, bool)) else None
    items = raw.get("with")
    items = {"items": items} if isinstance(items, str) else items
    retry = raw.get("retry")
    transitions = raw.get("next") if isinstance(raw.get("next"), list) else []
    return TaskSpec(
        name=name,
        action=action,
        input=task_input,
        next=tuple(_transition(i, t) for i, t in enumerate(transitions)),
        join=join,
        items=Items(items["items"], _scalar(items.get("concurrency")))
        if isinstance(items, dict) and isinstance(items.get("items"), str)
        else None,
        retry=Retry(retry["count"], retry.get("when") or None, _scalar(retry.get("delay")))
        if isinstance(retry, dict) and _scalar(retry.get("count")) is not None
        else None,
        delay=_scalar(raw.get("delay")),
    )


def parse(document: Union[str, bytes, dict]) -> WorkflowSpec:
    """The workflow model of a document (YAML text or dict); see `syntax_errors` for what the schema refuses."""
    data = load(document)
    tasks = data.get("tasks") if isinstance(data.get("tasks"), dict) else {}
    tags = data.get("tags")
    return WorkflowSpec(
        document=data,
        tasks={str(name): _task(str(name), raw) for name, raw in tasks.items()},
        input=_pairs(data.get("input"), bare_names=True),
        vars=_pairs(data.get("vars")),
        output=_pairs(data.get("output")),
        version=data.get("version"),
        name=data.get("name") if isinstance(data.get("name"), str) else None,
        description=data.get("description") if isinstance(data.get("description"), str) else None,
        tags=tuple(tags) if isinstance(tags, list) else (),
    )
