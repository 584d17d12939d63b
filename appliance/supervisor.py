"""The process tree `st2ctl start` launches.

Embedded (messaging url memory://): every service runs in this one process, as threads, over the
SQLite file and the in-process bus. Multi-process (any broker URL): this process starts one child
per service entry point and restarts a child that dies, like systemd would.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
import time

from appliance.services.actionrunner import ActionRunnerService
from appliance.services.api import ApiService
from appliance.services.auth import AuthService
from appliance.services.base import Service, wait_for_signal
from appliance.services.context import Context, load_config_or_exit, setup_logging
from appliance.services.scheduler import SchedulerService
from appliance.services.stream import StreamService

LOG = logging.getLogger(__name__)

SERVICES: tuple[type[Service], ...] = (
    AuthService, StreamService, SchedulerService, ActionRunnerService, ApiService,
)


def is_embedded(ctx: Context) -> bool:
    return ctx.config.get("messaging", "url").startswith("memory://")


def run_embedded(ctx: Context) -> None:
    services = [cls(ctx) for cls in SERVICES]
    for service in services:
        service.start()
    LOG.info("all services running in process %d", os.getpid())
    wait_for_signal()
    for service in reversed(services):
        service.stop()


def run_children(config_path: str) -> None:
    """Start one process per service; restart any that exits until we are told to stop."""
    children: dict[str, subprocess.Popen] = {}

    def spawn(name: str) -> None:
        module = f"appliance.services.{name[len('st2'):]}"
        children[name] = subprocess.Popen([sys.executable, "-m", module, "--config-file", config_path])

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    for cls in SERVICES:
        spawn(cls.name)
    while not stop.wait(1):
        for name, proc in list(children.items()):
            if proc.poll() is not None:
                LOG.warning("%s exited with %s; restarting it", name, proc.returncode)
                spawn(name)
    for proc in children.values():
        proc.terminate()
    deadline = time.time() + 15
    for proc in children.values():
        try:
            proc.wait(max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> None:
    parser = argparse.ArgumentParser(prog="st2-supervisor")
    parser.add_argument("--config-file")
    args = parser.parse_args()
    config = load_config_or_exit(args.config_file)
    setup_logging(config, "st2")
    ctx = Context(config)
    if is_embedded(ctx):
        run_embedded(ctx)
    else:
        run_children(config.path)
    ctx.close()


if __name__ == "__main__":
    main()
