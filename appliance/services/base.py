"""What every service is: start/stop around a shared Context, and one entry point per service
(`st2api`, `st2scheduler`, ...) that runs it as its own process, ready for a systemd unit."""

from __future__ import annotations

import argparse
import datetime
import logging
import signal
import threading
from abc import ABC, abstractmethod
from typing import Optional

import falcon
from waitress.server import create_server

from appliance.bus import Subscription
from appliance.models import format_time
from appliance.services.context import (
    STARTUP_ERRORS,
    Context,
    exit_on_startup_error,
    load_config_or_exit,
    setup_logging,
)

LOG = logging.getLogger(__name__)


class Service(ABC):
    name = "service"

    def __init__(self, ctx: Context):
        self.ctx = ctx

    @abstractmethod
    def start(self) -> None:
        """Begin work in background threads and return."""

    @abstractmethod
    def stop(self) -> None:
        """Stop all threads started by start()."""


SWEEP_SECONDS = 5.0  # how often a worker service sweeps the database
STALE_SECONDS = 10.0  # how old work must be for a sweep to take it (younger work is still on the bus)


def seconds_ago(seconds: float) -> str:
    """The stored timestamp of `seconds` ago, for "older than" filters."""
    return format_time(datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=seconds))


class WorkerService(Service):
    """A service fed by bus consumers and by a sweep of the database every SWEEP_SECONDS, so that
    a lost message or a restarted broker delays work but never loses it. The first sweep, at start,
    takes all waiting work; later ones take work older than STALE_SECONDS."""

    def __init__(self, ctx: Context):
        super().__init__(ctx)
        self._stop = threading.Event()
        self._subscriptions: list[Subscription] = []
        self._sweeper: Optional[threading.Thread] = None

    @abstractmethod
    def subscribe(self) -> list[Subscription]:
        """Start the bus consumers."""

    @abstractmethod
    def sweep(self, older_than: float = STALE_SECONDS) -> int:
        """Take the work the bus did not bring, older than `older_than` seconds; how much."""

    def _sweep_loop(self) -> None:
        first = True
        while not self._stop.wait(0 if first else SWEEP_SECONDS):
            try:
                count = self.sweep(0 if first else STALE_SECONDS)
                if count:
                    LOG.info("%s: %d item(s) of work found in the database", self.name, count)
            except Exception:
                LOG.exception("%s sweep failed", self.name)
            first = False

    def start(self) -> None:
        self._subscriptions = self.subscribe()
        self._sweeper = threading.Thread(target=self._sweep_loop, daemon=True, name=f"{self.name}-sweep")
        self._sweeper.start()

    def stop(self) -> None:
        self._stop.set()
        for subscription in self._subscriptions:
            subscription.stop()
        if self._sweeper is not None:
            self._sweeper.join(timeout=5)


class HttpService(Service):
    """A falcon app served by waitress on [section] host/port."""

    section = ""
    threads = 16

    def __init__(self, ctx: Context):
        super().__init__(ctx)
        self._server = None
        self._thread: Optional[threading.Thread] = None

    @abstractmethod
    def app(self) -> falcon.App:
        """The WSGI application."""

    def start(self) -> None:
        host = self.ctx.config.get(self.section, "host")
        port = self.ctx.config.get(self.section, "port")
        self._server = create_server(
            self.app(), host=host, port=port, threads=self.threads, channel_timeout=3600,
            connection_limit=1000, clear_untrusted_proxy_headers=True, ident="st2",
        )
        self._thread = threading.Thread(target=self._server.run, daemon=True, name=self.name)
        self._thread.start()
        LOG.info("%s listening on http://%s:%s", self.name, host, port)

    def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        if self._thread is not None:
            self._thread.join(timeout=5)


def wait_for_signal() -> None:
    """Block until SIGTERM or SIGINT."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.is_set():
        stop.wait(1)


def run_service(service_cls: type[Service]) -> None:
    """The body of each per-service entry point."""
    parser = argparse.ArgumentParser(prog=service_cls.name, description=f"Run the {service_cls.name} service.")
    parser.add_argument("--config-file", help="st2.conf path (default $ST2_CONFIG_PATH or /etc/st2/st2.conf)")
    args = parser.parse_args()
    config = load_config_or_exit(args.config_file)
    setup_logging(config, service_cls.name)
    ctx = Context(config)
    try:
        ctx.check()
        service = service_cls(ctx)
        service.start()
    except STARTUP_ERRORS as exc:
        exit_on_startup_error(exc)
    LOG.info("%s started", service_cls.name)
    wait_for_signal()
    service.stop()
    ctx.close()
