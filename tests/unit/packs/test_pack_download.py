"""Fetching a pack, with real git repositories made by the test: `=ref` resolved as StackStorm resolves it
(branch, then commit or tag, then `v` tag; the default branch without a ref), StackStorm's error listing the
available versions, plain directories copied, and each bad source a one-line error leaving nothing behind."""

from __future__ import annotations

import os
import shutil

import pytest
import yaml

from appliance.packs import PackError, index
from appliance.packs.download import download
from appliance.packs.source import resolve
from tests.support.pack_repos import git, write_pack


def no_index(name):
    return index.pack_from_index(name, [])


@pytest.fixture
def fetch(tmp_path):
    stage = str(tmp_path / "stage")

    def run(spec: str, force: bool = False, find_in_index=no_index) -> dict:
        pack = download(spec, stage, find_in_index, force)
        with open(os.path.join(pack.directory, "pack.yaml"), encoding="utf-8") as handle:
            got = {"ref": pack.ref, "version": yaml.safe_load(handle)["version"],
                   "link": os.path.islink(os.path.join(pack.directory, "link"))}
        pack.discard()
        return got

    yield run
    assert not os.listdir(stage) if os.path.isdir(stage) else True  # every staging directory went away


@pytest.fixture
def repo(make_repo):
    """pkdemo: v1.0.0, v2.0.0 on master; branch `stable` (3.0.0) also tagged `stable` at 1.0.0; tag `release`."""
    made = make_repo("pkdemo")
    first = made.commit("1.0.0")
    made.commit("2.0.0")
    git(made.path, "tag", "release", first)
    git(made.path, "checkout", "--quiet", "-b", "stable")
    made.commit("3.0.0", tag=None)
    git(made.path, "tag", "stable", first)
    git(made.path, "checkout", "--quiet", "master")
    made.first = first
    return made


@pytest.mark.parametrize("ref, version", [
    (None, "2.0.0"),  # the default branch
    ("master", "2.0.0"),
    ("1.0.0", "1.0.0"),  # no tag 1.0.0: the tag v1.0.0
    ("v2.0.0", "2.0.0"),
    ("release", "1.0.0"),  # a tag
    ("stable", "3.0.0"),  # a branch wins over a tag of the same name
])
def test_refs_resolve_as_stackstorm(fetch, repo, ref, version):
    got = fetch(repo.url + (f"={ref}" if ref else ""))
    assert (got["ref"], got["version"]) == ("pkdemo", version)


def test_commits_full_and_short(fetch, repo):
    assert fetch(f"{repo.url}={repo.first}")["version"] == "1.0.0"
    assert fetch(f"{repo.url}={repo.first[:10]}")["version"] == "1.0.0"


def test_an_unknown_ref_lists_the_available_versions(fetch, repo, make_repo):
    with pytest.raises(PackError) as caught:
        fetch(f"{repo.url}=9.9.9")
    assert str(caught.value) == (f'"9.9.9" is not a valid version, hash, tag or branch in {repo.url}. '
                                 "Available versions are: 1.0.0, 2.0.0.")
    untagged = make_repo("pkbare")
    untagged.commit("0.1.0", tag=None)
    with pytest.raises(PackError) as caught:
        fetch(f"{untagged.url}=--upload-pack")  # never an option for git
    assert str(caught.value) == f'"--upload-pack" is not a valid version, hash, tag or branch in {untagged.url}.'


def test_a_repository_at_a_detached_head_stays_there(fetch, repo):
    git(repo.path, "checkout", "--quiet", "--detach", repo.first)
    assert fetch(repo.url)["version"] == "1.0.0"


def test_a_bare_repository_is_cloned(fetch, repo, tmp_path):
    bare = str(tmp_path / "bare.git")
    git(str(tmp_path), "clone", "--quiet", "--bare", repo.path, bare)
    assert fetch(f"file://{bare}=1.0.0")["version"] == "1.0.0"


def test_a_plain_directory_is_copied_and_keeps_no_git(fetch, tmp_path):
    source = str(tmp_path / "plain")
    write_pack(source, "pkplain", "0.2", {"actions/a.sh": "echo a\n"})
    os.symlink("/etc/hostname", os.path.join(source, "link"))
    assert fetch(f"file://{source}/=v9") == {"ref": "pkplain", "version": "0.2", "link": True}  # a link stays one


@pytest.mark.parametrize("setup, message", [
    (lambda d: None, 'Local pack directory "{d}" doesn\'t exist'),
    (lambda d: os.makedirs(d), 'Pack "file://{d}" is missing pack.yaml file'),
    (lambda d: write_pack(d, "pkx", "1.0.0", manifest={"author": None}),
     'Pack "file://{d}" has an invalid pack.yaml: \'author\' is a required property'),
    (lambda d: write_pack(d, "pkx", "one"), 'Pack version "one" doesn\'t follow a valid semver format.'),
    (lambda d: write_pack(d, "Pk-X", "1.0.0"), 'Pack name "Pk-X" contains invalid characters'),
    (lambda d: write_pack(d, "pkx", "1.0.0", manifest={"stackstorm_version": ">=4.0.0"}),
     'Pack "pkx" requires StackStorm ">=4.0.0", but current version is "3.9.0".'),
    (lambda d: write_pack(d, "pkx", "1.0.0", manifest={"python_versions": ["2"]}),
     'Pack "pkx" requires Python 2.x'),
])
def test_bad_sources_are_one_line_errors(fetch, tmp_path, setup, message):
    directory = str(tmp_path / "bad")
    setup(directory)
    with pytest.raises(PackError) as caught:
        fetch(f"file://{directory}")
    assert message.format(d=directory) in str(caught.value)
    assert "\n" not in str(caught.value)


def test_force_skips_the_version_checks(fetch, tmp_path):
    directory = str(tmp_path / "old")
    write_pack(directory, "pkold", "1.0.0", manifest={"stackstorm_version": "<2.0.0", "python_versions": ["2"]})
    assert fetch(f"file://{directory}", force=True)["ref"] == "pkold"


def test_a_broken_repository_is_a_clone_error(fetch, tmp_path):
    broken = tmp_path / "broken"
    (broken / ".git").mkdir(parents=True)
    with pytest.raises(PackError, match=r"^Cannot clone file://.*/broken: fatal: "):
        fetch(f"file://{broken}")


def test_names_need_an_index_and_github_shorthands_are_refused():
    with pytest.raises(PackError, match=r"No pack index is configured \(\[content\] index_url is empty\)"):
        resolve("pkdemo", no_index)
    with pytest.raises(PackError, match="names a repository on GitHub, which this appliance does not contact"):
        resolve("StackStorm-Exchange/stackstorm-aws", no_index)
    for spec in ("ext::sh -c touch% /tmp/x", "-u/x", ""):
        with pytest.raises(PackError):
            resolve(spec, no_index)


def test_a_name_from_the_index_is_its_repository_at_its_version(fetch, repo, tmp_path):
    entries = {"pkdemo": {"name": "pkdemo", "repo_url": repo.url, "version": "1.0.0"}}
    assert fetch("pkdemo", find_in_index=entries.get)["version"] == "1.0.0"
    assert fetch("pkdemo=2.0.0", find_in_index=entries.get)["version"] == "2.0.0"
    with pytest.raises(PackError, match=r'^No record of the "other" pack in the index.$'):
        fetch("other", find_in_index=entries.get)
    shutil.rmtree(repo.path)
    with pytest.raises(PackError, match="doesn't exist"):
        fetch("pkdemo", find_in_index=entries.get)
