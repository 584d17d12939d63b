"""pyrepo fetch from a local index: the right file per target, hashes enforced, failures in one line."""

from __future__ import annotations

import pytest
from pyrepo_testlib import assert_one_error_line, clean_pip_env, make_project_sdist, make_wheel, run_cli, write_lock

from pyrepo.fetch import pip_failure
from pyrepo.index import read_index, write_index

CP39 = "cp39-manylinux_2_28_x86_64"
CP311 = "cp311-manylinux_2_28_x86_64"


@pytest.fixture
def upstream(tmp_path):
    """A local index standing in for the real one, and locks of its content."""
    index = tmp_path / "upstream"
    files = {
        "pure": make_wheel(index, "pure", "1.0"),
        "fast39": make_wheel(index, "fast", "2.0", tag="cp39-cp39-manylinux_2_17_x86_64.manylinux2014_x86_64"),
        "fast311": make_wheel(index, "fast", "2.0", tag="cp311-cp311-manylinux_2_28_x86_64"),
        "fast-too-new": make_wheel(index, "fast", "2.0", tag="cp311-cp311-manylinux_2_34_x86_64"),
        "fast-musl": make_wheel(index, "fast", "2.0", tag="cp311-cp311-musllinux_1_2_x86_64"),
        "backport": make_wheel(index, "backport", "0.5"),
        "legacy": make_project_sdist(index, "legacy", "0.1"),
    }
    write_index(index)
    locks = tmp_path / "locks"
    locks.mkdir()
    pins = {"pure==1.0": [files["pure"]],
            "fast==2.0": [files[k] for k in ("fast39", "fast311", "fast-too-new", "fast-musl")],
            "backport==0.5": ([files["backport"]], 'python_version < "3.11"'), "legacy==0.1": [files["legacy"]]}
    write_lock(locks / "py3.9.txt", pins)
    write_lock(locks / "py3.11.txt", pins)
    env = clean_pip_env(PIP_INDEX_URL=(index / "simple").as_uri())
    return {"index": index, "locks": locks, "files": files, "env": env, "pins": pins}


def _fetch(upstream, mirror, *args):
    return run_cli("fetch", "--mirror", mirror, "--locks-dir", upstream["locks"], *args, env=upstream["env"])


def test_fetch_takes_each_targets_file_and_indexes_and_checks(upstream, mirror):
    result = _fetch(upstream, mirror)
    assert result.returncode == 0, result.stdout + result.stderr
    files = upstream["files"]
    expected = {files[k].name for k in ("pure", "fast39", "fast311", "backport", "legacy")}
    assert set(read_index(mirror)) == expected  # no manylinux_2_34 or musllinux wheel, sdist only where needed
    assert result.stdout.splitlines()[-1].startswith("ok: ")


def test_fetch_again_downloads_nothing_new(upstream, mirror):
    assert _fetch(upstream, mirror, "--target", CP311).returncode == 0
    before = {p.name: p.stat().st_mtime_ns for p in mirror.iterdir() if p.is_file()}
    assert _fetch(upstream, mirror, "--target", CP311).returncode == 0
    assert {p.name: p.stat().st_mtime_ns for p in mirror.iterdir() if p.is_file()} == before


def test_fetch_refuses_a_file_whose_hash_is_not_locked(upstream, mirror):
    pins = dict(upstream["pins"])
    other = make_wheel(upstream["index"].parent / "elsewhere", "pure", "1.0", requires_python=">=3")
    pins["pure==1.0"] = [other]  # the lock says another build of pure 1.0
    write_lock(upstream["locks"] / "py3.11.txt", pins)
    result = _fetch(upstream, mirror, "--target", CP311)
    assert_one_error_line(result, "hash mismatch", "pure==1.0")


def test_fetch_of_a_missing_distribution_is_one_line(upstream, mirror):
    pins = dict(upstream["pins"])
    pins["absent==9.9"] = [upstream["files"]["pure"]]
    write_lock(upstream["locks"] / "py3.9.txt", pins)
    assert_one_error_line(_fetch(upstream, mirror, "--target", CP39), "No matching distribution found for absent==9.9")


def test_fetch_without_a_lock_is_one_line(upstream, mirror, tmp_path):
    assert_one_error_line(run_cli("fetch", "--mirror", mirror, "--locks-dir", tmp_path / "none", env=upstream["env"]),
                          "lock file not found")


def test_pip_failure_summaries():
    assert pip_failure("ERROR: a\nERROR: No matching distribution found for x==1\n") == \
        "No matching distribution found for x==1"
    hashes = ("ERROR: THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE.\n"
              "    six==1.17.0 from file:///x/six.whl (from -r r.txt (line 1)):\n"
              "        Expected sha256 aaaa\n             Got        bbbb\n")
    assert pip_failure(hashes) == "hash mismatch: six==1.17.0 (got sha256 bbbb)"
