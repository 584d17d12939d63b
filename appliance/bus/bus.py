"""Publish and consume through kombu; one connection per thread, consumers in their own threads.

The transport comes from the [messaging] url's scheme (appliance.bus.transports), resolved when the
Bus is built: a mistyped URL stops the service at once instead of making every consumer retry.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Any, Callable, Iterable, Optional

from kombu import Connection, Consumer, Exchange, Producer, Queue, binding

from appliance import codec
from appliance.bus.names import RULES, RUN, SCHEDULE, WORKFLOW, Names
from appliance.bus.transports import transport_for

LOG = logging.getLogger(__name__)

Handler = Callable[[str, dict], None]  # (routing_key, body)




class Subscription:
    """A consumer loop in a daemon thread; `stop()` ends it."""

    def __init__(self, bus: Bus, queues: list[Queue], handler: Handler, prefetch: int):
        self._bus = bus
        self._queues = queues
        self._handler = handler
        self._prefetch = prefetch
        self._stop = threading.Event()
        self.ready = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name=f"bus-{queues[0].name}")
        self._thread.start()

    def _on_message(self, body: Any, message: Any) -> None:
        try:
            self._handler(message.delivery_info.get("routing_key", ""), body)
        except Exception:  # a failed handler must not kill the consumer; the DB sweep retries
            LOG.exception("handler failed for message on %s", self._queues[0].name)
        finally:
            message.ack()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                with self._bus.connect() as conn:
                    channel = conn.channel()
                    channel.basic_qos(0, self._prefetch, False)
                    with Consumer(channel, self._queues, callbacks=[self._on_message], accept=[codec.CONTENT_TYPE]):
                        self.ready.set()
                        while not self._stop.is_set():
                            try:
                                conn.drain_events(timeout=0.5)
                            except socket.timeout:
                                conn.heartbeat_check()
            except Exception as exc:  # broker restart: reconnect after a pause
                if self._stop.is_set():
                    break
                LOG.warning("bus consumer on %s lost its connection (%s); reconnecting", self._queues[0].name, exc)
                time.sleep(1)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


PUBLISHERS = 8  # publishing connections of one process, at most


class _Publisher:
    """One publishing connection, and the exchanges and queues already declared on it."""

    def __init__(self, conn: Connection, producer: Producer):
        self.conn = conn
        self.producer = producer
        self.declared: set[str] = set()

    def close(self) -> None:
        try:
            self.conn.release()
        except Exception:  # already gone with the broker
            pass


class Bus:
    """The appliance's exchanges and queues over one kombu URL."""

    def __init__(self, url: str = "memory://", prefix: str = "st2"):
        self.url = url
        self.transport = transport_for(url)  # BusError now, for a URL no transport handles
        self.names = Names(prefix)
        durable = self.transport.driver_type != "memory"  # in-process messages cannot outlive us
        self.execution_exchange = Exchange(self.names.execution, "topic", durable=durable)
        self.output_exchange = Exchange(self.names.execution_output, "topic", durable=durable)
        self.work_exchange = Exchange(self.names.work, "direct", durable=durable)
        self.control_exchange = Exchange(self.names.control, "fanout", durable=durable)
        self._durable = durable
        self.scheduler_queue = self._work_queue(self.names.scheduler_queue, SCHEDULE)
        self.runner_queue = self._work_queue(self.names.runner_queue, RUN)
        self.rules_queue = self._work_queue(self.names.rules_queue, RULES)
        self.workflow_queue = self._work_queue(self.names.workflow_queue, WORKFLOW)
        self._publishers: list[_Publisher] = []
        self._publishers_lock = threading.Lock()
        self._publisher_slots = threading.BoundedSemaphore(PUBLISHERS)

    def connect(self) -> Connection:
        return Connection(self.url, transport=self.transport, heartbeat=0)

    def _publisher(self) -> _Publisher:
        """A publishing connection from the pool, or a new one (at most PUBLISHERS at once)."""
        self._publisher_slots.acquire()
        with self._publishers_lock:
            if self._publishers:
                return self._publishers.pop()
        try:
            conn = self.connect()
            return _Publisher(conn, Producer(conn.channel(), serializer=codec.SERIALIZER))
        except BaseException:
            self._publisher_slots.release()
            raise

    def _give_back(self, publisher: _Publisher, broken: bool) -> None:
        if broken:
            publisher.close()  # a new connection may reach a restarted broker
        else:
            with self._publishers_lock:
                self._publishers.append(publisher)
        self._publisher_slots.release()

    def publish(
        self,
        exchange: Exchange,
        routing_key: str,
        body: dict,
        persistent: bool = False,
        queue: Optional[Queue] = None,
    ) -> None:
        """Send `body`; one retry on a fresh connection if the broker dropped the old one.
        `queue` is declared (and bound) first, so that the message waits there even when its
        consumer has never been started yet. Connections are pooled, not kept per thread: the
        short-lived threads that read action output must not each leave a connection behind."""
        for attempt in (1, 2):
            publisher = self._publisher()
            try:
                entities = [exchange] if queue is None else [exchange, queue]
                undeclared = [entity for entity in entities if entity.name not in publisher.declared]
                publisher.producer.publish(
                    body,
                    exchange=exchange,
                    routing_key=routing_key,
                    declare=undeclared,
                    delivery_mode=2 if persistent and self._durable else 1,
                    retry=False,
                )
                publisher.declared.update(entity.name for entity in undeclared)
            except Exception:
                self._give_back(publisher, broken=True)
                if attempt == 2:
                    raise
                continue
            self._give_back(publisher, broken=False)
            return

    # -- the appliance's messages --------------------------------------------------------------
    def announce_execution(self, event: str, execution: dict) -> None:
        """`event` (create, update) with the execution's status as the routing key's second word
        (`update.succeeded`): the stream takes every key, the notifier binds only the statuses it
        sends triggers for, so most updates never reach it."""
        self.publish(self.execution_exchange, f"{event}.{execution.get('status')}", execution)

    def announce_output(self, line: dict) -> None:
        self.publish(self.output_exchange, "create", line)

    def request_schedule(self, execution_id: str) -> None:
        body = {"execution_id": execution_id}
        self.publish(self.work_exchange, SCHEDULE, body, persistent=True, queue=self.scheduler_queue)

    def request_run(self, execution_id: str) -> None:
        body = {"execution_id": execution_id}
        self.publish(self.work_exchange, RUN, body, persistent=True, queue=self.runner_queue)

    def request_rules(self, trigger_instance_id: str, trigger: str) -> None:
        """A stored trigger instance (of trigger ref `trigger`) for the rules engine to match against the rules."""
        body = {"trigger_instance_id": trigger_instance_id, "trigger": trigger}
        self.publish(self.work_exchange, RULES, body, persistent=True, queue=self.rules_queue)

    def request_workflow(self, workflow_execution_id: str) -> None:
        """A stored workflow execution for a workflow engine to start."""
        body = {"workflow_execution_id": workflow_execution_id}
        self.publish(self.work_exchange, WORKFLOW, body, persistent=True, queue=self.workflow_queue)

    def announce_workflow_child(self, execution_id: str) -> None:
        """A workflow's child execution reached a status its workflow reacts to."""
        body = {"execution_id": execution_id}
        self.publish(self.work_exchange, WORKFLOW, body, persistent=True, queue=self.workflow_queue)

    def send_control(self, body: dict) -> None:
        self.publish(self.control_exchange, "", body)

    # -- consumers -----------------------------------------------------------------------------
    def _work_queue(self, name: str, key: str) -> Queue:
        return Queue(name, self.work_exchange, routing_key=key, durable=self._durable, auto_delete=False)

    def consume_schedule(self, handler: Handler, prefetch: int = 32) -> Subscription:
        return Subscription(self, [self.scheduler_queue], handler, prefetch)

    def consume_run(self, handler: Handler, prefetch: int = 16) -> Subscription:
        return Subscription(self, [self.runner_queue], handler, prefetch)

    def consume_trigger_instances(self, handler: Handler, prefetch: int = 32) -> Subscription:
        return Subscription(self, [self.rules_queue], handler, prefetch)

    def consume_workflows(self, handler: Handler, prefetch: int = 32) -> Subscription:
        return Subscription(self, [self.workflow_queue], handler, prefetch)

    def consume_execution_updates(self, handler: Handler, statuses: Iterable[str],
                                  prefetch: int = 32) -> Subscription:
        """Execution creates and updates reaching one of `statuses`, for st2notifier: one durable
        queue shared by every notifier, so each message goes to one of them."""
        keys = [f"{event}.{status}" for event in ("create", "update") for status in statuses]
        queue = Queue(self.names.notifier_queue, bindings=[binding(self.execution_exchange, key) for key in keys],
                      durable=self._durable, auto_delete=False)
        return Subscription(self, [queue], handler, prefetch)

    def consume_control(self, handler: Handler, name: str) -> Subscription:
        queue = Queue(f"{self.names.control}.{name}", self.control_exchange, durable=False, auto_delete=True)
        return Subscription(self, [queue], handler, 64)

    def consume_events(self, handler: Handler, name: str) -> Subscription:
        """Every execution and output event, for st2stream (a private auto-delete queue)."""
        queues = [
            Queue(f"{self.names.execution}.stream.{name}", self.execution_exchange, routing_key="#",
                  durable=False, auto_delete=True),
            Queue(f"{self.names.execution_output}.stream.{name}", self.output_exchange, routing_key="#",
                  durable=False, auto_delete=True),
        ]
        return Subscription(self, queues, self._tag_events(handler), 256)

    def _tag_events(self, handler: Handler) -> Handler:
        # Stream event names are StackStorm's whatever the prefix (st2.execution__update: the routing
        # key's event word, without the status); output lines carry output_type.
        def tagged(routing_key: str, body: dict) -> None:
            resource = "st2.execution.output" if "output_type" in body else "st2.execution"
            handler(f"{resource}__{routing_key.split('.', 1)[0]}", body)

        return tagged

    def close(self) -> None:
        with self._publishers_lock:
            publishers, self._publishers = self._publishers, []
        for publisher in publishers:
            publisher.close()


def wait_ready(subscriptions: list[Subscription], timeout: float = 10.0) -> Optional[Subscription]:
    """Block until every consumer is attached; returns the first one that is not."""
    deadline = time.time() + timeout
    for sub in subscriptions:
        if not sub.ready.wait(max(0.0, deadline - time.time())):
            return sub
    return None
