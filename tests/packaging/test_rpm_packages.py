"""The RPMs of make rpm (st2, st2-mirror, st2-nginx), as a site receives them.

Metadata (rpm -qlp, -qp --dump, -qpc, --scripts, -qpR) and rpmlint; the payload extracted into a scratch
root and started with this machine's Python 3.9 standing in for EL9's /usr/bin/python3.9, then the real
st2 CLI of the payload runs core.local and clush.cmd; `rpm --root` into a busybox root with the
scriptlets run (install, upgrade to the next release keeping a changed st2.conf, erase leaving the data);
`systemd-analyze verify` on the units. The RPMs are built once per session (conftest.py).
"""

from __future__ import annotations

import configparser
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from rpm_harness import (
    VENV,
    Built,
    build_rpms,
    busybox_root,
    extract,
    kill_left_in,
    payload_env,
    payload_run,
    rpm,
    run_json,
    unavailable,
    use_stand_in_python,
)

from appliance import config as config_module
from tests.support.appliance_conf import free_ports

pytestmark = pytest.mark.packaging

ROOT = Path(__file__).resolve().parents[2]
SITE = f"{VENV}/lib/python3.9/site-packages"
UNIT_DIR = "/usr/lib/systemd/system"
# What the RPMs may require: EL9 BaseOS and AppStream packages, and what rpm itself provides.
EL9_PACKAGES = {"python3", "python3.11", "shadow-utils", "systemd", "openssh-clients", "logrotate", "git-core", "nginx",
                "openssl"}


# -- helpers ---------------------------------------------------------------------------------------
def file_list(package: Path) -> list[str]:
    return rpm("-qlp", str(package)).stdout.splitlines()


def dump(package: Path) -> dict[str, dict]:
    """rpm -qp --dump: path size mtime digest mode owner group isconfig isdoc rdev symlink."""
    entries = {}
    for line in rpm("-qp", "--dump", str(package)).stdout.splitlines():
        path, size, _mtime, _digest, mode, owner, group, isconfig, isdoc, _rdev, link = line.rsplit(" ", 10)
        entries[path] = {"size": int(size), "mode": int(mode, 8), "owner": owner, "group": group,
                         "config": isconfig == "1", "doc": isdoc == "1", "link": link}
    return entries


def requirements(package: Path) -> set[str]:
    return {line.strip() for line in rpm("-qpR", str(package)).stdout.splitlines()}


@pytest.fixture(scope="module")
def payload(rpms: Built, tmp_path_factory):
    """The st2 payload extracted once, for the tests that only read it (100 MB: removed after)."""
    root = extract(rpms.st2, tmp_path_factory.mktemp("payload"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


def services() -> list[str]:
    return build_rpms.services()


def shipped_packs() -> list[str]:
    return sorted(p.parent.name for p in (ROOT / "packs").glob("*/pack.yaml"))


# -- metadata --------------------------------------------------------------------------------------
def test_st2_holds_the_virtualenv_packs_units_and_commands(rpms: Built):
    files = set(file_list(rpms.st2))
    for service in services():
        assert f"{VENV}/bin/{service}" in files, service
        assert f"{UNIT_DIR}/{service}.service" in files, service
    assert f"{UNIT_DIR}/st2.target" in files
    for command in ("st2", "st2ctl", "st2-register-content", "st2-run-pack-tests"):
        if command == "st2-run-pack-tests" and not (ROOT / "scripts" / command).exists():
            continue  # not written yet: the spec installs whatever scripts/st2-* exists
        assert f"/usr/bin/{command}" in files and f"{VENV}/bin/{command}" in files, command
    for pack in shipped_packs():
        assert f"/opt/stackstorm/packs/{pack}/pack.yaml" in files, pack
    dists = {Path(f).name[:-len(".dist-info")].rsplit("-", 1)[0].lower() for f in files if f.endswith(".dist-info")}
    runners = [re.search(r'^name = "([^"]+)"', p.read_text(), re.M).group(1)
               for p in sorted((ROOT / "runners").glob("*/pyproject.toml"))]
    assert {r.replace("-", "_") for r in runners} <= dists, dists
    assert {"st2_appliance", "st2client", "clustershell", "kombu", "pymongo"} <= dists
    assert f"{SITE}/st2client-3.9.0.dist-info/METADATA" in files
    assert not {"pytest", "ruff", "hypothesis", "mongomock"} & dists, "test tools in the appliance's venv"
    for path in ("/etc/st2/st2.conf", "/etc/st2/keys", "/var/log/st2", "/run/st2", "/opt/stackstorm/data",
                 "/opt/stackstorm/configs", "/opt/stackstorm/virtualenvs", "/usr/lib/tmpfiles.d/st2.conf"):
        assert path in files, path


def test_modes_owners_and_config_files(rpms: Built):
    entries = dump(rpms.st2)
    expected = {
        "/opt/stackstorm/data": (0o40700, "root", "root"),  # the SQLite database
        "/etc/st2/keys": (0o40700, "root", "root"),  # the datastore key
        "/var/log/st2": (0o40700, "root", "root"),
        "/opt/stackstorm/packs": (0o40775, "root", "st2packs"),
        "/opt/stackstorm/virtualenvs": (0o40775, "root", "st2packs"),
        "/etc/st2/st2.conf": (0o100640, "root", "st2"),  # passwords
    }
    for path, (mode, owner, group) in expected.items():
        found = entries[path]
        assert (found["mode"], found["owner"], found["group"]) == (mode, owner, group), (path, oct(found["mode"]))
    for path, found in entries.items():
        assert found["owner"] == "root", path
        assert not found["mode"] & (stat.S_ISUID | stat.S_ISGID), path
        if not stat.S_ISLNK(found["mode"]):
            assert not found["mode"] & stat.S_IWOTH, path
    assert os.path.normpath(os.path.join("/usr/bin", entries["/usr/bin/st2ctl"]["link"])) == f"{VENV}/bin/st2ctl"
    assert entries[f"{VENV}/bin/python3.9"]["link"] == "/usr/bin/python3.9"

    assert set(rpm("-qpc", str(rpms.st2)).stdout.split()) == {"/etc/st2/st2.conf", "/etc/logrotate.d/st2"}
    flags = dict(line.split() for line in rpm("-qp", "--qf", "[%{FILENAMES} %{FILEFLAGS:fflags}\n]",
                                                 str(rpms.st2)).stdout.splitlines() if len(line.split()) == 2)
    assert flags["/etc/st2/st2.conf"] == "cn"  # %config(noreplace)
    assert "g" in flags["/run/st2"]  # %ghost: made at boot by tmpfiles.d


def test_shipped_st2_conf_finds_the_installed_packs_and_keys(payload: Path, tmp_path: Path):
    conf = payload / "etc" / "st2" / "st2.conf"
    config = config_module.load(str(conf))
    assert config.packs_paths[0] == "/opt/stackstorm/packs"
    assert config.encryption_key_path == "/etc/st2/keys/datastore_key.json"
    assert config.htpasswd_path == "/etc/st2/htpasswd"
    assert config.get("log", "path") == "/var/log/st2/st2.log"
    assert config_module.DEFAULT_CONFIG_PATH == "/etc/st2/st2.conf"  # no --config-file needed
    # A site's own file without [content] (as StackStorm's) finds the same packs: base_path/packs.
    bare = tmp_path / "bare.conf"
    bare.write_text("[system]\nbase_path = /opt/stackstorm\n")
    assert config_module.load(str(bare)).packs_paths[0] == "/opt/stackstorm/packs"


def scriptlets(package: Path) -> dict[str, str]:
    """rpm -qp --scripts as {"preinstall": body, ...}."""
    parts = re.split(r"^(\w+) scriptlet \(using [^)]*\):$", rpm("-qp", "--scripts", str(package)).stdout, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


def test_scriptlets_make_the_accounts_and_handle_the_units(rpms: Built):
    scripts = scriptlets(rpms.st2)
    assert set(scripts) == {"preinstall", "postinstall", "preuninstall", "postuninstall"}, scripts
    pre = scripts["preinstall"]
    assert "getent group st2packs >/dev/null || groupadd -r st2packs" in pre
    assert re.search(r"useradd -r -U -G st2packs .* st2\n", pre), pre
    assert re.search(r"useradd -U -m .* stanley\n", pre), pre
    assert f"disable --now st2.target {' '.join(services())} " in scripts["preuninstall"]
    assert f"try-restart {' '.join(services())} " in scripts["postuninstall"]
    assert "daemon-reload" in scripts["postinstall"]


def test_dependencies_are_el9_base_and_appstream_only(rpms: Built):
    for package, expected in ((rpms.st2, {"python3", "python(abi) = 3.9", "shadow-utils", "systemd"}),
                              (rpms.mirror_rpm, set()), (rpms.nginx_rpm, {"nginx", "openssl"})):
        name = package.name.split(f"-{rpms.version}-")[0]
        own = {f"config({name}) = {rpms.version}-{rpms.release}", "/bin/sh"}
        found = {req for req in requirements(package) if not req.startswith("rpmlib(")} - own
        assert expected <= found, (package.name, found)
        others = {req for req in found if req.split()[0] not in EL9_PACKAGES and not req.startswith("python(abi)")}
        assert not others, f"{package.name} requires what EL9 BaseOS/AppStream does not have: {others}"
    provides = {line.split()[0] for line in rpm("-qp", "--provides", str(rpms.st2)).stdout.splitlines()}
    assert provides == {"st2", "st2(x86-64)", "config(st2)"}, "the venv's libraries must not be provided"


def test_rpmlint_reports_only_the_accepted_warnings(rpms: Built):
    config = ROOT / "scripts" / "packaging" / "rpmlint.toml"
    done = subprocess.run(["rpmlint", "-c", str(config), str(rpms.st2), str(rpms.mirror_rpm), str(rpms.nginx_rpm)],
                          capture_output=True, text=True, timeout=300)
    reported = [line for line in done.stdout.splitlines() if re.search(r": [EW]: ", line)]
    assert not reported and done.returncode == 0, "\n".join(reported) or done.stdout + done.stderr
    assert "3 packages and 0 specfiles checked; 0 errors, 0 warnings" in done.stdout, done.stdout


def test_mirror_and_nginx_rpms_carry_their_folders(rpms: Built):
    mirror_files = {f for f in file_list(rpms.mirror_rpm) if not f.endswith("/")}
    for name in os.listdir(rpms.mirror):
        assert f"/opt/stackstorm/mirror/{name}" in mirror_files, name
    assert "/opt/stackstorm/mirror/simple/index.html" in mirror_files

    entries = dump(rpms.nginx_rpm)
    for path in sorted(p for p in rpms.nginx_dir.iterdir() if p.is_file()):
        if path.suffix == ".conf":
            installed = f"/etc/nginx/conf.d/{path.name}"
            assert entries[installed]["config"], installed
        elif os.access(path, os.X_OK):
            installed = f"/usr/libexec/st2-nginx/{path.name}"
            assert entries[installed]["mode"] & 0o111, installed
        else:
            installed = f"/usr/share/st2-nginx/{path.name}"
        assert installed in entries and entries[installed]["size"] == path.stat().st_size, installed


# -- the payload -----------------------------------------------------------------------------------
def test_payload_is_relocated_and_binary_wheels_are_manylinux(rpms: Built, payload: Path):
    root = payload
    venv = root / VENV.lstrip("/")
    cfg = (venv / "pyvenv.cfg").read_text()
    assert "home = /usr/bin\n" in cfg and "/root" not in cfg, cfg
    assert os.readlink(venv / "bin" / "python3.9") == "/usr/bin/python3.9"
    assert (venv / "bin" / "st2ctl").read_text().startswith(f"#!{VENV}/bin/python\n")
    leftovers = [str(rpms.work).encode(), b"BUILDROOT", os.path.dirname(os.path.dirname(rpms.python)).encode()]
    for folder, _dirs, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            if os.path.islink(path):
                continue
            with open(path, "rb") as handle:
                data = handle.read()
            found = [text for text in leftovers if text in data]
            assert not found, f"{path} names the build's paths {found}"
    site = venv / "lib" / "python3.9" / "site-packages"
    for wheel in site.glob("*.dist-info/WHEEL"):
        meta = wheel.read_text()
        if "Root-Is-Purelib: false" in meta:
            tags = re.findall(r"^Tag: (.+)$", meta, re.M)
            assert tags and all("manylinux" in tag for tag in tags), (wheel.parent.name, tags)
    assert list(site.rglob("*.so")), "no compiled module: the checks above saw nothing"


@pytest.fixture
def installed_payload(rpms: Built, tmp_path: Path):
    """The st2 payload extracted into a scratch root, its venv on this machine's Python 3.9 (in place of
    EL9's /usr/bin/python3.9), with a st2.conf that is the shipped one with its paths moved into the
    root and free ports. Yields (root, venv, env); stops the appliance afterwards."""
    root = extract(rpms.st2, tmp_path / "root")
    venv = use_stand_in_python(root, rpms.python)

    config = configparser.ConfigParser(interpolation=None)
    config.read(root / "etc" / "st2" / "st2.conf")
    for section in config.sections():
        for key, value in config[section].items():
            for prefix in ("/opt/stackstorm", "/etc/st2", "/var/log/st2"):
                value = value.replace(prefix, f"{root}{prefix}")
            config[section][key] = value
    auth, api, stream = free_ports(3)
    config["auth"]["port"] = str(auth)
    config["api"] = {"port": str(api)}
    config["stream"] = {"port": str(stream), "heartbeat": "1"}
    conf = tmp_path / "st2.conf"
    with open(conf, "w", encoding="utf-8") as handle:
        config.write(handle)
    home = tmp_path / "home"
    home.mkdir()
    env = payload_env(home, conf)
    try:
        yield root, venv, env
    finally:
        payload_run(venv, env, "st2ctl", "stop", timeout=90)
        kill_left_in(root)  # whatever survived, by pid
        shutil.rmtree(root, ignore_errors=True)


def test_payload_runs_core_local_and_clush_cmd_with_python39(installed_payload, rpms: Built):
    root, venv, env = installed_payload
    done = payload_run(venv, env, "st2ctl", "start")  # no --config-file: $ST2_CONFIG_PATH, as /etc/st2/st2.conf
    log = root / "var" / "log" / "st2" / "st2.log"
    assert done.returncode == 0, done.stdout + done.stderr + (log.read_text()[-3000:] if log.exists() else "")
    assert f"Registered {len(shipped_packs())} packs." in done.stdout, done.stdout
    assert "st2 started" in done.stdout and "Created user st2admin" in done.stdout, done.stdout
    pid = int((root / "opt" / "stackstorm" / "data" / "st2.pid").read_text())
    assert os.path.realpath(f"/proc/{pid}/exe") == os.path.realpath(rpms.python), "not the stand-in Python 3.9"
    assert stat.S_IMODE(os.stat(log).st_mode) == 0o600
    assert (root / "etc" / "st2" / "keys" / "datastore_key.json").exists()
    assert (root / "etc" / "st2" / "htpasswd").exists()

    actions = run_json(venv, env, "action", "list", "--pack", "core")
    assert "core.local" in {action["ref"] for action in actions}
    local = run_json(venv, env, "run", "core.local", "cmd=echo from the rpm; python3 -c 'print(1 + 1)'")
    assert local["status"] == "succeeded", local
    assert local["result"]["stdout"] == "from the rpm\n2", local["result"]
    clush = run_json(venv, env, "run", "clush.cmd", "nodes=node[1-4]", "cmd=echo %h", "worker=exec")
    assert clush["status"] == "succeeded", clush
    assert clush["result"]["ok_nodes"] == "node[1-4]"
    assert clush["result"]["nodes"]["node3"] == {"return_code": 0, "stdout": "node3", "stderr": ""}


def test_systemd_analyze_verifies_the_units(payload: Path, tmp_path: Path):
    """In a root holding our units, the programs they start and systemd's own units (sysinit.target...)."""
    host_units = Path("/usr/lib/systemd/system")
    if not (host_units / "sysinit.target").exists():
        unavailable("systemd's own units (sysinit.target) are not installed")
    root = tmp_path
    units_dir = root / UNIT_DIR.lstrip("/")
    shutil.copytree(payload / UNIT_DIR.lstrip("/"), units_dir)
    shutil.copytree(payload / VENV.lstrip("/") / "bin", root / VENV.lstrip("/") / "bin", symlinks=True)
    ours = sorted(units_dir.iterdir())
    for unit in host_units.iterdir():
        if not (units_dir / unit.name).exists() and not unit.is_dir():
            shutil.copy(unit, units_dir / unit.name, follow_symlinks=False)
    done = subprocess.run(["systemd-analyze", "verify", f"--root={root}", "--man=no", *map(str, ours)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and not done.stderr.strip(), done.stdout + done.stderr


# -- rpm --root with the scriptlets ----------------------------------------------------------------
def group_id(root: Path, name: str) -> int:
    for line in (root / "etc" / "group").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return int(line.split(":")[2])
    raise AssertionError(f"no group {name}")


def test_rpm_root_install_upgrade_and_erase_with_scriptlets(rpms: Built, tmp_path: Path):
    root = busybox_root(tmp_path / "root")
    base = root / "opt" / "stackstorm"
    done = rpm("--root", str(root), "-ivh", "--nodeps", str(rpms.st2), str(rpms.mirror_rpm), str(rpms.nginx_rpm))
    assert not re.search(r"scriptlet failed|error|does not exist", done.stderr, re.I), done.stderr
    for script in rpms.nginx_dir.iterdir():
        if script.is_file() and script.suffix != ".conf" and os.access(script, os.X_OK):
            assert script.name in done.stdout + done.stderr, f"st2-nginx's %post did not run {script.name}"
    accounts = (root / "var" / "log" / "accounts.log").read_text().splitlines()
    assert accounts[0] == "groupadd -r st2packs", accounts
    assert [line.split()[-1] for line in accounts] == ["st2packs", "st2", "stanley"], accounts
    assert (root / "run" / "st2").is_dir()
    assert os.stat(base / "packs").st_gid == group_id(root, "st2packs")
    assert os.stat(root / "etc" / "st2" / "st2.conf").st_gid == group_id(root, "st2")
    assert os.readlink(root / "usr" / "bin" / "st2ctl") == f"../..{VENV}/bin/st2ctl"
    assert (base / "mirror" / "simple" / "index.html").exists()
    rpm("--root", str(root), "-V", "--nodeps", "st2", "st2-mirror")

    # What a site has after running: a changed st2.conf, the database, keys, pack configs, logs.
    conf = root / "etc" / "st2" / "st2.conf"
    changed = conf.read_text() + "\n[messaging]\nurl = amqp://st2:secret@rabbit1:5672/st2\n"
    conf.write_text(changed)
    kept = [base / "data" / "st2.db", root / "etc" / "st2" / "htpasswd", root / "etc" / "st2" / "keys" /
            "datastore_key.json", base / "configs" / "clush.yaml", root / "var" / "log" / "st2" / "st2.log",
            base / "virtualenvs" / "runbooks" / "pyvenv.cfg"]
    for path in kept:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"the site's {path.name}\n")

    upgrade = rpms.st2_next()
    done = rpm("--root", str(root), "-Uvh", "--nodeps", str(upgrade))
    assert "scriptlet failed" not in done.stderr, done.stderr
    installed = rpm("--root", str(root), "-q", "st2").stdout.strip()
    assert installed == f"st2-{rpms.version}-{rpms.next_release}.{os.uname().machine}"
    assert conf.read_text() == changed, "the upgrade replaced a changed st2.conf"
    assert not conf.with_name("st2.conf.rpmnew").exists()  # same shipped file: nothing new to offer
    accounts = (root / "var" / "log" / "accounts.log").read_text().splitlines()
    assert len(accounts) == 3, f"the upgrade made accounts again: {accounts}"

    done = rpm("--root", str(root), "-e", "--nodeps", "st2", "st2-mirror", "st2-nginx")
    assert "scriptlet failed" not in done.stderr, done.stderr
    assert not (base / "st2").exists() and not (base / "mirror").exists()
    assert not os.path.lexists(root / "usr" / "bin" / "st2ctl")
    assert not (root / UNIT_DIR.lstrip("/") / "st2api.service").exists()
    for path in kept:
        assert path.read_text() == f"the site's {path.name}\n", f"erase removed {path}"
    assert conf.with_name("st2.conf.rpmsave").read_text() == changed
