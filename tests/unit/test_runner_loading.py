"""Runner packages load lazily, one by one: a broken one fails its own executions, never the others.

The broken package is a real installed distribution (a dist-info folder on sys.path, as pip writes
it) whose entry point names a module that raises ImportError, so importlib.metadata finds it exactly
as it finds the appliance's own runners.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Iterator

import pytest
from noop_runner.noop_runner import NoopRunner

from appliance import config, models
from appliance.runners import RunnerLoadError, available, load
from appliance.services.actionrunner import ActionRunnerService
from appliance.services.context import Context

FILES = {
    "appliance_throwaway_runners-0.0.1.dist-info/METADATA":
        "Metadata-Version: 2.1\nName: appliance-throwaway-runners\nVersion: 0.0.1\n",
    "appliance_throwaway_runners-0.0.1.dist-info/entry_points.txt": (
        "[appliance.runners]\n"
        "throwaway-broken = throwaway_broken.runner:BrokenRunner\n"
        "throwaway-not-a-class = throwaway_fine.runner:NOT_A_RUNNER\n"
    ),
    "throwaway_broken/__init__.py": "",
    "throwaway_broken/runner.py": "import appliance_no_such_module_x1  # noqa: F401\n",
    "throwaway_fine/__init__.py": "",
    "throwaway_fine/runner.py": "NOT_A_RUNNER = 42\n",
}
MODULES = ("throwaway_broken", "throwaway_broken.runner", "throwaway_fine", "throwaway_fine.runner")


@pytest.fixture(scope="module")
def throwaway_dist(tmp_path_factory) -> Iterator[Path]:
    """The distribution installed into a folder put first on sys.path for this module's tests."""
    root = tmp_path_factory.mktemp("site")
    for name, text in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    yield root
    sys.path.remove(str(root))
    for module in MODULES:
        sys.modules.pop(module, None)
    load.cache_clear()


def test_available_lists_every_runner_and_imports_none(throwaway_dist):
    for module in MODULES:
        sys.modules.pop(module, None)
    found = available()
    assert {"throwaway-broken", "throwaway-not-a-class", "noop", "local-shell-cmd", "python-script"} <= set(found)
    assert found["throwaway-broken"].value == "throwaway_broken.runner:BrokenRunner"
    assert not set(MODULES) & set(sys.modules)


def test_broken_runner_fails_to_load_with_one_line(throwaway_dist):
    with pytest.raises(RunnerLoadError) as caught:
        load("throwaway-broken")
    message = str(caught.value)
    assert message == ('Runner "throwaway-broken" (package throwaway_broken) cannot be loaded: '
                       "ModuleNotFoundError: No module named 'appliance_no_such_module_x1'")
    assert load("noop") is NoopRunner  # the others still load
    assert load("noop") is load("noop")


def test_entry_point_that_is_no_runner_class_and_unknown_runner(throwaway_dist):
    with pytest.raises(RunnerLoadError, match=r'"throwaway-not-a-class" \(package throwaway_fine\): '
                                              r"throwaway_fine.runner:NOT_A_RUNNER is not a Runner class"):
        load("throwaway-not-a-class")
    with pytest.raises(RunnerLoadError, match='Runner "no-such-runner" is not installed on this host.'):
        load("no-such-runner")


@pytest.fixture
def ctx(tmp_path):
    conf = tmp_path / "st2.conf"
    conf.write_text(f"[system]\nbase_path = {tmp_path}\n[messaging]\nprefix = l{tmp_path.name[-6:]}\n")
    context = Context(config.load(str(conf)))
    yield context
    context.close()


def _scheduled(ctx: Context, runner: str) -> str:
    action = {"ref": f"core.{runner}", "pack": "core", "name": runner, "runner_type": runner, "parameters": {}}
    doc = ctx.executions.create(action, {"name": runner, "runner_parameters": {}}, {}, {"user": "st2admin"},
                                status=models.SCHEDULED)
    return doc["id"]


def test_action_runner_fails_only_the_executions_of_a_broken_runner(throwaway_dist, ctx):
    service = ActionRunnerService(ctx)  # starts although a runner package is broken
    broken, fine, absent = _scheduled(ctx, "throwaway-broken"), _scheduled(ctx, "noop"), _scheduled(ctx, "nope")
    for execution_id in (broken, fine, absent):
        service.run(execution_id)
    failed = ctx.executions.get(broken)
    assert failed["status"] == models.FAILED
    assert failed["result"] == {"error": 'Runner "throwaway-broken" (package throwaway_broken) cannot be loaded: '
                                         "ModuleNotFoundError: No module named 'appliance_no_such_module_x1'"}
    assert ctx.executions.get(fine)["status"] == models.SUCCEEDED
    assert ctx.executions.get(absent)["result"] == {"error": 'Runner "nope" is not installed on this host.'}
