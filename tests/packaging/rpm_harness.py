"""What the RPM tests share. The RPMs are built once per test session (conftest.py's `rpms`) with
scripts/packaging/build-rpms, from a mirror fetched for the session (pyrepo fetch, CPython 3.9 only),
for the Python 3.9 on this machine (standing in for EL9's python3).

The next release of st2 (for the upgrade test) is built in the background once the first build is
done, while the other tests run. When scripts/packaging/nginx/ is empty, st2-nginx is built from a
placeholder in the session's temp dir.

Tools: rpmbuild, rpm, rpm2cpio, rpmlint, cpio, a static busybox and systemd-analyze (make test-tools
installs them). Without one the tests skip, except under CI=true where they fail.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD_RPMS = ROOT / "scripts" / "packaging" / "build-rpms"
NGINX_DIR = ROOT / "scripts" / "packaging" / "nginx"
CI = os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")
TOOLS = {"rpmbuild": "rpm", "rpm": "rpm", "rpm2cpio": "rpm", "rpmlint": "rpmlint", "cpio": "cpio",
         "busybox": "busybox-static", "systemd-analyze": "systemd"}
TARGET = "cp39-manylinux_2_28_x86_64"
BUILD_TIMEOUT = 600


def unavailable(reason: str) -> None:
    if CI:
        pytest.fail(f"required under CI=true: {reason}", pytrace=False)
    pytest.skip(reason)


def load_build_rpms():
    """scripts/packaging/build-rpms as a module (its name has a dash and no .py)."""
    loader = importlib.machinery.SourceFileLoader("build_rpms", str(BUILD_RPMS))
    spec = importlib.util.spec_from_loader("build_rpms", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


build_rpms = load_build_rpms()


@dataclass
class Built:
    work: Path
    mirror: Path
    nginx_dir: Path
    python: str  # the Python 3.9 the RPM was built for, standing in for EL9's /usr/bin/python3.9
    version: str
    release: str
    next_release: str
    st2: Path
    mirror_rpm: Path
    nginx_rpm: Path
    output: str  # what build-rpms printed
    _next: Optional[subprocess.Popen] = field(default=None, repr=False)

    def st2_next(self) -> Path:
        """st2 of the next release, waiting for its background build."""
        assert self._next is not None
        try:
            out, _ = self._next.communicate(timeout=BUILD_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.stop_next()
            raise
        shutil.rmtree(self.work / "top-next", ignore_errors=True)
        assert self._next.returncode == 0, f"build of release {self.next_release} failed:\n{out}"
        path = self.work / "next" / self.st2.name.replace(f"-{self.release}.", f"-{self.next_release}.")
        assert path.exists(), out
        return path

    def stop_next(self) -> None:
        if self._next is not None and self._next.poll() is None:
            os.killpg(self._next.pid, signal.SIGKILL)  # build-rpms and the rpmbuild it started
            self._next.wait(10)
        shutil.rmtree(self.work / "top-next", ignore_errors=True)


def build_command(built_python: str, mirror: Path, out: Path, workdir: Path, *extra: str) -> list[str]:
    workdir.mkdir(parents=True, exist_ok=True)
    return [sys.executable, str(BUILD_RPMS), "--mirror", str(mirror), "--out", str(out), "--python", built_python,
            "--workdir", str(workdir), *extra]
