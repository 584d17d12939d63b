"""Action parameters: merge runner and action specs, validate a request, render Jinja, cast values.

StackStorm writes `required: true` on each property (draft-3 style); validation here turns that
into a draft-4 `required` list and forbids unknown parameters, with jsonschema's own messages.
"""

from __future__ import annotations

import ast
import json
from typing import Any, Optional

import jinja2
import jinja2.meta
import jinja2.sandbox
import jsonschema

from appliance.datastore.crypto import CryptoError
from appliance.datastore.keys import Keys, decrypt_kv
from appliance.expressions.filters import FILTERS, NONE_MAGIC_VALUE
from appliance.json_schemas import nullable, validator_for
from appliance.models.config import items_for, properties_for
from appliance.models.parameter_specs import ST2_ONLY_KEYS
from appliance.models.schema import SECRET_MASK

# Sandboxed: a template from a request must not reach Python internals (cycler.__init__.__globals__).
_jinja = jinja2.sandbox.SandboxedEnvironment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
_jinja.filters.update(FILTERS)  # StackStorm's filters, wherever it renders
_jinja.filters["decrypt_kv"] = decrypt_kv


class ParameterError(ValueError):
    """A request's parameters are invalid; the message is the API's faultstring."""


def render_template(text: str, scope: dict) -> str:
    """One template in the sandboxed environment (rule criteria patterns)."""
    return _jinja.from_string(text).render(scope)


def render_values(values: dict, scope: dict) -> dict:
    """Templates among `values` rendered over `scope` and each other, in dependency order (a rule's
    action parameters over `trigger`); ParameterError names the value that failed."""
    return _render_all(values, scope)


def merged_specs(runner_parameters: dict, action_parameters: dict) -> dict:
    """Runner parameter specs overlaid by the action's (the action may change default, immutable).
    A new mapping, whose specs may be the callers' own: read them, never change them."""
    specs = dict(runner_parameters or {})
    for name, spec in (action_parameters or {}).items():
        specs[name] = {**specs.get(name, {}), **spec}
    return specs


def _schema(specs: dict) -> dict:
    properties = {}
    for name, spec in specs.items():
        prop = {key: value for key, value in spec.items() if key not in ST2_ONLY_KEYS and key != "default"}
        # As StackStorm validates a request: an optional parameter, or one whose default is null, may be null.
        if (not spec.get("required") or "default" in spec) and spec.get("default") is None:
            prop = nullable(prop)
        properties[name] = prop
    required = sorted(name for name, spec in specs.items() if spec.get("required") and "default" not in spec)
    schema: dict = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = required
    return schema


def _request_validator(specs: dict) -> jsonschema.Draft4Validator:
    """The validator of requests for {"runner": runner parameter specs, "action": the action's}."""
    return jsonschema.Draft4Validator(_schema(merged_specs(specs["runner"], specs["action"])))


def validate_request(runner_type: dict, action: dict, given: dict) -> None:
    """Reject unknown, missing, ill-typed and immutable-overriding parameters (HTTP 400)."""
    if not isinstance(given, dict):
        raise ParameterError("parameters must be an object")
    action_specs = action.get("parameters") or {}
    runner_specs = runner_type.get("runner_parameters") or {}
    overridden = sorted(
        name for name in given
        if (action_specs.get(name) or {}).get("immutable")
        or ((runner_specs.get(name) or {}).get("immutable") and name not in action_specs)
    )
    if overridden:
        raise ParameterError(f"Override of immutable parameter(s) {', '.join(overridden)} is unsupported.")
    validator = validator_for({"runner": runner_specs, "action": action_specs}, _request_validator)
    # Templates are rendered later; only their presence counts now, not their type.
    errors = [
        error for error in validator.iter_errors(given)
        if not (error.path and _is_template(given.get(error.path[0])))
    ]
    if errors:
        error = sorted(errors, key=lambda e: (e.validator != "required", list(e.path)))[0]
        where = ".".join(str(p) for p in error.path)
        raise ParameterError(error.message + (f" (parameter {where!r})" if where else ""))


def _is_template(value: Any) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def render(
    runner_type: dict, action: dict, given: dict, context: dict, keys: Optional[Keys] = None
) -> tuple[dict, dict]:
    """Apply defaults, render Jinja over the other parameters, `action_context` and, given the
    datastore, `st2kv` (for the context's user), and split the result into (runner parameter
    values, action parameter values). A rule enforcement's values were rendered over the trigger
    payload already (context `parameters_rendered`): they are taken literally, so that text from a
    payload is never rendered as a template."""
    runner_specs = runner_type.get("runner_parameters") or {}
    specs = merged_specs(runner_specs, action.get("parameters") or {})
    raw: dict = {name: spec["default"] for name, spec in specs.items() if "default" in spec}
    raw.update(given)
    scope: dict = {"action_context": context}
    if keys is not None:
        scope["st2kv"] = keys.namespace(context.get("api_user") or context.get("user"))
    literal = given if context.get("parameters_rendered") else {}
    resolved = _render_all(raw, scope, literal)
    for name, value in resolved.items():
        resolved[name] = cast_text(value, (specs.get(name) or {}).get("type"))
    runner_values = {name: value for name, value in resolved.items() if name in runner_specs}
    action_values = {name: value for name, value in resolved.items() if name not in runner_specs}
    return runner_values, action_values


def _render_all(raw: dict, extra: dict, literal: Optional[dict] = None) -> dict:
    """Render templates in dependency order (`literal` values are final as they are); a cycle or
    an unknown name is a ParameterError."""
    literal = literal or {}
    done: dict = {name: value for name, value in raw.items() if name in literal or not _templates_in(value)}
    pending = {name: value for name, value in raw.items() if name not in done}
    while pending:
        progressed = False
        for name, value in list(pending.items()):
            needs = _variables(value) & set(raw)
            if needs - set(done) - {name}:
                continue
            scope = {**extra, **done}
            try:
                done[name] = _render_value(value, scope)
            except Exception as exc:  # a template's own error ({{ 1/0 }}, a filter's TypeError) is the user's
                detail = str(exc) if isinstance(exc, jinja2.TemplateError) else f"{type(exc).__name__}: {exc}"
                raise ParameterError(f"Failed to render parameter {name!r}: {detail}") from exc
            del pending[name]
            progressed = True
        if not progressed:
            raise ParameterError(f"Cyclic dependency between parameters: {', '.join(sorted(pending))}")
    return {name: done[name] for name in raw}


def _templates_in(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_templates_in(v) for v in value.values())
    if isinstance(value, list):
        return any(_templates_in(v) for v in value)
    return _is_template(value)


def _variables(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set().union(*[_variables(v) for v in value.values()]) if value else set()
    if isinstance(value, list):
        return set().union(*[_variables(v) for v in value]) if value else set()
    if _is_template(value):
        try:
            return jinja2.meta.find_undeclared_variables(_jinja.parse(value))
        except jinja2.TemplateSyntaxError as exc:
            raise ParameterError(f"Invalid Jinja template {value!r}: {exc}") from exc
    return set()


def _render_value(value: Any, scope: dict) -> Any:
    if isinstance(value, dict):
        return {k: _render_value(v, scope) for k, v in value.items()}
    if isinstance(value, list):
        return [_render_value(v, scope) for v in value]
    if _is_template(value):
        return _jinja.from_string(value).render(scope)
    return value


def render_config(config: dict, schema: dict, keys: Keys, user: str, pack: str) -> dict:
    """A pack config with its templates (`{{ st2kv.system.token }}`) rendered for `user`, at any
    depth, as StackStorm's config loader does: an empty result becomes None, and an item that the
    config schema marks `secret` is decrypted (unless its template does it with decrypt_kv). The
    schema of a nested value comes from properties, patternProperties, additionalProperties, items
    and additionalItems (appliance.models.config)."""
    scope = {"st2kv": keys.namespace(user)}

    def walk(value: Any, spec: dict, path: str) -> Any:
        if isinstance(value, dict):
            specs = properties_for(spec, list(value))
            return {k: walk(v, _spec(specs.get(k)), f"{path}{k}.") for k, v in value.items()}
        if isinstance(value, list):
            specs = items_for(spec, len(value))
            return [walk(v, specs[i] if i < len(specs) else {}, f"{path}{i}.") for i, v in enumerate(value)]
        if not _is_template(value):
            return value
        try:
            rendered = _jinja.from_string(value).render(scope)
            if rendered and spec.get("secret") and "decrypt_kv" not in value:
                rendered = keys.decrypt(rendered)
        except Exception as exc:  # a template's own error ({{ 1/0 }}, a filter's TypeError) is the config's
            known = isinstance(exc, (jinja2.TemplateError, CryptoError))
            detail = str(exc) if known else f"{type(exc).__name__}: {exc}"
            raise ParameterError(f'Failed to render dynamic configuration value for key "{path[:-1]}" with value '
                                 f'"{value}" for pack "{pack}" config: {detail}') from None
        return rendered or None

    return walk(config, {"properties": schema}, "")


def _spec(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def cast_values(runner_type: dict, action: dict, values: dict) -> dict:
    """`values` with each text given its parameter's declared type (see cast_text), as StackStorm's rule
    enforcer types the parameters it rendered over a trigger payload."""
    specs = merged_specs(runner_type.get("runner_parameters") or {}, action.get("parameters") or {})
    return {name: cast_text(value, (specs.get(name) or {}).get("type")) for name, value in values.items()}


def cast_text(value: Any, kind: Any) -> Any:
    """Rendered text given the type its parameter declares, as StackStorm casts what a rule or an action
    chain rendered (`"3"` for an integer is 3, `"['a', 'b']"` for an array is a list, the use_none filter's
    marker is None). Only text is cast; text that does not convert stays text, and the request's validation
    then names the parameter."""
    if not isinstance(value, str):
        return value
    if value == NONE_MAGIC_VALUE:
        return None
    try:
        if kind in ("object", "array"):
            return _structure(value)
        if kind == "integer":
            return int(value)
        if kind == "number":
            return float(value)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return value
    if kind == "boolean" and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


def _structure(text: str) -> Any:
    """JSON, else a Python literal (never evaluated code): `{{ list_var }}` renders a list as Python writes it."""
    try:
        return json.loads(text)
    except ValueError:
        return ast.literal_eval(text)


def secret_names(runner_type: dict, action: dict) -> set:
    """The parameters the action's or its runner's specs mark secret (the action's spec wins)."""
    runner_specs = runner_type.get("runner_parameters") or {}
    action_specs = action.get("parameters") or {}
    return {name for name in {*runner_specs, *action_specs}
            if (action_specs.get(name) or {}).get("secret", (runner_specs.get(name) or {}).get("secret"))}


def mask_secrets(parameters: dict, runner_type: dict, action: dict) -> dict:
    """The parameters with secret values replaced by the mask, for API responses."""
    secret = secret_names(runner_type, action)
    return {name: SECRET_MASK if name in secret else value for name, value in parameters.items()}
