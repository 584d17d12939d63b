"""Bus transports under test: the embedded one (memory://) and the RabbitMQ server on this machine.

For RabbitMQ a fresh vhost (appliance-test-<uuid>) is created once per test session with
`rabbitmqctl add_vhost` and deleted at the end. Without a reachable broker the RabbitMQ tests are
skipped, except under CI=true, where they fail: CI must not pass without having run them.
Settings: see tests/support/rabbitmq.py.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import pytest

from appliance.bus import Bus, Subscription
from appliance.bus.bus import wait_ready
from tests.support.rabbitmq import USER, Unavailable, Vhosts, url_of

CI = os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")
TIMEOUT = 20.0  # upper bound of every wait; a healthy run needs milliseconds


@dataclass
class Broker:
    """The session's vhost on the RabbitMQ server."""

    vhosts: Vhosts
    vhost: str

    @property
    def url(self) -> str:
        return url_of(self.vhost)

    def close_all_connections(self) -> None:
        """Drop every client connection of this vhost (only this one: other users share the broker)."""
        self.vhosts.ctl_run("close_all_connections", "-p", self.vhost, "--limit", "10000", "appliance test: dropped")


def _unavailable(reason: str):
    if CI:
        pytest.fail(f"RabbitMQ is required under CI=true: {reason}", pytrace=False)
    pytest.skip(f"RabbitMQ unavailable: {reason}")


@pytest.fixture(scope="session")
def rabbitmq():
    try:
        vhosts = Vhosts("appliance-test")
        broker = Broker(vhosts, vhosts.create())
    except Unavailable as exc:
        _unavailable(str(exc))
    try:
        from kombu import Connection

        with Connection(broker.url, connect_timeout=5) as conn:
            conn.ensure_connection(max_retries=1)
    except Exception as exc:
        vhosts.close()
        _unavailable(f"cannot use vhost {broker.vhost} as {USER}: {exc}")
    yield broker
    vhosts.close()


@dataclass
class Transport:
    name: str
    url: str
    broker: Optional[Broker] = None


@pytest.fixture(
    params=[
        pytest.param("memory", id="memory"),
        pytest.param("rabbitmq", id="rabbitmq", marks=pytest.mark.rabbitmq),
    ]
)
def transport(request) -> Transport:
    if request.param == "memory":
        return Transport("memory", "memory://")
    broker = request.getfixturevalue("rabbitmq")
    return Transport("rabbitmq", broker.url, broker)


@pytest.fixture
def rabbitmq_transport(request) -> Transport:
    """For the tests that only mean something with a real broker."""
    broker = request.getfixturevalue("rabbitmq")
    return Transport("rabbitmq", broker.url, broker)


class Recorder:
    """A thread-safe message handler that remembers (routing key or event name, body)."""

    def __init__(self, fail_on: Optional[Callable[[dict], bool]] = None):
        self.items: list[tuple[str, dict]] = []
        self._cond = threading.Condition()
        self._fail_on = fail_on

    def __call__(self, key: str, body: dict) -> None:
        with self._cond:
            self.items.append((key, body))
            self._cond.notify_all()
        if self._fail_on is not None and self._fail_on(body):
            raise RuntimeError("handler failure requested by the test")

    def bodies(self) -> list[dict]:
        with self._cond:
            return [body for _key, body in self.items]

    def wait_for(self, predicate: Callable[[list], bool], timeout: float = TIMEOUT) -> bool:
        """Wait (bounded) until predicate(items) holds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self.items):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True


def wait_until(predicate: Callable[[], bool], timeout: float = TIMEOUT, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True


@dataclass
class BusHarness:
    """Buses of one test share a fresh prefix (so no queue is shared with another test); each
    `bus()` has its own connections, like a separate service process. Everything is closed after."""

    transport: Transport
    prefix: str = field(default_factory=lambda: f"t{uuid.uuid4().hex[:10]}")
    buses: list = field(default_factory=list)
    subscriptions: list = field(default_factory=list)

    timeout: float = TIMEOUT

    @staticmethod
    def recorder(fail_on: Optional[Callable[[dict], bool]] = None) -> Recorder:
        return Recorder(fail_on)

    @staticmethod
    def wait_until(predicate: Callable[[], bool], timeout: float = TIMEOUT, interval: float = 0.02) -> bool:
        return wait_until(predicate, timeout, interval)

    def bus(self) -> Bus:
        made = Bus(self.transport.url, prefix=self.prefix)
        self.buses.append(made)
        return made

    def attach(self, subscription: Subscription) -> Subscription:
        self.subscriptions.append(subscription)
        return subscription

    def ready(self, *subscriptions: Subscription) -> None:
        late = wait_ready(list(subscriptions), timeout=TIMEOUT)
        assert late is None, f"consumer {late._queues[0].name} did not attach within {TIMEOUT}s"

    def stop(self, *subscriptions: Any) -> None:
        for sub in subscriptions:
            sub.stop()
            assert not sub._thread.is_alive(), "consumer thread did not stop"

    def close(self) -> None:
        for sub in self.subscriptions:
            sub.stop()
        for made in self.buses:
            made.close()


@pytest.fixture
def harness(transport):
    made = BusHarness(transport)
    yield made
    made.close()


@pytest.fixture
def rabbitmq_harness(rabbitmq_transport):
    made = BusHarness(rabbitmq_transport)
    yield made
    made.close()
