"""The ClusterShell side of a clush execution, run as a child process: `python -m clush_runner.engine`.

Why a child process: ClusterShell keeps per-thread task state and a busy event loop that would
compete with the action runner's own threads, and a process group lets a cancel or a crash of
the action runner end every ssh or local worker at once.

Protocol: the job arrives as JSON on stdin (never argv: it may hold commands with secrets).
Each output line is written as it arrives, `node: line`, to stdout or stderr. The folded result
(see outcome.summarize) is written to the job's result_path, also after a deadline or a SIGTERM,
so a canceled or timed-out run still reports what each node did.

Stopping: a step marked `guarded` runs its command under session_guard on each node, and its
stdin stays open while the command runs. A cancel, the run's deadline or a node's
command_timeout closes that node's stdin, which ends the command there, and gives the node
STOP_GRACE_SECONDS to hang up; a node that does not (its link is cut, it hangs) has its ssh
killed and is reported in `unstopped_nodes`: its command may still be running. Other steps (the
exec worker, copies) are killed on the spot.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from string import Template
from typing import Any, Optional

from ClusterShell.Event import EventHandler
from ClusterShell.NodeSet import NodeSet, NodeSetException
from ClusterShell.NodeUtils import GroupResolverError, GroupSourceError
from ClusterShell.Task import task_self
from ClusterShell.Worker.Worker import WorkerError

from clush_runner.groups import use_site_groups
from clush_runner.outcome import CANCELED, TIMEOUT, NodeRecord, summarize

WORKER_MODULES = {"ssh": "Ssh", "exec": "Exec", "rsh": "Rsh", "pdsh": "Pdsh"}
STOP_GRACE_SECONDS = 5.0  # for a node to hang up once asked to stop
TICK_SECONDS = 0.2  # how often stop requests and per-node deadlines are looked at
PATTERN_NAMES = {"h": "n", "host": "n", "hosts": "n", "n": "0", "rank": "0"}


class JobError(Exception):
    """The job cannot run as given (bad node set, bad pattern, unknown worker): one line for the user."""


class Interrupted(BaseException):
    """Raised by the deadline alarm or by SIGTERM (a cancel) when no step is running to stop."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Control:
    """The stop asked by a signal (canceled or timeout), and whether a step's event loop will act on it."""

    reason: Optional[str] = None
    in_loop: bool = False

    def request(self, reason: str) -> None:
        self.reason = self.reason or reason
        if not self.in_loop:
            raise Interrupted(self.reason)


CONTROL = Control()


class _Percent(Template):
    delimiter = "%"


def check_pattern(text: str) -> None:
    """The exec worker substitutes %h, %n, %hosts: a stray % must fail before anything starts."""
    try:
        _Percent(text).substitute(PATTERN_NAMES)
    except (KeyError, ValueError) as exc:
        raise JobError(f"{exc} is not a valid pattern for the exec worker: write a literal % as %%") from None


def parse_nodes(text: str) -> NodeSet:
    use_site_groups()
    try:
        nodes = NodeSet(text)
    except (NodeSetException, GroupResolverError, GroupSourceError) as exc:
        raise JobError(f"Bad node set {text!r}: {exc}") from None
    if not nodes:
        raise JobError(f"The node set {text!r} is empty (an unknown or empty @group?)")
    return nodes


@dataclass
class _Stop:
    """A stop asked of one running node: why, and when."""

    reason: str
    asked: float


@dataclass
class _StepState:
    started: dict[str, float] = field(default_factory=dict)  # running nodes, since when
    stopping: dict[str, _Stop] = field(default_factory=dict)


class _Collector(EventHandler):
    """Keeps each node's lines and return code, streams every line as it arrives, and carries out stops."""

    def __init__(self, records: dict[str, NodeRecord], stream: bool, guarded: bool, command_timeout: float) -> None:
        super().__init__()
        self.records = records
        self.stream = stream
        self.guarded = guarded
        self.command_timeout = command_timeout
        self.state = _StepState()
        self.worker: Any = None  # set once the worker exists (it takes this handler)

    def ev_pickup(self, worker: Any, node: str) -> None:
        self.state.started[node] = time.monotonic()

    def ev_read(self, worker: Any, node: str, sname: str, msg: bytes) -> None:
        line = msg.decode("utf-8", "replace")
        record = self.records[node]
        (record.stderr if sname == "stderr" else record.stdout).append(line)
        if self.stream:
            out = sys.stderr if sname == "stderr" else sys.stdout
            try:
                out.write(f"{node}: {line}\n")
                out.flush()
            except OSError:  # the action runner is gone: keep working, the result file still counts
                self.stream = False

    def ev_hup(self, worker: Any, node: str, rc: int) -> None:
        self.state.started.pop(node, None)
        stop = self.state.stopping.pop(node, None)
        if stop is None:
            self.records[node].close(rc)
        else:  # it ended because it was asked to: what it printed counts, its exit code does not
            self.records[node].state = stop.reason

    def ev_close(self, worker: Any, timedout: bool) -> None:
        if timedout:
            for node in worker.iter_keys_timeout():
                self.records[node].state = TIMEOUT

    def ev_timer(self, timer: Any) -> None:
        if not self.guarded:
            if CONTROL.reason:
                self.worker.abort()
            return
        now = time.monotonic()
        clients = {client.key: client for client in self.worker._engine_clients()}
        if CONTROL.reason:
            for client in clients.values():  # never started: they never will
                if not client.registered:
                    client.abort()
        for node, since in list(self.state.started.items()):
            if node in self.state.stopping:
                continue
            if CONTROL.reason:
                self._ask_stop(clients[node], CONTROL.reason, now)
            elif self.command_timeout and now - since >= self.command_timeout:
                self._ask_stop(clients[node], TIMEOUT, now)
        for node, stop in list(self.state.stopping.items()):
            if now - stop.asked >= STOP_GRACE_SECONDS and clients[node].registered:
                clients[node].abort()

    def unstopped(self) -> None:
        """After the loop: nodes asked to stop that never hung up had their ssh killed; say so."""
        for node, stop in self.state.stopping.items():
            self.records[node].state = stop.reason
            self.records[node].unstopped = True

    def _ask_stop(self, client: Any, reason: str, now: float) -> None:
        """End of file on the node's stdin: its session guard ends the command (see session_guard)."""
        self.state.stopping[client.key] = _Stop(reason, now)
        client._set_write_eof(client.worker.SNAME_STDIN)  # per node; the worker only has it for all nodes


def _worker_class(name: str) -> Any:
    module = WORKER_MODULES.get(name)
    if module is None:
        raise JobError(f"Unknown worker {name!r}: use one of {', '.join(WORKER_MODULES)}")
    return importlib.import_module(f"ClusterShell.Worker.{module}").WORKER_CLASS


def _configure(task: Any, job: dict) -> None:
    task.set_info("fanout", int(job.get("fanout") or 64))
    task.set_info("connect_timeout", float(job.get("connect_timeout") or 0))
    if job.get("ssh_user"):
        task.set_info("ssh_user", job["ssh_user"])
    if job.get("ssh_options"):
        task.set_info("ssh_options", job["ssh_options"])


def run_step(task: Any, step: dict, nodes: NodeSet, job: dict, records: dict[str, NodeRecord]) -> None:
    """Run one command or copy on `nodes`; their records start afresh for this step."""
    for node in nodes:
        records[node] = NodeRecord()
    worker_cls = _worker_class(job.get("worker") or "ssh")
    command_timeout = float(job.get("command_timeout") or 0)
    guarded = bool(step.get("guarded"))
    handler = _Collector(records, bool(job.get("stream", True)), guarded, command_timeout)
    # A guarded step's per-node limit is the handler's (a stop the node hears of), the others' ClusterShell's.
    timeout = None if guarded or not command_timeout else command_timeout
    if step["kind"] == "copy":
        worker = worker_cls(nodes, handler=handler, timeout=timeout, source=step["source"], dest=step["dest"],
                            preserve=bool(step.get("preserve")), stderr=True)
    else:
        worker = worker_cls(nodes, handler=handler, timeout=timeout, command=step["command"], stderr=True)
    handler.worker = worker
    task.schedule(worker)
    if step.get("stdin"):
        worker.write(step["stdin"].encode("utf-8"))
    if not guarded:
        worker.set_write_eof()
    timer = task.timer(TICK_SECONDS, handler, interval=TICK_SECONDS, autoclose=True)
    CONTROL.in_loop = True
    try:
        if CONTROL.reason:  # asked between two steps
            raise Interrupted(CONTROL.reason)
        task.run()
    finally:
        CONTROL.in_loop = False
        timer.invalidate()
    handler.unstopped()


def run_job(job: dict) -> dict:
    """Run every step in order; a node that fails a step is not given the next one."""
    nodes = parse_nodes(str(job.get("nodes") or ""))
    steps = job.get("steps") or []
    if job.get("worker") == "exec":
        for step in steps:
            for key in ("command", "source", "dest"):
                if step.get(key):
                    check_pattern(step[key])
    task = task_self()
    _configure(task, job)
    records: dict[str, NodeRecord] = {node: NodeRecord() for node in nodes}
    remaining = nodes
    try:
        for step in steps:
            run_step(task, step, remaining, job, records)
            if CONTROL.reason:
                break
            remaining = NodeSet.fromlist([node for node in remaining if records[node].return_code == 0])
            if not remaining:
                break
    except Interrupted:
        pass
    except WorkerError as exc:
        raise JobError(str(exc)) from None
    interrupted = CONTROL.reason
    if interrupted:
        _end_workers()
        for record in records.values():
            if record.state is None:
                record.state = interrupted
    result = summarize(records, gather=bool(job.get("gather")))
    if interrupted:
        result["interrupted"] = interrupted
    return result


def _end_workers() -> None:
    """SIGTERM the rest of our process group (the workers), not ourselves."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if os.getpgrp() == os.getpid():
        os.killpg(os.getpgrp(), signal.SIGTERM)


def _request(reason: str) -> Any:
    def handler(signum: int, frame: Any) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        CONTROL.request(reason)
    return handler


def main() -> int:
    job = json.load(sys.stdin)
    if os.getpgrp() != os.getpid():
        os.setpgid(0, 0)  # lead a group of our own so an interruption can end just our workers
    signal.signal(signal.SIGTERM, _request(CANCELED))
    signal.signal(signal.SIGALRM, _request(TIMEOUT))
    if job.get("deadline"):
        signal.setitimer(signal.ITIMER_REAL, float(job["deadline"]))
    try:
        result = run_job(job)
        code = 0
    except JobError as exc:
        result, code = {"error": str(exc)}, 2
    except Interrupted as exc:  # before any worker started (a slow @group upcall, say)
        result, code = {"error": f"Stopped before any node ran ({exc.reason})", "interrupted": exc.reason}, 1
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the result must get written
    with open(job["result_path"], "w", encoding="utf-8") as handle:
        json.dump(result, handle)
    return code


if __name__ == "__main__":
    sys.exit(main())
