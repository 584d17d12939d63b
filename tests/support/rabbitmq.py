"""The RabbitMQ server on this machine, as every test folder and the bench use it: one fresh vhost
per user of it, deleted afterwards, so runs never collide and leave nothing behind.

Settings: APPLIANCE_TEST_RABBITMQ_HOST / _PORT / _USER / _PASSWORD (default 127.0.0.1:5672
guest/guest), APPLIANCE_TEST_RABBITMQCTL (default: rabbitmqctl on PATH or in /usr/sbin).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import uuid
from typing import Optional

HOST = os.environ.get("APPLIANCE_TEST_RABBITMQ_HOST", "127.0.0.1")
PORT = int(os.environ.get("APPLIANCE_TEST_RABBITMQ_PORT", "5672"))
USER = os.environ.get("APPLIANCE_TEST_RABBITMQ_USER", "guest")
PASSWORD = os.environ.get("APPLIANCE_TEST_RABBITMQ_PASSWORD", "guest")


class Unavailable(Exception):
    """RabbitMQ cannot be used here; the message says why (callers skip, or fail under CI)."""


def rabbitmqctl() -> Optional[str]:
    configured = os.environ.get("APPLIANCE_TEST_RABBITMQCTL")
    if configured:
        return configured
    return shutil.which("rabbitmqctl") or next(
        (p for p in ("/usr/sbin/rabbitmqctl", "/usr/lib/rabbitmq/bin/rabbitmqctl") if os.access(p, os.X_OK)), None
    )


def url_of(vhost: str) -> str:
    return f"amqp://{USER}:{PASSWORD}@{HOST}:{PORT}/{vhost}"


class Vhosts:
    """Creates fresh vhosts the test user may use and deletes every one of them on close()."""

    def __init__(self, prefix: str) -> None:
        try:
            socket.create_connection((HOST, PORT), timeout=3).close()
        except OSError as exc:
            raise Unavailable(f"cannot connect to {HOST}:{PORT} ({exc})") from None
        ctl = rabbitmqctl()
        if ctl is None:
            raise Unavailable("rabbitmqctl not found (set APPLIANCE_TEST_RABBITMQCTL) to create a test vhost")
        self.ctl = ctl
        self.prefix = prefix
        self.created: list[str] = []

    def ctl_run(self, *args: str) -> subprocess.CompletedProcess:
        try:
            done = subprocess.run([self.ctl, *args], capture_output=True, text=True, timeout=60,
                                  stdin=subprocess.DEVNULL, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise Unavailable(f"rabbitmqctl {' '.join(args)}: {exc}") from None
        if done.returncode != 0:
            raise Unavailable(f"rabbitmqctl {' '.join(args)}: {done.stderr.strip() or done.stdout.strip()}")
        return done

    def create(self) -> str:
        """A new vhost's name; the test user has every permission on it."""
        vhost = f"{self.prefix}-{uuid.uuid4().hex[:12]}"
        self.ctl_run("add_vhost", vhost)
        self.created.append(vhost)
        self.ctl_run("set_permissions", "-p", vhost, USER, ".*", ".*", ".*")
        return vhost

    def delete(self, vhost: str) -> None:
        with contextlib.suppress(Unavailable):
            self.ctl_run("delete_vhost", vhost)
        if vhost in self.created:
            self.created.remove(vhost)

    def close(self) -> None:
        for vhost in list(self.created):
            self.delete(vhost)
