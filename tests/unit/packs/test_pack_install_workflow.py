"""packs.install's Orquesta graph (StackStorm's task names and order), driven through the appliance's
conductor with simulated action results: a plain install, dependencies looping back to download_pack,
conflicts ending in packs.delete, --skip-dependencies, and failures (the install fails at the failing task;
a failed registration fails it too, unlike StackStorm's where the unconditional transition hid it)."""

from __future__ import annotations

import json
import os

import yaml

from appliance.workflows.conductor import Conductor, Host
from appliance.workflows.inspection import inspect
from appliance.workflows.spec import parse

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
PACK = os.path.join(ROOT, "packs", "packs")
WORKFLOW = os.path.join(PACK, "actions", "workflows", "install.yaml")
INPUTS = {"packs": ["file:///srv/packs/app"], "register": "all", "env": None, "force": False,
          "skip_dependencies": False, "timeout": 600}


class Install:
    """The workflow with the results the test gives each action, in the order the conductor asks for them."""

    def __init__(self, **inputs):
        with open(WORKFLOW, encoding="utf-8") as handle:
            self.spec = parse(handle.read())
        self.records: dict = {}
        self.host = Host(task=self._record)
        self.conductor = Conductor.start(self.spec, {**INPUTS, **inputs}, {}, self.host)
        self.pending = self.conductor.run()
        self.ran: list[tuple[str, str]] = []

    def _record(self, task_id, route):
        if task_id not in self.records:
            raise LookupError(task_id)
        return self.records[task_id]

    def step(self, result=None, status="succeeded"):
        """Complete the next requested action with `result` (the python runner's `result` key)."""
        request = self.pending.pop(0)
        self.ran.append((request.task_id, request.action))
        outcome = {"result": result, "stdout": "", "stderr": "", "exit_code": 0}
        self.records[request.task_id] = {"result": outcome, "status": status}
        state = json.loads(json.dumps(self.conductor.state))
        self.conductor = Conductor(self.spec, state, self.host)
        self.pending += self.conductor.update(request.task_id, request.route, status, outcome)
        return request

    @property
    def names(self):
        return [name for name, _ in self.ran]


def test_the_action_metadata_and_workflow_are_stackstorms():
    assert inspect(open(WORKFLOW, encoding="utf-8").read(), list(INPUTS)) == []
    with open(os.path.join(PACK, "actions", "install.meta.yaml"), encoding="utf-8") as handle:
        meta = yaml.safe_load(handle)
    assert (meta["runner_type"], meta["entry_point"]) == ("orquesta", "workflows/install.yaml")
    assert list(meta["parameters"]) == ["packs", "register", "env", "force", "skip_dependencies", "timeout"]
    names = {os.path.splitext(name)[0].replace(".meta", "") for name in os.listdir(os.path.join(PACK, "actions"))
             if name.endswith(".yaml")}
    assert names == {"install", "download", "virtualenv_prerun", "get_pack_dependencies", "get_pack_warnings",
                     "setup_virtualenv", "update_virtualenv", "load", "unload", "delete", "uninstall", "get",
                     "search", "show"}


def test_a_plain_install_runs_stackstorms_stages():
    run = Install()
    run.step()  # init_task
    download = run.step({"app": "Success."})
    assert download.input == {"packs": ["file:///srv/packs/app"], "force": False, "dependency_list": None}
    prerun = run.step(["app"])
    assert prerun.input == {"packs_status": {"app": "Success."}, "packs_list": None}
    dependencies = run.step({"dependency_list": [], "conflict_list": [], "nested": 9})
    assert dependencies.input == {"packs_status": {"app": "Success."}, "nested": 10}
    run.step()  # check_dependency_and_conflict_list
    setup = run.step("Successfully set up virtualenv for the following packs: app")
    assert setup.input == {"packs": ["app"], "env": None, "timeout": 600}
    run.step({"warning_list": ["a warning"]})
    load = run.step({"actions": 1})
    assert load.input == {"register": "all", "packs": ["app"]}
    assert run.ran == [("init_task", "core.noop"), ("download_pack", "packs.download"),
                       ("make_a_prerun", "packs.virtualenv_prerun"),
                       ("get_pack_dependencies", "packs.get_pack_dependencies"),
                       ("check_dependency_and_conflict_list", "core.noop"),
                       ("install_pack_requirements", "packs.setup_virtualenv"),
                       ("get_pack_warnings", "packs.get_pack_warnings"), ("register_pack", "packs.load")]
    assert run.conductor.status == "succeeded"
    assert run.conductor.output == {"packs_list": ["app"], "message": "Successfully installed packs",
                                    "conflict_list": [], "warning_list": ["a warning"]}


def test_dependencies_loop_back_to_download_and_skip_dependencies_does_not():
    run = Install()
    run.step()
    run.step({"app": "Success."})
    run.step(["app"])
    run.step({"dependency_list": ["base=1.0.0"], "conflict_list": [], "nested": 9})
    run.step()
    download = run.step({"base": "Success."})
    assert download.task_id == "download_pack" and download.input["dependency_list"] == ["base=1.0.0"]
    prerun = run.step(["app", "base"])
    assert prerun.input == {"packs_status": {"base": "Success."}, "packs_list": ["app"]}
    assert run.step({"dependency_list": [], "conflict_list": [], "nested": 8}).input["nested"] == 9
    run.step()
    assert run.step("ok").input["packs"] == ["app", "base"]

    skip = Install(skip_dependencies=True, env={"PIP_NO_INDEX": "yes"})
    skip.step()
    skip.step({"app": "Success."})
    skip.step(["app"])
    assert skip.step("ok").input == {"packs": ["app"], "env": {"PIP_NO_INDEX": "yes"}, "timeout": 600}
    assert "get_pack_dependencies" not in skip.names


def test_conflicts_put_the_packs_back_and_fail():
    run = Install()
    run.step()
    run.step({"app": "Success."})
    run.step(["app"])
    run.step({"dependency_list": [], "conflict_list": ["base=2.0.0"], "nested": 9})
    run.step()
    delete = run.step()
    assert (delete.task_id, delete.action, delete.input) == (
        "stop_installation_and_cleanup_because_conflict", "packs.delete", {"packs": ["app"], "delete_env": False})
    run.step()  # echo_pack_conflicts
    assert run.conductor.status == "failed"
    assert run.conductor.output["conflict_list"] == ["base=2.0.0"]
    assert "conflict" in run.conductor.output["message"]


def test_a_failed_stage_fails_the_install():
    for failing in ("download_pack", "install_pack_requirements", "register_pack"):
        run = Install()
        results = {"init_task": None, "download_pack": {"app": "Success."}, "make_a_prerun": ["app"],
                   "get_pack_dependencies": {"dependency_list": [], "conflict_list": [], "nested": 9},
                   "check_dependency_and_conflict_list": None, "install_pack_requirements": "ok",
                   "get_pack_warnings": {"warning_list": []}}
        while run.pending:
            task = run.pending[0].task_id
            if task == failing:
                run.step("the reason", status="failed")
                break
            run.step(results[task])
        assert not run.pending and run.conductor.status == "failed", failing
        assert run.names[-1] == failing
