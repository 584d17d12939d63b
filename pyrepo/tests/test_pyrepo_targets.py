"""Targets: the tags, platforms and marker values pip uses on a cp39 / cp311 manylinux host."""

from __future__ import annotations

import pytest
from packaging.tags import Tag

from pyrepo.errors import PyrepoError
from pyrepo.targets import DEFAULT_TARGETS, parse_target, parse_targets


def test_cp39_manylinux_2_28_accepts_older_policies_and_abi3_and_pure():
    target = parse_target("cp39-manylinux_2_28_x86_64")
    tags = target.supported_tags
    assert Tag("cp39", "cp39", "manylinux2014_x86_64") in tags
    assert Tag("cp39", "cp39", "manylinux_2_17_x86_64") in tags
    assert Tag("cp39", "cp39", "manylinux1_x86_64") in tags
    assert Tag("cp36", "abi3", "manylinux_2_28_x86_64") in tags
    assert Tag("py3", "none", "any") in tags
    assert Tag("cp311", "cp311", "manylinux_2_17_x86_64") not in tags
    assert Tag("cp39", "cp39", "manylinux_2_34_x86_64") not in tags
    assert Tag("cp39", "cp39", "musllinux_1_1_x86_64") not in tags


def test_pip_download_args_spell_out_every_platform():
    """pip does not expand manylinux_2_28 to older tags by itself, so pyrepo lists them all."""
    args = parse_target("cp311-manylinux_2_28_x86_64").pip_download_args()
    assert args[:6] == ["--implementation", "cp", "--python-version", "3.11", "--abi", "cp311"]
    platforms = [args[i + 1] for i, a in enumerate(args) if a == "--platform"]
    assert platforms[0] == "manylinux_2_28_x86_64"
    assert {"manylinux_2_17_x86_64", "manylinux2014_x86_64", "manylinux1_x86_64"} <= set(platforms)


def test_marker_environment_is_the_targets_not_this_machines():
    env = parse_target("cp39-manylinux_2_28_x86_64").marker_environment()
    assert env["python_version"] == "3.9" and env["sys_platform"] == "linux"


def test_defaults_and_lock_names(tmp_path):
    targets = parse_targets(None)
    assert [t.name for t in targets] == list(DEFAULT_TARGETS)
    assert [t.lock_path(tmp_path).name for t in targets] == ["py3.9.txt", "py3.11.txt"]
    assert len(parse_targets(["cp39-manylinux_2_28_x86_64"] * 2)) == 1


@pytest.mark.parametrize("text", ["cp39", "py39-manylinux_2_28_x86_64", "cp39-win_amd64", "cp39-manylinux2014_x86_64"])
def test_bad_target_names_are_refused(text):
    with pytest.raises(PyrepoError, match="bad target"):
        parse_target(text)
