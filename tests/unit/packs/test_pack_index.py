"""A site's pack index ([content] index_url, StackStorm's index.json) read from file:// URLs: search as
StackStorm ranks it, show, several indexes (the first listed wins), unreadable ones reported, and no index
at all a clear error (never a network call)."""

from __future__ import annotations

import json

import pytest

from appliance.packs import PackError, index

SITE = {"metadata": {"generated_ts": 1}, "packs": {
    "clush": {"name": "clush", "description": "ClusterShell commands", "version": "1.2.0", "keywords": ["hpc"],
              "repo_url": "file:///srv/packs/clush", "author": "HPC team", "email": "ops@site.example"},
    "slurm": {"name": "slurm", "description": "Slurm jobs and nodes, over clush", "version": "0.3.0",
              "keywords": ["HPC", "scheduler"], "repo_url": "file:///srv/packs/slurm", "author": "HPC team"},
    "lustre": {"name": "lustre", "description": "Lustre file systems", "version": "2.0.0", "keywords": ["storage"],
               "repo_url": "file:///srv/packs/clush-like", "author": "Storage team"},
}}


@pytest.fixture
def site_index(tmp_path):
    path = tmp_path / "index.json"
    path.write_text(json.dumps(SITE))
    return f"file://{path}"


def test_search_ranks_name_then_keywords_then_other_fields(site_index):
    assert [p["name"] for p in index.search("clush", [site_index])] == ["clush", "slurm"]  # not repo_url
    assert [p["name"] for p in index.search("hpc", [site_index])] == ["clush"]  # a keyword is a whole item
    assert [p["name"] for p in index.search("hpc", [site_index], case_sensitive=False)] == ["clush", "slurm"]
    assert [p["name"] for p in index.search("team", [site_index])] == ["clush", "slurm", "lustre"]
    assert index.search("site.example", [site_index]) == []  # email is not searched


def test_show_and_several_indexes(site_index, tmp_path):
    assert index.pack_from_index("slurm", [site_index])["version"] == "0.3.0"
    assert index.pack_from_index("absent", [site_index]) is None
    newer = tmp_path / "newer.json"
    newer.write_text(json.dumps({"packs": {"slurm": {**SITE["packs"]["slurm"], "version": "0.4.0"}}}))
    assert index.pack_from_index("slurm", [f"file://{newer}", site_index])["version"] == "0.4.0"
    assert index.pack_from_index("slurm", [site_index, f"file://{newer}"])["version"] == "0.3.0"


def test_unreadable_indexes_are_reported_without_hiding_the_others(site_index, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    found, status = index.fetch([f"file://{tmp_path}/missing.json", f"file://{bad}", site_index])
    assert sorted(found) == ["clush", "lustre", "slurm"]
    assert {entry["url"].rsplit("/", 1)[-1]: entry["error"] for entry in status} == {
        "index.json": None, "bad.json": "malformed", "missing.json": "unresponsive"}
    with pytest.raises(PackError, match=r"^No results from the index: tried file://.*bad.json\. Status: "):
        index.fetch([f"file://{bad}"])
    empty, status = index.fetch([f"file://{bad}"], allow_empty=True)
    assert empty == {} and status[0]["message"] == "Expected an index object, got a list instead."


def test_no_index_configured_is_a_clear_error():
    for call in (lambda: index.search("x", []), lambda: index.pack_from_index("x", []), lambda: index.fetch([])):
        with pytest.raises(PackError, match=r"^No pack index is configured \(\[content\] index_url is empty\)"):
            call()
