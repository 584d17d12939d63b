"""BaseSensorTestCase: tests of a sensor class, with an in-memory sensor service that records dispatches."""

from __future__ import annotations

from typing import Any, Optional

from st2tests.mocks.sensor import MockSensorService, MockSensorWrapper
from st2tests.pack_resource import BasePackResourceTestCase

__all__ = ["BaseSensorTestCase"]


class BaseSensorTestCase(BasePackResourceTestCase):
    """Set `sensor_cls`; each test gets a fresh `self.sensor_service` (pack "tests", the class's name)."""

    sensor_cls: Optional[type] = None

    def setUp(self) -> None:
        super().setUp()
        wrapper = MockSensorWrapper(pack="tests", class_name=self.sensor_cls.__name__)
        self.sensor_service = MockSensorService(sensor_wrapper=wrapper)

    def get_sensor_instance(self, config: Optional[dict] = None, poll_interval: Optional[float] = None) -> Any:
        """An instance of sensor_cls on this test's sensor service; config and poll_interval are passed
        only when given (a falsy config is left out, as StackStorm does)."""
        kwargs: dict = {"sensor_service": self.sensor_service}
        if config:
            kwargs["config"] = config
        if poll_interval is not None:
            kwargs["poll_interval"] = poll_interval
        return self.sensor_cls(**kwargs)

    def get_dispatched_triggers(self) -> list:
        """Every dispatch so far, oldest first: {"trigger", "payload", "trace_context"} each."""
        return self.sensor_service.dispatched_triggers

    def get_last_dispatched_trigger(self) -> dict:
        """The latest dispatch (IndexError when there was none)."""
        return self.sensor_service.dispatched_triggers[-1]

    def assertTriggerDispatched(self, trigger: str, payload: Any = None, trace_context: Any = None) -> bool:
        """Passes when some dispatch had this trigger and, for each of payload and trace_context that is
        given (not empty), an equal value; raises AssertionError otherwise."""
        for item in self.get_dispatched_triggers():
            if item["trigger"] != trigger:
                continue
            if payload and item["payload"] != payload:
                continue
            if trace_context and item["trace_context"] != trace_context:
                continue
            return True
        raise AssertionError(f'Trigger "{trigger}" hasn\'t been dispatched')
