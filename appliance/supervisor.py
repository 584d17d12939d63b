"""The process tree `st2ctl start` launches, laid out by `[supervisor] mode`.

threads (the default): every service runs in this one process, as threads, over the configured
database and bus (the in-memory bus or RabbitMQ alike). processes: this process starts one child per
service entry point and restarts a child that dies, like systemd would, waiting longer each time it
dies again soon. Children die with this process, and SIGTERM ends them before it ends itself, so
stopping the supervisor leaves no service behind.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Callable, Optional

from appliance.config import Config
from appliance.process import Backoff, die_with_parent
from appliance.services.actionrunner import ActionRunnerService
from appliance.services.api import ApiService
from appliance.services.auth import AuthService
from appliance.services.base import Service, wait_for_signal
from appliance.services.context import (
    STARTUP_ERRORS,
    Context,
    exit_on_startup_error,
    load_config_or_exit,
    setup_logging,
)
from appliance.services.garbagecollector import GarbageCollectorService
from appliance.services.notifier import NotifierService
from appliance.services.rulesengine import RulesEngineService
from appliance.services.scheduler import SchedulerService
from appliance.services.sensorcontainer import SensorContainerService
from appliance.services.stream import StreamService
from appliance.services.timersengine import TimersEngineService
from appliance.services.workflowengine import WorkflowEngineService

LOG = logging.getLogger(__name__)

SERVICES: tuple[type[Service], ...] = (
    AuthService, StreamService, SchedulerService, ActionRunnerService, RulesEngineService, NotifierService,
    TimersEngineService, SensorContainerService, WorkflowEngineService, GarbageCollectorService, ApiService,
)
MODES = ("threads", "processes")
STOP_GRACE_SECONDS = 15.0  # between SIGTERM and SIGKILL of the children


def mode_problem(config: Config) -> Optional[str]:
    """Why the configured process model cannot run, or None when it can."""
    mode = config.get("supervisor", "mode")
    if mode not in MODES:
        return f"{config.path}: [supervisor] mode: expected one of {', '.join(MODES)}, got {mode!r}"
    if mode == "processes" and config.get("messaging", "url").startswith("memory://"):
        return (f"{config.path}: [supervisor] mode = processes needs a message broker ([messaging] url): "
                "the in-memory bus cannot cross processes")
    return None


def run_threads(ctx: Context) -> None:
    services = [cls(ctx) for cls in SERVICES]
    for service in services:
        service.start()
    LOG.info("all services running in process %d", os.getpid())
    wait_for_signal()
    for service in reversed(services):
        service.stop()


class _Child:
    """One service process and its restart schedule."""

    def __init__(self, name: str, argv: list[str], backoff: Backoff) -> None:
        self.name, self.argv, self.backoff = name, argv, backoff
        self.proc: Optional[subprocess.Popen] = None
        self.started = 0.0
        self.restart_at: Optional[float] = 0.0  # start at once


class Children:
    """Runs one process per command until told to stop, restarting each that dies with backoff.

    Children are spawned from the thread that calls run(): the kernel's parent-death signal follows
    that thread, which is the supervisor's main thread.
    """

    def __init__(self, commands: dict[str, list[str]], backoff: Callable[[], Backoff] = Backoff,
                 poll: float = 0.5, grace: float = STOP_GRACE_SECONDS) -> None:
        self.children = [_Child(name, argv, backoff()) for name, argv in commands.items()]
        self.poll, self.grace = poll, grace

    def run(self, stop: threading.Event) -> None:
        preexec = die_with_parent()
        while True:
            now = time.monotonic()
            for child in self.children:
                self._tend(child, now, preexec)
            due = [child.restart_at for child in self.children if child.restart_at is not None]
            if stop.wait(max(0.0, min([self.poll, *(at - now for at in due)]))):
                break
        self._stop_all()

    def _tend(self, child: _Child, now: float, preexec: Optional[Callable[[], None]]) -> None:
        if child.restart_at is not None:
            if now >= child.restart_at:
                child.proc = subprocess.Popen(child.argv, stdin=subprocess.DEVNULL, preexec_fn=preexec)
                child.started, child.restart_at = now, None
                LOG.info("%s started (pid %d)", child.name, child.proc.pid)
            return
        code = child.proc.poll() if child.proc is not None else None
        if code is not None:
            delay = child.backoff.delay(now - child.started)
            child.restart_at = now + delay
            LOG.warning("%s (pid %d) exited with code %s after %.1fs; restarting it in %gs",
                        child.name, child.proc.pid, code, now - child.started, delay)

    def _stop_all(self) -> None:
        running = [child.proc for child in self.children if child.proc is not None and child.proc.poll() is None]
        for proc in running:
            proc.terminate()
        deadline = time.monotonic() + self.grace
        for proc in running:
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                LOG.warning("pid %d outlived SIGTERM by %gs; killing it", proc.pid, self.grace)
                proc.kill()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(self.grace)


def run_processes(config_path: str) -> None:
    """One process per service entry point until SIGTERM or SIGINT."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    commands = {
        cls.name: [sys.executable, "-m", f"appliance.services.{cls.name[len('st2'):]}", "--config-file", config_path]
        for cls in SERVICES
    }
    Children(commands).run(stop)


def main() -> None:
    parser = argparse.ArgumentParser(prog="st2-supervisor")
    parser.add_argument("--config-file")
    args = parser.parse_args()
    config = load_config_or_exit(args.config_file)
    problem = mode_problem(config)
    if problem:
        sys.exit(f"error: {problem}")
    setup_logging(config, "st2")
    if config.get("supervisor", "mode") == "processes":
        run_processes(config.path)
        return
    ctx = Context(config)
    try:
        ctx.check()
    except STARTUP_ERRORS as exc:
        exit_on_startup_error(exc)
    run_threads(ctx)
    ctx.close()


if __name__ == "__main__":
    main()
