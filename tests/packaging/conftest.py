"""Fixtures of the packaging tests; what they share is in rpm_harness.py and puppet_harness.py."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from typing import Iterator

import puppet_harness
import pytest
from rpm_harness import (
    BUILD_TIMEOUT,
    NGINX_DIR,
    TARGET,
    TOOLS,
    Built,
    build_command,
    build_rpms,
    unavailable,
)


@pytest.fixture(scope="session")
def rpms(tmp_path_factory) -> Iterator[Built]:
    for tool, package in TOOLS.items():
        if not shutil.which(tool):
            unavailable(f"{tool} is not installed (apt-get install {package}, or make test-tools)")
    try:
        python, _pyver = build_rpms.interpreter("python3.9")
    except build_rpms.BuildError as exc:
        unavailable(f"no Python 3.9 to build for and to run the payload with: {exc}")
    work = tmp_path_factory.mktemp("rpms")
    mirror = work / "mirror"
    pyrepo = os.path.join(os.path.dirname(sys.executable), "pyrepo")  # -m pyrepo would find the folder pyrepo/
    if not os.access(pyrepo, os.X_OK):
        unavailable(f"pyrepo is not installed next to {sys.executable} (make install)")
    started = time.monotonic()  # "from nothing" of test_site_install's report
    fetched = subprocess.run([pyrepo, "fetch", "--mirror", str(mirror), "--target", TARGET],
                             capture_output=True, text=True, timeout=BUILD_TIMEOUT)
    assert fetched.returncode == 0, f"pyrepo fetch failed:\n{fetched.stdout}{fetched.stderr}"
    fetch_seconds = time.monotonic() - started

    nginx_dir = NGINX_DIR
    if not (nginx_dir.is_dir() and any(path.is_file() for path in nginx_dir.iterdir())):
        nginx_dir = work / "nginx-placeholder"  # the real files are another change's; never in the tree
        nginx_dir.mkdir()
        (nginx_dir / "st2.conf").write_text("# placeholder\nserver { listen 443 ssl; }\n")
        script = nginx_dir / "st2-nginx-placeholder-cert"
        script.write_text("#!/bin/sh\necho \"$0 ran\"\n")
        script.chmod(0o755)

    version, release = build_rpms.version(), build_rpms.release()
    next_release = str(int(release) + 1)
    out = work / "out"
    started = time.monotonic()
    built = subprocess.run(build_command(python, mirror, out, work / "top", "--nginx-dir", str(nginx_dir)),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=BUILD_TIMEOUT)
    build_seconds = time.monotonic() - started
    shutil.rmtree(work / "top", ignore_errors=True)
    assert built.returncode == 0, f"build-rpms failed:\n{built.stdout}"
    arch = os.uname().machine
    result = Built(work=work, mirror=mirror, nginx_dir=nginx_dir, python=python, version=version, release=release,
                   next_release=next_release, st2=out / f"st2-{version}-{release}.{arch}.rpm",
                   mirror_rpm=out / f"st2-mirror-{version}-{release}.noarch.rpm",
                   nginx_rpm=out / f"st2-nginx-{version}-{release}.noarch.rpm", output=built.stdout,
                   fetch_seconds=fetch_seconds, build_seconds=build_seconds)
    result._next = subprocess.Popen(
        build_command(python, mirror, work / "next", work / "top-next", "--only", "st2", "--release", next_release),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        yield result
    finally:
        result.stop_next()
        shutil.rmtree(work, ignore_errors=True)  # the mirror and the RPMs: 100 MB and more


@pytest.fixture
def scratch_redis(tmp_path) -> Iterator[puppet_harness.ScratchRedis]:
    """A redis-server of the test's own, without a password until Puppet sets one (puppet_harness)."""
    with puppet_harness.scratch_redis(tmp_path / "redis") as redis:
        yield redis


@pytest.fixture
def rabbitmq_account() -> Iterator[tuple[str, str]]:
    """A fresh RabbitMQ (vhost, user), removed after the test (puppet_harness)."""
    with puppet_harness.rabbitmq_account() as account:
        yield account
