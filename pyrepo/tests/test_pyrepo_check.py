"""pyrepo check: complete and intact per target, and every bad input reported without a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyrepo_testlib import assert_one_error_line, make_sdist, make_wheel, run_cli, write_lock

from pyrepo.check import check_mirror
from pyrepo.index import write_index
from pyrepo.targets import pair_locks, parse_targets

CP39 = "cp39-manylinux_2_28_x86_64"
CP311 = "cp311-manylinux_2_28_x86_64"


@pytest.fixture
def complete(mirror: Path, tmp_path: Path) -> dict:
    """A mirror with a pure wheel, per-target binary wheels, a marker-only pin and an sdist with its builder."""
    pure = make_wheel(mirror, "pure", "1.0")
    fast39 = make_wheel(mirror, "fast", "2.0", tag="cp39-cp39-manylinux_2_17_x86_64.manylinux2014_x86_64")
    fast311 = make_wheel(mirror, "fast", "2.0", tag="cp311-cp311-manylinux_2_28_x86_64")
    backport = make_wheel(mirror, "backport", "0.5")
    builder = make_wheel(mirror, "builder", "3.0")
    legacy = make_sdist(mirror, "legacy", "0.1", pyproject='[build-system]\nrequires = ["builder>=2"]\n')
    write_index(mirror)
    pins = {"pure==1.0": [pure], "fast==2.0": [fast39, fast311],
            "backport==0.5": ([backport], 'python_version < "3.11"'), "builder==3.0": [builder],
            "legacy==0.1": [legacy]}
    locks = tmp_path / "locks"
    locks.mkdir()
    write_lock(locks / "py3.9.txt", pins)
    write_lock(locks / "py3.11.txt", {k: v for k, v in pins.items() if k != "backport==0.5"})
    return {"mirror": mirror, "locks": locks, "pure": pure, "fast39": fast39, "fast311": fast311, "legacy": legacy}


def _check(setup: dict, *extra: str):
    return run_cli("check", "--mirror", setup["mirror"], "--locks-dir", setup["locks"], *extra)


def test_complete_mirror_passes_for_both_targets(complete):
    result = _check(complete)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{CP39}: 5 pins" in result.stdout and "(4 wheels, 1 sdists)" in result.stdout
    assert f"{CP311}: 4 pins" in result.stdout
    assert result.stdout.splitlines()[-1].startswith("ok: ")


def test_marker_pins_only_count_for_their_target(complete):
    pairs = pair_locks(parse_targets([CP311]), complete["locks"], complete["locks"] / "py3.9.txt")
    (complete["mirror"] / "backport-0.5-py3-none-any.whl").unlink()
    write_index(complete["mirror"])
    assert check_mirror(complete["mirror"], pairs).ok  # backport is for python_version < 3.11 only


def test_missing_distribution_is_reported_per_target(complete):
    complete["fast39"].unlink()
    write_index(complete["mirror"])
    result = _check(complete)
    assert result.returncode == 1
    missing = [line for line in result.stdout.splitlines() if line.startswith("MISSING")]
    assert len(missing) == 1 and f"fast==2.0 for {CP39}" in missing[0]
    assert complete["fast311"].name in missing[0]  # says what it has instead
    assert "check failed: 1 problem(s)" in result.stderr and "Traceback" not in result.stderr


def test_corrupt_file_is_a_hash_mismatch(complete):
    data = bytearray(complete["pure"].read_bytes())
    data[-1] ^= 0xFF
    complete["pure"].write_bytes(bytes(data))
    result = _check(complete)
    assert result.returncode == 1
    corrupt = [line for line in result.stdout.splitlines() if line.startswith("CORRUPT")]
    assert len(corrupt) == 1 and complete["pure"].name in corrupt[0] and "hash mismatch" in corrupt[0]
    assert any(line.startswith("STALE") and complete["pure"].name in line for line in result.stdout.splitlines())


def test_unindexed_file_is_stale(complete):
    make_wheel(complete["mirror"], "late", "1.0")
    result = _check(complete)
    assert result.returncode == 1 and "STALE" in result.stdout and "run `pyrepo index`" in result.stdout


def test_sdist_whose_build_requirement_is_not_locked_is_unbuildable(complete):
    lock = complete["locks"] / "py3.11.txt"
    lock.write_text(lock.read_text().replace("builder==3.0", "builder==1.0"))
    result = _check(complete, "--target", CP311)
    assert result.returncode == 1
    assert any(line.startswith("UNBUILDABLE") and "builder>=2" in line for line in result.stdout.splitlines())


def test_requirement_not_in_the_lock(complete, tmp_path):
    extra = tmp_path / "requirements.txt"
    extra.write_text("pure>=1\nabsent-package>=1.0\nfast<2\n")
    result = _check(complete, "--target", CP39, "--requirement", extra)
    assert result.returncode == 1
    unlocked = [line for line in result.stdout.splitlines() if line.startswith("UNLOCKED")]
    assert len(unlocked) == 2
    assert f"{extra}:2" in unlocked[0] and "absent-package>=1.0 is not in the lock" in unlocked[0]
    assert f"{extra}:3" in unlocked[1] and "does not match the lock's fast==2.0" in unlocked[1]


def test_requirements_satisfied_by_the_lock_pass(complete, tmp_path):
    extra = tmp_path / "requirements.txt"
    extra.write_text("pure\nFast>=2 ; python_version >= '3'\n")
    assert _check(complete, "--requirement", extra).returncode == 0


def test_bad_input_is_one_error_line(complete, tmp_path):
    assert_one_error_line(run_cli("check", "--mirror", complete["mirror"], "--locks-dir", tmp_path / "none"),
                          "lock file not found", "py3.9.txt", "pyrepo lock")
    assert_one_error_line(_check(complete, "--lock", tmp_path / "missing.txt"), "lock file not found")
    assert_one_error_line(_check(complete, "--requirement", tmp_path / "missing.txt"), "requirements file not found")
    assert_one_error_line(run_cli("check", "--mirror", tmp_path / "nowhere", "--locks-dir", complete["locks"]),
                          "mirror directory not found")
    assert_one_error_line(_check(complete, "--target", "cp39-win_amd64"), "bad target")
    garbage = tmp_path / "garbage.txt"
    garbage.write_bytes(b"\xff\xfe\x00binary")
    assert_one_error_line(_check(complete, "--lock", garbage), "not a UTF-8 text file")
