"""A network namespace with no network for the calling thread and every process it starts.

`no_network()` moves the calling thread into a new network namespace (unshare(CLONE_NEWNET)) with only
loopback, brought up, and moves it back afterwards. What the thread starts meanwhile (an appliance with
`st2ctl start`, the `st2` CLI, pip, git) is born in that namespace and stays there, and the thread's own
sockets (the tests' HTTP requests) are made there too: the test, the appliance and the CLI talk over the
namespace's loopback and nothing can leave the machine. Stop what was started before leaving the block.

Needs CAP_SYS_ADMIN (root); `Unavailable` says why it cannot be had.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import socket
import struct
from typing import Iterator

CLONE_NEWNET = 0x40000000
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
UNROUTABLE = ("192.0.2.1", 80)  # TEST-NET-1: never on any network


class Unavailable(Exception):
    """No new network namespace can be made here."""


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))


def network_is_cut() -> bool:
    """True when this thread sees loopback alone and an outside address is unreachable."""
    if [name for _index, name in socket.if_nameindex()] != ["lo"]:
        return False
    try:
        socket.create_connection(UNROUTABLE, timeout=3).close()
    except OSError as exc:
        return exc.errno == errno.ENETUNREACH
    return False


@contextlib.contextmanager
def no_network() -> Iterator[None]:
    """The block runs in a fresh network namespace with only loopback (up); see the module's docstring."""
    libc = _libc()
    saved = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        if libc.unshare(CLONE_NEWNET) != 0:
            code = ctypes.get_errno()
            raise Unavailable(f"unshare(CLONE_NEWNET): {os.strerror(code)} (network namespaces need root)")
        try:
            _loopback_up()
            yield
        finally:
            if libc.setns(saved, CLONE_NEWNET) != 0:  # cannot happen for root; never carry on cut off
                raise OSError(ctypes.get_errno(), "setns back to the original network namespace failed")
    finally:
        os.close(saved)
