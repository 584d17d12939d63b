"""What the tests that run `puppet apply` of puppet/modules/st2 for real share (test_puppet.py,
test_site_install.py): the module path, the tools, a scratch redis-server on a port of its own, a fresh
RabbitMQ vhost and user (removed after), the `class { 'st2': ... }` manifest and the apply itself.

The fixtures `scratch_redis` and `rabbitmq_account` (conftest.py) wrap the context managers below.
The apply runs as root against the RabbitMQ server on this machine; services are not managed (PID 1 is
not systemd here), MongoDB has no server here (SQLite), guest is kept (the other tests use it).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import stat
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from tests.support import rabbitmq as broker
from tests.support.appliance_conf import free_ports

# The end-to-end harness (tests/e2e/e2e_harness.py), importable as tests/e2e/conftest.py has it.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "e2e"))
import e2e_harness as harness  # noqa: E402

MODULES = os.path.join(harness.ROOT, "puppet", "modules")
MODULE = os.path.join(MODULES, "st2")
SYSTEM_MODULES = "/usr/share/puppet/modules"
MODULEPATH = f"{MODULES}:{SYSTEM_MODULES}"
FACTER_NOISE = "Facter: Permission denied @ rb_sysopen - /proc/1/environ"  # this sandbox's PID 1; harmless
RABBITMQ_PASSWORD = "p@ss:w/rd%41#x?"  # every character a URL would misread, to prove the encoding


def program(name: str) -> str:
    found = shutil.which(name)
    if not found:
        harness.unavailable(f"{name} is not installed (make test-tools installs it)")
    return found


def run(argv: list[str], timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False,
                          stdin=subprocess.DEVNULL, **kwargs)


def mode(path: str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def require_apply() -> None:
    """What a real apply of the module needs: root, puppet, and Debian's modules it depends on."""
    if os.geteuid() != 0:
        harness.unavailable("puppet apply of the st2 module needs root (rabbitmqctl, file owners)")
    program("puppet")
    require_system_modules()


def require_system_modules() -> None:
    for module in ("stdlib", "inifile", "rabbitmq"):
        if not os.path.isdir(os.path.join(SYSTEM_MODULES, module)):
            harness.unavailable(f"the puppet module {module} is not installed in {SYSTEM_MODULES} (make test-tools)")


# -- a scratch redis-server --------------------------------------------------------------------------
@dataclass
class ScratchRedis:
    port: int
    conf: str
    proc: subprocess.Popen

    def cli(self, *args: str, password: str = "") -> subprocess.CompletedProcess:
        env = dict(os.environ, REDISCLI_AUTH=password) if password else None
        return run(["redis-cli", "-h", "127.0.0.1", "-p", str(self.port), "--no-auth-warning", *args],
                   timeout=10, env=env)


@contextlib.contextmanager
def scratch_redis(folder: Path) -> Iterator[ScratchRedis]:
    """redis-server on a free port, with no password yet and its redis.conf (with the stock commented
    `# requirepass foobared` the module replaces) and data in `folder`; stopped afterwards."""
    server = program("redis-server")
    program("redis-cli")
    (port,) = free_ports(1)
    folder.mkdir(parents=True)
    conf = folder / "redis.conf"
    conf.write_text(f"bind 127.0.0.1\nport {port}\ndaemonize no\ndir {folder}\nsave \"\"\n"
                    "appendonly no\n\n# requirepass foobared\n")
    with open(folder / "redis.log", "w") as log:
        proc = subprocess.Popen([server, str(conf)], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        made = ScratchRedis(port, str(conf), proc)
        try:
            assert harness.wait_until(lambda: made.cli("PING").stdout.strip() == "PONG", 15), "redis did not start"
            yield made
        finally:
            harness.stop_process(proc)


# -- a fresh RabbitMQ vhost and user -------------------------------------------------------------------
@contextlib.contextmanager
def rabbitmq_account(prefix: str = "st2-puppet") -> Iterator[tuple[str, str]]:
    """(vhost, user) names nobody has; both deleted afterwards, whatever the test made of them."""
    try:
        socket.create_connection((broker.HOST, broker.PORT), timeout=3).close()
    except OSError as exc:
        harness.unavailable(f"RabbitMQ unavailable at {broker.HOST}:{broker.PORT}: {exc}")
    ctl = broker.rabbitmqctl()
    if not ctl:
        harness.unavailable("rabbitmqctl not found")
    name = f"{prefix}-{uuid.uuid4().hex[:10]}"
    try:
        yield name, name
    finally:
        run([ctl, "delete_vhost", name], timeout=60)
        run([ctl, "delete_user", name], timeout=60)


# -- the manifest and the apply ----------------------------------------------------------------------
def puppet_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def wiring(vhost: str, user: str, redis: ScratchRedis) -> dict[str, str]:
    """The `st2` class parameters (Puppet literals) that connect an appliance on this machine to the
    RabbitMQ vhost and user and the scratch Redis, with SQLite, unmanaged package and services."""
    return {
        "manage_package": "false",  # no package provider for a scratch root, nor for Debian
        "manage_services": "false",  # PID 1 is not systemd here
        "user": "'root'",
        "group": "'root'",  # the RPM's st2 group exists in its root only
        "database": "'sqlite'",  # no MongoDB server here
        "supervisor_mode": "'processes'",
        "rabbitmq_host": puppet_string(broker.HOST),
        "rabbitmq_port": str(broker.PORT),
        "rabbitmq_vhost": puppet_string(vhost),
        "rabbitmq_username": puppet_string(user),
        "rabbitmq_password": f"Sensitive({puppet_string(RABBITMQ_PASSWORD)})",
        "rabbitmq_delete_guest_user": "false",  # the other tests' broker account
        "redis_port": str(redis.port),
        "redis_config_file": puppet_string(redis.conf),
    }


def st2_class(values: dict[str, str]) -> str:
    """`class { 'st2': ... }` with these parameters (Puppet literals), aligned as puppet-lint wants."""
    width = max(map(len, values))
    body = "\n".join(f"  {key.ljust(width)} => {value}," for key, value in values.items())
    return f"class {{ 'st2':\n{body}\n}}\n"


def puppet_apply(manifest: str, vardir: str) -> tuple[int, str, float]:
    """(exit code, output without the sandbox's facter noise, seconds)."""
    env = dict(os.environ, ERL_EPMD_ADDRESS="127.0.0.1",  # rabbitmqctl (the rabbitmq module's facts) on loopback only
               PATH=os.environ.get("PATH", "/usr/bin:/bin") + ":/usr/sbin:/sbin")
    started = time.monotonic()
    done = run([program("puppet"), "apply", "--detailed-exitcodes", "--color=false", "--modulepath", MODULEPATH,
                "--vardir", vardir, "--rundir", os.path.join(vardir, "run"), "--publicdir",
                os.path.join(vardir, "public"), "--logdest", "console", manifest], timeout=300, env=env)
    output = "\n".join(line for line in (done.stdout + done.stderr).splitlines() if FACTER_NOISE not in line)
    return done.returncode, output, time.monotonic() - started
