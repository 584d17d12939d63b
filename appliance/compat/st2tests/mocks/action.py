"""MockActionWrapper and MockActionService: what BaseActionTestCase hands an action as action_service."""

from __future__ import annotations

from st2tests.mocks.datastore import DatastoreMethods, MockDatastoreService, mock_logger

__all__ = ["MockActionWrapper", "MockActionService"]


class MockActionWrapper:
    """The pack and class an action runs as (the real wrapper also carries its file, config, ...)."""

    def __init__(self, pack: str, class_name: str) -> None:
        self._pack = pack
        self._class_name = class_name


class MockActionService(DatastoreMethods):
    """action_service with an in-memory datastore; `_logger` is a Mock to assert log calls on."""

    def __init__(self, action_wrapper: MockActionWrapper) -> None:
        self._action_wrapper = action_wrapper
        self._logger = mock_logger()
        self._datastore_service = MockDatastoreService(logger=self._logger, pack_name=action_wrapper._pack,
                                                       class_name=action_wrapper._class_name)
