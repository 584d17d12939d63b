"""Inspection of a workflow before it runs: syntax, semantic, expression and context errors, each in the shape
StackStorm returns them (`POST /v1/workflows/inspect`, a refused run), sorted by (type, schema_path).

The checks follow Orquesta's own, false positives included: a workflow Orquesta accepts must be accepted here
and one it refuses must be refused with the same list.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional, Union

from appliance.workflows import expressions
from appliance.workflows.spec import (
    RESERVED_TASK_NAMES,
    WorkflowSpec,
    parse,
    parse_inline_params,
    syntax_errors,
)

TASKS_SCHEMA_PATH = "properties.tasks"
TASK_SCHEMA_PATH = TASKS_SCHEMA_PATH + ".patternProperties.^\\w+$"


def inspect(document: Union[str, bytes, dict], context_names: Iterable[str] = ()) -> list[dict]:
    """Every error of the workflow; `context_names` are the variables the runner provides (StackStorm: st2,
    parent). A document that is not YAML or not a mapping raises ValueError, as Orquesta does."""
    spec = parse(document)
    errors = [{"type": "syntax", **e} for e in syntax_errors(spec.document)]
    errors += [{"type": "semantic", **e} for e in semantic_errors(spec)]
    errors += [_language_typed("expression", e) for e in expression_errors(spec)]
    errors += [_language_typed("context", e) for e in context_errors(spec, context_names)]
    return sorted(errors, key=lambda e: (e["type"], e["schema_path"] or "", e["spec_path"] or ""))


def _language_typed(category: str, entry: dict) -> dict:
    """StackStorm moves the expression language from `type` to `language` and puts the category in `type`."""
    entry = dict(entry)
    entry["language"] = entry.pop("type")
    return {"type": category, **entry}


# --- semantics -----------------------------------------------------------------------------------------------------


def semantic_errors(spec: WorkflowSpec) -> list[dict]:
    """Reserved task names, no start task, undefined `do` targets, ambiguous joins, with-items without action."""
    errors = [
        _task_error(name, f'The task name "{name}" is reserved with special function.')
        for name in spec.tasks
        if name in RESERVED_TASK_NAMES
    ]
    if spec.tasks and not spec.start_tasks():
        errors.append(
            {
                "message": "Unable to identify any tasks to start the workflow. If the workflow has a loop, please add "
                "a task that serves as an entry point (or lead) into the loop.",
                "spec_path": "tasks",
                "schema_path": TASKS_SCHEMA_PATH,
            }
        )
    errors += _undefined_tasks(spec)
    errors += _unreachable_joins(spec)
    errors += [
        _task_error(name, "The action property is required for with items task.")
        for name, task in spec.tasks.items()
        if task.items is not None and not task.action
    ]
    return errors


def _task_error(name: str, message: str) -> dict:
    return {"message": message, "spec_path": f"tasks.{name}", "schema_path": TASK_SCHEMA_PATH}


def _undefined_tasks(spec: WorkflowSpec) -> list[dict]:
    """`do` targets that name no task, on the tasks reachable from the start tasks."""
    errors = []
    traversed: list[str] = []
    queued: list[str] = []
    pending = list(spec.start_tasks())
    while pending:
        name = pending.pop(0)
        traversed.append(name)
        for transition in spec.task(name).next:
            for target in transition.do:
                if target in traversed:
                    continue
                if not spec.has_task(target):
                    errors.append(
                        {
                            "message": f'The task "{target}" is not defined.',
                            "spec_path": f"tasks.{name}.next[{transition.index}].do",
                            "schema_path": TASK_SCHEMA_PATH + ".properties.next.items.properties.do",
                        }
                    )
                elif target not in RESERVED_TASK_NAMES and target not in queued:
                    pending.append(target)
                    queued.append(target)
    return errors


def _unreachable_joins(spec: WorkflowSpec) -> list[dict]:
    """Joins whose inbound tasks sit behind different splits: it is ambiguous at which level they join."""
    staging: dict[str, dict] = {}
    tracked: dict[str, set] = {}
    pending: list[tuple[Optional[str], str, list]] = [(None, name, []) for name in spec.start_tasks()]
    while pending:
        prev, name, splits = pending.pop(0)
        if name not in spec.tasks:
            continue
        if spec.is_split(name) and not spec.in_cycle(name):
            splits.append(name)
        meta = staging.setdefault(name, {"join": spec.tasks[name].is_join, "splits": set(), "prev": set()})
        meta["splits"] |= set(splits)
        if prev:
            meta["prev"].add(prev)
        for target, _, _ in spec.next_names(name):
            if target in staging and spec.in_cycle(target):
                continue
            key = f"{name}_{target}"
            if not tracked.get(key) or not set(splits) <= tracked[key]:
                pending.append((name, target, list(splits)))
                tracked[key] = tracked.get(key, set()) | set(splits)
    message = (
        'The join task "%s" is unreachable. A join task is determined to be unreachable if there are nested forks '
        "from multi-referenced tasks that join on the said task. This is ambiguous to the workflow engine because it "
        "does not know at which level should the join occurs."
    )
    return [
        _task_error(name, message % name)
        for name, meta in staging.items()
        if meta["join"] and any(meta["splits"] != staging[prev]["splits"] for prev in meta["prev"])
    ]


# --- expressions ---------------------------------------------------------------------------------------------------


def _raw_tasks(spec: WorkflowSpec) -> list[tuple[str, dict]]:
    """The tasks as written, with the inline action form and the `with` shorthand resolved as Orquesta does."""
    tasks = spec.document.get("tasks")
    if not isinstance(tasks, dict):
        return []
    resolved = []
    for name, raw in tasks.items():
        if not isinstance(raw, dict):
            continue
        raw = dict(raw)
        if parse_inline_params(raw.get("action")):
            parsed = spec.tasks[str(name)]
            raw["action"], raw["input"] = parsed.action, parsed.input
        if isinstance(raw.get("with"), str):
            raw["with"] = {"items": raw["with"]}
        resolved.append((str(name), raw))
    return resolved


def _raw_transitions(raw_task: dict) -> list[dict]:
    """A task's `next` as written, with a string `publish` parsed into one-key dicts and `do` defaulting."""
    transitions = raw_task.get("next") if isinstance(raw_task.get("next"), list) else []
    resolved = []
    for raw in transitions:
        raw = dict(raw) if isinstance(raw, dict) else {}
        if isinstance(raw.get("publish"), str):
            raw["publish"] = [{k: v} for k, v in parse_inline_params(raw["publish"])]
        raw["do"] = raw.get("do") or "continue"
        resolved.append(raw)
    return resolved


def _validated(value: Any, spec_path: str, schema_path: str) -> list[dict]:
    return [{**e, "spec_path": spec_path, "schema_path": schema_path} for e in expressions.validate(value)]


def _paths(spec_path: str, schema_path: str, name: str) -> tuple[str, str]:
    """The spec and schema paths of a property under a parent (the workflow's parent paths are empty)."""
    return f"{spec_path}.{name}".lstrip("."), f"{schema_path}.properties.{name}".lstrip(".")


def _validated_fields(raw: Any, names: tuple, spec_path: str, schema_path: str) -> list[dict]:
    raw = raw if isinstance(raw, dict) else {}
    errors = []
    for name in names:
        errors += _validated(raw.get(name), *_paths(spec_path, schema_path, name))
    return errors


def expression_errors(spec: WorkflowSpec) -> list[dict]:
    """Syntax errors of every YAQL and Jinja expression, with the path of the value that holds it."""
    errors = _validated_fields(spec.document, ("vars", "input", "output"), "", "")
    for name, raw in _raw_tasks(spec):
        path, schema = f"tasks.{name}", TASK_SCHEMA_PATH
        errors += _validated_fields(raw, ("delay", "join"), path, schema)
        errors += _validated_fields(
            raw.get("with"), ("items", "concurrency"), f"{path}.with", f"{schema}.properties.with"
        )
        errors += _validated_fields(raw, ("action", "input"), path, schema)
        errors += _validated_fields(
            raw.get("retry"), ("when", "count", "delay"), f"{path}.retry", f"{schema}.properties.retry"
        )
        for index, transition in enumerate(_raw_transitions(raw)):
            errors += _validated_fields(
                transition, ("when", "publish", "do"), f"{path}.next[{index}]", f"{schema}.properties.next.items"
            )
    return errors


# --- context -------------------------------------------------------------------------------------------------------


def _language(expression: str) -> str:
    return "yaql" if "<%" in expression else "jinja"


class _ContextCheck:
    """References to variables not yet assigned where they are used, following the task graph as Orquesta does."""

    def __init__(self, spec: WorkflowSpec) -> None:
        self.spec = spec
        self.errors: list[dict] = []

    def values(self, value: Any, spec_path: str, schema_path: str, known: set, assigns: bool = False) -> set:
        """Check one property; a string of `k=v` pairs is checked pair by pair. Returns the names now known."""
        if isinstance(value, str) and parse_inline_params(value):
            value = [{k: v} for k, v in parse_inline_params(value)]
        if not isinstance(value, list):
            return self.value(value, spec_path, schema_path, known, assigns)
        for index, item in enumerate(value):
            known = self.value(item, f"{spec_path}[{index}]", schema_path, known, assigns)
        return known

    def value(self, value: Any, spec_path: str, schema_path: str, known: set, assigns: bool) -> set:
        for expression, name in sorted(set(expressions.extract_vars(value)), key=lambda v: v[1]):
            if name.startswith("__"):
                self.error(
                    expression,
                    f'Variable "{name}" that is prefixed with double underscores is considered a private variable '
                    "and cannot be referenced.",
                    spec_path,
                    schema_path,
                )
            if name not in known:
                self.error(expression, f'Variable "{name}" is referenced before assignment.', spec_path, schema_path)
        if not assigns:
            return known
        if isinstance(value, dict):
            return known | set(value)
        return known | {value} if isinstance(value, str) else known

    def error(self, expression: str, message: str, spec_path: str, schema_path: str) -> None:
        self.errors.append(
            {
                "type": _language(expression),
                "expression": expression,
                "message": message,
                "spec_path": spec_path,
                "schema_path": schema_path,
            }
        )

    def fields(self, raw: Any, names: tuple, spec_path: str, schema_path: str, known: set, inputs: tuple = ()) -> set:
        raw = raw if isinstance(raw, dict) else {}
        for name in names:
            if raw.get(name):
                known = self.values(raw[name], *_paths(spec_path, schema_path, name), known, assigns=name in inputs)
        return known

    def workflow(self, names: Iterable[str]) -> None:
        known = self.fields(self.spec.document, ("input", "vars"), "", "", set(names), inputs=("input", "vars"))
        if self.spec.document.get("tasks"):
            known |= self.tasks(known)
        self.fields(self.spec.document, ("output",), "", "", known)

    def tasks(self, known: set) -> set:
        """Walk from the start tasks carrying the names each path has assigned; joins collect their inbounds."""
        raw_tasks = dict(_raw_tasks(self.spec))
        join_known: dict[str, set] = {}
        queued_known: dict[str, set] = {}
        traversed: list[str] = []
        rolling = set(known)
        pending: list[tuple[str, Optional[set]]] = [(name, set(known)) for name in self.spec.start_tasks()]
        while pending:
            name, task_known = pending.pop(0)
            traversed.append(name)
            task_known = task_known or join_known.get(name, set())
            raw = raw_tasks.get(name, {})
            path = f"tasks.{name}"
            task_known = self.task(raw, path, task_known)
            rolling |= task_known
            for index, transition in enumerate(_raw_transitions(raw)):
                targets = transition["do"]
                targets = [t.strip() for t in targets.split(",")] if isinstance(targets, str) else targets
                for target in targets:
                    branch = self.fields(
                        transition,
                        ("when", "publish", "do"),
                        f"{path}.next[{index}]",
                        TASK_SCHEMA_PATH + ".properties.next.items",
                        task_known,
                        inputs=("publish",),
                    )
                    if target in traversed or not self.spec.has_task(target):
                        continue
                    if not self.spec.task(target).join:
                        if queued_known.get(target) != branch:
                            pending.append((target, branch))
                            queued_known[target] = branch
                    else:
                        join_known[target] = join_known.get(target, set()) | branch
                        pending.append((target, None))
        return rolling

    def task(self, raw: dict, path: str, known: set) -> set:
        known = self.fields(raw, ("delay",), path, TASK_SCHEMA_PATH, known)
        known = self.fields(
            raw.get("with"), ("items", "concurrency"), f"{path}.with", TASK_SCHEMA_PATH + ".properties.with", known
        )
        return self.fields(raw, ("action", "input"), path, TASK_SCHEMA_PATH, known)


def context_errors(spec: WorkflowSpec, context_names: Iterable[str] = ()) -> list[dict]:
    """Variables referenced before any path assigns them (inputs, vars, publishes), and private `__` names."""
    check = _ContextCheck(spec)
    check.workflow(context_names)
    return check.errors
