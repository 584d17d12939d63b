"""st2ctl: start, stop, restart, status and reload of the appliance on this box."""

from __future__ import annotations

import argparse
import configparser
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Optional

from appliance import procfs
from appliance import store as store_module
from appliance.auth import ADMIN_USER
from appliance.config import Config
from appliance.content import CONTENT_TYPES, ContentError
from appliance.private_files import private_dir, private_file
from appliance.services.context import STARTUP_ERRORS, Context, load_config_or_exit
from appliance.supervisor import mode_problem

START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0  # longer than the supervisor gives its children (supervisor.STOP_GRACE_SECONDS)
SESSION_GRACE = 5.0  # for what is left once the supervisor is gone


def _pidfile(config: Config) -> str:
    return os.path.join(config.data_path, "st2.pid")


def _logfile(config: Config) -> str:
    return config.get("log", "path") or os.path.join(config.data_path, "logs", "st2.log")


def running_pid(config: Config) -> Optional[int]:
    """The supervisor's pid if it runs; a zombie (killed, not yet reaped) or a pid since reused
    by another program does not count."""
    try:
        with open(_pidfile(config), encoding="ascii") as handle:
            pid = int(handle.read().strip())
    except (OSError, ValueError):
        return None
    if not procfs.alive(pid) or "appliance.supervisor" not in procfs.cmdline(pid):
        return None
    return pid


def _endpoints(config: Config) -> dict[str, str]:
    def url(section: str, path: str) -> str:
        host = config.get(section, "host")
        host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        return f"http://{host}:{config.get(section, 'port')}{path}"

    return {"st2auth": url("auth", "/tokens"), "st2api": url("api", "/v1/"), "st2stream": url("stream", "/v1/stream")}


def _answers(url: str) -> bool:
    """Any HTTP answer (401 included) means the service listens."""
    try:
        urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=2).close()
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
    return True


def busy_ports(config: Config) -> list[str]:
    """The [section] host:port of each HTTP service whose port something else already holds."""
    busy = []
    for section in ("auth", "api", "stream"):
        host, port = config.get(section, "host"), config.get(section, "port")
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError:
                busy.append(f"[{section}] port {port} on {host}")
    return busy


def write_client_config(config: Config, password: str) -> str:
    """A ready ~/.st2/config for the local user (the previous one is kept as config.bak)."""
    directory = os.path.expanduser("~/.st2")
    os.makedirs(directory, mode=0o700, exist_ok=True)
    path = os.path.join(directory, "config")
    if os.path.exists(path):
        shutil.copy2(path, path + ".bak")
    endpoints = _endpoints(config)
    parser = configparser.ConfigParser()
    parser["credentials"] = {"username": ADMIN_USER, "password": password}
    parser["auth"] = {"url": endpoints["st2auth"].rsplit("/tokens", 1)[0]}
    parser["api"] = {"url": endpoints["st2api"].rstrip("/")}
    parser["stream"] = {"url": endpoints["st2stream"].rsplit("/stream", 1)[0]}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        parser.write(handle)
    cached = os.path.join(directory, f"token-{ADMIN_USER}")
    if os.path.exists(cached):
        os.remove(cached)  # a token of an earlier installation would be rejected
    return path


def prepare(config: Config, first_start: bool, types: tuple[str, ...] = CONTENT_TYPES,
            fail_on_failure: bool = False) -> Optional[str]:
    """Register content (and on start, create the admin user if there is none, returning its
    new password)."""
    private_dir(config.data_path, own=True)
    ctx = Context(config)
    try:
        ctx.check()
        password = ctx.htpasswd.ensure_admin() if first_start else None
        os.makedirs(config.packs_paths[0], exist_ok=True)
        counts = ctx.registrar.register(packs=None, fail_on_failure=fail_on_failure, types=types)
    finally:
        ctx.close()
    for kind in ("runners", "packs", "actions", "configs"):
        if kind in counts:
            print(f"Registered {counts[kind]} {kind}.")
    return password


def cmd_start(config: Config) -> int:
    pid = running_pid(config)
    if pid:
        print(f"st2 is already running (pid {pid}).")
        return 0
    problem = mode_problem(config)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    busy = busy_ports(config)
    if busy:
        print(f"error: already in use by another program: {', '.join(busy)} (set other ports in {config.path})",
              file=sys.stderr)
        return 1
    try:
        password = prepare(config, first_start=True)
    except (*STARTUP_ERRORS, ContentError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    private_file(_logfile(config), append=True)
    with open(_logfile(config), "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "appliance.supervisor", "--config-file", config.path],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True,
        )
    with open(_pidfile(config), "w", encoding="ascii") as handle:
        handle.write(str(proc.pid))
    deadline = time.time() + START_TIMEOUT
    endpoints = _endpoints(config)
    while time.time() < deadline:
        if proc.poll() is not None:
            print(f"error: st2 exited with code {proc.returncode}; see {_logfile(config)}", file=sys.stderr)
            return 1
        if all(_answers(url) for url in endpoints.values()):
            break
        time.sleep(0.2)
    else:
        print(f"error: st2 did not answer within {START_TIMEOUT:.0f}s; see {_logfile(config)}", file=sys.stderr)
        return 1
    print(f"st2 started (pid {proc.pid}, services as {config.get('supervisor', 'mode')}); "
          f"database: {store_module.describe(config)}; bus: {config.get('messaging', 'url').split('@')[-1]}; "
          f"log: {_logfile(config)}")
    if password:
        client_config = write_client_config(config, password)
        print(f"Created user {ADMIN_USER} with password: {password}")
        print(f"Wrote {client_config} for the st2 CLI.")
    print("Use it:  st2 action list --pack core   |   st2 run core.local cmd='echo hi'")
    return 0


def _wait_gone(pids: list[int], timeout: float) -> list[int]:
    """Wait until none of `pids` is alive (zombies count as gone); returns those still alive."""
    deadline = time.monotonic() + timeout
    while True:
        alive = [pid for pid in pids if procfs.alive(pid)]
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(0.1)


def _signal(pids: list[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, sig)


def end_session(session: int, grace: float = SESSION_GRACE) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds, whatever is left in the supervisor's session
    (a child that survived its supervisor). Actions run in sessions of their own: not touched."""
    members = [p.pid for p in procfs.live_processes() if p.session == session and p.pid != os.getpid()]
    _signal(members, signal.SIGTERM)
    left = _wait_gone(members, grace)
    _signal(left, signal.SIGKILL)
    _wait_gone(left, grace)


def cmd_stop(config: Config) -> int:
    pid = running_pid(config)
    if not pid:
        print("st2 is not running.")
        return 0
    os.kill(pid, signal.SIGTERM)  # the supervisor ends its children, then itself
    if _wait_gone([pid], STOP_TIMEOUT):
        os.kill(pid, signal.SIGKILL)
        _wait_gone([pid], SESSION_GRACE)
    end_session(pid)  # started with start_new_session: its pid is the session id
    with contextlib.suppress(OSError):
        os.remove(_pidfile(config))
    print("st2 stopped.")
    return 0


def cmd_status(config: Config) -> int:
    pid = running_pid(config)
    print(f"st2 supervisor: {f'running, pid {pid}' if pid else 'not running'}")
    healthy = bool(pid)
    for name, url in _endpoints(config).items():
        up = _answers(url)
        healthy = healthy and up
        print(f"{name}: {'answering on ' + url if up else 'not answering'}")
    return 0 if healthy else 3


REGISTER_HELP = {"runners": "runners", "actions": "packs and their actions (and runners)",
                 "triggers": "packs and their trigger types",
                 "sensors": "packs and their sensors (with the trigger types they declare)",
                 "rules": "packs and their rules",
                 "configs": "packs and their configs"}


def reload_types(args: argparse.Namespace) -> tuple[str, ...]:
    """What `st2ctl reload` registers, as StackStorm's st2-register-content reads its flags:
    everything by default or with --register-all; actions need their runners, so they come too."""
    wanted = {kind for kind in CONTENT_TYPES if getattr(args, f"register_{kind}")}
    if args.register_all or not wanted:
        return CONTENT_TYPES
    if "actions" in wanted:
        wanted.add("runners")
    return tuple(kind for kind in CONTENT_TYPES if kind in wanted)


def cmd_reload(config: Config, types: tuple[str, ...], fail_on_failure: bool) -> int:
    try:
        prepare(config, first_start=False, types=types, fail_on_failure=fail_on_failure)
    except (*STARTUP_ERRORS, ContentError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="st2ctl", description="Control the appliance's services.")
    parser.add_argument("command", choices=("start", "stop", "restart", "status", "reload"))
    parser.add_argument("--config-file", help="st2.conf (default $ST2_CONFIG_PATH or /etc/st2/st2.conf)")
    register = parser.add_argument_group("reload", "what reload registers (StackStorm's flags; default: all)")
    register.add_argument("--register-all", action="store_true", help=", ".join(CONTENT_TYPES))
    for kind in CONTENT_TYPES:
        register.add_argument(f"--register-{kind}", action="store_true", help=REGISTER_HELP[kind])
    register.add_argument("--register-fail-on-failure", dest="fail_on_failure", action="store_const", const=True,
                          default=True, help="exit non-zero when something fails to register (the default)")
    register.add_argument("--register-no-fail-on-failure", dest="fail_on_failure", action="store_const",
                          const=False, help="skip what fails to register and go on")
    return parser.parse_args(argv)


def main(argv: Optional[list[str]] = None) -> None:
    args = parse_args(argv)
    config = load_config_or_exit(args.config_file)
    if args.command == "start":
        code = cmd_start(config)
    elif args.command == "stop":
        code = cmd_stop(config)
    elif args.command == "restart":
        code = cmd_stop(config) or cmd_start(config)
    elif args.command == "status":
        code = cmd_status(config)
    else:
        code = cmd_reload(config, reload_types(args), args.fail_on_failure)
    sys.exit(code)


if __name__ == "__main__":
    main()
