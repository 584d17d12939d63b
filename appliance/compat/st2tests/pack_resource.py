"""`from st2tests.pack_resource import BasePackResourceTestCase`: the base of the pack test classes."""

from __future__ import annotations

import inspect
import os
from unittest import TestCase

__all__ = ["BasePackResourceTestCase"]


class BasePackResourceTestCase(TestCase):
    """A unittest TestCase that knows its pack: the folder above the test file's tests/ folder."""

    def get_fixture_content(self, fixture_path: str) -> str:
        """The text of <pack>/tests/fixtures/<fixture_path>."""
        path = os.path.join(self._get_base_pack_path(), "tests", "fixtures", fixture_path)
        with open(path) as handle:
            return handle.read()

    def _get_base_pack_path(self) -> str:
        test_file = inspect.getfile(type(self))
        return os.path.abspath(os.path.join(os.path.dirname(test_file), ".."))
