"""A real OpenSSH server on loopback, so ssh-based runners are tested against sshd itself, not a mock.

Test modules use the session fixture by importing it (pytest registers fixtures found in a test module)::

    from tests.support.sshd import sshd_server  # noqa: F401

    def test_remote(sshd_server):  # noqa: F811
        subprocess.run(sshd_server.client_argv("true"), check=True)

ruff reports F811 at every test parameter named like an imported fixture, so a module checked with ruff
binds it by assignment instead, which needs no noqa at all::

    from tests.support import sshd
    from tests.support.sshd import SshServer

    sshd_server = sshd.sshd_server

    def test_remote(sshd_server: SshServer) -> None:
        subprocess.run(sshd_server.client_argv("true"), check=True)

Either import works when pytest runs as ``python -m pytest`` from the repository root (as ``make test`` does):
the root is then on ``sys.path`` and ``tests`` is a namespace package (it has no ``__init__.py``). A bare
``pytest`` script does not put the root on ``sys.path``, and the venv's site-packages holds a stray ``tests``
namespace of its own, so there ``import tests.support`` fails. Each test module that imports the fixture gets
its own server (pytest keys fixtures by the module defining them), started on first use and stopped at the
end of the session.

The server runs as the current user (root in the appliance's test environment) with its own config, keys and
port under a temporary directory; /etc/ssh and the system's sshd are never touched.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shlex
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List, Optional, Sequence, Union

import pytest

SSHD = "/usr/sbin/sshd"
SSH = shutil.which("ssh") or "/usr/bin/ssh"
SCP = shutil.which("scp") or "/usr/bin/scp"
SSH_KEYGEN = shutil.which("ssh-keygen") or "/usr/bin/ssh-keygen"
PRIVSEP_DIR = Path("/run/sshd")  # sshd refuses to start without its privilege-separation directory
START_TIMEOUT = 10.0
INSTALL_HINT = "OpenSSH server not available: install openssh-server (needs /usr/sbin/sshd, ssh, scp and ssh-keygen)"


@dataclass(frozen=True)
class SshServer:
    """Where the test sshd listens and what a client needs to log in with strict host key checking."""

    host: str
    port: int
    user: str
    private_key: Path
    known_hosts: Path
    log: Path

    @property
    def destination(self) -> str:
        """``user@host`` for ssh and, with a ``:path`` suffix, for scp."""
        return f"{self.user}@{self.host}"

    def ssh_option_list(self) -> List[str]:
        """Client options as argv items; ``-oPort`` (not ``-p``) so the same list works for ssh, scp and sftp."""
        return [
            "-F",
            "/dev/null",  # no ~/.ssh/config of whoever runs the tests
            "-i",
            str(self.private_key),
            f"-oPort={self.port}",
            f"-oUserKnownHostsFile={self.known_hosts}",
            "-oGlobalKnownHostsFile=/dev/null",
            "-oStrictHostKeyChecking=yes",
            "-oIdentitiesOnly=yes",  # only our key, never an agent's
            "-oBatchMode=yes",  # never prompt: a refused login fails at once
            "-oConnectTimeout=10",
            "-oLogLevel=ERROR",
        ]

    def ssh_options(self) -> str:
        """The options as one shell-quoted string, the form runners take (``ssh $OPTS user@host cmd``)."""
        return " ".join(shlex.quote(option) for option in self.ssh_option_list())

    def client_argv(self, cmd: Union[str, Sequence[str]]) -> List[str]:
        """argv running ``cmd`` (a remote shell command line, or words to be quoted) on this server with ssh."""
        remote = cmd if isinstance(cmd, str) else " ".join(shlex.quote(word) for word in cmd)
        return [SSH, *self.ssh_option_list(), self.destination, remote]

    def scp_argv(self, local: Union[str, Path], remote_path: Union[str, Path]) -> List[str]:
        """argv copying a local file to ``remote_path`` on this server with scp."""
        return [SCP, "-q", *self.ssh_option_list(), str(local), f"{self.destination}:{remote_path}"]


def sshd_available() -> bool:
    """Whether the OpenSSH binaries these tests drive are installed."""
    return all(os.access(path, os.X_OK) for path in (SSHD, SSH, SCP, SSH_KEYGEN))


def _free_port() -> int:
    """A port free right now on loopback; sshd may lose a race for it, which _start_once reports as an early exit."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _keygen(path: Path, comment: str) -> None:
    """An ed25519 key pair without passphrase at ``path`` and ``path.pub`` (private part 0600)."""
    subprocess.run(
        [SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
        stdin=subprocess.DEVNULL,
        capture_output=True,
    )
    path.chmod(0o600)


def _config(port: int, workdir: Path, listen: str = "127.0.0.1", name: str = "sshd") -> str:
    """Our own sshd_config: one address only, key logins only, no throttling of parallel connections."""
    return "\n".join(
        [
            f"Port {port}",
            f"ListenAddress {listen}",
            f"HostKey {workdir / 'ssh_host_ed25519_key'}",
            f"AuthorizedKeysFile {workdir / 'authorized_keys'}",
            f"PidFile {workdir / (name + '.pid')}",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PermitRootLogin prohibit-password",
            "StrictModes no",  # the key files live in a temporary directory whose modes we do not control
            "UsePAM no",
            "Subsystem sftp internal-sftp",
            # no AcceptEnv line: sshd accepts no client environment variables by default ("none" is no keyword)
            "MaxStartups 200:30:300",  # fan-out tests open many connections at once
            "MaxSessions 100",
            "PrintMotd no",
            "LogLevel ERROR",
            "",
        ]
    )


def _log_tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) or "(empty)"
    except OSError as exc:
        return f"(unreadable: {exc})"


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate sshd and reap it; kill it if it does not go within 10 seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _ensure_privsep_dir() -> None:
    """sshd wants /run/sshd, owned by root and not writable by others; without systemd nobody creates it."""
    PRIVSEP_DIR.mkdir(mode=0o755, parents=True, exist_ok=True)


class SshdExited(RuntimeError):
    """sshd died before accepting logins (typically: another process took its port first)."""


def _start_once(server: SshServer, config: Path) -> subprocess.Popen[bytes]:
    """Start sshd and wait until a real login works; raise with the log tail if it does not within the timeout."""
    with server.log.open("ab") as log:
        proc = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
    deadline = time.monotonic() + START_TIMEOUT
    last = ""
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=0.3)  # a failed bind ends sshd within milliseconds: see it before probing the port
    try:
        while True:
            if proc.poll() is not None:
                raise SshdExited(
                    f"sshd exited with status {proc.returncode} before accepting logins on port {server.port}; "
                    f"log {server.log}:\n{_log_tail(server.log)}"
                )
            # bounded, so a stranger that took the port and accepts but never answers cannot hang us
            probe_timeout = min(5.0, max(1.0, deadline - time.monotonic()))
            try:
                probe = subprocess.run(
                    server.client_argv("true"),
                    stdin=subprocess.DEVNULL,
                    capture_output=True,
                    text=True,
                    timeout=probe_timeout,
                )
            except subprocess.TimeoutExpired:
                last = f"ssh true timed out after {probe_timeout:.1f}s"
            else:
                if probe.returncode == 0:
                    return proc
                last = probe.stderr.strip()
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"sshd on 127.0.0.1:{server.port} did not accept an ssh login within {START_TIMEOUT:.0f}s "
                    f"(last ssh error: {last or 'none'}); log {server.log}:\n{_log_tail(server.log)}"
                )
            time.sleep(0.1)
    except BaseException:
        _stop(proc)
        raise


@contextlib.contextmanager
def running_sshd(workdir: Union[str, Path], attempts: int = 3) -> Iterator[SshServer]:
    """Run a private sshd on a free loopback port with fresh keys in ``workdir``; stop it on exit.

    Another process may take the free port before sshd binds it; sshd then exits at once and we retry on
    another port (``attempts`` times in all).
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    user = getpass.getuser()
    host_key = workdir / "ssh_host_ed25519_key"
    client_key = workdir / "id_ed25519"
    _keygen(host_key, "test-sshd-host")
    _keygen(client_key, f"{user}@test-sshd-client")
    authorized = workdir / "authorized_keys"
    authorized.write_text(client_key.with_suffix(".pub").read_text())
    authorized.chmod(0o600)
    host_pub = host_key.with_suffix(".pub").read_text().split()
    _ensure_privsep_dir()

    proc: Optional[subprocess.Popen[bytes]] = None
    error: Optional[SshdExited] = None
    for _ in range(attempts):
        port = _free_port()
        server = SshServer(
            host="127.0.0.1",
            port=port,
            user=user,
            private_key=client_key,
            known_hosts=workdir / "known_hosts",
            log=workdir / "sshd.log",
        )
        # known before sshd starts, so even the readiness probe checks the host key strictly
        server.known_hosts.write_text(f"[127.0.0.1]:{port} {host_pub[0]} {host_pub[1]}\n")
        config = workdir / "sshd_config"
        config.write_text(_config(port, workdir))
        try:
            proc = _start_once(server, config)
            break
        except SshdExited as exc:
            error = exc
    if proc is None:
        assert error is not None
        raise error
    try:
        yield server
    finally:
        _stop(proc)


@pytest.fixture(scope="session")
def sshd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    """A running test sshd; skipped without openssh-server, but a failure in CI (CI=true) where it must be there."""
    if not sshd_available():
        if os.environ.get("CI") == "true":
            pytest.fail(INSTALL_HINT)
        pytest.skip(INSTALL_HINT)
    with running_sshd(tmp_path_factory.mktemp("sshd")) as server:
        yield server
