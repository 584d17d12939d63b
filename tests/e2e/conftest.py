"""Fixtures of the end-to-end tests; the harness itself is e2e_harness.py."""

from __future__ import annotations

import contextlib
from typing import Callable, Iterator

import pytest
from e2e_harness import Appliance, Broker, running_appliance, unavailable

from tests.support.rabbitmq import Unavailable


@pytest.fixture(scope="session")
def rabbitmq() -> Iterator[Broker]:
    try:
        broker = Broker()
    except Unavailable as exc:
        unavailable(f"RabbitMQ unavailable: {exc}")
    yield broker
    broker.close()


@pytest.fixture(
    scope="session",
    params=[
        pytest.param("embedded", id="embedded"),
        pytest.param("rabbitmq", id="rabbitmq", marks=pytest.mark.rabbitmq),
    ],
)
def appliance(request) -> Iterator[Appliance]:
    """A shared appliance per wiring; tests using it must leave it running and idle."""
    url = request.getfixturevalue("rabbitmq").new_vhost() if request.param == "rabbitmq" else ""
    with running_appliance(request.param, url) as made:
        yield made


@pytest.fixture
def fresh_appliance() -> Iterator[Callable[..., Appliance]]:
    """A factory of private appliances (for tests that kill parts of it); all stopped at the end."""
    made: list[contextlib.ExitStack] = []

    def factory(label: str, messaging_url: str = "") -> Appliance:
        stack = contextlib.ExitStack()
        made.append(stack)
        return stack.enter_context(running_appliance(label, messaging_url))

    yield factory
    for stack in reversed(made):
        stack.close()


@pytest.fixture
def wftest(appliance: Appliance) -> Appliance:
    """The workflow test pack (tests/fixtures/packs/wftest) registered on the shared appliance."""
    appliance.add_fixture_pack("wftest")
    return appliance
