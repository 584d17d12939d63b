"""The st2.conf and free ports of a throwaway appliance, as the e2e harness and the bench start them."""

from __future__ import annotations

import configparser
import socket
from typing import Optional


def write_st2_conf(path: str, *, base: str, packs: str, ports: tuple[int, int, int], log_path: str,
                   log_level: str = "INFO", messaging_url: str = "", db_path: Optional[str] = None,
                   mode: str = "") -> None:
    """Loopback auth/api/stream on the given ports, a 1 s stream heartbeat (idle readers wake up),
    the embedded bus unless messaging_url names a broker, SQLite unless db_path says where.

    `mode` is the [supervisor] mode; by default the two wirings the tests and the bench compare:
    threads over the embedded bus, one process per service (processes) over a broker."""
    auth_port, api_port, stream_port = ports
    config = configparser.ConfigParser(interpolation=None)
    config["system"] = {"base_path": base}
    config["content"] = {"system_packs_base_path": packs}
    if db_path:
        config["database"] = {"path": db_path}
    config["auth"] = {"host": "127.0.0.1", "port": str(auth_port)}
    config["api"] = {"host": "127.0.0.1", "port": str(api_port)}
    config["stream"] = {"host": "127.0.0.1", "port": str(stream_port), "heartbeat": "1"}
    config["log"] = {"path": log_path, "level": log_level}
    config["supervisor"] = {"mode": mode or ("processes" if messaging_url else "threads")}
    if messaging_url:
        config["messaging"] = {"url": messaging_url}
    with open(path, "w", encoding="utf-8") as handle:
        config.write(handle)


def free_ports(count: int) -> list[int]:
    """Ports nothing listens on right now (all held at once while picking, so they differ)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()
