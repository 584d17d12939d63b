"""The offline proof: a mirror built from the locks installs the appliance with no network at all.

The mirror is fetched (pip cache / configured index) and the site's own packages are built and added;
then, inside a network namespace with only loopback, a fresh virtualenv per Python version installs
the whole lock hash-checked with --no-index, then the local packages, and imports everything.

Local packages: the directories in $PYREPO_LOCAL_PACKAGES (os.pathsep-separated; empty for none),
by default the repository root, runners/*/ and pyrepo itself, whichever exist.
Under CI=true a missing `ip netns` (or not being root) fails the test instead of skipping it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from packaging.utils import parse_wheel_filename
from pyrepo_testlib import PROJECT, run_cli

from pyrepo.errors import PyrepoError
from pyrepo.fetch import pinned_requirements
from pyrepo.lock import find_python
from pyrepo.lockfile import read_lock
from pyrepo.targets import parse_target

pytestmark = pytest.mark.offline

REPO = PROJECT.parent
VERSIONS = ("3.9", "3.11")
FIGURES: dict = {}


def local_packages() -> list:
    """Source trees to build into the mirror next to the locked distributions."""
    if "PYREPO_LOCAL_PACKAGES" in os.environ:
        return [Path(p) for p in os.environ["PYREPO_LOCAL_PACKAGES"].split(os.pathsep) if p]
    found = [REPO] if (REPO / "pyproject.toml").is_file() else []
    found += sorted(p.parent for p in REPO.glob("runners/*/pyproject.toml"))
    return found + [PROJECT]


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"the offline test needs `ip netns` as root under CI: {reason}")
    pytest.skip(reason)


def _target(version: str):
    return parse_target(f"cp3{version.split('.')[1]}-manylinux_2_28_x86_64")


def _interpreters() -> dict:
    found = {}
    for version in VERSIONS:
        try:
            found[version] = find_python(version)
        except PyrepoError:
            continue
    return found


@pytest.fixture(scope="session")
def netns():
    """A network namespace with nothing but loopback."""
    if shutil.which("ip") is None:
        _unavailable("no `ip` command (iproute2)")
    if os.geteuid() != 0:
        _unavailable("network namespaces need root")
    name = f"pyrepo-offline-{os.getpid()}"
    created = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if created.returncode != 0:
        _unavailable(f"`ip netns add` failed: {created.stderr.strip()}")
    try:
        subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=False)


@pytest.fixture(scope="session")
def offline_mirror(tmp_path_factory, netns):
    """(mirror, local wheel requirements) built with this machine's network and pip settings."""
    interpreters = _interpreters()
    assert interpreters, "no Python 3.9 or 3.11 interpreter"
    mirror = tmp_path_factory.mktemp("offline") / "mirror"
    targets = [str(_target(v)) for v in interpreters]
    started = time.monotonic()
    fetched = run_cli("fetch", "--mirror", mirror, *[a for t in targets for a in ("--target", t)])
    FIGURES["fetch seconds"] = round(time.monotonic() - started, 1)
    assert fetched.returncode == 0, fetched.stdout + fetched.stderr
    local = []
    packages = local_packages()
    if packages:
        added = run_cli("add", "--mirror", mirror, *packages)
        assert added.returncode == 0, added.stdout + added.stderr
        for line in added.stdout.splitlines():
            name, version, _build, _tags = parse_wheel_filename(line.split()[-1])
            local.append(f"{name}=={version}")
    checked = run_cli("check", "--mirror", mirror, *[a for t in targets for a in ("--target", t)])
    assert checked.returncode == 0, checked.stdout + checked.stderr
    files = [p for p in mirror.iterdir() if p.is_file()]
    FIGURES["mirror files"] = len(files)
    FIGURES["mirror MB"] = round(sum(p.stat().st_size for p in files) / 1e6, 1)
    return mirror, local


def _in_netns(netns: str, home: Path, script: str) -> subprocess.CompletedProcess:
    env = ["env", "-i", "PATH=/usr/local/bin:/usr/bin:/bin", f"HOME={home}", "LANG=C.UTF-8",
           "PIP_CONFIG_FILE=/dev/null", "PIP_DISABLE_PIP_VERSION_CHECK=1", "PIP_NO_CACHE_DIR=1",
           "PIP_NO_INDEX=1", "PIP_PROGRESS_BAR=off"]
    return subprocess.run(["ip", "netns", "exec", netns, *env, "bash", "-euo", "pipefail", "-c", script],
                          capture_output=True, text=True, timeout=1800)


def test_the_namespace_has_no_network(netns, tmp_path):
    probe = "import socket; socket.create_connection(('192.0.2.1', 80), timeout=3)"  # TEST-NET-1
    result = _in_netns(netns, tmp_path, f"{sys.executable} -c \"{probe}\"")
    assert result.returncode != 0 and "unreachable" in result.stderr


@pytest.mark.parametrize("version", VERSIONS)
def test_install_offline_from_the_mirror(version, offline_mirror, netns, tmp_path):
    python = _interpreters().get(version)
    if python is None:
        pytest.skip(f"no Python {version} here")
    mirror, local = offline_mirror
    lock = PROJECT / "locks" / f"py{version}.txt"
    env = _target(version).marker_environment()
    pins = [p for p in read_lock(lock) if p.applies(env)]
    locked = [str(p.name) for p in pins if p.name != "pip"]
    upgrade_pip = tmp_path / "pip.txt"  # first step at a site: the venv's bundled pip, upgraded offline
    upgrade_pip.write_text(pinned_requirements([p for p in pins if p.name == "pip"]))
    names = locked + [spec.split("==")[0] for spec in local]
    venv = tmp_path / "venv"
    links = f"--no-index --find-links {mirror.as_uri()}"
    smoke = ["st2 --version", f"python -m pyrepo check --mirror {mirror} --target {_target(version)} --lock {lock}"]
    script = "\n".join([
        f"{python} -m venv {venv}",
        f"export PATH={venv}/bin:$PATH",
        f"python -m pip install -q {links} --require-hashes -r {upgrade_pip}",
        f"python -m pip install -q {links} --require-hashes -r {lock}",
        f"python -m pip install -q {links} --no-deps {' '.join(local)}" if local else "true",
        "python -m pip check",
        f"python {Path(__file__).parent / 'pyrepo_imports.py'} {' '.join(names)}",
        *(smoke if local else []),
    ])
    started = time.monotonic()
    result = _in_netns(netns, tmp_path, script)
    FIGURES[f"offline install+import seconds py{version}"] = round(time.monotonic() - started, 1)
    print(f"\n{result.stdout.strip()}\n{result.stderr.strip()}\npyrepo offline figures: {FIGURES}")
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    assert "0 failures" in result.stdout
