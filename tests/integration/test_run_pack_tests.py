"""scripts/st2-run-pack-tests with the network cut (`unshare -n`: a network namespace of its own, no
interface up): the shipped packs' tests and the fixture pack tests/fixtures/packs/packtests (a Python
action with a requirement, a polling sensor, an action alias, a test on each st2tests base class) pass,
the pack's requirement comes from a local wheel directory named by PIP_FIND_LINKS, and -f, -j, -x, -c,
-t, a failing test and the usage errors behave as StackStorm's script. No appliance runs.

unshare needs root (or user namespaces): without it these tests skip, and with CI=true they fail.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "st2-run-pack-tests"
FIXTURE_PACK = ROOT / "tests" / "fixtures" / "packs" / "packtests"
SHIPPED = sorted(path.parent.name for path in (ROOT / "packs").glob("*/pack.yaml"))
CI = os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def _offline_prefix() -> list[str]:
    unshare = shutil.which("unshare")
    probe = subprocess.run([unshare, "-n", "true"], capture_output=True, text=True) if unshare else None
    if probe is None or probe.returncode != 0:
        reason = "no unshare command" if probe is None else f"unshare -n failed: {probe.stderr.strip()}"
        if CI:
            pytest.fail(f"the pack tests must run with the network cut under CI: {reason}")
        pytest.skip(reason)
    return [unshare, "-n", "--"]


def build_wheel(directory: Path, name: str, version: str, module_source: str) -> Path:
    """A pure-Python wheel written by hand (no build backend, nothing fetched)."""
    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    files = {f"{dist}.py": module_source,
             f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
             f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    files[f"{info}/RECORD"] = "\n".join([*record, f"{info}/RECORD,,"]) + "\n"
    wheel = directory / f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


@pytest.fixture(scope="module")
def run_offline(tmp_path_factory):
    """run(pack, *flags) -> CompletedProcess of st2-run-pack-tests in a namespace without network, with
    pip told to use only the module's wheel directory and the test virtualenvs under a private TMPDIR."""
    prefix = _offline_prefix()
    base = tmp_path_factory.mktemp("pack-tests")
    wheels = base / "wheels"
    wheels.mkdir()
    build_wheel(wheels, "packtests-helper", "1.0", 'def decorate(text):\n    return f"*{text}*"\n')
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("PIP_") and key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(PIP_NO_INDEX="1", PIP_FIND_LINKS=str(wheels), PIP_CONFIG_FILE=os.devnull, TMPDIR=str(base),
               PYTHONDONTWRITEBYTECODE="1", PYTEST_ADDOPTS="-p no:cacheprovider")

    def run(pack, *flags: str) -> subprocess.CompletedProcess:
        return subprocess.run([*prefix, str(SCRIPT), *flags, "-p", str(pack)], capture_output=True, text=True,
                              env=env, timeout=300)

    run.virtualenvs = base / "st2-pack-tests-virtualenvs"
    return run


def summary(done: subprocess.CompletedProcess) -> str:
    return f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"


def test_every_shipped_pack_has_tests():
    assert SHIPPED == sorted(p for p in SHIPPED if (ROOT / "packs" / p / "tests").is_dir())
    assert {"core", "packs", "clush", "milkcheck", "runbooks"} <= set(SHIPPED)


@pytest.mark.parametrize("pack", SHIPPED)
def test_a_shipped_pack_passes_its_tests(run_offline, pack):
    done = run_offline(ROOT / "packs" / pack)
    assert done.returncode == 0, summary(done)
    assert f"Running tests for pack: {pack}" in done.stdout
    assert " passed" in done.stdout and " failed" not in done.stdout, summary(done)


def test_the_fixture_pack(run_offline, tmp_path):
    pack = tmp_path / "packtests"
    shutil.copytree(FIXTURE_PACK, pack)
    done = run_offline(pack)
    assert done.returncode == 0, summary(done)
    lines = done.stdout.splitlines()
    assert lines[:2] == ["Running tests for pack: packtests",
                         f"Creating virtualenv in {run_offline.virtualenvs / 'packtests'}..."], summary(done)
    assert "Installing pack-specific dependencies..." in lines
    for name, base in (("action", "BaseActionTestCase"), ("sensor", "BaseSensorTestCase"),
                       ("alias", "BaseActionAliasTestCase")):
        assert f"from st2tests.base import {base}" in (pack / "tests" / f"test_packtests_{name}.py").read_text()
    assert "10 passed" in done.stdout, summary(done)
    installed = list(run_offline.virtualenvs.glob("packtests/lib/python*/site-packages/packtests_helper.py"))
    assert installed, "the requirement was not installed into the test virtualenv"

    # -j: the same virtualenv, nothing installed; -f: one test method
    selected = "test_packtests_alias.py::GreetAliasTestCase::test_parameters"
    done = run_offline(pack, "-j", "-f", selected)
    assert done.returncode == 0, summary(done)
    assert "Creating virtualenv" not in done.stdout and "Installing" not in done.stdout
    assert f"tests/{selected} PASSED" in done.stdout and "1 passed" in done.stdout, summary(done)

    # a failing test: pytest's exit code
    (pack / "tests" / "test_packtests_failing.py").write_text(
        "def test_fails():\n    assert 1 + 1 == 3\n")
    done = run_offline(pack, "-j")
    assert done.returncode == 1, summary(done)
    assert "1 failed, 10 passed" in done.stdout, summary(done)

    # -x: the appliance's Python, no virtualenv (so no requirement: the sensor's tests need none);
    # -c without pytest-cov says so and runs anyway; -t shows the durations
    done = run_offline(pack, "-x", "-c", "-t", "-f", "test_packtests_sensor.py")
    assert done.returncode == 0, summary(done)
    assert "Creating virtualenv" not in done.stdout and "Activating virtualenv" not in done.stdout
    assert "3 passed" in done.stdout and "slowest durations" in done.stdout, summary(done)
    assert "No coverage (-c): pytest-cov is not installed" in done.stdout or "--cov" in done.stdout


def test_nothing_to_run_and_bad_usage(run_offline, tmp_path):
    pack = tmp_path / "notests"
    pack.mkdir()
    (pack / "pack.yaml").write_text("name: notests\n")
    done = run_offline(pack)
    assert (done.returncode, done.stdout) == (0, "Running tests for pack: notests\nNo tests found.\n")

    done = run_offline(tmp_path / "absent")
    assert (done.returncode, done.stdout.strip()) == (3, f"Invalid pack path: {tmp_path / 'absent'}")

    (pack / "tests").mkdir()
    done = run_offline(pack, "-j")  # never created
    assert done.returncode == 2 and "No test virtualenv in" in done.stderr, summary(done)

    done = subprocess.run([str(SCRIPT)], capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.startswith("Usage: st2-run-pack-tests")


def test_a_requirement_missing_from_the_mirror_stops_the_run(run_offline, tmp_path):
    pack = tmp_path / "needsmore"
    (pack / "tests").mkdir(parents=True)
    (pack / "tests" / "test_nothing.py").write_text("def test_nothing():\n    pass\n")
    (pack / "requirements-tests.txt").write_text("packtests-absent==9.9\n")
    done = run_offline(pack)
    assert done.returncode == 1, summary(done)
    assert "Installing pack-specific test dependencies..." in done.stdout
    assert "pip could not install -r" in done.stderr and "Running tests..." not in done.stdout, summary(done)
