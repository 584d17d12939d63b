"""BaseActionTestCase: tests of a Python action class, with an in-memory action service."""

from __future__ import annotations

from typing import Any, Optional

from st2common.runners.utils import get_action_class_instance

from st2tests.mocks.action import MockActionService, MockActionWrapper
from st2tests.pack_resource import BasePackResourceTestCase

__all__ = ["BaseActionTestCase"]


class BaseActionTestCase(BasePackResourceTestCase):
    """Set `action_cls`; each test gets a fresh `self.action_service` (pack "tests", the class's name), which
    get_action_instance() hands to the action."""

    action_cls: Optional[type] = None

    def setUp(self) -> None:
        super().setUp()
        wrapper = MockActionWrapper(pack="tests", class_name=self.action_cls.__name__)
        self.action_service = MockActionService(action_wrapper=wrapper)

    def get_action_instance(self, config: Optional[dict] = None) -> Any:
        """An instance of action_cls with `config` (as self.config) and this test's action service."""
        return get_action_class_instance(action_cls=self.action_cls, config=config,
                                         action_service=self.action_service)
