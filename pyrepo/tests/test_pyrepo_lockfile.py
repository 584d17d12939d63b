"""Lock and requirement file parsing, and the committed locks themselves."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from pyrepo_testlib import PROJECT

from pyrepo.errors import PyrepoError
from pyrepo.lock import check_no_index_options
from pyrepo.lockfile import read_lock, read_requirements
from pyrepo.targets import parse_target

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

LOCKS = sorted((PROJECT / "locks").glob("py*.txt"))
REPO = PROJECT.parent


def test_pip_compile_layout_is_parsed(tmp_path):
    lock = tmp_path / "lock.txt"
    lock.write_text(
        "# header\n"
        "Foo_Bar==1.0.0 \\\n    --hash=sha256:" + "a" * 64 + " \\\n    --hash=sha256:" + "B" * 64 + "\n"
        "    # via -r x.in\n"
        'tomli==2.0 ; python_version < "3.11" \\\n    --hash=sha256:' + "c" * 64 + "\n"
    )
    foo, tomli = read_lock(lock)
    assert (foo.name, foo.version, foo.hashes) == ("foo-bar", "1.0.0", frozenset({"a" * 64, "b" * 64}))
    assert foo.release == ("foo-bar", "1")
    assert tomli.applies(parse_target("cp39-manylinux_2_28_x86_64").marker_environment())
    assert not tomli.applies(parse_target("cp311-manylinux_2_28_x86_64").marker_environment())


@pytest.mark.parametrize("text, message", [
    ("foo>=1 --hash=sha256:" + "a" * 64, "not pinned"),
    ("foo==1", "no sha256 --hash"),
    ("--index-url http://127.0.0.1/simple\nfoo==1 --hash=sha256:" + "a" * 64, "unexpected option"),
    ("foo==1 --hash=sha256:" + "a" * 64 + "\nfoo==2 --hash=sha256:" + "a" * 64, "pinned twice"),
    ("foo=1 --hash=sha256:" + "a" * 64, "invalid requirement"),
    ("# nothing\n", "pins nothing"),
])
def test_bad_locks_are_refused(tmp_path, text, message):
    lock = tmp_path / "lock.txt"
    lock.write_text(text + "\n")
    with pytest.raises(PyrepoError, match=message):
        read_lock(lock)


def test_requirements_follow_includes_and_skip_options(tmp_path):
    (tmp_path / "base.txt").write_text("requests>=2  # comment\n")
    (tmp_path / "reqs.txt").write_text("-r base.txt\n--index-url http://127.0.0.1/simple\nPyYAML==6.*\n")
    names = [w.name for w in read_requirements(tmp_path / "reqs.txt")]
    assert names == ["requests", "pyyaml"]


@pytest.mark.parametrize("text", ["-e ./src", "git+https://127.0.0.1/x.git", "foo @ file:///tmp/foo.whl"])
def test_requirements_that_no_mirror_can_hold_are_refused(tmp_path, text):
    (tmp_path / "reqs.txt").write_text(text + "\n")
    with pytest.raises(PyrepoError):
        read_requirements(tmp_path / "reqs.txt")


def test_index_options_in_a_lock_are_refused(tmp_path):
    lock = tmp_path / "py3.11.txt"
    lock.write_text("--extra-index-url file:///srv/simple\nfoo==1 --hash=sha256:" + "a" * 64 + "\n")
    with pytest.raises(PyrepoError, match="--extra-index-url"):
        check_no_index_options(lock)


def test_the_committed_locks_exist_for_both_pythons():
    assert [p.name for p in LOCKS] == ["py3.11.txt", "py3.9.txt"]


@pytest.mark.parametrize("lock", LOCKS, ids=lambda p: p.name)
def test_committed_lock_is_portable_and_pins_the_contract(lock):
    check_no_index_options(lock)
    text = lock.read_text()
    assert "file://" not in text and "--find-links" not in text and "--index-url" not in text
    pins = {p.name: p.version for p in read_lock(lock)}
    assert pins["st2client"] == "3.9.0" and pins["jsonschema"] == "3.2.0"
    assert pins["bcrypt"] == "4.0.1"
    for name in ("kombu", "amqp", "pymongo", "redis", "falcon", "waitress", "pyyaml", "jinja2", "passlib",
                 "cryptography", "requests", "python-dateutil", "mongomock", "pytest", "ruff", "setuptools",
                 "wheel", "packaging"):
        assert name in pins, name


def _dependencies(pyproject: Path) -> list:
    data = tomllib.loads(pyproject.read_text())["project"]
    extras = data.get("optional-dependencies", {})
    return data.get("dependencies", []) + [d for group in extras.values() for d in group]


@pytest.mark.parametrize("lock", LOCKS, ids=lambda p: p.name)
def test_committed_lock_satisfies_the_repositorys_pyprojects(lock):
    """The locks must install what the appliance, its runners and pyrepo declare (ranges vs pins drift)."""
    python = lock.stem[2:]
    target = parse_target(f"cp3{python.split('.')[1]}-manylinux_2_28_x86_64")
    env = target.marker_environment()
    pins = {p.name: p for p in read_lock(lock) if p.applies(env)}
    projects = [REPO / "pyproject.toml", PROJECT / "pyproject.toml"] + sorted(REPO.glob("runners/*/pyproject.toml"))
    local = {tomllib.loads(p.read_text())["project"]["name"] for p in projects if p.is_file()}  # built here
    for pyproject in filter(Path.is_file, projects):
        for text in _dependencies(pyproject):
            requirement = Requirement(text)
            if requirement.name in local or (requirement.marker and not requirement.marker.evaluate(env)):
                continue
            pin = pins.get(canonicalize_name(requirement.name))
            assert pin is not None, f"{pyproject}: {requirement} is not in {lock.name}"
            assert requirement.specifier.contains(pin.version, prereleases=True), f"{pyproject}: {requirement} vs {pin}"
