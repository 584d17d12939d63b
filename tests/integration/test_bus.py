"""The bus contract (appliance.bus.Bus) over the embedded transport (memory://) and real RabbitMQ.

Every wait is bounded and polls for the expected state; no test assumes how long delivery takes.
The RabbitMQ variants (marked `rabbitmq`) run in a fresh vhost of the local server, see conftest.py.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter

import pytest

MESSAGES = 60


def _competing_consumers(harness, consume, request):
    """Two consumers (two buses, as two service processes) on one work queue, a third bus publishes."""
    first, second = harness.recorder(), harness.recorder()
    sub1 = harness.attach(getattr(harness.bus(), consume)(first))
    sub2 = harness.attach(getattr(harness.bus(), consume)(second))
    harness.ready(sub1, sub2)
    publisher = harness.bus()
    sent = [f"ex{i:03d}" for i in range(MESSAGES)]
    for execution_id in sent:
        getattr(publisher, request)(execution_id)
    assert harness.wait_until(lambda: len(first.items) + len(second.items) >= MESSAGES), (
        f"{len(first.items) + len(second.items)} of {MESSAGES} delivered"
    )
    harness.stop(sub1, sub2)  # nothing can arrive after this: the counts below are final
    received = [body["execution_id"] for body in first.bodies() + second.bodies()]
    duplicates = [key for key, count in Counter(received).items() if count > 1]
    assert not duplicates, f"delivered more than once: {duplicates}"
    assert sorted(received) == sent
    return first, second


def test_schedule_requests_go_to_one_of_the_competing_schedulers(harness):
    first, second = _competing_consumers(harness, "consume_schedule", "request_schedule")
    assert {key for key, _ in first.items + second.items} == {"schedule"}


def test_run_requests_go_to_one_of_the_competing_runners(harness):
    first, second = _competing_consumers(harness, "consume_run", "request_run")
    assert {key for key, _ in first.items + second.items} == {"run"}


def test_schedule_and_run_queues_are_separate(harness):
    schedules, runs = harness.recorder(), harness.recorder()
    subs = [harness.attach(harness.bus().consume_schedule(schedules)), harness.attach(harness.bus().consume_run(runs))]
    harness.ready(*subs)
    publisher = harness.bus()
    publisher.request_schedule("s1")
    publisher.request_run("r1")
    assert schedules.wait_for(lambda items: len(items) >= 1)
    assert runs.wait_for(lambda items: len(items) >= 1)
    harness.stop(*subs)
    assert schedules.bodies() == [{"execution_id": "s1"}]
    assert runs.bodies() == [{"execution_id": "r1"}]


def test_work_is_shared_between_consumers(harness):
    """Competing consumers both get work when handlers take time (each message still once)."""
    gate = threading.Event()
    first, second = harness.recorder(), harness.recorder()

    def slow(recorder):
        def handle(key, body):
            recorder(key, body)
            gate.wait(0.02)  # simulated work; never set, so each handler holds its message a moment

        return handle

    subs = [
        harness.attach(harness.bus().consume_run(slow(first), prefetch=1)),
        harness.attach(harness.bus().consume_run(slow(second), prefetch=1)),
    ]
    harness.ready(*subs)
    publisher = harness.bus()
    for i in range(20):
        publisher.request_run(f"ex{i}")
    assert harness.wait_until(lambda: len(first.items) + len(second.items) >= 20)
    harness.stop(*subs)
    assert len(first.items) + len(second.items) == 20
    assert first.items and second.items, (len(first.items), len(second.items))


def test_execution_events_fan_out_to_every_stream_subscriber(harness):
    one, two = harness.recorder(), harness.recorder()
    subs = [
        harness.attach(harness.bus().consume_events(one, name="api1")),
        harness.attach(harness.bus().consume_events(two, name="api2")),
    ]
    harness.ready(*subs)
    publisher = harness.bus()
    execution = {"id": "ex1", "status": "running", "action": {"ref": "core.local"}}
    line = {"id": "out1", "execution_id": "ex1", "output_type": "stdout", "data": "hello\n"}
    publisher.announce_execution("create", {**execution, "status": "requested"})
    publisher.announce_execution("update", execution)
    publisher.announce_output(line)
    expected = [
        ("st2.execution__create", {**execution, "status": "requested"}),
        ("st2.execution__update", execution),
        ("st2.execution.output__create", line),
    ]
    for recorder in (one, two):
        assert recorder.wait_for(lambda items: len(items) >= 3), recorder.items
    harness.stop(*subs)
    for recorder in (one, two):
        # the two exchanges are separate queues, so only the order within each is guaranteed
        assert sorted(recorder.items, key=repr) == sorted(expected, key=repr)
        executions_only = [key for key, _ in recorder.items if key.startswith("st2.execution__")]
        assert executions_only == ["st2.execution__create", "st2.execution__update"]


def test_event_names_ignore_the_bus_prefix(harness):
    """StackStorm's stream event names are st2.* whatever [messaging] prefix the site chose."""
    assert not harness.prefix.startswith("st2")
    seen = harness.recorder()
    harness.ready(harness.attach(harness.bus().consume_events(seen, name="api")))
    harness.bus().announce_execution("update", {"id": "ex1"})
    assert seen.wait_for(lambda items: len(items) >= 1)
    assert seen.items[0][0] == "st2.execution__update"


def test_control_fanout_reaches_every_runner(harness):
    runners = [harness.recorder() for _ in range(3)]
    subs = [harness.attach(harness.bus().consume_control(rec, name=f"runner{i}")) for i, rec in enumerate(runners)]
    harness.ready(*subs)
    harness.bus().send_control({"action": "cancel", "execution_id": "ex1"})
    for recorder in runners:
        assert recorder.wait_for(lambda items: len(items) >= 1)
    harness.stop(*subs)
    for recorder in runners:
        assert recorder.bodies() == [{"action": "cancel", "execution_id": "ex1"}]


def test_a_failing_handler_does_not_stop_the_consumer(harness):
    seen = harness.recorder(fail_on=lambda body: body["execution_id"] == "bad")
    sub = harness.attach(harness.bus().consume_run(seen))
    harness.ready(sub)
    publisher = harness.bus()
    publisher.request_run("bad")
    publisher.request_run("good")
    assert seen.wait_for(lambda items: len(items) >= 2)
    harness.stop(sub)
    # the failed message was acknowledged, not redelivered (the database sweep retries instead)
    assert [body["execution_id"] for body in seen.bodies()] == ["bad", "good"]


def test_publishers_in_many_threads(harness):
    seen = harness.recorder()
    harness.ready(harness.attach(harness.bus().consume_schedule(seen)))
    publisher = harness.bus()
    errors: list = []

    def publish(thread: int) -> None:
        try:
            for i in range(25):
                publisher.request_schedule(f"t{thread}-{i}")
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=publish, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(harness.timeout)
    assert not errors, errors
    assert seen.wait_for(lambda items: len(items) >= 100)
    assert len({body["execution_id"] for body in seen.bodies()}) == 100


def test_work_requested_before_any_consumer_existed_is_kept(harness):
    """A scheduler started after the API must still get the requests made meanwhile."""
    publisher = harness.bus()
    publisher.request_schedule("early-s")
    publisher.request_run("early-r")
    schedules, runs = harness.recorder(), harness.recorder()
    harness.attach(harness.bus().consume_schedule(schedules))
    harness.attach(harness.bus().consume_run(runs))
    assert schedules.wait_for(lambda items: len(items) >= 1)
    assert runs.wait_for(lambda items: len(items) >= 1)
    assert schedules.bodies() == [{"execution_id": "early-s"}]
    assert runs.bodies() == [{"execution_id": "early-r"}]


# -- RabbitMQ only ------------------------------------------------------------------------------


@pytest.mark.rabbitmq
def test_durable_work_queue_keeps_messages_while_no_consumer_is_attached(rabbitmq_harness):
    harness = rabbitmq_harness
    before = harness.recorder()
    sub = harness.attach(harness.bus().consume_run(before))
    harness.ready(sub)
    harness.stop(sub)  # the durable queue stays, with nobody consuming
    publisher = harness.bus()
    sent = [f"ex{i}" for i in range(10)]
    for execution_id in sent:
        publisher.request_run(execution_id)
    assert before.items == []
    after = harness.recorder()
    harness.attach(harness.bus().consume_run(after))
    assert after.wait_for(lambda items: len(items) >= len(sent)), after.items
    assert [body["execution_id"] for body in after.bodies()] == sent


@pytest.mark.rabbitmq
def test_consumers_reconnect_after_their_connection_drops(rabbitmq_harness):
    harness = rabbitmq_harness
    runs, events = harness.recorder(), harness.recorder()
    subs = [
        harness.attach(harness.bus().consume_run(runs)),
        harness.attach(harness.bus().consume_events(events, "api")),
    ]
    harness.ready(*subs)
    publisher = harness.bus()
    publisher.request_run("before")
    assert runs.wait_for(lambda items: len(items) >= 1)

    harness.transport.broker.close_all_connections()  # consumers' and publisher's connections

    # The publisher reconnects on its own; the work queue is durable, so the request waits for the
    # run consumer to come back and must then be delivered.
    publisher.request_run("after")
    assert runs.wait_for(lambda items: any(body["execution_id"] == "after" for _k, body in items)), runs.items
    # Stream events are transient (auto-delete queue, recreated on reconnect): keep announcing
    # probes until one gets through, which proves the events consumer is attached again.
    probes: list = []

    def probe_arrived() -> bool:
        probe = f"probe-{uuid.uuid4().hex[:6]}"
        probes.append(probe)
        publisher.announce_execution("update", {"id": probe})
        return events.wait_for(lambda items: any(body["id"] in probes for _k, body in items), timeout=0.25)

    assert harness.wait_until(probe_arrived, timeout=harness.timeout, interval=0), "events consumer did not come back"
    assert [body["execution_id"] for body in runs.bodies()].count("after") == 1
