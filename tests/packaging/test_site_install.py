"""The whole path as a site admin takes it (issue 12 item 7): build the mirror and the RPMs, install them,
provision with Puppet, start, run core.local and clush.cmd with the real st2 CLI, stop.

- build: the session's `rpms` fixture (conftest.py): `pyrepo fetch` of the mirror, then build-rpms;
- install: the st2 and st2-mirror RPMs with `rpm --root` into a busybox root, their scriptlets run
  (accounts, /run/st2), the payload's virtualenv then moved onto this machine's Python 3.9 in place of
  EL9's /usr/bin/python3.9;
- provision: `puppet apply` of puppet/modules/st2 with the paths of that root (the RPM's st2.conf, base
  and packs path, log, htpasswd, the datastore key, the installed mirror as the pip index), against the
  RabbitMQ server here (a fresh vhost and user, removed after) and a scratch redis-server (requirepass);
- run: the payload's st2ctl starts with that st2.conf alone (ST2_CONFIG_PATH, as /etc/st2/st2.conf on a
  host; one process per service over RabbitMQ, leader locks in Redis); the payload's own `st2` logs in
  with the password the first start made, runs core.local, then clush.cmd over four nodes with the exec
  worker (no ssh here); `st2ctl stop` leaves no process behind.

The timings (RPM sizes, build time, and "from nothing": the fetch and build of the session fixture plus
this test up to the first action's result) are printed (-s), written to var/packaging/site-install.txt
and .json, and part of every assertion message. Needs what test_rpm_packages.py and the apply of
test_puppet.py need; without it this test skips, except under CI=true, where it fails.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import shutil
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from puppet_harness import (
    RABBITMQ_PASSWORD,
    ScratchRedis,
    harness,
    mode,
    puppet_apply,
    puppet_string,
    require_apply,
    st2_class,
    wiring,
)
from rpm_harness import (
    ROOT,
    TARGET,
    VENV,
    Built,
    busybox_root,
    kill_left_in,
    payload_env,
    payload_run,
    rpm,
    run_json,
    use_stand_in_python,
)

from tests.support import rabbitmq as broker
from tests.support.appliance_conf import free_ports

pytestmark = pytest.mark.packaging

REPORT_DIR = ROOT / "var" / "packaging"
NODES = "node[1-4]"


@dataclass
class Report:
    """What the lead reports: RPM sizes, build time, the steps of the site install and their sum."""

    rpms: Built
    started: float = field(default_factory=time.monotonic)
    steps: dict[str, float] = field(default_factory=dict)  # step -> seconds, in order
    first_action: float = 0.0  # seconds into this test when core.local's result came back
    concurrent_build: bool = False

    def step(self, name: str, since: float) -> float:
        now = time.monotonic()
        self.steps[name] = now - since
        return now

    def nothing_to_first_action(self) -> float:
        return self.rpms.fetch_seconds + self.rpms.build_seconds + self.first_action

    def as_dict(self) -> dict:
        return {
            "rpm_bytes": self.rpms.sizes(),
            "fetch_mirror_seconds": round(self.rpms.fetch_seconds, 1),
            "build_rpms_seconds": round(self.rpms.build_seconds, 1),
            "build_seconds_per_rpm": self.rpms.package_seconds(),
            "site_steps_seconds": {name: round(seconds, 1) for name, seconds in self.steps.items()},
            "test_seconds": round(time.monotonic() - self.started, 1),
            "nothing_to_first_action_seconds": round(self.nothing_to_first_action(), 1) if self.first_action else None,
            "next_release_built_meanwhile": self.concurrent_build,
            "cpus": os.cpu_count(),
        }

    def __str__(self) -> str:
        per_rpm = self.rpms.package_seconds()
        lines = ["site install report (tests/packaging/test_site_install.py)", "RPMs:"]
        lines += [f"  {name}: {size / 1e6:.1f} MB ({size} bytes), built in {per_rpm.get(name, 0):.0f} s"
                  for name, size in self.rpms.sizes().items()]
        lines.append(f"build: pyrepo fetch of the mirror {self.rpms.fetch_seconds:.1f} s (the session's mirror: "
                     f"{TARGET} only), build-rpms (3 RPMs) {self.rpms.build_seconds:.1f} s")
        lines.append("site install (this test):")
        lines += [f"  {name}: {seconds:.1f} s" for name, seconds in self.steps.items()]
        lines.append(f"  test total: {time.monotonic() - self.started:.1f} s")
        if self.first_action:
            lines.append(f"from nothing to the first action run: {self.nothing_to_first_action():.1f} s (fetch "
                         f"{self.rpms.fetch_seconds:.1f} + build {self.rpms.build_seconds:.1f} + install, apply, "
                         f"start, login and core.local {self.first_action:.1f})")
        else:
            lines.append("from nothing to the first action run: not reached")
        lines.append(f"{os.cpu_count()} CPUs; the next release's RPM (upgrade test) was "
                     f"{'being built at the same time' if self.concurrent_build else 'not being built meanwhile'}")
        return "\n".join(lines)

    def write(self) -> None:
        REPORT_DIR.mkdir(parents=True, exist_ok=True)
        (REPORT_DIR / "site-install.txt").write_text(str(self) + "\n")
        (REPORT_DIR / "site-install.json").write_text(json.dumps(self.as_dict(), indent=2) + "\n")


def site_manifest(root: Path, vhost: str, user: str, redis: ScratchRedis, ports: list[int]) -> str:
    """`class { 'st2': ... }` as on a host, with the host's paths moved into the scratch root."""
    etc, base = root / "etc" / "st2", root / "opt" / "stackstorm"
    htpasswd = json.dumps({"file_path": str(etc / "htpasswd")})  # the RPM's st2.conf names /etc/st2/htpasswd
    auth, api, stream = ports
    return st2_class({
        **wiring(vhost, user, redis),
        "conf_dir": puppet_string(str(etc)),
        "conf_path": puppet_string(str(etc / "st2.conf")),  # the RPM's file, %config(noreplace)
        "base_path": puppet_string(str(base)),
        "system_packs_base_path": puppet_string(str(base / "packs")),
        "auth_port": str(auth),
        "api_port": str(api),
        "stream_port": str(stream),
        "log_path": puppet_string(str(root / "var" / "log" / "st2" / "st2.log")),
        "ssh_key_file": puppet_string(str(root / "home" / "stanley" / ".ssh" / "stanley_rsa")),
        "pip_find_links": puppet_string(f"file://{base / 'mirror'}"),  # the st2-mirror RPM's folder
        "pip_conf_path": puppet_string(str(root / "etc" / "pip.conf")),
        "settings": f"{{ 'auth' => {{ 'backend_kwargs' => {puppet_string(htpasswd)} }}, "
                    "'stream' => { 'heartbeat' => 1 } }",
    })


def test_site_install_from_rpms_with_puppet(rpms: Built, tmp_path: Path, scratch_redis: ScratchRedis,
                                            rabbitmq_account: tuple[str, str]):
    require_apply()
    report = Report(rpms, concurrent_build=rpms.next_building())
    work = tmp_path / "site"
    root = work / "root"
    venv = root / VENV.lstrip("/")
    env = payload_env(work / "home", root / "etc" / "st2" / "st2.conf")
    vhost, user = rabbitmq_account
    running = False
    try:
        # 1. rpm --root, with the scriptlets
        step = time.monotonic()
        busybox_root(root)
        done = rpm("--root", str(root), "-ivh", "--nodeps", str(rpms.st2), str(rpms.mirror_rpm))
        assert not re.search(r"scriptlet failed|error", done.stderr, re.I), f"{done.stderr}\n{report}"
        step = report.step("rpm --root -i st2 st2-mirror", step)
        accounts = (root / "var" / "log" / "accounts.log").read_text().split()
        assert {"st2packs", "st2", "stanley"} <= set(accounts), f"the %pre scriptlet made {accounts}\n{report}"
        mirror = root / "opt" / "stackstorm" / "mirror"
        assert (mirror / "simple" / "index.html").exists(), report
        use_stand_in_python(root, rpms.python)

        # 2. puppet apply, on the installed st2.conf
        manifest = work / "site.pp"
        manifest.write_text(site_manifest(root, vhost, user, scratch_redis, free_ports(3)))
        code, output, _seconds = puppet_apply(str(manifest), str(work / "puppet"))
        step = report.step("puppet apply", step)
        assert code == 2 and "Error:" not in output, f"puppet apply: exit {code} (2 expected)\n{output}\n{report}"
        conf_path = root / "etc" / "st2" / "st2.conf"
        text = conf_path.read_text()
        assert text.startswith("# /etc/st2/st2.conf of the st2 RPM"), "Puppet did not edit the RPM's st2.conf"
        assert mode(str(conf_path)) == 0o640
        conf = configparser.ConfigParser(interpolation=None)
        conf.read(conf_path)
        redis_password = (root / "etc" / "st2" / "secrets" / "redis").read_text()
        encoded = urllib.parse.quote(RABBITMQ_PASSWORD, safe="")
        assert conf["messaging"]["url"] == f"amqp://{user}:{encoded}@{broker.HOST}:{broker.PORT}/{vhost}"
        assert conf["coordination"]["url"] == f"redis://:{redis_password}@127.0.0.1:{scratch_redis.port}"
        assert conf["content"]["system_packs_base_path"] == str(root / "opt" / "stackstorm" / "packs")
        with open(root / "etc" / "pip.conf", encoding="utf-8") as handle:
            assert handle.read() == f"[global]\nno-index = true\nfind-links = file://{mirror}\n"

        # 3. st2ctl start: Puppet's st2.conf and nothing else
        (work / "home").mkdir()
        step = time.monotonic()
        running = True
        done = payload_run(venv, env, "st2ctl", "start")
        step = report.step("st2ctl start", step)
        log = root / "var" / "log" / "st2" / "st2.log"
        assert done.returncode == 0, (done.stdout + done.stderr + (log.read_text()[-3000:] if log.exists() else "")
                                      + f"\n{report}")
        assert "services as processes" in done.stdout and f"/{vhost};" in done.stdout, done.stdout
        password = re.search(r"Created user st2admin with password: (\S+)", done.stdout).group(1)
        assert (root / "etc" / "st2" / "htpasswd").exists() and mode(str(log)) == 0o600

        # 4. the payload's st2 CLI: login, core.local (the first action), clush.cmd
        done = payload_run(venv, env, "st2", "login", "st2admin", "--password", password)
        step = report.step("st2 login", step)
        assert done.returncode == 0 and "Logged in as st2admin" in done.stdout, done.stdout + done.stderr
        local = run_json(venv, env, "run", "core.local", "cmd=echo installed by rpm, set up by puppet")
        report.first_action = time.monotonic() - report.started
        step = report.step("st2 run core.local", step)
        assert local["status"] == "succeeded", f"{local}\n{report}"
        assert local["result"]["stdout"] == "installed by rpm, set up by puppet", local["result"]
        clush = run_json(venv, env, "run", "clush.cmd", f"nodes={NODES}", "cmd=echo %h", "worker=exec")
        step = report.step("st2 run clush.cmd", step)
        assert clush["status"] == "succeeded" and clush["result"]["ok_nodes"] == NODES, f"{clush}\n{report}"
        assert clush["result"]["nodes"]["node2"] == {"return_code": 0, "stdout": "node2", "stderr": ""}
        leaders = scratch_redis.cli("--scan", "--pattern", "*leader*", password=redis_password).stdout.split()
        assert leaders, f"no leader lock in Redis: [coordination] url unused\n{report}"

        # 5. st2ctl stop
        done = payload_run(venv, env, "st2ctl", "stop", timeout=90)
        report.step("st2ctl stop", step)
        assert done.returncode == 0, done.stdout + done.stderr
        running = False
        gone = harness.wait_until(lambda: not [pid for pid, _ppid, argv in harness.processes()
                                              if str(root) in " ".join(argv)], 10)
        assert gone, f"st2ctl stop left processes running\n{report}"
    finally:
        if running:
            payload_run(venv, env, "st2ctl", "stop", timeout=90)
        kill_left_in(root)
        report.write()
        print(f"\n{report}\n(written to {REPORT_DIR / 'site-install.txt'})")
        if not harness.KEEP:
            shutil.rmtree(work, ignore_errors=True)
