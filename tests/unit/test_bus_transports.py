"""Bus transports: the [messaging] url's scheme picks the kombu transport from one table.

A URL no transport handles is refused when the Bus is built, in one line with the nearest scheme,
so a service stops at once instead of having every consumer thread retry a connection forever.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from kombu.transport import pyamqp

from appliance.bus import Bus, BusError, memory
from appliance.bus.transports import TRANSPORTS


@pytest.mark.parametrize(
    ("url", "transport", "durable"),
    [
        ("memory://", memory.Transport, False),
        ("amqp://guest:guest@127.0.0.1:5672/st2", pyamqp.Transport, True),
        ("pyamqp://guest:guest@127.0.0.1:5672/st2", pyamqp.Transport, True),
        ("amqps://guest:guest@rabbit1:5671/st2", pyamqp.SSLTransport, True),
    ],
)
def test_scheme_selects_the_transport(url, transport, durable):
    bus = Bus(url, prefix="tsel")
    assert bus.transport is transport
    connection = bus.connect()  # built, not connected: no broker needed
    try:
        assert type(connection.transport) is transport
    finally:
        connection.release()
    assert bus.work_exchange.durable is durable
    assert bus.runner_queue.durable is durable


@pytest.mark.parametrize(
    ("url", "suggestion"),
    [
        ("amqpp://st2:s3cret@rabbit1:5672/st2", "amqp://"),
        ("memroy://", "memory://"),
        ("ampqs://rabbit1/", "amqps://"),
        ("redis://localhost:6379/0", None),
        ("rabbit1:5672", None),
    ],
)
def test_unknown_scheme_is_refused_when_the_bus_is_built(url, suggestion):
    with pytest.raises(BusError) as caught:
        Bus(url)
    message = str(caught.value)
    assert message.startswith("[messaging] url: "), message
    assert "\n" not in message
    assert "known: amqp://, amqps://, memory://, pyamqp://" in message
    assert "s3cret" not in message  # the URL is quoted with its password masked
    if suggestion:
        assert f"did you mean {suggestion}...?" in message
    else:
        assert "did you mean" not in message


def test_every_scheme_names_a_kombu_transport_class():
    for scheme in TRANSPORTS:
        transport = Bus(f"{scheme}://localhost/").transport
        assert transport.driver_type in ("memory", "amqp"), scheme


def test_a_transport_module_is_imported_only_when_its_scheme_is_used():
    script = (
        "import sys\n"
        "from appliance.bus import Bus\n"
        "Bus('memory://')\n"
        "print('kombu.transport.pyamqp' in sys.modules)\n"
        "Bus('amqp://guest:guest@127.0.0.1:5672/')\n"
        "print('kombu.transport.pyamqp' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True"]
