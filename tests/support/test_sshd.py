"""The test sshd works the way ssh-based runners will use it: ssh, scp, refusal of unknown keys, fan-out."""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.support import sshd
from tests.support.sshd import SSH, SSH_KEYGEN, SshServer

sshd_server = sshd.sshd_server  # the session fixture; an assignment, unlike an import, does not trip ruff's F811


def _run(argv: list, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)


def test_ssh_runs_a_command_through_the_options_string(sshd_server: SshServer) -> None:
    """A runner builds its command line from ssh_options(); that string alone must be enough to log in."""
    cmd = f"{SSH} {sshd_server.ssh_options()} {sshd_server.destination} echo hello"
    result = subprocess.run(cmd, shell=True, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "hello\n"


def test_client_argv_quotes_words(sshd_server: SshServer) -> None:
    """Words given as a list reach the remote shell unsplit."""
    result = _run(sshd_server.client_argv(["printf", "%s|", "a b", "c"]))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "a b|c|"


def test_scp_copies_a_file(sshd_server: SshServer, tmp_path: Path) -> None:
    """The same options work for scp (port as -oPort, not ssh's -p which is scp's 'preserve')."""
    source = tmp_path / "source.txt"
    source.write_text("payload\n")
    target = tmp_path / "remote" / "copied.txt"
    target.parent.mkdir()
    result = _run(sshd_server.scp_argv(source, target))
    assert result.returncode == 0, result.stderr
    assert target.read_text() == "payload\n"


def test_client_without_the_key_is_refused(sshd_server: SshServer, tmp_path: Path) -> None:
    """Only the authorized key logs in; another key (and no password prompt) gets a non-zero exit."""
    stranger = tmp_path / "stranger"
    subprocess.run([SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-f", str(stranger)], check=True)
    argv = sshd_server.client_argv("echo should-not-run")
    argv[argv.index(str(sshd_server.private_key))] = str(stranger)
    result = _run(argv)
    assert result.returncode != 0
    assert "should-not-run" not in result.stdout
    assert "Permission denied" in result.stderr


def test_fifty_parallel_sessions_all_succeed(sshd_server: SshServer) -> None:
    """Fan-out runners open many connections at once; MaxStartups/MaxSessions must not throttle them."""
    count = 50
    with ThreadPoolExecutor(max_workers=count) as pool:
        results = list(pool.map(lambda i: _run(sshd_server.client_argv(f"echo session-{i}"), 60), range(count)))
    failures = [(i, r.returncode, r.stderr) for i, r in enumerate(results) if r.returncode != 0]
    assert not failures
    assert [r.stdout for r in results] == [f"session-{i}\n" for i in range(count)]
