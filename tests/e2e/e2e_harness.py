"""End-to-end harness: a real appliance started with `st2ctl start`, driven by the real `st2` CLI.

Every appliance lives in its own temp dir: st2.conf, a HOME for the CLI (st2ctl writes
~/.st2/config there), base_path with packs/ (the repo's packs/* and the test pack copied in),
data/ (SQLite file, pid file, log). Ports for auth/api/stream are picked free.

Two wirings:
  embedded  [messaging] unset, [supervisor] mode = threads: one supervised process, SQLite +
            in-memory bus
  rabbitmq  [messaging] url = amqp://.../<fresh vhost>, [supervisor] mode = processes: one process
            per service; a vhost is created per appliance with `rabbitmqctl add_vhost` and deleted
            at the end of the session. Without a broker these are skipped, except under CI=true
            where they fail.
Appliance(..., mode="threads") runs every service in one process over RabbitMQ as well.

The `st2` binary is the one next to sys.executable (pip install st2client==3.9.0 in the same venv).
RabbitMQ settings: tests/support/rabbitmq.py. APPLIANCE_E2E_KEEP=1 keeps the temp dirs (config, database,
log) for a post-mortem.
"""

from __future__ import annotations

import configparser
import contextlib
import json
import os
import pty
import re
import select
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
import uuid
from typing import Any, Callable, Iterator, Optional

import pytest
import requests

from appliance import procfs
from appliance.st2client_compat import PTH_NAME
from tests.support.appliance_conf import free_ports, write_st2_conf
from tests.support.rabbitmq import Vhosts, url_of

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
ST2 = os.path.join(BIN, "st2")
TEST_PACK = os.path.join(ROOT, "tests", "fixtures", "packs", "testpack")
CI = os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")
KEEP = os.environ.get("APPLIANCE_E2E_KEEP", "") not in ("", "0")  # keep temp dirs (logs) after the run


COMPLETED = ("succeeded", "failed", "timeout", "canceled", "abandoned")
CLI_TIMEOUT = 60.0  # upper bound of one st2 command; healthy ones take 1-4 s (the CLI polls every 2 s)
WAIT = 20.0  # upper bound of a status wait
QUIET = 20.0  # seconds without output before an interactive dialog is declared stuck
ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")  # prompt_toolkit shows and hides the cursor, even when TERM=dumb


def unavailable(reason: str) -> None:
    if CI:
        pytest.fail(f"required under CI=true: {reason}", pytrace=False)
    pytest.skip(reason)


def wait_until(predicate: Callable[[], Any], timeout: float = WAIT, interval: float = 0.1) -> Any:
    """Poll predicate until it returns something truthy (returned) or the time is up (None)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            return None
        time.sleep(interval)


# -- processes (read from /proc: no dependency on procps) ----------------------------------------
def processes() -> list[tuple[int, int, list[str]]]:
    """(pid, ppid, argv) of every live, non-zombie process."""
    found = [(proc.pid, proc.ppid, procfs.cmdline(proc.pid)) for proc in procfs.live_processes()]
    return [entry for entry in found if entry[2]]


def pids_running(argv: list[str]) -> list[int]:
    """Pids of processes whose argv is exactly `argv` (e.g. ["sleep", "30.1234"])."""
    return [pid for pid, _ppid, args in processes() if args == argv]


def pid_alive(pid: int) -> bool:
    """True while pid exists and is not a zombie."""
    return procfs.alive(pid)


def children_running(parent: int, module: str) -> list[int]:
    """Children of `parent` whose command line runs python module `module`."""
    return [pid for pid, ppid, args in processes() if ppid == parent and module in args]


def unique_sleep(seconds: int = 30) -> list[str]:
    """argv of a sleep nobody else runs: `sleep 30.<random>` (GNU sleep takes fractions)."""
    return ["sleep", f"{seconds}.{uuid.uuid4().int % 10**6:06d}"]


def parse_json_output(text: str) -> Any:
    """The JSON document the CLI printed with -j (`st2 run` prints progress dots before it)."""
    starts = [i for i in (text.find("{"), text.find("[")) if i >= 0]
    assert starts, f"no JSON in CLI output:\n{text}"
    return json.loads(text[min(starts):])


# -- RabbitMQ ----------------------------------------------------------------------------------
class Broker:
    """The RabbitMQ server: one fresh vhost per appliance, all deleted at the end of the session."""

    def __init__(self) -> None:
        self.vhosts = Vhosts("appliance-e2e")
        self.spare = url_of(self.vhosts.create())  # proves we may create vhosts before an appliance needs one

    def new_vhost(self) -> str:
        """A fresh vhost the test user may use; returns the appliance's [messaging] url."""
        if self.spare:
            url, self.spare = self.spare, ""
            return url
        return url_of(self.vhosts.create())

    def close(self) -> None:
        self.vhosts.close()


# -- the appliance -----------------------------------------------------------------------------
class Appliance:
    """One appliance in its own temp dir, started with `st2ctl start` and driven with `st2`."""

    def __init__(self, label: str, messaging_url: str = "", mode: str = "", write_config: bool = True):
        """write_config=False leaves config_path for the test to write (e.g. Puppet's st2.conf, which
        must then use this appliance's base, packs, ports and log path)."""
        self.label = label
        self.messaging_url = messaging_url
        self.dir = tempfile.mkdtemp(prefix=f"st2e2e-{label}-")
        self.home = os.path.join(self.dir, "home")
        self.base = os.path.join(self.dir, "base")
        self.packs = os.path.join(self.base, "packs")
        self.data = os.path.join(self.base, "data")
        self.log_path = os.path.join(self.data, "logs", "st2.log")
        self.pid_path = os.path.join(self.data, "st2.pid")
        self.config_path = os.path.join(self.dir, "st2.conf")
        self.auth_port, self.api_port, self.stream_port = free_ports(3)
        self.password = ""
        self.token = ""
        self.extra_procs: list[subprocess.Popen] = []
        os.makedirs(self.home)
        os.makedirs(self.packs)
        for name in sorted(os.listdir(os.path.join(ROOT, "packs"))):
            source = os.path.join(ROOT, "packs", name)
            if os.path.isfile(os.path.join(source, "pack.yaml")):
                shutil.copytree(source, os.path.join(self.packs, name))
        shutil.copytree(TEST_PACK, os.path.join(self.packs, "testpack"))
        if write_config:
            write_st2_conf(self.config_path, base=self.base, packs=self.packs,
                           ports=(self.auth_port, self.api_port, self.stream_port), log_path=self.log_path,
                           messaging_url=messaging_url, mode=mode)

    # URLs as the CLI uses them
    @property
    def auth_url(self) -> str:
        return f"http://127.0.0.1:{self.auth_port}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}/v1"

    @property
    def stream_url(self) -> str:
        return f"http://127.0.0.1:{self.stream_port}/v1"

    def env(self, home: Optional[str] = None, **extra: str) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ST2_")}
        env.update(HOME=home or self.home, TERM="dumb", ST2_COLORIZE="false", PYTHONUNBUFFERED="1")
        env.update(extra)
        return env

    # -- control ---------------------------------------------------------------------------
    def st2ctl(self, command: str, timeout: float = 90.0) -> subprocess.CompletedProcess:
        st2ctl = os.path.join(BIN, "st2ctl")
        argv = [st2ctl] if os.access(st2ctl, os.X_OK) else [sys.executable, "-m", "appliance.st2ctl"]
        return subprocess.run(
            [*argv, command, "--config-file", self.config_path], env=self.env(), capture_output=True,
            text=True, stdin=subprocess.DEVNULL, timeout=timeout, check=False,
        )

    def start(self) -> None:
        done = self.st2ctl("start")
        output = done.stdout + done.stderr
        assert done.returncode == 0, f"st2ctl start failed ({done.returncode}):\n{output}{self.log_tail()}"
        assert "st2 started" in done.stdout, done.stdout + done.stderr
        if not self.password:
            client = configparser.ConfigParser(interpolation=None)
            client.read(os.path.join(self.home, ".st2", "config"))
            self.password = client["credentials"]["password"]
            assert self.password in done.stdout, "st2ctl start should print the password it created"
        self.token = self.new_token()

    def stop(self) -> None:
        pid = self.supervisor_pid()
        with contextlib.suppress(Exception):
            done = self.st2ctl("stop", timeout=60)
            if done.returncode != 0:
                print(f"st2ctl stop of {self.label}: {done.stdout}{done.stderr}", file=sys.stderr)
        for proc in self.extra_procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.extra_procs:
            stop_process(proc)
        # Whatever is left of this appliance's tree (identified by its unique config path), by pid.
        if pid and pid_alive(pid):
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)
        for left, _ppid, args in processes():
            if self.config_path in args:
                with contextlib.suppress(OSError):
                    os.kill(left, signal.SIGKILL)

    def cleanup(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    def supervisor_pid(self) -> Optional[int]:
        try:
            with open(self.pid_path, encoding="ascii") as handle:
                return int(handle.read().strip())
        except (OSError, ValueError):
            return None

    def log_tail(self, lines: int = 40) -> str:
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as handle:
                return "\n--- log tail ---\n" + "".join(handle.readlines()[-lines:])
        except OSError:
            return "\n(no log)"

    # -- st2 CLI ---------------------------------------------------------------------------
    def st2(self, *args: str, timeout: float = CLI_TIMEOUT, home: Optional[str] = None,
            env: Optional[dict] = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [ST2, *args], env=self.env(home, **(env or {})), capture_output=True, text=True,
            stdin=subprocess.DEVNULL, timeout=timeout, check=False,
        )

    def st2_json(self, *args: str, timeout: float = CLI_TIMEOUT) -> tuple[subprocess.CompletedProcess, Any]:
        done = self.st2(*args, "-j", timeout=timeout)
        assert "Traceback" not in done.stderr, done.stderr
        return done, parse_json_output(done.stdout)

    def add_fixture_pack(self, name: str) -> None:
        """A pack of tests/fixtures/packs copied into this appliance and registered with the CLI (once)."""
        target = os.path.join(self.packs, name)
        if not os.path.isdir(target):
            shutil.copytree(os.path.join(ROOT, "tests", "fixtures", "packs", name), target)
            ok(self.st2("pack", "register", name))

    def run_completed(self, *args: str, timeout: float = 120.0) -> dict:
        """`st2 run -a ...`, then the execution once it has completed."""
        return self.wait_status(self.st2_async(*args), timeout=timeout)

    def st2_async(self, *args: str) -> str:
        """`st2 run -a ...`: the id of the execution it created."""
        done = self.st2("run", "-a", *args)
        assert done.returncode == 0, done.stdout + done.stderr
        match = re.search(r"st2 execution get ([0-9a-f]+)", done.stdout)
        assert match, done.stdout
        return match.group(1)

    # -- HTTP ------------------------------------------------------------------------------
    def new_token(self, ttl: Optional[int] = None) -> str:
        body = {} if ttl is None else {"ttl": ttl}
        resp = requests.post(f"{self.auth_url}/tokens", auth=("st2admin", self.password), json=body, timeout=10)
        assert resp.status_code == 201, resp.text
        return resp.json()["token"]

    def api(self, method: str, path: str, token: Optional[str] = "default", **kw: Any) -> requests.Response:
        """A request to the API (path relative to /v1) with the session token unless token= says otherwise."""
        headers = dict(kw.pop("headers", None) or {})
        if token == "default":
            token = self.token
        if token is not None:
            headers.setdefault("X-Auth-Token", token)
        kw.setdefault("timeout", 15)
        return requests.request(method, f"{self.api_url}/{path.lstrip('/')}", headers=headers, **kw)

    def execution_count(self) -> int:
        resp = self.api("GET", "executions", params={"limit": 1, "include_attributes": "id"})
        assert resp.status_code == 200, resp.text
        return int(resp.headers["X-Total-Count"])

    def execution(self, execution_id: str) -> dict:
        resp = self.api("GET", f"executions/{execution_id}")
        assert resp.status_code == 200, resp.text
        return resp.json()

    def post_execution(self, action: str, parameters: Optional[dict] = None) -> dict:
        resp = self.api("POST", "executions", json={"action": action, "parameters": parameters or {}})
        assert resp.status_code == 201, resp.text
        return resp.json()

    def wait_status(self, execution_id: str, statuses: tuple[str, ...] = COMPLETED, timeout: float = WAIT) -> dict:
        seen: dict = {}

        def reached() -> bool:
            try:
                seen.update(self.execution(execution_id))
            except (requests.RequestException, AssertionError):
                return False
            return seen.get("status") in statuses

        if not wait_until(reached, timeout, 0.1):
            raise AssertionError(
                f"execution {execution_id} is {seen.get('status')!r}, not in {statuses} after {timeout}s"
                f"{self.log_tail()}"
            )
        return seen

    @contextlib.contextmanager
    def nothing_stored(self) -> Iterator[None]:
        """Assert the block created no execution (X-Total-Count unchanged)."""
        before = self.execution_count()
        yield
        after = self.execution_count()
        assert after == before, f"a rejected request stored {after - before} execution(s)"


def ok(done: subprocess.CompletedProcess) -> str:
    """What a CLI command that must succeed printed."""
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def refused(done: subprocess.CompletedProcess) -> str:
    """What a CLI command that must fail printed; it must fail without a traceback."""
    text = done.stdout + done.stderr
    assert done.returncode != 0 and "Traceback" not in text, text
    return text


def registered(appliance: Appliance, pack: str) -> Optional[dict]:
    """The pack as the API has it registered (GET /v1/packs/<pack>), None when it is not."""
    resp = appliance.api("GET", f"packs/{pack}")
    return resp.json() if resp.status_code == 200 else None


def actions_of(appliance: Appliance, pack: str) -> set[str]:
    resp = appliance.api("GET", "actions", params={"pack": pack})
    assert resp.status_code == 200, resp.text
    return {action["name"] for action in resp.json()}


def probe(appliance: Appliance, pack: str) -> dict:
    """The result of `<pack>.probe` (tests/support/pack_repos.py's probe_action), which must succeed."""
    execution = appliance.run_completed(f"{pack}.probe", timeout=60)
    assert execution["status"] == "succeeded", execution
    return execution["result"]["result"]


def stop_process(proc: subprocess.Popen, timeout: float = 15.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def require_cli() -> None:
    if not os.access(ST2, os.X_OK):
        unavailable(f"the st2 CLI is not installed next to {sys.executable} (pip install st2client==3.9.0)")


def require_prompts() -> None:
    """st2client 3.9.0's interactive prompts (`st2 pack config`) need the appliance's .pth (make install)."""
    pth = os.path.join(sysconfig.get_paths()["purelib"], PTH_NAME)
    if not os.path.exists(pth):
        pytest.fail(f"{pth} is missing: run `make install` (st2client 3.9.0's prompts need it)", pytrace=False)


def answer_prompts(appliance: Appliance, args: list[str], answers: list[tuple[str, str]],
                   timeout: float = 90.0) -> tuple[int, str]:
    """Run `st2 <args>` on a pseudo-terminal and answer each prompt: the first (regex, text) of `answers`
    whose regex matches the line the CLI waits on. A prompt nobody answers fails the test (no hang).
    Returns the exit code and what the CLI printed (carriage returns and terminal escapes removed)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: the CLI, with the harness's environment (TERM=dumb: plain prompts)
        try:
            os.execve(ST2, ["st2", *args], appliance.env())
        finally:
            os._exit(127)
    output, pending = "", ""
    deadline, last_output = time.monotonic() + timeout, time.monotonic()
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if not ready:
                if time.monotonic() - last_output > QUIET:
                    raise AssertionError(f"st2 {' '.join(args)} waits on a prompt nobody answers:\n{output}")
                continue
            try:
                data = os.read(fd, 4096).decode(errors="replace")
            except OSError:  # the CLI ended: the terminal is gone
                break
            if not data:
                break
            last_output = time.monotonic()
            output += data
            pending += ESCAPES.sub("", data.replace("\r", ""))
            waiting_on = pending.split("\n")[-1]
            for pattern, text in answers:
                if re.search(pattern, waiting_on):
                    os.write(fd, text.encode() + b"\r")
                    pending = ""
                    break
        else:
            raise AssertionError(f"st2 {' '.join(args)} did not end in {timeout}s:\n{output}")
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    return os.waitstatus_to_exitcode(status), ESCAPES.sub("", output.replace("\r", ""))


@contextlib.contextmanager
def running_appliance(label: str, messaging_url: str = "", extra_config: str = "") -> Iterator[Appliance]:
    """An appliance started for the block, stopped (and its temp dir removed) after it; `extra_config` is added
    to its st2.conf before it starts."""
    require_cli()
    appliance = Appliance(label, messaging_url)
    if extra_config:
        with open(appliance.config_path, "a", encoding="utf-8") as handle:
            handle.write(extra_config)
    try:
        appliance.start()
        yield appliance
    finally:
        appliance.stop()
        if not KEEP:
            appliance.cleanup()
