"""Fixtures of the pyrepo tests; the helpers live in pyrepo_testlib."""

from __future__ import annotations

from pathlib import Path

import pyrepo_testlib  # noqa: F401 - puts this checkout's pyrepo on sys.path before test modules import it
import pytest


@pytest.fixture
def mirror(tmp_path: Path) -> Path:
    """An empty mirror directory."""
    path = tmp_path / "mirror"
    path.mkdir()
    return path
