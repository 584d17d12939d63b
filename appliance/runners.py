"""The runner plugin interface: what st2actionrunner hands a runner and what it gets back.

A runner is a class registered under the entry-point group `appliance.runners` (name = runner type
name, e.g. local-shell-cmd). Its RUNNER_TYPE dict is the RunnerType document StackStorm keeps in
runner.yaml (name, description, runner_parameters, output_key, output_schema); content registration
stores it so `st2 runner list` and `st2 run` see it.

Runner packages are imported one at a time, when a runner is first needed (`load`), so one broken
package costs its own runners only: registration and the action runner keep the others.
"""

from __future__ import annotations

import functools
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Callable, Optional

ENTRY_POINT_GROUP = "appliance.runners"

OutputSink = Callable[[str, str], None]  # (output_type "stdout" | "stderr", data)


class RunnerLoadError(Exception):
    """A runner is not installed or its package does not import; the message is one line."""


@dataclass(frozen=True)
class RunnerSettings:
    """The st2.conf values runners use, so they never need the whole Config; empty = runner's default."""

    python_binary: str = ""  # [actionrunner] python_binary: python-script for packs without a virtualenv
    system_user: str = ""  # [system_user] user: remote login name when the action gives no username
    ssh_key_file: str = ""  # [system_user] ssh_key_file: remote key when neither private_key nor an agent
    ssh_config_file: str = ""  # [ssh_runner] ssh_config_file_path when use_ssh_config: ssh -F for every runner

    def ssh_config_options(self) -> list[str]:
        """`-F <file>` when st2.conf names the ssh configuration, else nothing (ssh's own defaults)."""
        return ["-F", self.ssh_config_file] if self.ssh_config_file else []


def _no_children(ref: str, parameters: dict, context: dict, **notify: Any) -> dict:
    """RunContext.run_child where nothing can run a child execution (a runner tested alone)."""
    raise RuntimeError("No action runner to run child executions.")


@dataclass
class RunContext:
    """Everything one execution's runner needs; built by st2actionrunner."""

    execution_id: str
    action: dict
    runner_parameters: dict  # resolved values of the runner's parameters (defaults applied)
    action_parameters: dict  # resolved values of the action's own parameters
    entry_point: str  # absolute path of the action's entry point, "" when it has none
    pack_path: str  # the pack's directory
    virtualenv: str  # the pack's virtualenv directory (may not exist)
    env: dict[str, str]  # ST2_ACTION_* variables for the action's process
    user: str
    pack_config: dict = field(default_factory=dict)
    settings: RunnerSettings = field(default_factory=RunnerSettings)
    emit: OutputSink = lambda output_type, data: None
    cancel: threading.Event = field(default_factory=threading.Event)
    started: Callable[[int], None] = lambda process_group: None  # runners report the group they start
    # (definition, inputs) -> inspection errors, [] when st2workflowengine now has the workflow
    request_workflow: Callable[[str, dict], list] = lambda definition, inputs: [{"message": "No workflow engine."}]
    # Runners that run other actions (action-chain): (ref, parameters, context, notify=None, skip_notify=False) ->
    # the child execution once it has completed; a cancel of this execution cancels it. st2actionrunner adds
    # `parent` to the context; the child notifies with its action's notify, else `notify`, else this execution's.
    run_child: Callable[..., dict] = _no_children
    # ref -> that action's parameter specs (its runner's overlaid by its own), None when it is not registered
    action_specs: Callable[[str], Optional[dict]] = lambda ref: None
    # a fresh `st2kv` template namespace (system, user) for this execution's user
    st2kv: Callable[[], dict] = dict
    # PAUSABLE runners: whether a pause of this execution was asked (read afresh), and, when the execution is
    # resumed after a pause, what it stored then: {"result": ..., "context": ...}
    pause_requested: Callable[[], bool] = lambda: False
    resumed: Optional[dict] = None
    # PAUSABLE runners: child execution id -> that paused child resumed and awaited like run_child's
    resume_child: Callable[[str], dict] = lambda execution_id: _no_children("", {}, {})

    @property
    def pack(self) -> str:
        return self.action.get("pack", "")


@dataclass
class RunResult:
    """A final status (one of succeeded, failed, timeout, canceled, abandoned) and the result; an ASYNC
    runner may answer "running" and a runner may answer one of its WAITING_STATUSES: another service
    completes the execution. `triggers` are dispatched once this outcome is stored (an inquiry's
    core.st2.generic.inquiry), so whoever the trigger reaches finds the execution in that status."""

    status: str
    result: Any
    triggers: list[tuple[str, dict]] = field(default_factory=list)  # (trigger ref, payload)
    context: dict = field(default_factory=dict)  # added to the execution's context (a paused chain's vars)


class Runner(ABC):
    """One runner type. A new instance runs each execution, so instances may keep state."""

    RUNNER_TYPE: dict = {}
    # Runners that start user code hand it ST2_ACTION_AUTH_TOKEN; the others skip issuing one.
    RUNS_USER_CODE = True
    # Runners that hand the execution to another service (orquesta: st2workflowengine) and return "running".
    ASYNC = False
    # Non-final statuses run() may answer; the execution then waits in it (inquirer: "pending", until a response).
    WAITING_STATUSES: tuple[str, ...] = ()
    # Runners that pause between steps when asked (answering "paused", one of their WAITING_STATUSES) and run
    # again from there once resumed (action-chain).
    PAUSABLE = False

    @abstractmethod
    def run(self, ctx: RunContext) -> RunResult:
        """Run the action to completion, honouring ctx.cancel and the `timeout` parameter."""


def runner_type(name: str, package: str, module: str, description: str, parameters: dict, **extra: Any) -> dict:
    """A RUNNER_TYPE document (StackStorm's runner.yaml entry) for an enabled runner."""
    return {"name": name, "description": description, "enabled": True, "runner_package": package,
            "runner_module": module, "runner_parameters": parameters, **extra}


def parameter(kind: str, description: str, **extra: Any) -> dict:
    """One runner parameter spec in StackStorm's runner.yaml form (type, description, default, ...)."""
    return {"description": description, "type": kind, **extra}


def script_parameters() -> dict:
    """`debug` and `content_version`, the runner parameters StackStorm's script runners share."""
    return {
        "debug": {"description": "Turn on the runner's debug mode.", "type": "boolean",
                  "required": False, "default": False},
        "content_version": {
            "description": "Git revision (commit, tag or branch) of the pack content to run; "
                           "only for packs that are git repositories.",
            "type": "string",
            "required": False,
        },
    }


def available() -> dict[str, EntryPoint]:
    """Every installed runner's entry point, by runner type name; nothing is imported."""
    try:
        found = entry_points(group=ENTRY_POINT_GROUP)
    except TypeError:  # Python 3.9: entry_points() takes no arguments
        found = entry_points().get(ENTRY_POINT_GROUP, [])
    return {ep.name: ep for ep in found}


@functools.cache
def load(name: str) -> type[Runner]:
    """The runner class for `name`, imported on first use (failures are not cached: a fix is picked up)."""
    ep = available().get(name)
    if ep is None:
        raise RunnerLoadError(f'Runner "{name}" is not installed on this host.')
    package = ep.module.partition(".")[0]
    try:
        cls = ep.load()
    except Exception as exc:  # any error importing a third-party package is that runner's failure
        detail = " ".join(f"{type(exc).__name__}: {exc}".split())
        raise RunnerLoadError(f'Runner "{name}" (package {package}) cannot be loaded: {detail}') from exc
    if not (isinstance(cls, type) and issubclass(cls, Runner)):
        raise RunnerLoadError(f'Runner "{name}" (package {package}): {ep.value} is not a Runner class.')
    return cls
