"""The PEP 503 index: what it publishes, and that pip accepts the mirror both as index and as find-links."""

from __future__ import annotations

import subprocess
import sys

from pyrepo_testlib import assert_one_error_line, clean_pip_env, make_sdist, make_wheel, run_cli, sha256

from pyrepo.index import read_index, write_index


def test_projects_are_normalized_and_files_linked_with_their_hash(mirror):
    wheel = make_wheel(mirror, "Foo_Bar.Baz", "1.0", requires_python=">=3.9,<4")
    sdist = make_sdist(mirror, "Foo_Bar.Baz", "1.0")
    (mirror / "README.txt").write_text("not a distribution")
    published = write_index(mirror)

    assert published == {wheel.name: sha256(wheel), sdist.name: sha256(sdist)}
    root = (mirror / "simple" / "index.html").read_text()
    assert '<a href="foo-bar-baz/">foo-bar-baz</a>' in root
    page = (mirror / "simple" / "foo-bar-baz" / "index.html").read_text()
    assert f'href="../../{wheel.name}#sha256={sha256(wheel)}"' in page
    assert 'data-requires-python="&gt;=3.9,&lt;4"' in page
    assert read_index(mirror) == published


def test_reindexing_drops_projects_whose_files_are_gone(mirror):
    make_wheel(mirror, "keep", "1.0")
    gone = make_wheel(mirror, "gone", "1.0")
    write_index(mirror)
    gone.unlink()
    write_index(mirror)
    assert sorted(p.name for p in (mirror / "simple").iterdir()) == ["index.html", "keep"]
    assert not [p for p in mirror.iterdir() if p.name.startswith(".simple")]


def test_cli_index_and_missing_mirror(mirror, tmp_path):
    make_wheel(mirror, "tiny", "1.0")
    result = run_cli("index", "--mirror", mirror)
    assert result.returncode == 0 and "indexed 1 files" in result.stdout
    assert_one_error_line(run_cli("index", "--mirror", tmp_path / "nowhere"), "mirror directory not found")


def _pip_download(tmp_path, *source_args):
    out = tmp_path / "out"
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(out), *source_args, "tiny==1.0"]
    result = subprocess.run(command, capture_output=True, text=True, env=clean_pip_env())
    assert result.returncode == 0, result.stdout + result.stderr
    return sorted(p.name for p in out.iterdir())


def test_pip_uses_the_mirror_as_index_url_and_as_find_links(mirror, tmp_path):
    wheel = make_wheel(mirror, "tiny", "1.0")
    make_wheel(mirror, "other", "2.0")
    write_index(mirror)
    assert _pip_download(tmp_path / "a", "--index-url", (mirror / "simple").as_uri()) == [wheel.name]
    assert _pip_download(tmp_path / "b", "--no-index", "--find-links", mirror.as_uri()) == [wheel.name]
