"""What remote-shell-cmd and remote-shell-script share: hosts, ssh options, shell wrapping, results.

StackStorm runs these over paramiko; here they run over OpenSSH through the ClusterShell engine of
the clush runners (one engine child, per-host timeouts, streaming, cancel through its process
group). The stored result keeps StackStorm's shape: one local-runner-like entry per host as given.

OpenSSH runs in batch mode, so logins use keys only: a private_key parameter (path or material),
an ssh agent, else [system_user] ssh_key_file as in StackStorm (when that file exists), else
the ssh configuration (st2.conf's [ssh_runner] file, or ssh's own) and ssh's default keys. The
login name is `username`, else [system_user] user. Every command runs under a session guard, so
a timeout or a cancel also ends it on the host.
Host keys are accepted on first use and checked afterwards (StackStorm does not check them at
all); `ssh_options` lets a site tighten or loosen that.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import shlex
from abc import abstractmethod
from typing import Any, Iterator, Optional

from clush_runner.launcher import run_engine
from clush_runner.outcome import failure_line
from clush_runner.session_guard import guard
from ClusterShell.NodeSet import NodeSet

from appliance import process
from appliance.runners import RunContext, Runner, RunResult
from appliance.runners import parameter as param
from appliance.shell_result import BAD_SUDO_PASSWORD, shell_result

DEFAULT_TIMEOUT = 60
MAX_FANOUT = 50  # StackStorm's [ssh_runner] max_parallel_actions default
CONNECT_TIMEOUT = 30
DEADLINE_SLACK = 30  # seconds on top of the per-host timeouts before the whole run is stopped
KEY_MATERIAL = "-----BEGIN"
CANCELED_CODE = -15
_HOST = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# ST2_ACTION_* variables that are safe on a remote command line (never the auth token).
FORWARDED_ST2_ENV = ("ST2_ACTION_PACK_NAME", "ST2_ACTION_EXECUTION_ID", "ST2_ACTION_API_URL")
NO_PASSWORDS = ("ssh runs in batch mode and cannot log in with a password or unlock a key with a passphrase: "
                "use private_key (a key without passphrase), an ssh agent or ~/.ssh/config instead.")


def remote_parameters() -> dict:
    """The runner parameters both remote runners take (StackStorm's names, types and defaults)."""
    return {
        "hosts": param("string", "Comma-separated hosts to run on, e.g. web1.example.com,10.0.0.7,db1:2222.",
                       required=True),
        "username": param("string", "Login name on the hosts; without it st2.conf's [system_user] user.",
                          required=False),
        "password": param("string", "Not supported: ssh runs in batch mode. Use private_key or an ssh agent.",
                          required=False, secret=True),
        "private_key": param("string", "Private key to log in with: the key text itself or the path of a key file "
                                       "on the action runner's host.", required=False, secret=True),
        "passphrase": param("string", "Not supported: give a private key without passphrase or use an ssh agent.",
                            required=False, secret=True),
        "port": param("integer", "ssh port for hosts given without one (default 22).", required=False),
        "bastion_host": param("string", "Jump host the ssh connections go through (ssh -J).", required=False),
        "cwd": param("string", "Directory on each host the command runs in.", default="/tmp"),
        "dir": param("string", "Directory on each host scripts are copied to.", default="/tmp", immutable=True),
        "env": param("object", "Environment variables for the command (e.g. key1=val1,key2=val2).",
                     required=False),
        "kwarg_op": param("string", 'What goes in front of named arguments, e.g. "--" or "-".', default="--"),
        "parallel": param("boolean", "Work on the hosts concurrently, up to 50 at once, as StackStorm's parallel "
                                     "ssh client does; an action may declare parallel: false to take one host "
                                     "after another.", default=True, immutable=True),
        "sudo": param("boolean", "Run the command as root through sudo on each host.", default=False),
        "sudo_password": param("string", "Password for sudo, when passwordless sudo is not set up; sent on the "
                                         "command's standard input.", default=None, required=False, secret=True),
        "timeout": param("integer", "Seconds each host's command may take before it is killed.",
                         default=DEFAULT_TIMEOUT),
        "ssh_options": param("string", "Appliance extension: extra OpenSSH options, e.g. "
                                       '"-oUserKnownHostsFile=/etc/st2/known_hosts -oStrictHostKeyChecking=yes". '
                                       "They take precedence over the runner's own.", required=False),
    }


def parse_hosts(text: Any, default_port: Optional[int]) -> tuple[list[tuple[str, str]], Optional[int]]:
    """[(host as given, node name)] and the one port they use; ValueError when that cannot be."""
    given: list[str] = []
    for item in str(text or "").split(","):
        item = item.strip()
        if item and item not in given:
            given.append(item)
    if not given:
        raise ValueError("No target: the hosts parameter is empty.")
    hosts, ports = [], set()
    for item in given:
        name, _, port_text = item.partition(":")
        if port_text and not port_text.isdigit():
            raise ValueError(f"Bad host {item!r}: give host names or IPv4 addresses, optionally with :port.")
        if not _HOST.match(name):
            raise ValueError(f"Bad host {item!r}: give host names or IPv4 addresses, optionally with :port.")
        ports.add(int(port_text) if port_text else default_port)
        hosts.append((item, name))
    if len(ports) > 1:
        raise ValueError("The hosts use different ssh ports; one execution reaches all its hosts on one port "
                         "(run one execution per port).")
    names = [name for _, name in hosts]
    if len(set(names)) != len(names):
        raise ValueError("A host is listed twice with different ports.")
    port = ports.pop()
    if port is not None and not 0 < port < 65536:
        raise ValueError(f"Bad ssh port {port}.")
    return hosts, port


def ssh_option_text(params: dict, port: Optional[int], key_file: Optional[str], config: list[str]) -> str:
    """The engine's ssh_options; also used for scp, hence -oPort, not -p.

    ssh keeps the first value it sees of an -o option, so the action's ssh_options come first and
    win; `config` (st2.conf's `-F file`) goes before them, as a later -F replaces an earlier one.
    """
    options = [*config, *shlex.split(str(params.get("ssh_options") or ""))]
    if port:
        options.append(f"-oPort={port}")
    if key_file:
        options += ["-i", key_file, "-oIdentitiesOnly=yes"]
    if params.get("bastion_host"):
        options.append(f"-oProxyJump={params['bastion_host']}")
    options += ["-oStrictHostKeyChecking=accept-new", "-oLogLevel=ERROR"]
    return " ".join(shlex.quote(option) for option in options)


def system_key(ssh_key_file: str) -> Optional[str]:
    """[system_user] ssh_key_file, StackStorm's fallback key, unless an ssh agent is there to use."""
    if os.environ.get("SSH_AUTH_SOCK") or not ssh_key_file:
        return None
    path = os.path.expanduser(ssh_key_file)
    return path if os.path.isfile(path) else None  # the stanley default rarely exists: ssh's own keys then


@contextlib.contextmanager
def key_file(private_key: Optional[str]) -> Iterator[Optional[str]]:
    """A path to the key: the given path, or key material in a private (0600) file removed afterwards."""
    if not private_key:
        yield None
        return
    text = str(private_key)
    if text.lstrip().startswith(KEY_MATERIAL):
        with process.private_file(text.strip() + "\n", prefix="st2-ssh-key-") as path:
            yield path
        return
    path = os.path.expanduser(text)
    if not os.path.isfile(path):
        raise ValueError("private_key is neither key material (-----BEGIN ...) nor a key file on the action "
                         "runner's host.")
    yield path


def remote_env(ctx: RunContext) -> dict[str, str]:
    """The env parameter, then the non-secret ST2_ACTION_* variables (which env cannot override)."""
    given = ctx.runner_parameters.get("env") or {}
    if not isinstance(given, dict):
        raise ValueError("env must be an object of variable names and values.")
    env = {str(name): str(value) for name, value in given.items() if value is not None}
    env.update({name: ctx.env[name] for name in FORWARDED_ST2_ENV if ctx.env.get(name)})
    for name in env:
        if not _ENV_NAME.match(name):
            raise ValueError(f"Bad environment variable name {name!r} in env.")
    return env


def wrap_command(command: str, ctx: RunContext) -> tuple[str, Optional[str]]:
    """Remote shell text running `command` with env, in cwd, maybe via sudo, under a session guard;
    and the stdin it needs.

    A failing cd stops the command there. The guard (clush_runner.session_guard) ends the command
    on the host when its ssh session ends (a timeout, a cancel); under sudo it runs as root, so it
    can end a root command. sudo gets its password on stdin (`sudo -S`, which reads one line and
    leaves the rest to the guard), never in the text, which ssh puts on the command lines of both
    hosts. The result is one compound command, so it can be part of a longer command line.
    """
    params = ctx.runner_parameters
    parts = []
    env = remote_env(ctx)
    if env:
        parts.append("export " + " ".join(f"{name}={shlex.quote(value)}" for name, value in env.items()))
    if params.get("cwd"):
        parts.append(f"cd {shlex.quote(str(params['cwd']))} || exit")
    text = "; ".join([*parts, command])
    if params.get("sudo"):
        argv, stdin = process.sudo_command(guard(text, "bash"), params.get("sudo_password") or None)
        return " ".join(shlex.quote(arg) for arg in argv), stdin
    return guard(text), None


def host_results(result: dict, hosts: list[tuple[str, str]], params: dict) -> dict:
    """The engine's folded per-node entries, unfolded to one StackStorm entry per host as given."""
    by_node: dict[str, dict] = {}
    for folded, entry in (result.get("nodes") or {}).items():
        for node in NodeSet(folded):
            by_node[node] = entry
    timeout = params.get("timeout") or DEFAULT_TIMEOUT
    out = {}
    for given, node in hosts:
        entry = by_node.get(node, {"canceled": True, "stdout": "", "stderr": ""})
        stdout, stderr = entry.get("stdout") or "", entry.get("stderr") or ""
        if entry.get("timeout"):
            item = shell_result(-9, stdout, stderr, f"Action failed to complete in {timeout} seconds")
            item["timeout"] = True
        elif entry.get("canceled") or entry.get("return_code") is None:
            item = shell_result(CANCELED_CODE, stdout, stderr, "Canceled before the command finished")
        else:
            error = None
            if params.get("sudo") and params.get("sudo_password") and BAD_SUDO_PASSWORD.search(stderr):
                error = "Invalid sudo password provided or sudo is not configured for this user"
            item = shell_result(int(entry["return_code"]), stdout, stderr, error)
        out[given] = item
    return out


def overall_status(result: dict, per_host: dict) -> str:
    """succeeded when every host did; timeout when timeouts were the only trouble; else failed."""
    if result.get("interrupted") == "canceled":
        return "canceled"
    if not per_host:
        return "failed"
    troubled = [item for item in per_host.values() if not item["succeeded"]]
    if not troubled:
        return "succeeded"
    return "timeout" if all(item.get("timeout") for item in troubled) else "failed"


def failure(message: str) -> RunResult:
    """A failure before any host was contacted: one clear line, no per-host entries."""
    return RunResult("failed", {"succeeded": False, "error": message})


class BaseRemoteShellRunner(Runner):
    """Checks parameters, builds the engine job over ssh, and shapes the per-host result."""

    RUNS_USER_CODE = False  # the auth token is never sent to remote hosts, so none is issued

    @abstractmethod
    def steps(self, ctx: RunContext) -> list[dict]:
        """The engine steps; raise ValueError when the parameters do not make any."""

    def run(self, ctx: RunContext) -> RunResult:
        params = ctx.runner_parameters
        if params.get("password") or params.get("passphrase"):
            return failure(NO_PASSWORDS)
        try:
            timeout = int(params.get("timeout") or DEFAULT_TIMEOUT)
            if timeout < 1:
                raise ValueError(f"timeout must be at least 1, not {timeout}.")
            hosts, port = parse_hosts(params.get("hosts"), params.get("port"))
            steps = self.steps(ctx)
            with key_file(params.get("private_key") or system_key(ctx.settings.ssh_key_file)) as key:
                fanout = min(len(hosts), MAX_FANOUT) if params.get("parallel") else 1
                job = {
                    "nodes": str(NodeSet.fromlist([node for _, node in hosts])),
                    "worker": "ssh",
                    "fanout": fanout,
                    "command_timeout": timeout,
                    "connect_timeout": min(CONNECT_TIMEOUT, timeout),
                    "ssh_user": params.get("username") or ctx.settings.system_user or None,
                    "ssh_options": ssh_option_text(params, port, key, ctx.settings.ssh_config_options()),
                    "steps": steps,
                }
                # Every wave of `fanout` hosts may use its whole timeout in every step.
                deadline = len(steps) * math.ceil(len(hosts) / fanout) * (timeout + 5) + DEADLINE_SLACK
                result = run_engine(ctx, job, float(deadline))
        except ValueError as exc:
            return failure(str(exc))
        if result.get("error") and not result.get("nodes"):
            status = "canceled" if result.get("interrupted") == "canceled" else "failed"
            return RunResult(status, {"succeeded": False, "error": result["error"]})
        per_host = host_results(result, hosts, params)
        status = overall_status(result, per_host)
        if status != "succeeded":  # beside the hosts, as the clush runners have it
            per_host["error"] = failure_line(result, status, "ssh", "hosts")
        return RunResult(status, per_host)
