"""One pack sensor's child process, as the sensor container supervises it.

The child (wrapper.py) runs in a session of its own, so stopping it ends whatever it started too,
and gets SIGTERM when the container dies.
Its request travels on stdin (never argv, where any local user could read the token); trigger
changes follow on stdin. Dispatched triggers come back as JSON lines on a pipe of their own, and
each stdout/stderr line is written to the container's log under the sensor's ref, at the level the
sensor logged it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import threading
import time
from typing import IO, Callable, Optional

from appliance import process

WRAPPER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "wrapper.py")
LEVELS = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARNING": logging.WARNING, "ERROR": logging.ERROR,
          "CRITICAL": logging.CRITICAL}
Dispatch = Callable[[dict], None]


class SensorProcess:
    """A started sensor: its Popen, when it started, and the triggers it was last told about."""

    def __init__(self, ref: str, python: str, env: dict[str, str], request: dict, on_dispatch: Dispatch) -> None:
        self.ref = ref
        self.log = logging.getLogger(f"sensor.{ref}")
        read_end, write_end = os.pipe()
        self.argv = [python, "-u", WRAPPER]
        try:
            self.proc = subprocess.Popen(
                self.argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                pass_fds=(write_end,), start_new_session=True, preexec_fn=process.die_with_parent())
        finally:
            os.close(write_end)
        self.started = time.monotonic()
        self.triggers: dict[str, dict] = {trigger["id"]: trigger for trigger in request.get("triggers") or []}
        self._stdin_lock = threading.Lock()
        self._write({**request, "dispatch_fd": write_end})
        readers = [(self.proc.stdout, self._logger(logging.INFO)), (self.proc.stderr, self._logger(logging.WARNING)),
                   (os.fdopen(read_end, "rb"), self._dispatch_line(on_dispatch))]
        for stream, handle in readers:
            threading.Thread(target=_read_lines, args=(stream, handle), daemon=True, name=f"sensor-{ref}").start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def exit_code(self) -> Optional[int]:
        """None while it runs; else its exit code (negative: the signal that killed it)."""
        return self.proc.poll()

    def tell(self, event: str, trigger: dict) -> None:
        """A trigger change for the sensor's add/update/remove_trigger."""
        if event == "remove":
            self.triggers.pop(trigger["id"], None)
        else:
            self.triggers[trigger["id"]] = trigger
        self._write({"event": event, "trigger": trigger})

    def stop(self, grace: float = process.KILL_GRACE_SECONDS) -> None:
        """SIGTERM (the sensor's cleanup() runs), then SIGKILL for what is left of its group."""
        process.kill_group(self.proc, grace)
        with self._stdin_lock:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()

    def _write(self, message: dict) -> None:
        with self._stdin_lock:
            try:
                self.proc.stdin.write((json.dumps(message) + "\n").encode("utf-8"))
                self.proc.stdin.flush()
            except (OSError, ValueError):
                pass  # it has exited: the container sees that and restarts it with its triggers

    def _logger(self, plain_level: int) -> Callable[[str], None]:
        """Logs a line at the level the sensor's logger wrote it with; print() output and
        tracebacks at `plain_level`."""
        def handle(line: str) -> None:
            level_name, _, rest = line.partition(" ")
            level = LEVELS.get(level_name)
            self.log.log(plain_level if level is None else level, "%s", line if level is None else rest)

        return handle

    def _dispatch_line(self, on_dispatch: Dispatch) -> Callable[[str], None]:
        def handle(line: str) -> None:
            try:
                message = json.loads(line)
            except ValueError:
                self.log.error("not a dispatch message, dropped: %.200s", line)
                return
            if isinstance(message, dict):
                on_dispatch(message)

        return handle


def _read_lines(stream: IO[bytes], handle: Callable[[str], None]) -> None:
    """Hand each line of a pipe to `handle` until the child closes it; a failing handler is logged."""
    with stream:
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if not line:
                continue
            try:
                handle(line)
            except Exception:
                logging.getLogger(__name__).exception("handling a sensor's line failed")
