"""The child side of the sensor container: run one pack sensor in this process.

This runs under the pack virtualenv's interpreter, where only the standard library and StackStorm's
modules (appliance/compat, on PYTHONPATH) can be relied on. Nothing secret comes in argv: the
request (pack, file, class, pack config, API URL and service token) is the first JSON line on stdin.
Later stdin lines are trigger changes ({"event": "add" | "update" | "remove", "trigger": {...}}), and
the end of stdin means the container is gone, so the sensor ends too. Dispatched triggers leave as
JSON lines on the file descriptor the request names; stdout and stderr go to the container's log.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import signal
import sys
import threading
import traceback
from typing import Any, Optional

from st2common.services.datastore import SensorDatastoreService  # appliance/compat, on PYTHONPATH
from st2common.util.loader import load_module

LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"  # the container reads the level back from each line


class SensorService(SensorDatastoreService):
    """What a sensor reaches through self.sensor_service (StackStorm's names and signatures): the
    datastore methods (list_values, get_value, set_value, delete_value, get_user_info) over the API
    with the container's service token, plus dispatch and loggers."""

    def __init__(self, wrapper: SensorWrapper) -> None:
        self._wrapper = wrapper
        super().__init__(self.get_logger("datastore"), wrapper.pack, wrapper.class_name, wrapper.auth_token,
                         wrapper.api_url)

    @property
    def datastore_service(self) -> SensorService:
        return self

    def get_logger(self, name: str) -> logging.Logger:
        return logging.getLogger(f"SensorWrapper.{self._wrapper.pack}.{self._wrapper.class_name}.{name}")

    def dispatch(self, trigger: Any, payload: Optional[dict] = None, trace_tag: Optional[str] = None) -> None:
        self.dispatch_with_context(trigger, payload, {"trace_tag": trace_tag} if trace_tag else None)

    def dispatch_with_context(self, trigger: Any, payload: Optional[dict] = None, trace_context: Any = None) -> None:
        """Hand the trigger to the container, which checks the payload against the trigger type (an
        invalid one is logged there and dropped, as in StackStorm) and sends it to the rules engine."""
        if trace_context is not None and not isinstance(trace_context, dict):
            trace_context = {"trace_tag": getattr(trace_context, "trace_tag", None),
                             "id": getattr(trace_context, "id_", None)}
        self._wrapper.send({"trigger": trigger, "payload": payload or {}, "trace_context": trace_context})


class SensorWrapper:
    """One sensor instance, its trigger changes and its dispatch channel."""

    def __init__(self, request: dict) -> None:
        self.pack = request["pack"]
        self.class_name = request["class_name"]
        self.file_path = request["file_path"]
        self.api_url = request.get("api_url") or ""
        self.auth_token = request.get("auth_token")
        self._channel = os.fdopen(request["dispatch_fd"], "w", encoding="utf-8", buffering=1)
        self._channel_lock = threading.Lock()
        self._known: set[str] = set()  # ids of the triggers handed to add_trigger
        self.logger = logging.getLogger(f"SensorWrapper.{self.pack}.{self.class_name}")
        sensor_class = load_sensor_class(self.file_path, self.class_name)
        kwargs: dict = {"sensor_service": SensorService(self), "config": request.get("config") or {}}
        if request.get("poll_interval") and _is_polling(sensor_class):
            kwargs["poll_interval"] = request["poll_interval"]
        self.sensor = sensor_class(**kwargs)
        self._initial_triggers = request.get("triggers") or []

    def send(self, message: dict) -> None:
        line = json.dumps(message, default=str) + "\n"
        with self._channel_lock:
            self._channel.write(line)

    def handle(self, event: str, trigger: dict) -> None:
        """One trigger change; remove_trigger only for a trigger the sensor was given."""
        trigger_id = str(trigger.get("id"))
        try:
            if event == "add":
                self._known.add(trigger_id)
                self.sensor.add_trigger(trigger)
            elif event == "update":
                self.sensor.update_trigger(trigger)
            elif event == "remove" and trigger_id in self._known:
                self._known.discard(trigger_id)
                self.sensor.remove_trigger(trigger)
        except Exception:
            self.logger.exception("%s_trigger failed for trigger %s", event, trigger.get("ref"))

    def follow_container(self) -> None:
        """Apply trigger changes from stdin; at its end the container is gone: end the sensor."""
        for line in sys.stdin:
            try:
                message = json.loads(line)
            except ValueError:
                continue
            self.handle(message.get("event", ""), message.get("trigger") or {})
        self.logger.info("The sensor container has gone: stopping.")
        os.kill(os.getpid(), signal.SIGTERM)

    def run(self) -> int:
        self.logger.info("Running sensor initialization code")
        self.sensor.setup()
        for trigger in self._initial_triggers:
            self.handle("add", trigger)
        threading.Thread(target=self.follow_container, daemon=True, name="triggers").start()
        self.logger.info("Running sensor in passive mode" if not _is_polling(type(self.sensor))
                         else f"Running sensor in active mode (poll interval={self.sensor.get_poll_interval()}s)")
        try:
            self.sensor.run()
        finally:
            self.stop()
        return 0

    def stop(self) -> None:
        try:
            self.sensor.cleanup()
        except Exception:
            self.logger.exception("cleanup() failed")


def _is_polling(cls: type) -> bool:
    return any(base.__name__ == "PollingSensor" for base in cls.__mro__)


def load_sensor_class(file_path: str, class_name: str) -> type:
    """The class named `class_name` in the sensor's file; its siblings import as StackStorm allows."""
    try:
        module = load_module(file_path)
    except Exception as exc:
        raise RuntimeError(f'Failed to load sensor class from file "{file_path}" (sensor file most likely '
                           f"doesn't exist or contains invalid syntax): {exc}") from exc
    found = getattr(module, class_name, None)
    if not inspect.isclass(found):
        raise RuntimeError(f'Sensor module is missing a class with name "{class_name}"')
    return found


def _terminate(signum: int, frame: Any) -> None:
    raise SystemExit(0)  # unwinds run(), so cleanup() runs


def main() -> int:
    if sys.path and os.path.abspath(sys.path[0] or ".") == os.path.dirname(os.path.abspath(__file__)):
        sys.path.pop(0)  # run as a script: our own directory must not shadow the pack's modules
    try:
        request = json.loads(sys.stdin.readline())
    except ValueError as exc:
        sys.stderr.write(f"ERROR sensor: expected the sensor request as one JSON line on stdin: {exc}\n")
        return 1
    level = getattr(logging, str(request.get("log_level") or "INFO").upper(), logging.INFO)
    logging.basicConfig(stream=sys.stderr, level=level, format=LOG_FORMAT)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        return SensorWrapper(request).run()
    except SystemExit:
        return 0
    except Exception:
        traceback.print_exc()
        return 1


if __name__ == "__main__":
    sys.exit(main())
