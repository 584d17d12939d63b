"""pyrepo serve: read-only HTTP over loopback, good enough for pip."""

from __future__ import annotations

import http.client
import os
import re
import subprocess
import sys

import pytest
from pyrepo_testlib import PROJECT, assert_one_error_line, clean_pip_env, make_wheel, run_cli, sha256

from pyrepo.index import write_index


@pytest.fixture
def served(mirror):
    """(mirror, port) of a `pyrepo serve --port 0` subprocess, stopped afterwards."""
    wheel = make_wheel(mirror, "tiny", "1.0")
    write_index(mirror)
    env = dict(os.environ, PYTHONPATH=str(PROJECT))
    process = subprocess.Popen([sys.executable, "-m", "pyrepo", "serve", "--mirror", str(mirror), "--port", "0",
                                "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/simple/", line)
        assert match, line + process.stderr.read()
        yield mirror, int(match.group(1)), wheel
    finally:
        process.terminate()
        process.wait(timeout=10)


def _request(port: int, method: str, path: str):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request(method, path, body=b"x" if method in ("POST", "PUT") else None)
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response, body


def test_get_and_head_serve_the_index_and_files(served):
    _mirror, port, wheel = served
    response, body = _request(port, "GET", "/simple/tiny/")
    assert response.status == 200 and f"#sha256={sha256(wheel)}".encode() in body
    response, body = _request(port, "HEAD", f"/{wheel.name}")
    assert response.status == 200 and body == b"" and int(response.getheader("Content-Length")) == wheel.stat().st_size


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_every_other_method_is_refused(served, method):
    mirror, port, wheel = served
    response, _body = _request(port, method, f"/{wheel.name}")
    assert response.status == 405 and response.getheader("Allow") == "GET, HEAD"
    assert wheel.exists() and sorted(p.name for p in mirror.iterdir()) == ["simple", wheel.name]


def test_nothing_outside_the_mirror_is_reachable(served):
    _mirror, port, _wheel = served
    response, _body = _request(port, "GET", "/../../etc/passwd")
    assert response.status == 404


def test_pip_downloads_from_the_served_index(served, tmp_path):
    _mirror, port, wheel = served
    out = tmp_path / "out"
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(out),
               "--index-url", f"http://127.0.0.1:{port}/simple", "tiny==1.0", "--progress-bar", "off"]
    result = subprocess.run(command, capture_output=True, text=True, env=clean_pip_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert sha256(out / wheel.name) == sha256(wheel)


def test_serving_needs_an_index_and_a_free_port(mirror, served):
    assert_one_error_line(run_cli("serve", "--mirror", mirror.parent / "empty-mirror", "--port", "0"),
                          "has no simple index")
    _served_mirror, port, _wheel = served
    assert_one_error_line(run_cli("serve", "--mirror", mirror, "--port", str(port)), "cannot listen")
