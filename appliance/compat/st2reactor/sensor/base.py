"""`from st2reactor.sensor.base import Sensor, PollingSensor`: the base classes of pack sensors.

The sensor container's child process (appliance/sensors/wrapper.py) instantiates the pack's class
with a sensor_service and the pack config, calls setup(), then run(); the add/update/remove_trigger
methods are called, from another thread, as triggers of the sensor's trigger types change.
"""

from __future__ import annotations

import abc
import time
from typing import Any, Optional

__all__ = ["BaseSensor", "Sensor", "PollingSensor"]


class BaseSensor(metaclass=abc.ABCMeta):
    """What every sensor has: its service (dispatch, datastore, logger) and its pack config."""

    def __init__(self, sensor_service: Any, config: Optional[dict] = None) -> None:
        self.sensor_service = sensor_service
        self._sensor_service = sensor_service  # the older name, still used by many packs
        self.config = config or {}
        self._config = self.config

    @abc.abstractmethod
    def setup(self) -> None:
        """Prepare the sensor (connections, state) before run()."""

    @abc.abstractmethod
    def run(self) -> None:
        """Watch for events and dispatch triggers; returns only when the sensor is done."""

    @abc.abstractmethod
    def cleanup(self) -> None:
        """Release what setup() took; called when the process ends."""

    @abc.abstractmethod
    def add_trigger(self, trigger: dict) -> None:
        """A trigger of one of the sensor's types was created (e.g. by a rule)."""

    @abc.abstractmethod
    def update_trigger(self, trigger: dict) -> None:
        """A trigger of one of the sensor's types changed."""

    @abc.abstractmethod
    def remove_trigger(self, trigger: dict) -> None:
        """A trigger of one of the sensor's types was deleted."""


class Sensor(BaseSensor):
    """A passive sensor: run() is its own loop or server."""


class PollingSensor(BaseSensor):
    """An active sensor: run() calls poll() every poll interval (seconds). An exception in poll()
    ends the process, and the container restarts it."""

    def __init__(self, sensor_service: Any, config: Optional[dict] = None, poll_interval: float = 5) -> None:
        super().__init__(sensor_service=sensor_service, config=config)
        self._poll_interval = poll_interval

    @abc.abstractmethod
    def poll(self) -> None:
        """Look at the outside world once and dispatch what it shows."""

    def run(self) -> None:
        while True:
            self.poll()
            time.sleep(self._poll_interval)

    def get_poll_interval(self) -> float:
        return self._poll_interval

    def set_poll_interval(self, poll_interval: float) -> None:
        self._poll_interval = poll_interval
