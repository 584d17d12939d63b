"""A small real cluster on this machine: one network namespace, one UTS namespace and one real sshd per node.

Each node (node1, node2, ...) has its own address on a veth link to this host, its own hostname
and its own sshd on port 22, so ssh-based runners reach nodes as on a real cluster, and a test
can look inside one node (``Cluster.processes``) to check that nothing of a command is left
there, cut a node's link, or stop its sshd. Node names resolve through the ssh config file the
fixture writes (``Cluster.ssh_config``: HostName, user, key, known hosts), which is also what a
site would give the runners through st2.conf's ``[ssh_runner] ssh_config_file_path``.

Use it as the sshd fixture is used (see tests/support/sshd.py)::

    from tests.support import cluster
    from tests.support.cluster import Cluster

    cluster_nodes = cluster.cluster_nodes

Needs root (network namespaces), ``ip`` and OpenSSH. Without root, outside CI, the tests skip;
in CI (CI=true), or as root, a missing piece fails them.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import pwd
import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional

import pytest

from appliance import procfs
from tests.support.sshd import INSTALL_HINT, SSH, SSHD, _config, _ensure_privsep_dir, _keygen, _log_tail, _stop

IP = shutil.which("ip") or "/usr/sbin/ip"
UNSHARE = shutil.which("unshare") or "/usr/bin/unshare"
NODE_COUNT = 8
START_TIMEOUT = 20.0


@dataclass(frozen=True)
class Node:
    name: str
    namespace: str
    address: str
    host_link: str  # the veth end on this host; down = the node is cut off


@dataclass
class Cluster:
    """Running nodes and what a client needs to reach them (``ssh -F ssh_config nodeN``)."""

    nodes: list[Node]
    workdir: Path
    user: str
    private_key: Path
    known_hosts: Path
    ssh_config: Path
    _sshd: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def names(self) -> str:
        """Every node as a folded node set, e.g. ``node[1-8]``."""
        return f"node[1-{len(self.nodes)}]"

    def node(self, name: str) -> Node:
        return next(node for node in self.nodes if node.name == name)

    def ssh_argv(self, name: str, command: str) -> list[str]:
        return [SSH, "-F", str(self.ssh_config), name, command]

    def processes(self, name: str) -> list[str]:
        """Command lines of the processes in the node's network namespace, its sshd listener left out."""
        done = subprocess.run([IP, "netns", "pids", self.node(name).namespace], capture_output=True, text=True,
                              timeout=30, check=True)
        listener = self._sshd[name].pid
        lines = []
        for pid in (int(word) for word in done.stdout.split()):
            if pid != listener and procfs.alive(pid):
                lines.append(" ".join(procfs.cmdline(pid)))
        return [line for line in lines if line]

    def running(self, marker: str) -> dict[str, list[str]]:
        """Per node, the command lines holding ``marker`` (nodes with none are left out)."""
        found = {node.name: [line for line in self.processes(node.name) if marker in line] for node in self.nodes}
        return {name: lines for name, lines in found.items() if lines}

    def wait_clean(self, marker: str, timeout: float = 15.0) -> dict[str, list[str]]:
        """Wait until no node runs anything holding ``marker``; what is still there at the deadline."""
        deadline = time.monotonic() + timeout
        while True:
            left = self.running(marker)
            if not left or time.monotonic() > deadline:
                return left
            time.sleep(0.2)

    def set_link(self, name: str, up: bool) -> None:
        """Cut (or restore) the node's only link: packets to it are then lost, as with a dead switch port."""
        subprocess.run([IP, "link", "set", self.node(name).host_link, "up" if up else "down"], check=True,
                       timeout=30)


def _run(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()}")


def _free_subnet() -> str:
    """A 10.x.y.0/24 prefix no address or route of this host uses (other test runs pick their own)."""
    used = subprocess.run([IP, "-4", "-o", "addr"], capture_output=True, text=True, check=True).stdout
    used += subprocess.run([IP, "-4", "route"], capture_output=True, text=True, check=True).stdout
    for _ in range(100):
        prefix = f"10.{200 + secrets.randbelow(50)}.{secrets.randbelow(256)}"
        if f"{prefix}." not in used:
            return prefix
    raise RuntimeError("no free 10.x.y.0/24 subnet for the test cluster")


def _add_node(index: int, tag: str, prefix: str) -> Node:
    """Namespace, veth pair (a /30 per node: host .4i+1, node .4i+2), loopback up."""
    node = Node(f"node{index + 1}", f"st2c{tag}n{index + 1}", f"{prefix}.{4 * index + 2}", f"st2c{tag}h{index + 1}")
    peer = f"st2c{tag}p{index + 1}"
    _run([IP, "netns", "add", node.namespace])
    _run([IP, "link", "add", node.host_link, "type", "veth", "peer", "name", peer])
    _run([IP, "link", "set", peer, "netns", node.namespace])
    _run([IP, "-n", node.namespace, "link", "set", peer, "name", "eth0"])
    _run([IP, "addr", "add", f"{prefix}.{4 * index + 1}/30", "dev", node.host_link])
    _run([IP, "link", "set", node.host_link, "up"])
    _run([IP, "-n", node.namespace, "addr", "add", f"{node.address}/30", "dev", "eth0"])
    _run([IP, "-n", node.namespace, "link", "set", "eth0", "up"])
    _run([IP, "-n", node.namespace, "link", "set", "lo", "up"])
    return node


def _remove_node(node: Node) -> None:
    """Kill whatever is left in the namespace, then delete it (which deletes its veth pair)."""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        done = subprocess.run([IP, "netns", "pids", node.namespace], capture_output=True, text=True, timeout=30)
        for pid in (int(word) for word in done.stdout.split()):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)
    subprocess.run([IP, "netns", "del", node.namespace], capture_output=True, timeout=30, check=False)
    subprocess.run([IP, "link", "del", node.host_link], capture_output=True, timeout=30, check=False)


def _client_files(workdir: Path, nodes: list[Node], user: str) -> tuple[Path, Path, Path]:
    """The client key, a known_hosts naming every node by name and address, and the ssh config."""
    key = workdir / "id_ed25519"
    _keygen(key, f"{user}@test-cluster-client")
    (workdir / "authorized_keys").write_text(key.with_suffix(".pub").read_text())
    host_pub = " ".join((workdir / "ssh_host_ed25519_key.pub").read_text().split()[:2])
    known = workdir / "known_hosts"
    known.write_text("".join(f"{node.name},{node.address} {host_pub}\n" for node in nodes))
    config = workdir / "ssh_config"
    entries = [f"Host {node.name}\n    HostName {node.address}\n" for node in nodes]
    entries.append("Host node*\n" + "".join(f"    {line}\n" for line in (
        f"User {user}", f"IdentityFile {key}", "IdentitiesOnly yes", f"UserKnownHostsFile {known}",
        "GlobalKnownHostsFile /dev/null", "StrictHostKeyChecking yes", "BatchMode yes", "LogLevel ERROR")))
    config.write_text("".join(entries))
    return key, known, config


def _wait_ready(made: Cluster, node: Node) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    last = ""
    while time.monotonic() < deadline:
        proc = made._sshd[node.name]
        if proc.poll() is not None:
            break
        try:
            probe = subprocess.run(made.ssh_argv(node.name, "true"), stdin=subprocess.DEVNULL, capture_output=True,
                                   text=True, timeout=10)
        except subprocess.TimeoutExpired:
            last = "ssh true timed out"
            continue
        if probe.returncode == 0:
            return
        last = probe.stderr.strip()
        time.sleep(0.1)
    log = made.workdir / f"{node.name}.log"
    raise RuntimeError(f"sshd of {node.name} ({node.address}) did not accept a login within {START_TIMEOUT:.0f}s "
                       f"(last ssh error: {last or 'none'}); log {log}:\n{_log_tail(log)}")


def start_sshd(made: Cluster, node: Node) -> None:
    """The node's sshd, in its namespaces, named after the node (its `hostname`), with a home of its own.

    The user's home directory is an empty one on each node (a bind mount in the node's mount
    namespace), as on a freshly installed node: this host's shell start-up files (a ~/.bashrc
    that rehashes pyenv under a lock, say) do not run at every login.
    """
    config = made.workdir / f"{node.name}_sshd_config"
    config.write_text(_config(22, made.workdir, listen=node.address, name=node.name))
    home = made.workdir / f"home-{node.name}"
    home.mkdir(mode=0o700, exist_ok=True)
    with (made.workdir / f"{node.name}.log").open("ab") as log:
        made._sshd[node.name] = subprocess.Popen(
            [IP, "netns", "exec", node.namespace, UNSHARE, "--uts", "--", "sh", "-c",
             'hostname "$0" && mount --bind "$1" "$2" && shift 2 && exec "$@"', node.name, str(home),
             pwd.getpwnam(made.user).pw_dir, SSHD, "-D", "-e", "-f", str(config)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    _wait_ready(made, node)


def stop_sshd(made: Cluster, node: Node) -> None:
    _stop(made._sshd[node.name])


@contextlib.contextmanager
def running_cluster(workdir: Path, count: int = NODE_COUNT) -> Iterator[Cluster]:
    """``count`` nodes up and accepting ssh logins; everything (namespaces, links, processes) removed on exit."""
    tag = secrets.token_hex(2)
    prefix = _free_subnet()
    user = getpass.getuser()
    _keygen(workdir / "ssh_host_ed25519_key", "test-cluster-host")
    _ensure_privsep_dir()
    nodes: list[Node] = []
    made: Optional[Cluster] = None
    try:
        for index in range(count):
            nodes.append(_add_node(index, tag, prefix))
        key, known, config = _client_files(workdir, nodes, user)
        made = Cluster(nodes, workdir, user, key, known, config)
        for node in nodes:
            start_sshd(made, node)
        yield made
    finally:
        if made is not None:
            for proc in made._sshd.values():
                _stop(proc)
        for node in nodes:
            _remove_node(node)


def missing() -> Optional[str]:
    """Why this machine cannot host the cluster, or None."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    for path in (IP, UNSHARE, SSHD, SSH):
        if not os.access(path, os.X_OK):
            return f"{path} is missing ({INSTALL_HINT}; ip comes with iproute2)"
    return None


@pytest.fixture(scope="session")
def cluster_nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """An 8-node cluster; skipped only when not root outside CI, a failure anywhere else."""
    reason = missing()
    if reason:
        if os.geteuid() != 0 and os.environ.get("CI") != "true":
            pytest.skip(reason)
        pytest.fail(reason)
    with running_cluster(tmp_path_factory.mktemp("cluster")) as made:
        yield made
