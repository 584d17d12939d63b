"""pack.yaml rules of StackStorm 3.9: the ref, stackstorm_version against 3.9.0 (semver ranges, as the semver
library compares), python_versions, the Python 2 warning, dependencies."""

from __future__ import annotations

import pytest

from appliance.packs import PackError, manifest


@pytest.mark.parametrize("specifier, expected", [
    (">=3.0.0", True), (">=3.0.0, <4.0.0", True), ("<3.9.0", False), ("<=3.9.0", True), ("3.9.0", True),
    ("==3.8.0", False), ("!=3.9.0", False), (">3.9.0-rc1", True), ("all", True), (">= 2.9.0 , < 3.10.0", True),
    (">3.9.0", False), ("<3.10.0", True),
])
def test_stackstorm_version_ranges(specifier, expected):
    assert manifest.semver_match("3.9.0", specifier) is expected


def test_semver_order_of_prereleases_and_builds():
    assert manifest.compare("1.0.0-alpha", "1.0.0") == -1
    assert manifest.compare("1.0.0-alpha.1", "1.0.0-alpha.beta") == -1
    assert manifest.compare("1.0.0-2", "1.0.0-11") == -1
    assert manifest.compare("1.0.0+build.5", "1.0.0") == 0


def test_a_pack_for_another_stackstorm_is_refused_with_stackstorms_message():
    with pytest.raises(PackError) as caught:
        manifest.check_versions({"name": "old", "stackstorm_version": "<3.0.0"})
    assert str(caught.value) == ('Pack "old" requires StackStorm "<3.0.0", but current version is "3.9.0". You can '
                                 'override this restriction by providing the "force" flag, but the pack is not '
                                 "guaranteed to work.")
    with pytest.raises(PackError, match=r'invalid stackstorm_version "~3": expected <op><version>'):
        manifest.check_versions({"name": "odd", "stackstorm_version": "~3"})


def test_python_versions():
    manifest.check_versions({"name": "both", "python_versions": ["2", "3"]}, python_version=(3, 11, 7))
    manifest.check_versions({"name": "three", "python_versions": ["3"]}, python_version=(3, 11, 7))
    with pytest.raises(PackError, match=r'Pack "two" requires Python 2.x, but current Python version is "3.11.7"'):
        manifest.check_versions({"name": "two", "python_versions": ["2"]}, python_version=(3, 11, 7))
    assert manifest.warning({"name": "two", "python_versions": ["2"]}).startswith(
        "DEPRECATION WARNING: Pack two only supports Python 2.x.")
    assert manifest.warning({"name": "both", "python_versions": ["2", "3"]}) is None


@pytest.mark.parametrize("metadata, ref", [
    ({"name": "demo"}, "demo"), ({"name": "My Pack", "ref": "my_pack"}, "my_pack"),
])
def test_ref_from_ref_or_name(metadata, ref):
    assert manifest.ref_of(metadata) == ref


@pytest.mark.parametrize("metadata, message", [
    ({"name": "My-Pack"}, 'Pack name "My-Pack" contains invalid characters and "ref" attribute is not available.'),
    ({"name": "x", "ref": "Bad.Ref"}, 'Pack ref "Bad.Ref" contains invalid characters'),
    ({"name": "_global"}, "_global is a reserved name, and cannot be used as a pack name"),
    ({"description": "no name"}, 'is missing the "name" attribute'),
])
def test_invalid_refs(metadata, message):
    with pytest.raises(PackError) as caught:
        manifest.ref_of(metadata)
    assert message in str(caught.value)


def test_reading_names_the_pack(tmp_path):
    with pytest.raises(PackError, match=r'^Pack "file:///x" is missing pack.yaml file$'):
        manifest.read(str(tmp_path), shown_as="file:///x")
    (tmp_path / "pack.yaml").write_text("")
    with pytest.raises(PackError, match="metadata file is empty"):
        manifest.read(str(tmp_path))
    (tmp_path / "pack.yaml").write_text("name: [x\n")
    with pytest.raises(PackError, match=r"has an invalid pack.yaml: .*\(line \d+, column \d+\)"):
        manifest.read(str(tmp_path))
    (tmp_path / "pack.yaml").write_text("- a list\n")
    with pytest.raises(PackError, match="expected a mapping"):
        manifest.read(str(tmp_path))


def test_dependencies():
    assert manifest.dependencies({"dependencies": ["a", "file:///b=1.0.0"]}) == ["a", "file:///b=1.0.0"]
    assert manifest.dependencies({}) == []
    with pytest.raises(PackError, match="must be a list"):
        manifest.dependencies({"name": "x", "dependencies": "a"})
