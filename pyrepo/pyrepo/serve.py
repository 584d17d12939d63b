"""Serve a mirror read-only over HTTP with the standard library, for hosts without a shared filesystem."""

from __future__ import annotations

import socket
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Optional

from pyrepo.errors import PyrepoError

ALLOWED = ("GET", "HEAD")


class ReadOnlyHandler(SimpleHTTPRequestHandler):
    """Static files and directory listings; every method but GET and HEAD gets 405."""

    server_version = "pyrepo"
    quiet = False

    def parse_request(self) -> bool:
        if not super().parse_request():
            return False
        if self.command in ALLOWED:
            return True
        self.close_connection = True
        self.send_response(405, "Method Not Allowed")
        self.send_header("Allow", ", ".join(ALLOWED))
        self.send_header("Content-Length", "0")
        self.send_header("Connection", "close")
        self.end_headers()
        return False

    def end_headers(self) -> None:
        # Index pages change when the mirror is re-indexed; files never change under one name.
        if self.path.endswith("/") or self.path.endswith(".html"):
            self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's signature
        if not self.quiet:
            super().log_message(format, *args)


def make_server(mirror: Path, bind: str = "127.0.0.1", port: int = 8080, quiet: bool = False) -> ThreadingHTTPServer:
    """A server bound and ready (port 0 picks a free one); call serve_forever() on it."""
    if not (mirror / "simple" / "index.html").is_file():
        raise PyrepoError(f"{mirror} has no simple index (run `pyrepo index --mirror {mirror}` first)")
    handler = type("Handler", (ReadOnlyHandler,), {"quiet": quiet})
    server_class = ThreadingHTTPServer
    if ":" in bind:
        server_class = type("Server6", (ThreadingHTTPServer,), {"address_family": socket.AF_INET6})
    try:
        return server_class((bind, port), partial(handler, directory=str(mirror.resolve())))
    except OSError as exc:
        raise PyrepoError(f"cannot listen on {bind}:{port}: {exc.strerror or exc}") from None


def serve(mirror: Path, bind: str = "127.0.0.1", port: int = 8080, quiet: bool = False,
          announce: Optional[Callable[[str], None]] = None) -> None:
    """Serve until interrupted, after printing the index URL clients should use."""
    server = make_server(mirror, bind, port, quiet)
    host, real_port = server.server_address[:2]
    shown = f"[{host}]" if ":" in host else host
    message = f"serving {mirror} read-only: pip install --index-url http://{shown}:{real_port}/simple/ ..."
    (announce or (lambda text: print(text, flush=True)))(message)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
