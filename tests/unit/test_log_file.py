"""The log file is private whatever the umask: 0600 in a directory created 0700."""

from __future__ import annotations

import logging
import os
import stat

import pytest

from appliance import config
from appliance.services.context import setup_logging


@pytest.fixture
def open_umask():
    """The umask most boxes have (022), under which a plain open() makes a world-readable file."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


@pytest.fixture
def restored_logging():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    for handler in root.handlers:
        handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_setup_logging_creates_a_private_log_in_a_private_directory(tmp_path, open_umask, restored_logging):
    path = tmp_path / "data" / "logs" / "st2.log"
    conf = tmp_path / "st2.conf"
    conf.write_text(f"[log]\npath = {path}\n")
    setup_logging(config.load(str(conf)), "st2test")
    logging.getLogger("appliance.test").warning("secret-ish detail")
    assert "st2test WARNING appliance.test: secret-ish detail" in path.read_text()
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
