"""`import mock` for pack tests where the `mock` distribution is not installed: the standard library's
unittest.mock under that name (mock 4 and later is a backport of it). st2-run-pack-tests appends this
folder to PYTHONPATH only when `mock` does not import otherwise, so an installed one always wins.
"""

import sys
from unittest import mock as _mock
from unittest.mock import *  # noqa: F403

__all__ = list(_mock.__all__)
__version__ = "stdlib"

mock = _mock  # `mock.mock.patch`, `from mock.mock import ...`
sys.modules.setdefault("mock.mock", _mock)
