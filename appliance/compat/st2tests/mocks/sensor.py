"""MockSensorWrapper and MockSensorService: what BaseSensorTestCase hands a sensor as sensor_service."""

from __future__ import annotations

from typing import Any, Optional

from st2common.models.api.trace import TraceContext

from st2tests.mocks.datastore import DatastoreMethods, MockDatastoreService, mock_logger

__all__ = ["MockSensorWrapper", "MockSensorService"]


class MockSensorWrapper:
    """The pack and class a sensor runs as."""

    def __init__(self, pack: str, class_name: str) -> None:
        self._pack = pack
        self._class_name = class_name


class MockSensorService(DatastoreMethods):
    """sensor_service that records dispatches in `dispatched_triggers` ({"trigger", "payload",
    "trace_context"} each, oldest first) and hands out one Mock logger (`_logger`) for every name."""

    def __init__(self, sensor_wrapper: MockSensorWrapper) -> None:
        self._sensor_wrapper = sensor_wrapper
        self._logger = mock_logger()
        self.dispatched_triggers: list = []
        self._datastore_service = MockDatastoreService(logger=self._logger, pack_name=sensor_wrapper._pack,
                                                       class_name=sensor_wrapper._class_name)

    def get_logger(self, name: str) -> Any:
        return self._logger

    def dispatch(self, trigger: Any, payload: Any = None, trace_tag: Optional[str] = None) -> dict:
        """Record the dispatch; a trace_tag becomes a TraceContext, as the real service sends it."""
        context = TraceContext(trace_tag=trace_tag) if trace_tag else None
        return self.dispatch_with_context(trigger=trigger, payload=payload, trace_context=context)

    def dispatch_with_context(self, trigger: Any, payload: Any = None, trace_context: Any = None) -> dict:
        item = {"trigger": trigger, "payload": payload, "trace_context": trace_context}
        self.dispatched_triggers.append(item)
        return item
