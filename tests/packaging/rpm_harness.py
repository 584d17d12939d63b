"""What the RPM tests share. The RPMs are built once per test session (conftest.py's `rpms`) with
scripts/packaging/build-rpms, from a mirror fetched for the session (pyrepo fetch, CPython 3.9 only),
for the Python 3.9 on this machine (standing in for EL9's python3). The fixture records how long the
fetch and the build took (Built.fetch_seconds, build_seconds) for test_site_install's report.

Helpers: `rpm`, the payload extracted (`extract`) or installed with `rpm --root` into a busybox root
(`busybox_root`), that payload's virtualenv moved onto this machine's Python 3.9 (`use_stand_in_python`),
its own st2 CLI (`payload_st2`, `run_json`), and whatever it left running killed (`kill_left_in`).

The next release of st2 (for the upgrade test) is built in the background once the first build is
done, while the other tests run. When scripts/packaging/nginx/ is empty, st2-nginx is built from a
placeholder in the session's temp dir.

Tools: rpmbuild, rpm, rpm2cpio, rpmlint, cpio, a static busybox and systemd-analyze (make test-tools
installs them). Without one the tests skip, except under CI=true where they fail.
"""

from __future__ import annotations

import contextlib
import importlib.machinery
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import pytest

from appliance import procfs

ROOT = Path(__file__).resolve().parents[2]
BUILD_RPMS = ROOT / "scripts" / "packaging" / "build-rpms"
NGINX_DIR = ROOT / "scripts" / "packaging" / "nginx"
CI = os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")
TOOLS = {"rpmbuild": "rpm", "rpm": "rpm", "rpm2cpio": "rpm", "rpmlint": "rpmlint", "cpio": "cpio",
         "busybox": "busybox-static", "systemd-analyze": "systemd"}
TARGET = "cp39-manylinux_2_28_x86_64"
BUILD_TIMEOUT = 600
VENV = "/opt/stackstorm/st2"  # the st2 RPM's virtualenv
ALIEN_NOISE = "RPM should not be used directly"  # Debian's rpm says so on every call


def unavailable(reason: str) -> None:
    if CI:
        pytest.fail(f"required under CI=true: {reason}", pytrace=False)
    pytest.skip(reason)


def load_build_rpms():
    """scripts/packaging/build-rpms as a module (its name has a dash and no .py)."""
    loader = importlib.machinery.SourceFileLoader("build_rpms", str(BUILD_RPMS))
    spec = importlib.util.spec_from_loader("build_rpms", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


build_rpms = load_build_rpms()


@dataclass
class Built:
    work: Path
    mirror: Path
    nginx_dir: Path
    python: str  # the Python 3.9 the RPM was built for, standing in for EL9's /usr/bin/python3.9
    version: str
    release: str
    next_release: str
    st2: Path
    mirror_rpm: Path
    nginx_rpm: Path
    output: str  # what build-rpms printed
    fetch_seconds: float = 0.0  # pyrepo fetch of the mirror
    build_seconds: float = 0.0  # build-rpms of the three RPMs (the next release is built later, in the background)
    _next: Optional[subprocess.Popen] = field(default=None, repr=False)

    def sizes(self) -> dict[str, int]:
        """Bytes of each RPM of the first build, by file name."""
        return {path.name: path.stat().st_size for path in (self.st2, self.mirror_rpm, self.nginx_rpm)}

    def package_seconds(self) -> dict[str, float]:
        """Seconds build-rpms took per package, from its `built <path> (<size>) in <n>s` lines."""
        return {os.path.basename(path): float(seconds)
                for path, seconds in re.findall(r"^built (\S+) \([^)]*\) in (\d+(?:\.\d+)?)s$", self.output, re.M)}

    def next_building(self) -> bool:
        """Whether the background build of the next release still runs (it competes for the CPUs)."""
        return self._next is not None and self._next.poll() is None

    def st2_next(self) -> Path:
        """st2 of the next release, waiting for its background build."""
        assert self._next is not None
        try:
            out, _ = self._next.communicate(timeout=BUILD_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.stop_next()
            raise
        shutil.rmtree(self.work / "top-next", ignore_errors=True)
        assert self._next.returncode == 0, f"build of release {self.next_release} failed:\n{out}"
        path = self.work / "next" / self.st2.name.replace(f"-{self.release}.", f"-{self.next_release}.")
        assert path.exists(), out
        return path

    def stop_next(self) -> None:
        if self._next is not None and self._next.poll() is None:
            os.killpg(self._next.pid, signal.SIGKILL)  # build-rpms and the rpmbuild it started
            self._next.wait(10)
        shutil.rmtree(self.work / "top-next", ignore_errors=True)


def build_command(built_python: str, mirror: Path, out: Path, workdir: Path, *extra: str) -> list[str]:
    workdir.mkdir(parents=True, exist_ok=True)
    return [sys.executable, str(BUILD_RPMS), "--mirror", str(mirror), "--out", str(out), "--python", built_python,
            "--workdir", str(workdir), *extra]


# -- rpm, payloads, scratch roots ------------------------------------------------------------------
def rpm(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(["rpm", *args], capture_output=True, text=True, timeout=300)
    done.stderr = "".join(line + "\n" for line in done.stderr.splitlines()
                          if ALIEN_NOISE not in line and "assuming you know what you are doing" not in line)
    if check:
        assert done.returncode == 0, f"rpm {' '.join(args)}: {done.stdout}{done.stderr}"
    return done


def extract(package: Path, root: Path) -> Path:
    """The package's files under root, as rpm2cpio | cpio gives them (no scriptlets)."""
    root.mkdir(parents=True, exist_ok=True)
    payload = subprocess.Popen(["rpm2cpio", str(package)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    done = subprocess.run(["cpio", "-idm", "--quiet"], stdin=payload.stdout, cwd=root, capture_output=True)
    payload.stdout.close()
    assert payload.wait() == 0 and done.returncode == 0, done.stderr
    return root


STUBS = {
    # shadow-utils' stand-ins in the busybox root: they record their calls and write /etc/passwd, /etc/group
    "usr/bin/getent": '#!/bin/sh\ngrep -q "^$2:" "/etc/$1"\n',
    "usr/sbin/groupadd": '#!/bin/sh\necho "groupadd $*" >> /var/log/accounts.log\nfor name; do :; done\n'
                         'echo "$name:x:$((900 + $(cat /etc/group | wc -l))):" >> /etc/group\n',
    "usr/sbin/useradd": '#!/bin/sh\necho "useradd $*" >> /var/log/accounts.log\nfor name; do :; done\n'
                        'uid=$((900 + $(cat /etc/passwd | wc -l)))\n'
                        'case " $* " in *" -U "*) echo "$name:x:$uid:" >> /etc/group;; esac\n'
                        'echo "$name:x:$uid:$uid::/home/$name:/sbin/nologin" >> /etc/passwd\n',
}
APPLETS = ("sh", "cat", "echo", "grep", "mkdir", "rm", "wc", "ls", "test", "[", "true")


def busybox_root(path: Path) -> Path:
    """A root in which rpm --root runs the scriptlets: busybox for /bin/sh, shadow-utils' stubs, an rpm database."""
    for folder in ("bin", "usr/bin", "usr/sbin", "etc", "dev", "run", "tmp", "var/log"):
        (path / folder).mkdir(parents=True, exist_ok=True)
    shutil.copy(shutil.which("busybox"), path / "bin" / "busybox")
    for applet in APPLETS:
        os.symlink("busybox", path / "bin" / applet)
    (path / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (path / "etc" / "group").write_text("root:x:0:\n")
    (path / "dev" / "null").touch(0o666)  # no mknod: a file that swallows what scriptlets discard
    for name, text in STUBS.items():
        (path / name).write_text(text)
        (path / name).chmod(0o755)
    if subprocess.run(["chroot", str(path), "/bin/sh", "-c", "true"], capture_output=True).returncode != 0:
        unavailable(f"{shutil.which('busybox')} does not run in a chroot (install busybox-static, not busybox)")
    rpm("--root", str(path), "--initdb")
    return path


def use_stand_in_python(root: Path, python: str) -> Path:
    """The virtualenv of the st2 payload under root, moved from EL9's /usr/bin/python3.9 onto `python`
    (this machine's 3.9): its python3.9 link and pyvenv.cfg's home. Returns the virtualenv."""
    venv = root / VENV.lstrip("/")
    os.remove(venv / "bin" / "python3.9")
    os.symlink(python, venv / "bin" / "python3.9")
    cfg = venv / "pyvenv.cfg"
    cfg.write_text(re.sub(r"^home = .*$", f"home = {os.path.dirname(python)}", cfg.read_text(), flags=re.M))
    return venv


def payload_env(home: Path, config: Path) -> dict[str, str]:
    """The environment of the payload's programs: st2.conf at `config` (as /etc/st2/st2.conf on a host, no
    --config-file), the CLI's ~/.st2 in `home`, nothing of this test run's own virtualenv or ST2_ settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ST2_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(HOME=str(home), TERM="dumb", ST2_COLORIZE="false", ST2_CONFIG_PATH=str(config))
    return env


def payload_run(venv: Path, env: dict, command: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """One of the payload's commands (st2, st2ctl...) with its own interpreter (their #! names /opt/stackstorm)."""
    return subprocess.run([str(venv / "bin" / "python"), str(venv / "bin" / command), *args], env=env,
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def run_json(venv: Path, env: dict, *args: str) -> Any:
    """The payload's `st2 <args> -j`, which must succeed: the JSON it printed (after st2 run's progress dots)."""
    done = payload_run(venv, env, "st2", *args, "-j")
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stdout + done.stderr
    text = done.stdout
    return json.loads(text[min(i for i in (text.find("{"), text.find("[")) if i >= 0):])


def kill_left_in(root: Path) -> list[int]:
    """SIGKILL, by pid, every process whose command line names root (an appliance that did not stop)."""
    killed = []
    for proc in procfs.live_processes():
        if str(root) in " ".join(procfs.cmdline(proc.pid)):
            with contextlib.suppress(OSError):
                os.kill(proc.pid, signal.SIGKILL)
                killed.append(proc.pid)
    return killed
