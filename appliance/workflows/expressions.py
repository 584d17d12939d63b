"""Orquesta expressions: YAQL `<% %>` and Jinja `{{ }}` / `{% %}`, evaluated and inspected as Orquesta does.

Rules (Orquesta's, see the reference's §8): dicts (keys too) and lists are evaluated recursively; a
string that is exactly one expression gives the expression's native value, any other string is
interpolation (str() of each value); a string result is evaluated again while it holds expressions;
one string may not mix YAQL and Jinja. Errors carry Orquesta's text, which workflows report verbatim.

YAQL runs yaql 3.1.0 (StackStorm 3.9's pin) with limits on collection sizes and memory, on the workflow
data converted to yaql's frozen types; results come back as plain lists and dicts. Jinja runs in a
sandbox with StrictUndefined, trim_blocks and lstrip_blocks, `{% raw %}` blocks kept verbatim for
whoever renders the value next (StackStorm renders action parameters once more).
"""

from __future__ import annotations

import collections.abc  # noqa: F401  yaql 3.1.0 uses collections.abc without importing it (Python 3.10+)
import functools
import inspect
import re
import threading
from typing import Any, Callable, Dict, List, Mapping, Tuple

import jinja2
import jinja2.sandbox
import yaql
from yaql.language import exceptions as yaql_exceptions
from yaql.language import factory as yaql_factory
from yaql.language import utils as yaql_utils

from appliance.workflows.functions import CONTEXT_FUNCTIONS, FUNCTIONS


class ExpressionError(Exception):
    """An expression that cannot be evaluated; the message is Orquesta's, e.g. "YaqlEvaluationException: …"."""


_YAQL = re.compile(r"<%.*?%>", re.DOTALL)
_JINJA_EXPRESSION = re.compile(r"{{.*?}}", re.DOTALL)
_JINJA_BLOCK = re.compile(r"{%.*?%}", re.DOTALL)
_JINJA_RAW = re.compile(r"{%-?\s*raw\s*-?%}.*?{%-?\s*endraw\s*-?%}", re.DOTALL)
_RAW_MARK = "\x1araw-{}-{}\x1a"  # stands for raw block (depth, index) while the rest of the string is evaluated

_MAX_DEPTH = 32  # re-evaluations of results holding expressions: a variable holding itself stops here
_MIXED = "Expression with multiple types is not supported."

# ctx variable references as Orquesta's inspection finds them: ctx().name, ctx(name), ctx('name'), ctx("name").
_VARIABLE_REFERENCES = (
    re.compile(r"\bctx\(\)\.(\w+)\b(?!\()"),
    re.compile(r"\bctx\((\w+)\)"),
    re.compile(r"\bctx\('([^']+)'\)"),
    re.compile(r'\bctx\("([^"]+)"\)'),
)

# Bounds for YAQL: a collection a query function walks holds at most limitIterators items (10x the largest
# with-items the appliance is measured on), and no value a function takes or makes exceeds memoryQuota bytes.
# They bound each step, not the CPU time of nested queries (yaql has no clock).
YAQL_OPTIONS: Dict[str, Any] = {
    "yaql.limitIterators": 100_000,
    "yaql.memoryQuota": 64 * 1024 * 1024,
    "yaql.convertSetsToLists": True,
}
_YAQL_ENGINE = yaql_factory.YaqlFactory().create(options=YAQL_OPTIONS)
_YAQL_PARSE_LOCK = threading.Lock()  # the ply parser keeps its state on itself
_SCOPE = "#scope"  # yaql data key of the evaluation context: `$#scope` does not lex, expressions cannot reach it

# Bounds for Jinja: the sandbox caps range(); these cap what one `*` or `**` may build.
JINJA_MAX_LENGTH = 10_000_000  # characters or items of a repeated string or list
JINJA_MAX_POWER_BITS = 1_000_000


# --- strings and their expressions ---------------------------------------------------------------------------------


def _without_raw_blocks(text: str, depth: int = 0) -> Tuple[str, List[str]]:
    """The text with each `{% raw %}` block replaced by a mark, and the blocks, to put back after evaluation.

    Marks carry the depth: a re-evaluated result may hold the marks of the string it came from.
    """
    blocks = _JINJA_RAW.findall(text)
    for index, block in enumerate(blocks):
        text = text.replace(block, _RAW_MARK.format(depth, index), 1)
    return text, blocks


def _with_raw_blocks(value: Any, blocks: List[str], depth: int) -> Any:
    if not isinstance(value, str):
        return value
    for index, block in enumerate(blocks):
        value = value.replace(_RAW_MARK.format(depth, index), block)
    return value


def _languages(body: str) -> Tuple[str, ...]:
    """The kinds of expression in a string whose raw blocks are taken out: their text is no expression."""
    found = ("yaql",) if _YAQL.search(body) else ()
    if _JINJA_EXPRESSION.search(body) or _JINJA_BLOCK.search(body):
        found += ("jinja",)
    return found


def _strip(expression: str) -> str:
    """The source between the two-character delimiters."""
    return expression[2:-2].strip()


def _failure(kind: str, expression: str, error: BaseException) -> ExpressionError:
    return ExpressionError(f"{kind}: Unable to evaluate expression '{expression}'. {type(error).__name__}: {error}")


# --- YAQL ------------------------------------------------------------------------------------------------------------


def _thawed(value: Any) -> Any:
    """yaql's frozen dicts and tuples as dicts and lists, for functions written for plain data."""
    return yaql_utils.convert_output_data(value, lambda items: items, _YAQL_ENGINE)


def _yaql_function(function: Callable[..., Any], with_context: bool) -> Callable[..., Any]:
    """`function` as yaql calls it: plain arguments in, frozen result out, and for context functions the
    evaluation context in place of the yaql context (yaql injects that into a first parameter named context)."""

    def call(*args: Any, **kwargs: Any) -> Any:
        head = (args[0].get_data(_SCOPE),) if with_context else ()
        plain = tuple(_thawed(arg) for arg in args[len(head):])
        result = function(*head, *plain, **{name: _thawed(value) for name, value in kwargs.items()})
        return yaql_utils.convert_input_data(result)

    call.__signature__ = inspect.signature(function)  # type: ignore[attr-defined]  # yaql reads the parameters
    return call


def _yaql_root() -> Any:
    """yaql's standard library with the workflow functions over it."""
    root = yaql.create_context().create_child_context()
    for name, function in FUNCTIONS.items():
        root.register_function(_yaql_function(function, with_context=False), name=name)
    for name, function in CONTEXT_FUNCTIONS.items():
        root.register_function(_yaql_function(function, with_context=True), name=name)
    return root


_YAQL_ROOT = _yaql_root()


@functools.lru_cache(maxsize=4096)
def _yaql_statement(source: str) -> Any:
    """Parsed once: parsing is most of the cost of a small expression."""
    with _YAQL_PARSE_LOCK:
        return _YAQL_ENGINE(source)


def _run_yaql(expression: str, context: Mapping[str, Any]) -> Any:
    scope = _YAQL_ROOT.create_child_context()
    scope[_SCOPE] = context
    try:
        return _yaql_statement(_strip(expression)).evaluate(context=scope)
    except KeyError as error:  # a dict key that is not there, as ctx().missing
        key = error.args[0] if error.args else ""
        raise ExpressionError(
            f"YaqlEvaluationException: Unable to resolve key '{key}' in expression '{expression}' from context."
        ) from error
    except Exception as error:
        raise _failure("YaqlEvaluationException", expression, error) from error


def _evaluate_yaql(text: str, context: Mapping[str, Any], depth: int) -> Any:
    expressions = _YAQL.findall(text)

    def value(expression: str) -> Any:
        result = _run_yaql(expression, context)
        return _evaluate_string(result, context, depth + 1) if isinstance(result, str) else result

    if expressions == [text]:
        return value(text)
    return _YAQL.sub(lambda match: str(value(match.group(0))), text)


# --- Jinja -----------------------------------------------------------------------------------------------------------


class _Sandbox(jinja2.sandbox.SandboxedEnvironment):
    """Jinja's sandbox, also refusing a `*` or `**` that would build a value too large to hold."""

    intercepted_binops = frozenset(["*", "**"])

    def call_binop(self, context: jinja2.runtime.Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            _check_power(left, right)
        else:
            _check_repeat(left, right)
            _check_repeat(right, left)
        return super().call_binop(context, operator, left, right)


def _check_power(base: Any, exponent: Any) -> None:
    if isinstance(base, int) and isinstance(exponent, int) and abs(base) > 1 and exponent > 0:
        if abs(base).bit_length() * exponent > JINJA_MAX_POWER_BITS:
            raise jinja2.sandbox.SecurityError(f"the result of {base} ** {exponent} would be too large")


def _check_repeat(sequence: Any, count: Any) -> None:
    if isinstance(sequence, (str, list, tuple)) and isinstance(count, int):
        if len(sequence) * count > JINJA_MAX_LENGTH:
            raise jinja2.sandbox.SecurityError(f"repeating a value {count} times would make it too long")


_JINJA = _Sandbox(undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
_JINJA.filters.update(FUNCTIONS)
_JINJA.globals.update(FUNCTIONS)


@functools.lru_cache(maxsize=4096)
def _jinja_expression(source: str) -> Any:
    return _JINJA.compile_expression(source, undefined_to_none=False)


@functools.lru_cache(maxsize=1024)
def _jinja_template(text: str) -> jinja2.Template:
    return _JINJA.from_string(text)


def _jinja_names(context: Mapping[str, Any]) -> Dict[str, Any]:
    """What a template sees: only the context functions, bound to this evaluation's context."""
    return {name: functools.partial(function, context) for name, function in CONTEXT_FUNCTIONS.items()}


def _run_jinja(expression: str, names: Dict[str, Any]) -> Any:
    try:
        result = _jinja_expression(_strip(expression))(names)
        if isinstance(result, jinja2.Undefined):
            str(result)  # a StrictUndefined raises only when used
        return result
    except Exception as error:
        raise _failure("JinjaEvaluationException", expression, error) from error


def _render_jinja(text: str, names: Dict[str, Any]) -> str:
    try:
        return _jinja_template(text).render(names)
    except Exception as error:
        raise _failure("JinjaEvaluationException", text, error) from error


def _evaluate_jinja(text: str, context: Mapping[str, Any], depth: int) -> Any:
    """A string with a block is one template (a string results); otherwise each `{{ }}` is evaluated."""
    names = _jinja_names(context)
    if _JINJA_BLOCK.search(text):
        return _evaluate_string(_render_jinja(text, names), context, depth + 1)

    def value(expression: str) -> Any:
        result = _run_jinja(expression, names)
        return _evaluate_string(result, context, depth + 1) if isinstance(result, str) else result

    if _JINJA_EXPRESSION.findall(text) == [text]:
        return value(text)
    return _JINJA_EXPRESSION.sub(lambda match: str(value(match.group(0))), text)


# --- the interface ---------------------------------------------------------------------------------------------------

# language -> (evaluator, Orquesta's exception name, what counts as an unresolved expression)
_EVALUATORS = {
    "yaql": (_evaluate_yaql, "YaqlEvaluationException", _YAQL),
    "jinja": (_evaluate_jinja, "JinjaEvaluationException", _JINJA_EXPRESSION),
}


def _evaluate_string(text: str, context: Mapping[str, Any], depth: int) -> Any:
    """Raw blocks are set aside, the rest evaluated by its one language, the raw blocks put back."""
    body, raw_blocks = _without_raw_blocks(text, depth)
    languages = _languages(body)
    if not languages:
        return text
    if len(languages) > 1:
        raise ExpressionError(f"ExpressionEvaluationException: {_MIXED}")
    evaluator, kind, pattern = _EVALUATORS[languages[0]]
    if depth >= _MAX_DEPTH:
        unresolved = ", ".join(pattern.findall(body)) or body
        raise ExpressionError(f"{kind}: There are unresolved variables: {unresolved}")
    try:
        return _with_raw_blocks(evaluator(body, context, depth), raw_blocks, depth)
    except ExpressionError as error:  # the message quotes the string: with its raw blocks, as written
        raise ExpressionError(_with_raw_blocks(str(error), raw_blocks, depth)) from error


def _key(key: Any, context: Mapping[str, Any]) -> Any:
    """A dict key evaluated: it must stay usable as a key."""
    value = evaluate(key, context)
    try:
        hash(value)
    except TypeError:
        raise ExpressionError(
            f"ExpressionEvaluationException: The key '{key}' evaluates to a {type(value).__name__}, not a key."
        ) from None
    return value


def evaluate(value: Any, context: Dict[str, Any]) -> Any:
    """`value` with every expression in it evaluated against the workflow `context` (see the module doc).

    `context` holds the workflow variables and the engine's reserved "__" keys (see functions.py). Jinja
    gets the context's own containers: a template that mutates them (`.append`) mutates the caller's data.
    """
    if isinstance(value, dict):
        return {_key(key, context): evaluate(item, context) for key, item in value.items()}
    if isinstance(value, list):
        return [evaluate(item, context) for item in value]
    if isinstance(value, str):
        return _evaluate_string(value, context, 0)
    return value


def _error(language: Any, expression: str, message: str) -> Dict[str, Any]:
    return {"type": language, "expression": expression, "message": message}


def _yaql_syntax_errors(text: str) -> List[Dict[str, Any]]:
    errors = []
    for expression in _YAQL.findall(text):
        try:
            _yaql_statement(_strip(expression))
        except yaql_exceptions.YaqlException as error:
            errors.append(_error("yaql", expression, str(error)))
    return errors


def _jinja_syntax_errors(text: str, body: str) -> List[Dict[str, Any]]:
    """A string with a block is checked as one template; otherwise each `{{ }}` on its own."""
    if _JINJA_BLOCK.search(body):
        try:
            _jinja_template(text)
        except jinja2.TemplateSyntaxError as error:
            return [_error("jinja", text, str(error))]
        return []
    errors = []
    for expression in _JINJA_EXPRESSION.findall(body):
        try:
            _jinja_expression(_strip(expression))
        except jinja2.TemplateSyntaxError as error:
            errors.append(_error("jinja", expression, str(error)))
    return errors


def _strings(value: Any) -> List[str]:
    """Every string in `value`, dict keys included, depth first."""
    if isinstance(value, dict):
        return [text for key, item in value.items() for text in _strings(key) + _strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return [value] if isinstance(value, str) else []


def validate(value: Any) -> List[Dict[str, Any]]:
    """Syntax errors of the expressions in `value`, as Orquesta's inspection lists them:
    {"type": "yaql"|"jinja", "expression", "message"}; a string mixing both kinds gives one entry
    {"type": None, "expression": <the string>, "message": "Expression with multiple types is not supported."}.
    """
    errors = []
    for text in _strings(value):
        body = _without_raw_blocks(text)[0]
        languages = _languages(body)
        if len(languages) > 1:
            errors.append(_error(None, text, _MIXED))
        elif languages == ("yaql",):
            errors += _yaql_syntax_errors(body)
        elif languages == ("jinja",):
            errors += _jinja_syntax_errors(text, body)
    return errors


def extract_vars(value: Any) -> List[Tuple[str, str]]:
    """(string, variable name) for each ctx variable the expressions in `value` read: ctx().name, ctx(name),
    ctx('name') and ctx("name"). As Orquesta's, the first element is the whole string holding the
    expression; sorted by name, without duplicates. `$` is yaql's lambda argument, never the context."""
    found = set()
    for text in _strings(value):
        body = _without_raw_blocks(text)[0]
        for expression in _YAQL.findall(body) + _JINJA_EXPRESSION.findall(body) + _JINJA_BLOCK.findall(body):
            for pattern in _VARIABLE_REFERENCES:
                found.update((text, name) for name in pattern.findall(expression))
    return sorted(found, key=lambda reference: (reference[1], reference[0]))
