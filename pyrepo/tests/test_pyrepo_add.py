"""pyrepo add: a site's own wheels and sdists, or wheels built from its source trees."""

from __future__ import annotations

from pyrepo_testlib import assert_one_error_line, make_project, make_sdist, make_wheel, run_cli, sha256

from pyrepo.index import read_index


def test_add_copies_files_and_indexes_them(mirror, tmp_path):
    wheel = make_wheel(tmp_path / "dist", "sitepkg", "0.1")
    sdist = make_sdist(tmp_path / "dist", "sitepkg", "0.1")
    result = run_cli("add", "--mirror", mirror, wheel, sdist)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"added {wheel.name}", f"added {sdist.name}"]
    assert read_index(mirror) == {wheel.name: sha256(wheel), sdist.name: sha256(sdist)}


def test_add_replaces_a_rebuilt_file_of_the_same_name(mirror, tmp_path):
    first = make_wheel(tmp_path / "one", "sitepkg", "0.1")
    second = make_wheel(tmp_path / "two", "sitepkg", "0.1", requires_python=">=3.9")
    assert run_cli("add", "--mirror", mirror, first).returncode == 0
    assert run_cli("add", "--mirror", mirror, second).returncode == 0
    assert sha256(mirror / second.name) == sha256(second)
    assert read_index(mirror) == {second.name: sha256(second)}


def test_add_builds_a_wheel_from_a_source_dir_without_touching_it(mirror, tmp_path):
    source = make_project(tmp_path / "src" / "sitepkg", "sitepkg", "0.2")
    before = sorted(p.relative_to(source) for p in source.rglob("*"))
    result = run_cli("add", "--mirror", mirror, "--no-index", source)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "added sitepkg-0.2-py3-none-any.whl"
    assert "sitepkg-0.2-py3-none-any.whl" in read_index(mirror)
    assert sorted(p.relative_to(source) for p in source.rglob("*")) == before  # no build/ left behind


def test_add_refuses_bad_input_with_one_line(mirror, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    broken = tmp_path / "broken-1.0-py3-none-any.whl"
    broken.write_bytes(b"not a zip")
    truncated = tmp_path / "cut-1.0.tar.gz"
    truncated.write_bytes(make_sdist(tmp_path / "full", "cut", "1.0").read_bytes()[:40])
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_one_error_line(run_cli("add", "--mirror", mirror, notes), "is not a wheel or sdist")
    assert_one_error_line(run_cli("add", "--mirror", mirror, broken), "not a valid zip")
    assert_one_error_line(run_cli("add", "--mirror", mirror, truncated), "not a valid .tar.gz")
    assert_one_error_line(run_cli("add", "--mirror", mirror, tmp_path / "absent.whl"), "no such file")
    assert_one_error_line(run_cli("add", "--mirror", mirror, empty), "no pyproject.toml or setup.py")
    assert_one_error_line(run_cli("add", "--mirror", tmp_path / "nowhere", notes), "mirror directory not found")
    assert sorted(p.name for p in mirror.iterdir()) == []  # nothing half-added
