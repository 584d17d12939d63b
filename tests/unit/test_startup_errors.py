"""A setting that cannot work stops st2ctl and every service entry point with one readable line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.appliance_conf import free_ports, write_st2_conf


@pytest.fixture
def conf(tmp_path):
    def make(extra: str) -> str:
        path = tmp_path / "st2.conf"
        write_st2_conf(str(path), base=str(tmp_path / "base"), packs=str(tmp_path / "packs"),
                       ports=tuple(free_ports(3)), log_path=str(tmp_path / "st2.log"))
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(extra)
        return str(path)

    return make


def _run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *argv], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("extra, words", [
    ("[messaging]\nurl = amqqp://guest:guest@127.0.0.1:5672/\n", ["[messaging] url", "did you mean"]),
    ("[database]\nurl = mongdb://127.0.0.1:27017/\n", ["[database] url", "did you mean"]),
])
@pytest.mark.parametrize("program", [("appliance.st2ctl", "start"), ("appliance.services.api",)])
def test_unknown_schemes_stop_with_one_line(conf, extra, words, program):
    done = _run(*program, "--config-file", conf(extra))
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert all(word in lines[0] for word in words), lines[0]
    assert "guest:guest" not in done.stderr  # a password in the URL is never echoed
