"""core.remote and core.remote_sudo through the real st2 CLI, against a real loopback sshd."""

from __future__ import annotations

import shlex
import socket
from pathlib import Path

import pytest
from e2e_harness import Appliance

from tests.support import sshd
from tests.support.sshd import SshServer

pytestmark = pytest.mark.e2e
sshd_server = sshd.sshd_server


@pytest.fixture(scope="module")
def connection(sshd_server: SshServer, tmp_path_factory) -> list[str]:
    """st2 run arguments that reach the test sshd: its port, key and host keys (two host names)."""
    known = tmp_path_factory.mktemp("known") / "known_hosts"
    line = sshd_server.known_hosts.read_text().strip()
    known.write_text(f"{line}\n{line.replace('[127.0.0.1]', '[localhost]', 1)}\n")
    options = " ".join(shlex.quote(option) for option in [
        "-F", "/dev/null", f"-oUserKnownHostsFile={known}", "-oGlobalKnownHostsFile=/dev/null",
        "-oStrictHostKeyChecking=yes"])
    return [f"port={sshd_server.port}", f"username={sshd_server.user}",
            f"private_key={sshd_server.private_key}", f"ssh_options={options}"]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_core_remote_result_per_host(appliance: Appliance, connection: list[str]):
    done, execution = appliance.st2_json("run", "core.remote", "hosts=127.0.0.1", "cmd=echo hi", *connection)
    assert done.returncode == 0, done.stdout + done.stderr
    assert execution["status"] == "succeeded", execution
    assert execution["result"] == {"127.0.0.1": {"failed": False, "succeeded": True, "return_code": 0,
                                                 "stdout": "hi", "stderr": ""}}
    assert execution["parameters"]["private_key"] != str(Path(connection[2].split("=", 1)[1]))  # secret: masked

    done, execution = appliance.st2_json("run", "core.remote", "hosts=127.0.0.1,localhost", "cmd=id -u",
                                         *connection)
    assert execution["status"] == "succeeded", execution
    assert {host: entry["stdout"] for host, entry in execution["result"].items()} == {"127.0.0.1": 0,
                                                                                       "localhost": 0}

    done = appliance.st2("run", "core.remote", "hosts=127.0.0.1", "cmd=echo plain-output", *connection)
    assert done.returncode == 0 and "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
    assert "plain-output" in done.stdout and "succeeded" in done.stdout, done.stdout


def test_core_remote_sudo(appliance: Appliance, connection: list[str]):
    done, execution = appliance.st2_json("run", "core.remote_sudo", "hosts=127.0.0.1",
                                         "cmd=echo $SUDO_USER", *connection)
    assert execution["status"] == "succeeded", execution
    assert execution["result"]["127.0.0.1"]["stdout"] == "root"


def test_core_remote_unreachable_host_fails_with_ssh_rc(appliance: Appliance, connection: list[str]):
    args = [arg for arg in connection if not arg.startswith("port=")]
    done, execution = appliance.st2_json("run", "core.remote", "hosts=127.0.0.1", "cmd=echo hi",
                                         f"port={closed_port()}", *args)
    assert "Traceback" not in done.stdout + done.stderr
    assert execution["status"] == "failed", execution
    entry = execution["result"]["127.0.0.1"]
    assert entry["return_code"] == 255 and entry["succeeded"] is False
    assert "refused" in entry["stderr"], entry


def test_core_remote_password_is_refused_clearly(appliance: Appliance, connection: list[str]):
    done, execution = appliance.st2_json("run", "core.remote", "hosts=127.0.0.1", "cmd=true", "password=pw",
                                         *connection)
    assert execution["status"] == "failed", execution
    assert "batch mode" in execution["result"]["error"]
