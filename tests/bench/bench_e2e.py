"""End-to-end benchmark: a real appliance (`st2ctl start`) driven over HTTP like the st2 CLI drives it.

Figures (one plain line each, `name value [(target T, ratio R)]`; ratio >= 1 means the target is met):
  e2e.<mode>.<action>.per_s      executions per second: N / (first POST .. last completion)
  e2e.<mode>.<action>.p50_ms     latency of one execution: its POST .. its completed status on the stream
  e2e.<mode>.<action>.p99_ms
  e2e.<mode>.<action>.appliance_cpu_ms  CPU time of all appliance processes per execution (Linux)
  list.<query>.p50_ms            GET /v1/executions?limit=50 over 100k stored executions

Modes: `embedded` (one process, SQLite + in-memory bus) and `rabbitmq` (one process per service over
a fresh RabbitMQ vhost, deleted afterwards). Every wait has a deadline and every appliance started
here is stopped (`st2ctl stop`, then its process group is killed if anything is left).

Run: python tests/bench/bench_e2e.py [--n 500] [--clients 32] [--modes embedded,rabbitmq] [--list-rows 100000]
"""

from __future__ import annotations

import argparse
import configparser
import http.client
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from typing import Callable, Iterator, Optional

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.append(ROOT)  # tests.support, and the appliance package when it is not installed

from tests.support.appliance_conf import free_ports, write_st2_conf  # noqa: E402 (needs ROOT on sys.path)
from tests.support.rabbitmq import Unavailable, Vhosts, url_of  # noqa: E402

COMPLETED = ("succeeded", "failed", "timeout", "canceled", "abandoned")
TARGETS = {  # figure -> (target, "min" = at least, "max" = at most); only the embedded wiring has targets
    "e2e.embedded.noop.per_s": (300.0, "min"),
    "e2e.embedded.local.per_s": (200.0, "min"),
    "list.plain.p50_ms": (20.0, "max"),
    "list.filtered.p50_ms": (20.0, "max"),
}
MODE_BUDGET = {"embedded": 130.0, "rabbitmq": 150.0}  # seconds for start, both actions and stop
LIST_BUDGET = 120.0  # seconds to fill the store, start, 2 x 200 requests and stop
ACTIONS = {  # figure name -> (action ref, parameters)
    "noop": ("core.noop", {}),
    "local": ("core.local", {"cmd": "true"}),
}


class BenchError(Exception):
    """The benchmark could not run (appliance did not start, login failed, ...)."""


class Skipped(Exception):
    """A part of the benchmark cannot run on this machine (not a failure)."""


class Deadline:
    """The time left for the whole benchmark; every wait asks it how long it may take."""

    def __init__(self, seconds: float):
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return self.end - time.monotonic()

    def cap(self, seconds: float) -> float:
        return max(0.0, min(seconds, self.left()))

    def sub(self, seconds: float) -> Deadline:
        """A deadline `seconds` from now, never later than this one."""
        return Deadline(self.cap(seconds))

    def check(self, what: str) -> None:
        if self.left() <= 0:
            raise BenchError(f"out of time before {what}")


# -- reporting -------------------------------------------------------------------------------------
RESULTS: list[tuple[str, float]] = []


def report(name: str, value: float) -> None:
    RESULTS.append((name, value))
    line = f"{name} {value:.1f}"
    target = TARGETS.get(name)
    if target is not None:
        goal, kind = target
        ratio = (value / goal) if kind == "min" else (goal / value if value > 0 else float("inf"))
        line += f" (target {goal:g}, ratio {ratio:.2f})"
    print(line, flush=True)


def note(text: str) -> None:
    print(f"# {text}", flush=True)


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, int(round(pct / 100.0 * len(ordered) + 0.4999)))
    return ordered[min(rank, len(ordered)) - 1]


# -- the appliance under test ----------------------------------------------------------------------
class Appliance:
    """One appliance in its own temp dir: config, HOME, packs dir, database; started with st2ctl."""

    core_pack = os.path.join(ROOT, "packs", "core")

    def __init__(self, label: str, messaging_url: str = "", db_path: str = "", workdir: str = ""):
        self.label = label
        self.dir = workdir or tempfile.mkdtemp(prefix=f"st2bench-{label}-")
        self.home = os.path.join(self.dir, "home")
        self.base = os.path.join(self.dir, "base")
        self.packs = os.path.join(self.base, "packs")
        self.db_path = db_path or os.path.join(self.base, "data", "st2.db")
        self.log_path = os.path.join(self.base, "data", "logs", "st2.log")
        self.config_path = os.path.join(self.dir, "st2.conf")
        self.auth_port, self.api_port, self.stream_port = free_ports(3)
        self.pid: Optional[int] = None
        self.password = ""
        self.token = ""
        os.makedirs(self.home, exist_ok=True)
        os.makedirs(os.path.dirname(self.db_path), exist_ok=True)
        os.makedirs(self.packs, exist_ok=True)
        core = self.core_pack
        if not os.path.isfile(os.path.join(core, "pack.yaml")):
            raise BenchError(f"{core}/pack.yaml is missing: the core pack is needed for core.noop and core.local")
        shutil.copytree(core, os.path.join(self.packs, "core"))
        os.makedirs(os.path.dirname(self.log_path), exist_ok=True)
        write_st2_conf(self.config_path, base=self.base, packs=self.packs,
                       ports=(self.auth_port, self.api_port, self.stream_port), log_path=self.log_path,
                       log_level="WARNING", messaging_url=messaging_url, db_path=self.db_path)

    @property
    def auth_url(self) -> str:
        return f"http://127.0.0.1:{self.auth_port}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}/v1"

    @property
    def stream_url(self) -> str:
        return f"http://127.0.0.1:{self.stream_port}/v1/stream"

    def _env(self) -> dict:
        env = dict(os.environ, HOME=self.home)
        env.pop("ST2_CONFIG_PATH", None)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH", ""), ROOT) if p)
        return env

    def st2ctl(self, command: str, timeout: float) -> subprocess.CompletedProcess:
        argv = [sys.executable, "-c", "from appliance.st2ctl import main; main()",
                command, "--config-file", self.config_path]
        return subprocess.run(argv, env=self._env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, timeout=max(1.0, timeout), text=True, check=False)

    def start(self, deadline: Deadline) -> None:
        deadline.check(f"starting the {self.label} appliance")
        try:
            done = self.st2ctl("start", deadline.cap(120))
        except subprocess.TimeoutExpired as exc:
            self._read_pid()
            raise BenchError(f"st2ctl start did not return in time; log: {self.log_path}") from exc
        self._read_pid()
        if done.returncode != 0:
            raise BenchError(f"st2ctl start failed ({done.returncode}): {done.stdout.strip()}\n{self.log_tail()}")
        match = re.search(r"password: (\S+)", done.stdout)
        self.password = match.group(1) if match else self._password_from_client_config()
        if not self.password:
            raise BenchError(f"no st2admin password in st2ctl's output nor in {self.home}/.st2/config")

    def _password_from_client_config(self) -> str:
        parser = configparser.ConfigParser(interpolation=None)
        parser.read(os.path.join(self.home, ".st2", "config"))
        return parser.get("credentials", "password", fallback="")

    def _read_pid(self) -> None:
        try:
            with open(os.path.join(self.base, "data", "st2.pid"), encoding="ascii") as handle:
                self.pid = int(handle.read().strip())
        except (OSError, ValueError):
            pass

    def login(self, deadline: Deadline) -> str:
        answer = requests.post(f"{self.auth_url}/tokens", auth=("st2admin", self.password), json={},
                               timeout=deadline.cap(30))
        if answer.status_code != 201:
            raise BenchError(f"POST /tokens answered {answer.status_code}: {answer.text[:200]}")
        self.token = answer.json()["token"]
        return self.token

    def session(self) -> requests.Session:
        session = requests.Session()
        session.headers.update({"X-Auth-Token": self.token, "Content-Type": "application/json"})
        return session

    def http(self) -> Http:
        return Http("127.0.0.1", self.api_port, {"X-Auth-Token": self.token, "Content-Type": "application/json"})

    def stop(self) -> None:
        """st2ctl stop, then kill what is left of the process group st2ctl started (by its id)."""
        try:
            self.st2ctl("stop", 60)
        except (subprocess.TimeoutExpired, OSError) as exc:
            note(f"{self.label}: st2ctl stop failed: {exc}")
        if self.pid:
            try:
                os.killpg(self.pid, signal.SIGKILL)  # st2ctl starts the supervisor in its own session
            except OSError:
                pass

    def cpu_seconds(self) -> Optional[float]:
        """CPU time used so far by every process of the appliance (its process group), children
        that exited included; None where /proc is not available."""
        if not self.pid or not os.path.isdir("/proc"):
            return None
        total = 0.0
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == self.pid:  # process group id
                total += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
        return total / os.sysconf("SC_CLK_TCK")

    def log_tail(self, lines: int = 15) -> str:
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as handle:
                return "".join(handle.readlines()[-lines:])
        except OSError:
            return ""

    def errors_in_log(self) -> int:
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as handle:
                return sum(1 for line in handle if " ERROR " in line or "Traceback" in line)
        except OSError:
            return 0

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


class Http:
    """One keep-alive HTTP/1.1 connection (stdlib: a request costs the client ~5x less CPU than with
    requests, which matters when client and appliance share a small machine)."""

    def __init__(self, host: str, port: int, headers: dict):
        self.host, self.port, self.headers = host, port, headers
        self._conn: Optional[http.client.HTTPConnection] = None

    def request(self, method: str, path: str, body: Optional[str] = None,
                params: Optional[dict] = None, timeout: float = 30.0) -> tuple[int, dict, bytes]:
        if params:
            path += "?" + urllib.parse.urlencode(params)
        for attempt in (1, 2):  # the server may have closed an idle keep-alive connection
            if self._conn is None:
                self._conn = http.client.HTTPConnection(self.host, self.port, timeout=max(1.0, timeout))
            try:
                self._conn.timeout = max(1.0, timeout)
                self._conn.request(method, path, body=body, headers=self.headers)
                answer = self._conn.getresponse()
                data = answer.read()
                return answer.status, {k.lower(): v for k, v in answer.getheaders()}, data
            except (OSError, http.client.HTTPException):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


# -- the event stream ------------------------------------------------------------------------------
class CompletionWatcher:
    """Reads /v1/stream?events=st2.execution__update and records when each execution completes.

    Server-sent events are parsed by hand: `event:`/`data:` lines, an empty line ends an event."""

    def __init__(self, appliance: Appliance):
        self.appliance = appliance
        self.done: dict[str, tuple[float, str]] = {}  # id -> (perf_counter at completion, status)
        self.events = 0
        self.error: Optional[str] = None
        self.connected = threading.Event()
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._response: Optional[requests.Response] = None
        self._thread = threading.Thread(target=self._run, daemon=True, name="sse")

    def start(self, timeout: float) -> None:
        self._thread.start()
        if not self.connected.wait(timeout):
            raise BenchError(f"the stream did not answer within {timeout:.0f}s: {self.error or ''}")

    def _run(self) -> None:
        try:
            self._response = requests.get(
                self.appliance.stream_url,
                params={"events": "st2.execution__update"},
                headers={"X-Auth-Token": self.appliance.token, "Accept": "text/event-stream"},
                stream=True, timeout=(10, 60),
            )
            if self._response.status_code != 200:
                self.error = f"stream answered {self._response.status_code}: {self._response.text[:200]}"
                return
            for event, data in self._events(self._response.iter_content(chunk_size=None)):
                if event == "st2.execution__update":
                    self._record(data)
        except Exception as exc:  # the connection closed under us when stop() ran, or a real failure
            if not self._stop.is_set():
                self.error = f"{type(exc).__name__}: {exc}"
        finally:
            if self._response is not None:
                self._response.close()
            with self._changed:
                self._changed.notify_all()

    def _events(self, chunks: Iterator[bytes]) -> Iterator[tuple[str, str]]:
        buffer = b""
        for chunk in chunks:
            self.connected.set()  # the stream sends a newline as soon as it attaches
            if self._stop.is_set():
                return
            buffer += chunk
            while b"\n\n" in buffer:
                block, buffer = buffer.split(b"\n\n", 1)
                event, data = "message", []
                for line in block.decode("utf-8", "replace").split("\n"):
                    if line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("data:"):
                        data.append(line[5:].lstrip(" "))
                if data:
                    yield event, "\n".join(data)
            if buffer.strip() == b"":
                buffer = b""  # heartbeat newlines

    def _record(self, data: str) -> None:
        stamp = time.perf_counter()
        self.events += 1
        body = json.loads(data)
        status = body.get("status")
        if status in COMPLETED and body.get("id") not in self.done:
            with self._changed:
                self.done[body["id"]] = (stamp, status)
                self._changed.notify_all()

    def wait_for(self, ids: Callable[[], set], expected: int, deadline: float, stall: float) -> None:
        """Until `expected` ids are done, the deadline passes, or nothing completes for `stall` s."""
        last_count, last_change = -1, time.monotonic()
        with self._changed:
            while True:
                count = len(ids() & self.done.keys())
                now = time.monotonic()
                if count != last_count:
                    last_count, last_change = count, now
                if count >= expected or now >= deadline or now - last_change >= stall:
                    return
                if not self._thread.is_alive():
                    return
                self._changed.wait(min(0.5, deadline - now))

    def stop(self) -> None:
        """The reader sees the flag on the next event or heartbeat (1 s) and closes the connection."""
        self._stop.set()
        self._thread.join(timeout=5)


# -- executions ------------------------------------------------------------------------------------
def submit_all(appliance: Appliance, ref: str, parameters: dict, n: int, clients: int,
               deadline: Deadline) -> tuple[dict[str, float], list[str], float]:
    """POST n executions from `clients` threads; returns (id -> perf_counter at POST, errors, first POST)."""
    posted: dict[str, float] = {}
    errors: list[str] = []
    lock = threading.Lock()
    counter = iter(range(n))
    first = [float("inf")]
    body = json.dumps({"action": ref, "parameters": parameters})

    def client() -> None:
        conn = appliance.http()
        try:
            while True:
                with lock:
                    if next(counter, None) is None or deadline.left() <= 0:
                        return
                started = time.perf_counter()
                with lock:
                    first[0] = min(first[0], started)
                try:
                    status, _, data = conn.request("POST", "/v1/executions", body, timeout=deadline.cap(60))
                except (OSError, http.client.HTTPException) as exc:
                    with lock:
                        errors.append(f"{type(exc).__name__}: {exc}")
                    continue
                with lock:
                    if status == 201:
                        posted[json.loads(data)["id"]] = started
                    else:
                        errors.append(f"{status}: {data[:200]!r}")
        finally:
            conn.close()

    threads = [threading.Thread(target=client, daemon=True, name=f"client-{i}") for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(deadline.cap(120))
    return posted, errors, first[0]


def final_statuses(appliance: Appliance, ids: list[str], deadline: Deadline) -> dict[str, str]:
    """The stored status of `ids`, 50 at a time (for executions the stream did not report done)."""
    found: dict[str, str] = {}
    session = appliance.session()
    try:
        for i in range(0, len(ids), 50):
            if deadline.left() <= 1:
                break
            answer = session.get(f"{appliance.api_url}/executions",
                                 params={"id": ",".join(ids[i:i + 50]), "limit": 50,
                                         "include_attributes": "id,status"},
                                 timeout=deadline.cap(30))
            if answer.status_code == 200:
                found.update({doc["id"]: doc.get("status", "?") for doc in answer.json()})
    except requests.RequestException as exc:
        note(f"final status query failed: {exc}")
    finally:
        session.close()
    return found


def run_executions(appliance: Appliance, mode: str, name: str, n: int, clients: int, deadline: Deadline) -> bool:
    """Measure one action; True when every execution was accepted and succeeded."""
    ref, parameters = ACTIONS[name]
    watcher = CompletionWatcher(appliance)
    watcher.start(deadline.cap(30))
    try:
        # Warm-up (not measured): first requests import, compile and open connections.
        warm, warm_errors, _ = submit_all(appliance, ref, parameters, min(20, n), min(4, clients), deadline)
        if warm_errors and not warm:
            raise BenchError(f"{ref}: every warm-up POST failed, e.g. {warm_errors[0]}")
        watcher.wait_for(lambda: set(warm), len(warm), time.monotonic() + deadline.cap(30), 15)

        cpu_start = appliance.cpu_seconds()
        wall_start = time.perf_counter()
        posted, errors, first_post = submit_all(appliance, ref, parameters, n, clients, deadline)
        post_seconds = time.perf_counter() - wall_start
        ids = set(posted)
        budget = deadline.cap(max(60.0, n / 5.0))
        watcher.wait_for(lambda: ids, len(ids), time.monotonic() + budget, stall=20.0)
        cpu_end = appliance.cpu_seconds()
    finally:
        watcher.stop()

    done = {i: watcher.done[i] for i in ids if i in watcher.done}
    label = f"e2e.{mode}.{name}"
    if errors:
        note(f"{label}: {len(errors)} POST(s) failed, e.g. {errors[0]}")
    if watcher.error:
        note(f"{label}: stream error: {watcher.error}")
    missing = sorted(ids - done.keys())
    if missing:
        statuses = final_statuses(appliance, missing, deadline)
        tally: dict[str, int] = {}
        for i in missing:
            tally[statuses.get(i, "unknown")] = tally.get(statuses.get(i, "unknown"), 0) + 1
        note(f"{label}: {len(missing)} execution(s) not seen completing on the stream; stored: {tally}")
    not_ok = [status for _, status in done.values() if status != "succeeded"]
    if not_ok:
        note(f"{label}: {len(not_ok)} execution(s) completed but not succeeded: "
             f"{ {s: not_ok.count(s) for s in set(not_ok)} }")
    if not done:
        raise BenchError(f"{label}: no execution completed")
    broken = bool(errors or missing or not_ok)
    last = max(stamp for stamp, _ in done.values())
    latencies = [(done[i][0] - posted[i]) * 1000.0 for i in done]
    report(f"{label}.per_s", len(done) / (last - first_post))  # only completed executions count
    report(f"{label}.p50_ms", percentile(latencies, 50))
    report(f"{label}.p99_ms", percentile(latencies, 99))
    if cpu_start is not None and cpu_end is not None:
        report(f"{label}.appliance_cpu_ms", (cpu_end - cpu_start) * 1000.0 / len(done))
    note(f"{label}: {len(done)}/{n} completed, {clients} clients, POSTs took {post_seconds:.2f}s "
         f"({len(posted) / post_seconds:.0f}/s), wall {last - first_post:.2f}s, {watcher.events} update events")
    return not broken


def bench_mode(mode: str, n: int, clients: int, deadline: Deadline, messaging_url: str = "") -> int:
    """Both actions on one appliance; returns how many of them failed or had failed executions."""
    failures = 0
    appliance = Appliance(mode, messaging_url=messaging_url)
    try:
        started = time.monotonic()
        appliance.start(deadline)
        note(f"{mode}: appliance started in {time.monotonic() - started:.1f}s (ports {appliance.auth_port}/"
             f"{appliance.api_port}/{appliance.stream_port}, dir {appliance.dir})")
        appliance.login(deadline)
        for name in ACTIONS:
            try:
                failures += 0 if run_executions(appliance, mode, name, n, clients, deadline) else 1
            except BenchError as exc:
                failures += 1
                note(f"e2e.{mode}.{name}: FAILED: {exc}")
        errors = appliance.errors_in_log()
        if errors:
            note(f"{mode}: {errors} error line(s) in {appliance.log_path}:\n{appliance.log_tail()}")
    finally:
        appliance.stop()
        appliance.remove()
    return failures


# -- RabbitMQ vhost --------------------------------------------------------------------------------
class Vhost:
    """A fresh vhost for one run; deleted by `delete()`."""

    def __init__(self) -> None:
        self.vhosts: Optional[Vhosts] = None

    def create(self) -> str:
        try:
            self.vhosts = Vhosts(f"st2bench-{os.getpid()}")
            return url_of(self.vhosts.create())
        except Unavailable as exc:
            raise Skipped(f"no usable RabbitMQ: {exc}") from None

    def delete(self) -> None:
        if self.vhosts is not None:
            self.vhosts.close()
            self.vhosts = None


# -- listing over a large store --------------------------------------------------------------------
LIST_ACTIONS = (  # (ref, runner, weight)
    ("core.local", "local-shell-cmd", 40), ("core.noop", "noop", 15), ("core.remote", "remote-shell-cmd", 15),
    ("linux.file_touch", "local-shell-cmd", 5), ("clush.run", "clush", 15), ("milkcheck.start", "milkcheck", 10),
)
LIST_STATUSES = (("succeeded", 85), ("failed", 10), ("timeout", 3), ("canceled", 2))


def _weighted(choices: tuple, rng: random.Random) -> list:
    return rng.choices([c[:-1] for c in choices], weights=[c[-1] for c in choices], k=1)[0]


def stored_execution(rng: random.Random, stamp: float, counter: int) -> dict:
    """One completed execution shaped like Executions.create + the runner's transitions (~1 KB)."""
    import datetime

    def iso(t: float) -> str:
        return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    ref, runner = _weighted(LIST_ACTIONS, rng)
    status = _weighted(LIST_STATUSES, rng)[0]
    pack, name = ref.split(".", 1)
    execution_id = (int(stamp).to_bytes(4, "big") + b"bench" + (counter & 0xFFFFFF).to_bytes(3, "big")).hex()
    elapsed = round(rng.uniform(0.01, 3.0), 6)
    start, end = iso(stamp), iso(stamp + elapsed)
    host = f"node{rng.randint(1, 512):03d}"
    cmd = rng.choice(("hostname -f", "uptime", "df -h /scratch", "systemctl is-active slurmd", "true"))
    parameters = {"cmd": cmd, "hosts": host} if runner != "noop" else {}
    code = 0 if status == "succeeded" else rng.choice((1, 2, 124))
    action = {"ref": ref, "pack": pack, "name": name, "runner_type": runner, "enabled": True,
              "uid": f"action:{pack}:{name}", "id": "5f" + "0" * 20 + f"{hash(ref) & 0xFF:02x}",
              "description": f"Bench action {ref}", "entry_point": "",
              "parameters": {"cmd": {"type": "string", "required": runner != "noop"}}}
    return {
        "id": execution_id,
        "action": action,
        "runner": {"name": runner, "enabled": True, "uid": f"runner_type:{runner}",
                   "runner_parameters": {"timeout": {"type": "integer", "default": 60}}},
        "liveaction": {"id": uuid.UUID(int=rng.getrandbits(128)).hex[:24], "action": ref,
                       "action_is_workflow": False, "parameters": parameters, "callback": {},
                       "runner_info": {"hostname": "st2-bench", "pid": rng.randint(1000, 60000),
                                       "pid_start": rng.randint(10**6, 10**8)}},
        "status": status,
        "start_timestamp": start,
        "end_timestamp": end,
        "elapsed_seconds": elapsed,
        "parameters": parameters,
        "context": {"user": rng.choice(("st2admin", "stanley", "ops", "hpcadmin")), "pack": pack},
        "log": [{"timestamp": start, "status": "requested"}, {"timestamp": start, "status": "scheduled"},
                {"timestamp": start, "status": "running"}, {"timestamp": end, "status": status}],
        "web_url": f"https://localhost/#/history/{execution_id}/general",
        "result": {"succeeded": status == "succeeded", "failed": status != "succeeded", "return_code": code,
                   "stdout": f"{host}.cluster.local up 41 days, load average: 0.{rng.randint(0, 99):02d}",
                   "stderr": "" if code == 0 else f"{cmd.split()[0]}: exited with {code}"},
    }


def fill_store(db_path: str, rows: int, deadline: Deadline) -> None:
    from appliance.models import EXECUTIONS
    from appliance.store.sqlite import SQLiteStore

    rng = random.Random(42)
    store = SQLiteStore(db_path)
    try:
        coll = store.collection(EXECUTIONS)
        started = time.perf_counter()
        now = time.time()
        span = 30 * 86400.0
        batch = 5000
        size = 0
        for first in range(0, rows, batch):
            deadline.check("filling the store")
            docs = [stored_execution(rng, now - span + span * (i / rows), i)
                    for i in range(first, min(rows, first + batch))]
            if first == 0:
                size = sum(len(json.dumps(doc, separators=(",", ":"))) for doc in docs) // len(docs)
            coll.insert_many(docs)
        seconds = time.perf_counter() - started
        note(f"list: inserted {rows} executions (~{size} bytes each) with insert_many in {seconds:.1f}s "
             f"({rows / seconds:.0f}/s)")
    finally:
        store.close()


def bench_list(rows: int, requests_n: int, deadline: Deadline) -> None:
    workdir = tempfile.mkdtemp(prefix="st2bench-list-")
    db_path = os.path.join(workdir, "base", "data", "st2.db")
    appliance: Optional[Appliance] = None
    try:
        fill_store(db_path, rows, deadline)
        appliance = Appliance("list", db_path=db_path, workdir=workdir)
        appliance.start(deadline)
        appliance.login(deadline)
        queries = {
            "plain": {"limit": 50},
            "filtered": {"limit": 50, "status": "succeeded", "action": "core.local"},
        }
        conn = appliance.http()
        try:
            for name, params in queries.items():
                timings = []
                total = ""
                for i in range(requests_n + 5):
                    deadline.check(f"list.{name}")
                    started = time.perf_counter()
                    status, headers, data = conn.request("GET", "/v1/executions", params=params,
                                                         timeout=deadline.cap(30))
                    elapsed = (time.perf_counter() - started) * 1000.0
                    if status != 200 or len(json.loads(data)) != 50:
                        raise BenchError(f"list.{name}: {status} with {len(data)} bytes: {data[:200]!r}")
                    total = headers.get("x-total-count", "?")
                    if i >= 5:  # the first few warm caches
                        timings.append(elapsed)
                report(f"list.{name}.p50_ms", percentile(timings, 50))
                report(f"list.{name}.p99_ms", percentile(timings, 99))
                note(f"list.{name}: {requests_n} sequential requests, X-Total-Count {total}, "
                     f"mean {statistics.mean(timings):.1f} ms")
        finally:
            conn.close()
    finally:
        if appliance is not None:
            appliance.stop()
        shutil.rmtree(workdir, ignore_errors=True)


# -- main ------------------------------------------------------------------------------------------
def _terminate(signum, frame) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second one must not cut the cleanup short
    raise KeyboardInterrupt(f"signal {signum}")  # unwinds through every finally: appliances stop


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=500, help="executions per action and mode (500)")
    parser.add_argument("--clients", type=int, default=32, help="concurrent client threads (32)")
    parser.add_argument("--modes", default="embedded,rabbitmq", help="embedded,rabbitmq")
    parser.add_argument("--list-rows", type=int, default=100000, help="stored executions for list (0 = skip)")
    parser.add_argument("--list-requests", type=int, default=200)
    parser.add_argument("--budget", type=float, default=420.0, help="seconds for everything (420)")
    parser.add_argument("--core-pack", default=Appliance.core_pack, help="the core pack to copy (packs/core)")
    args = parser.parse_args(argv)
    Appliance.core_pack = os.path.abspath(args.core_pack)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        return run(args)
    except KeyboardInterrupt:
        note("bench_e2e: interrupted; its appliances are stopped and its vhosts deleted")
        return 130


def run(args: argparse.Namespace) -> int:
    deadline = Deadline(args.budget)
    failures = 0
    load = ", load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()) if hasattr(os, "getloadavg") else ""
    note(f"bench_e2e: python {sys.version.split()[0]}, {os.cpu_count()} CPUs{load}, n={args.n}, "
         f"clients={args.clients}")
    for mode in [m.strip() for m in args.modes.split(",") if m.strip()]:
        vhost = Vhost() if mode == "rabbitmq" else None
        try:
            url = vhost.create() if vhost is not None else ""
            failures += bench_mode(mode, args.n, args.clients, deadline.sub(MODE_BUDGET.get(mode, 150.0)),
                                   messaging_url=url)
        except Skipped as exc:
            note(f"e2e.{mode}: skipped: {exc}")
        except BenchError as exc:
            failures += 1
            note(f"e2e.{mode}: FAILED: {exc}")
        finally:
            if vhost is not None:
                vhost.delete()
    if args.list_rows > 0:
        try:
            bench_list(args.list_rows, args.list_requests, deadline.sub(LIST_BUDGET))
        except BenchError as exc:
            failures += 1
            note(f"list: FAILED: {exc}")
    missed = [name for name, value in RESULTS if name in TARGETS and (
        value < TARGETS[name][0] if TARGETS[name][1] == "min" else value > TARGETS[name][0])]
    met = sum(1 for name, _ in RESULTS if name in TARGETS) - len(missed)
    note(f"targets met: {met}/{met + len(missed)}" + (f"; missed: {', '.join(missed)}" if missed else ""))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
