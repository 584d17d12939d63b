"""Helpers for the runner tests, which run each runner class directly with a real RunContext."""

from __future__ import annotations

import os
import threading
import time
from typing import Optional

import yaml

from appliance import procfs
from appliance.runners import RunContext

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
TESTPACK = os.path.join(REPO, "tests", "fixtures", "packs", "testpack")
CORE = os.path.join(REPO, "packs", "core")


class Output:
    """Collects what a runner emits, with arrival times, and lets a test wait for a line."""

    def __init__(self) -> None:
        self.lines: list[tuple[float, str, str]] = []
        self._cond = threading.Condition()

    def __call__(self, kind: str, data: str) -> None:
        with self._cond:
            self.lines.append((time.monotonic(), kind, data))
            self._cond.notify_all()

    def text(self, kind: str = "stdout") -> str:
        return "".join(data for _, k, data in self.lines if k == kind)

    def wait_for(self, prefix: str, timeout: float = 10.0) -> str:
        """The first emitted line starting with prefix (waiting for it), without its newline."""
        end = time.monotonic() + timeout
        with self._cond:
            while True:
                for _, _, data in self.lines:
                    if data.startswith(prefix):
                        return data.rstrip("\n")
                remaining = end - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no line starting with {prefix!r} in {self.lines!r}")
                self._cond.wait(remaining)


def load_action(pack_dir: str, name: str) -> dict:
    with open(os.path.join(pack_dir, "actions", f"{name}.yaml"), encoding="utf-8") as handle:
        meta = yaml.safe_load(handle)
    meta["pack"] = os.path.basename(pack_dir)
    meta["ref"] = f"{meta['pack']}.{meta['name']}"
    return meta


def make_ctx(action: Optional[dict] = None, runner_parameters: Optional[dict] = None,
             action_parameters: Optional[dict] = None, pack_dir: str = TESTPACK, **extra) -> RunContext:
    action = action or {"name": "test", "pack": "testpack", "parameters": {}}
    entry = ""
    if action.get("entry_point"):
        entry = os.path.join(pack_dir, "actions", action["entry_point"])
    values = {
        "execution_id": "5f0000000000000000000001",
        "action": action,
        "runner_parameters": runner_parameters or {},
        "action_parameters": action_parameters or {},
        "entry_point": entry,
        "pack_path": pack_dir,
        "virtualenv": os.path.join("/nonexistent", "virtualenvs", action.get("pack", "")),
        "env": {
            "ST2_ACTION_PACK_NAME": action.get("pack", ""),
            "ST2_ACTION_EXECUTION_ID": "5f0000000000000000000001",
            "ST2_ACTION_API_URL": "http://127.0.0.1:9/v1",
            "ST2_ACTION_AUTH_TOKEN": "token-for-tests",
        },
        "user": "st2admin",
        "emit": Output(),
    }
    values.update(extra)
    return RunContext(**values)


def runner_params(runner_cls, **given) -> dict:
    """Runner parameters as st2actionrunner resolves them: the runner type's defaults, then the given."""
    specs = runner_cls.RUNNER_TYPE["runner_parameters"]
    return {**{name: spec["default"] for name, spec in specs.items() if "default" in spec}, **given}


def run_in_thread(runner, ctx: RunContext):
    """Start runner.run(ctx) in a thread; returns (thread, box) where box['result'] appears."""
    box: dict = {}

    def target():
        box["started"] = time.monotonic()
        box["result"] = runner.run(ctx)
        box["ended"] = time.monotonic()

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, box


def process_alive(pid: int) -> bool:
    """Running (not gone, not a zombie): containers without a reaping PID 1 keep zombies around."""
    return procfs.alive(pid)


def session_cmdlines(sid: int) -> list[str]:
    """Command lines of every process in a session (the action's process tree)."""
    return [" ".join(procfs.cmdline(proc.pid)) for proc in procfs.live_processes() if proc.session == sid]
