"""What a pack's own Python code (python-script actions, sensors) runs with: the interpreter of the
pack's virtualenv, an import path with StackStorm's modules (appliance/compat) and the pack's lib
folders, and the pack's config with its datastore templates rendered. The python runner and the
sensor container both start pack code this way.
"""

from __future__ import annotations

import os
import sys
from typing import Optional

import yaml

from appliance.datastore.keys import Keys
from appliance.models.config import CONFIG_SCHEMA_FILE, CONFIG_SCHEMAS, fill_defaults, validate_config
from appliance.models.schema import ValidationError
from appliance.parameters import render_config

# st2common, st2actions and st2reactor as packs import them; handed on PYTHONPATH, never imported here.
COMPAT_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "compat")


class PackConfigError(ValueError):
    """The pack's config file cannot be used; the message is one line naming the file."""


def interpreter(virtualenv: str, python_binary: str) -> tuple[str, Optional[str]]:
    """The pack virtualenv's python and bin/ when it has one, else python_binary or the appliance's python."""
    if virtualenv:
        candidate = os.path.join(virtualenv, "bin", "python")
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate, os.path.join(virtualenv, "bin")
    return python_binary or sys.executable, None


def python_path(pack_path: str, code_file: str, in_virtualenv: bool, inherited: str = "") -> str:
    """PYTHONPATH for pack code: the pack's lib/, the lib/ beside the code, StackStorm's modules, and
    (only when the code runs in the appliance's own environment) the inherited path."""
    paths = [os.path.join(pack_path, "lib"), os.path.join(pack_path, "actions", "lib")]
    beside = os.path.join(os.path.dirname(code_file), "lib")
    if beside not in paths:
        paths.append(beside)
    paths.append(COMPAT_PATH)
    if not in_virtualenv and inherited:
        paths.append(inherited)
    return os.pathsep.join(paths)


def read_pack_config(path: str) -> dict:
    """The pack config at `path` (StackStorm's <base_path>/configs/<pack>.yaml); none = {}."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise PackConfigError(f"Cannot read the pack config {path}: {exc.strerror}.") from None
    except UnicodeDecodeError as exc:
        raise PackConfigError(f"The pack config {path} is not UTF-8 text (byte {exc.start}).") from None
    except yaml.YAMLError as exc:
        raise PackConfigError(f"The pack config {path} is not valid YAML: {yaml_problem(exc)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise PackConfigError(f"The pack config {path} must be a mapping of keys to values, "
                              f"not a {type(data).__name__}.")
    return data


def yaml_problem(exc: yaml.YAMLError) -> str:
    """PyYAML's problem and position on one line, without its multi-line context."""
    problem, mark = getattr(exc, "problem", None), getattr(exc, "problem_mark", None)
    if problem and mark:
        return f"{problem} (line {mark.line + 1}, column {mark.column + 1})"
    return " ".join(str(exc).split())


def pack_config(configs_path: str, pack: str, pack_path: str, keys: Keys, user: str) -> dict:
    """The pack's config as its code sees it (python actions' self.config, a sensor's config), the
    one place it is made: <configs_path>/<pack>.yaml, when there is one, checked against the pack's
    config.schema.yaml as registration checks it; its st2kv templates rendered for `user` and the
    schema's secret items decrypted; then the schema's defaults put in for what it leaves out, as
    StackStorm's config loader does (also without a config file). Raises PackConfigError or
    parameters.ParameterError, one line each."""
    path = os.path.join(configs_path, f"{pack}.yaml")
    config = read_pack_config(path)
    schema_path = os.path.join(pack_path, CONFIG_SCHEMA_FILE) if pack_path else ""
    schema = read_pack_config(schema_path) if schema_path else {}
    try:
        CONFIG_SCHEMAS.fields["attributes"].validate("attributes", schema)  # as registration checks it
    except ValidationError as exc:
        raise PackConfigError(f"The pack config schema {schema_path} is invalid: {exc}") from None
    if os.path.exists(path):
        try:
            validate_config(config, schema, pack, path)
        except ValidationError as exc:
            raise PackConfigError(str(exc)) from None
    return fill_defaults(render_config(config, schema, keys, user, pack), schema)
