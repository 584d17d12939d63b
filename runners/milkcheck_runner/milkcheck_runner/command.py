"""The milkcheck runner's parameters and the `milkcheck` command lines they make.

Every value goes into an argv list, never through a shell (ssh options go into the ssh wrappers'
scripts, each one quoted word: see ssh_wrappers). Values MilkCheck could misread (a service name
starting with `-`, a variable that is a list) are refused here with a one-line ValueError, so the
execution fails with a clear message instead of a traceback or a surprising MilkCheck run.
"""

from __future__ import annotations

import os
import shutil
import sys
from typing import Any, Optional

from appliance.runners import parameter as param
from milkcheck_runner import ssh_wrappers

DEFAULT_TIMEOUT = 600
REPORTS = ("no", "default", "full")


def runner_parameters() -> dict:
    """The runner.yaml `runner_parameters` of the milkcheck runner type."""
    strings = {"type": "string"}
    return {
        "actions": param("array", "MilkCheck actions to run one after another, each as its own milkcheck run "
                                  "(e.g. [status] or [stop, start]); the run stops at the first that fails.",
                         items=strings, minItems=1, required=True),
        "services": param("array", "Services or service groups to act on; every service when empty.",
                          items=strings, default=[]),
        "config_dir": param("string", "Directory of MilkCheck service YAML files (-c); when empty, the one "
                                      "/etc/milkcheck/milkcheck.conf names (default /etc/milkcheck/conf)."),
        "only_nodes": param("string", "Act only on these nodes (-n, ClusterShell node set, e.g. node[1-64] or @io)."),
        "exclude_nodes": param("string", "Leave these nodes out (-x, ClusterShell node set)."),
        "exclude_services": param("array", "Services to skip (-X each).", items=strings, default=[]),
        "tags": param("array", "Only services with one of these tags (-t).", items=strings, default=[]),
        "variables": param("object", "MilkCheck variables to set (-D name=value each); values are strings, "
                                     "numbers or booleans.", default={}),
        "dry_run": param("boolean", "Show what would run and run nothing (--dry-run).", default=False),
        "nodeps": param("boolean", "Ignore the dependencies between services (--nodeps).", default=False),
        "report": param("string", "MilkCheck's report after the run (-r): no, default or full (failing nodes and "
                                  "commands); empty leaves it to milkcheck.conf.", enum=["", *REPORTS],
                        default="full"),
        "verbose": param("integer", "How many -v to give MilkCheck. From 2 on, every node's exit code is "
                                    "printed, so failed_nodes also lists the nodes behind a WARNING.",
                         minimum=0, default=0),
        "warning_fails": param("boolean", "Fail the execution when MilkCheck reports a WARNING (exit code 3).",
                               default=False),
        "timeout": param("integer", "Seconds all the actions may take together; then milkcheck is killed.",
                         minimum=1, default=DEFAULT_TIMEOUT),
        "milkcheck_path": param("string", "The milkcheck program: a path, or a name looked up on PATH and then "
                                          "next to the appliance's Python.", default="milkcheck"),
        "ssh_options": param("string", "Extra options for the ssh (and scp) MilkCheck starts, e.g. "
                                       '"-oPort=2222 -i /etc/st2/keys/id_ed25519"; they come after st2.conf\'s '
                                       "[ssh_runner] ssh config file and before ClusterShell's own options, so "
                                       "they win over both."),
    }


def find_milkcheck(name: str, env: dict) -> Optional[str]:
    """The milkcheck program's path, also looking in the virtualenv's bin (not always on PATH)."""
    search = os.pathsep.join(p for p in (env.get("PATH", ""), os.path.dirname(sys.executable)) if p)
    return shutil.which(name, path=search)


def _names(params: dict, key: str) -> list[str]:
    value = params.get(key) or []
    if not isinstance(value, list):
        raise ValueError(f"{key} must be a list of names, not {value!r}.")
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise ValueError(f"{key} must hold non-empty names, not {item!r}.")
        if item.startswith("-"):
            raise ValueError(f"{key}: {item!r} is not a MilkCheck name (it starts with '-').")
    return list(value)


def _text(params: dict, key: str) -> str:
    value = params.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{key} must be a string, not {value!r}.")
    return value.strip()


def _count(params: dict, key: str, default: int, minimum: int) -> int:
    value = params.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{key} must be an integer of at least {minimum}, not {value!r}.")
    return value


def _define(name: Any, value: Any) -> str:
    if not isinstance(name, str) or not name or "=" in name or name != name.strip():
        raise ValueError(f"{name!r} is not a MilkCheck variable name.")
    if isinstance(value, bool):
        return f"{name}={'true' if value else 'false'}"
    if not isinstance(value, (str, int, float)):
        raise ValueError(f"MilkCheck variable {name!r} must be a string, a number or a boolean, not {value!r}.")
    return f"{name}={value}"


def actions(params: dict) -> list[str]:
    """The MilkCheck actions to run, in order; at least one."""
    found = _names(params, "actions")
    if not found:
        raise ValueError("No MilkCheck action given: actions is empty.")
    return found


def timeout(params: dict) -> int:
    return _count(params, "timeout", DEFAULT_TIMEOUT, 1)


def ssh_options(params: dict, config: list[str]) -> list[str]:
    """What milkcheck's ssh gets first: st2.conf's `-F file` (`config`), then the action's ssh_options.

    ssh keeps the first value of an -o option and the last -F, so the action's options win either way.
    """
    return [*config, *ssh_wrappers.option_words(_text(params, "ssh_options"))]


def milkcheck_argv(program: str, params: dict, action: str) -> list[str]:
    """`milkcheck [options] [SERVICE...] ACTION` for one action; ValueError on values MilkCheck cannot take."""
    argv = [program, "-y"]  # nobody can answer a confirm_actions prompt
    argv += ["-v"] * _count(params, "verbose", 0, 0)
    options = (("-c", "config_dir"), ("-r", "report"), ("-n", "only_nodes"), ("-x", "exclude_nodes"))
    for flag, key in options:
        value = _text(params, key)
        if key == "report" and value and value not in REPORTS:
            raise ValueError(f"report must be one of {', '.join(REPORTS)}, not {value!r}.")
        if value:
            argv += [flag, value]
    for service in _names(params, "exclude_services"):
        argv += ["-X", service]
    tags = _names(params, "tags")
    if tags:
        argv += ["-t", ",".join(tags)]
    variables = params.get("variables") or {}
    if not isinstance(variables, dict):
        raise ValueError(f"variables must be an object of name: value, not {variables!r}.")
    for name, value in variables.items():
        argv += ["-D", _define(name, value)]
    if params.get("dry_run"):
        argv.append("--dry-run")
    if params.get("nodeps"):
        argv.append("--nodeps")
    if not isinstance(action, str) or not action.strip() or action.startswith("-"):
        raise ValueError(f"Not a MilkCheck action: {action!r}.")
    return argv + _names(params, "services") + [action]
