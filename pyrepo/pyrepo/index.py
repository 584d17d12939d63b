"""The PEP 503 simple index over a flat mirror directory.

Files stay at the top of the mirror, so the same directory works as `--find-links DIR` and, through
simple/<project>/index.html pages linking to ../../<file>#sha256=..., as `--index-url DIR/simple`.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Optional
from urllib.parse import quote, unquote

from pyrepo.dists import requires_python, scan
from pyrepo.errors import PyrepoError

SIMPLE = "simple"
_HEAD = ('<!DOCTYPE html>\n<html><head><meta name="pypi:repository-version" content="1.0">'
         "<title>{}</title></head>\n<body>\n")
_TAIL = "</body></html>\n"
_LINK = re.compile(r'<a href="\.\./\.\./([^"#]+)#sha256=([0-9a-f]{64})"')


def _project_page(project: str, dists: list, hashes: dict) -> str:
    lines = [_HEAD.format(f"Links for {html.escape(project)}")]
    for dist in dists:
        href = f"../../{quote(dist.filename)}#sha256={hashes[dist.filename]}"
        extra = ""
        wanted_python = requires_python(dist.path)
        if wanted_python:
            extra = f' data-requires-python="{html.escape(wanted_python, quote=True)}"'
        lines.append(f'<a href="{href}"{extra}>{html.escape(dist.filename)}</a><br>\n')
    lines.append(_TAIL)
    return "".join(lines)


def _root_page(projects: list) -> str:
    lines = [_HEAD.format("Simple index")]
    lines += [f'<a href="{quote(p)}/">{html.escape(p)}</a><br>\n' for p in projects]
    lines.append(_TAIL)
    return "".join(lines)


def write_index(mirror: Path, hashes: Optional[dict] = None) -> dict:
    """(Re)write mirror/simple from the files present; returns {filename: sha256}.

    The new tree is built beside the old one and swapped in, so a server never shows half an index.
    """
    if not mirror.is_dir():
        raise PyrepoError(f"mirror directory not found: {mirror}")
    dists = scan(mirror)
    known = dict(hashes or {})
    by_project: dict = {}
    for dist in dists:
        if dist.filename not in known:
            known[dist.filename] = dist.sha256()
        by_project.setdefault(dist.project, []).append(dist)
    staging = Path(tempfile.mkdtemp(prefix=".simple-", dir=mirror))
    try:
        for project, files in by_project.items():
            (staging / project).mkdir()
            (staging / project / "index.html").write_text(_project_page(project, files, known), encoding="utf-8")
        (staging / "index.html").write_text(_root_page(sorted(by_project)), encoding="utf-8")
        os.chmod(staging, 0o755)
        final = mirror / SIMPLE
        old = None
        if final.exists():
            old = Path(tempfile.mkdtemp(prefix=".simple-old-", dir=mirror))
            os.rename(final, old / SIMPLE)
        os.rename(staging, final)
        if old is not None:
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return {d.filename: known[d.filename] for d in dists}


def read_index(mirror: Path) -> Optional[dict]:
    """{filename: sha256} as the simple index publishes it, or None when there is no index."""
    root = mirror / SIMPLE
    if not (root / "index.html").is_file():
        return None
    published: dict = {}
    for page in root.glob("*/index.html"):
        for filename, digest in _LINK.findall(page.read_text(encoding="utf-8")):
            published[unquote(filename)] = digest
    return published

