"""What the shipped packs' own tests (packs/<pack>/tests, run by st2-run-pack-tests) check of their metadata,
with the appliance's own code: an action file builds as content registration builds it, its runner is
installed, its entry point exists, parameters pass or fail as a run request's would, and an Orquesta entry
point passes the inspection st2workflowengine makes before a run.
"""

from __future__ import annotations

import os

from appliance import runners
from appliance.content import read_yaml
from appliance.models import ACTIONS
from appliance.parameters import validate_request
from appliance.workflows.engine import CONTEXT_NAMES
from appliance.workflows.inspection import inspect

__all__ = ["PackMetadata"]


class PackMetadata:
    """One pack directory's actions, read as `st2ctl reload` reads them (errors: ValidationError)."""

    def __init__(self, pack_path: str) -> None:
        self.path = os.path.abspath(pack_path)
        manifest = read_yaml(os.path.join(self.path, "pack.yaml"))
        self.ref = manifest.get("ref") or manifest.get("name")

    def action_names(self) -> list[str]:
        folder = os.path.join(self.path, "actions")
        return sorted(os.path.splitext(name)[0] for name in os.listdir(folder)
                      if name.endswith((".yaml", ".yml")))

    def action(self, name: str) -> dict:
        """The action document of actions/<name>.yaml, its runner installed and its entry point present."""
        path = os.path.join(self.path, "actions", f"{name}.yaml")
        meta = read_yaml(path)
        action = ACTIONS.identify(ACTIONS.build({**meta, "pack": self.ref,
                                                 "metadata_file": os.path.relpath(path, self.path)}))
        runners.load(action["runner_type"])  # RunnerLoadError when it is not installed
        if action["entry_point"] and not os.path.isfile(self.entry_point(action)):
            raise FileNotFoundError(f"{path}: entry point {action['entry_point']} is not in actions/")
        return action

    def entry_point(self, action: dict) -> str:
        return os.path.join(self.path, "actions", action["entry_point"])

    def runner_type(self, action: dict) -> dict:
        return {"name": action["runner_type"], **runners.load(action["runner_type"]).RUNNER_TYPE}

    def check_parameters(self, name: str, parameters: dict) -> None:
        """Passes when `st2 run <pack>.<name>` with these parameters would be accepted (ParameterError otherwise)."""
        action = self.action(name)
        validate_request(self.runner_type(action), action, parameters)

    def workflow_errors(self, name: str) -> list[dict]:
        """The inspection errors of an Orquesta action's workflow ([] for a sound one)."""
        action = self.action(name)
        with open(self.entry_point(action), encoding="utf-8") as handle:
            return inspect(handle.read(), CONTEXT_NAMES)
