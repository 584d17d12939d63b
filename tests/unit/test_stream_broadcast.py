"""st2stream's fan-out: a client that stops reading is dropped and never holds up the others;
execution events leave with secret parameters masked."""

from __future__ import annotations

import threading
import time

from appliance.api.stream import Broadcaster

SECRET_ACTION = {"parameters": {"password": {"type": "string", "secret": True}}}


def _execution(n: int) -> dict:
    return {"id": str(n), "status": "running", "parameters": {"password": "hunter2"},
            "action": SECRET_ACTION, "runner": {}}


def test_a_stalled_client_is_dropped_and_the_others_get_everything():
    broadcaster = Broadcaster(client_buffer=50)
    stalled = broadcaster.attach()
    reader = broadcaster.attach()
    received: list = []
    done = threading.Event()

    def read() -> None:
        while len(received) < 500:
            received.append(reader.events.get(timeout=5))
        done.set()

    threading.Thread(target=read, daemon=True).start()
    publishing = 0.0
    for n in range(500):
        started = time.monotonic()
        broadcaster.publish("st2.execution__update", _execution(n))
        publishing += time.monotonic() - started
        if n % 20 == 19:  # bursts smaller than the buffer, which a reading client keeps up with
            deadline = time.monotonic() + 5
            while len(received) <= n and time.monotonic() < deadline:
                time.sleep(0.001)
    assert done.wait(10), f"the reading client got {len(received)} of 500 events"
    assert stalled.dropped and not reader.dropped
    assert stalled.events.qsize() == 50  # it was never waited for: publish moved on when it was full
    assert publishing < 5


def test_execution_events_are_masked_once_for_every_client():
    broadcaster = Broadcaster()
    client = broadcaster.attach()
    broadcaster.publish("st2.execution__create", _execution(1))
    broadcaster.publish("st2.execution.output__create", {"id": "o", "data": "hunter2\n"})
    event, body = client.events.get_nowait()
    assert body["parameters"]["password"] == "********"
    assert client.events.get_nowait()[1]["data"] == "hunter2\n"  # output is what the action printed
