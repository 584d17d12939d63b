"""Put a site's own distributions (built here or elsewhere) into the mirror."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

from pyrepo.dists import check_archive, is_dist_filename, parse_dist_filename
from pyrepo.errors import PyrepoError
from pyrepo.index import write_index

# Never copied into a build: version control, virtualenvs, caches, earlier build output.
_SKIP = {".git", ".hg", ".svn", ".venv", "venv", "build", "dist", "__pycache__", ".pytest_cache",
         ".ruff_cache", ".mypy_cache", ".tox", ".nox", "node_modules"}


def _source_files(source: Path) -> list:
    """Files of a source tree: git's view (tracked + untracked not ignored) when it is a work tree."""
    try:
        out = subprocess.run(["git", "-C", str(source), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             capture_output=True, check=True).stdout
        names = [n for n in out.decode("utf-8", "surrogateescape").split("\0") if n]
        if names:
            return names
    except (OSError, subprocess.CalledProcessError):
        pass
    names = []
    for root, dirs, files in os.walk(source):
        dirs[:] = [d for d in dirs if d not in _SKIP and not d.endswith(".egg-info")]
        names += [os.path.relpath(os.path.join(root, f), source) for f in files]
    return names


def _copy_source(source: Path, dest: Path) -> None:
    """Copy a source tree so that building it leaves no build/ or *.egg-info in the original."""
    for name in _source_files(source):
        parts = Path(name).parts
        if any(p in _SKIP or p.endswith(".egg-info") for p in parts[:-1]):
            continue
        origin = source / name
        try:
            mode = origin.lstat().st_mode
        except FileNotFoundError:  # deleted but still tracked
            continue
        if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
            continue
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(origin, target, follow_symlinks=False)


def build_wheel(source: Path, out_dir: Path, mirror: Path, no_index: bool = False) -> list:
    """`pip wheel --no-deps` of a source directory; build backends may come from the mirror itself."""
    if not ((source / "pyproject.toml").is_file() or (source / "setup.py").is_file()):
        raise PyrepoError(f"{source} has no pyproject.toml or setup.py to build a wheel from")
    with tempfile.TemporaryDirectory(prefix="pyrepo-src-") as tmp:
        copy = Path(tmp) / source.resolve().name
        _copy_source(source, copy)
        command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "--wheel-dir", str(out_dir),
                   "--find-links", str(mirror), str(copy)]
        if no_index:
            command.insert(4, "--no-index")
        result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        sys.stderr.write(result.stdout)
        raise PyrepoError(f"building a wheel from {source} failed (pip wheel exit {result.returncode})")
    return sorted(out_dir.glob("*.whl"))


def _checked_file(path: Path) -> Path:
    if not is_dist_filename(path.name) or parse_dist_filename(path) is None:
        raise PyrepoError(f"{path} is not a wheel or sdist (expected NAME-VERSION-TAGS.whl or NAME-VERSION.tar.gz)")
    try:
        check_archive(path)
    except ValueError as exc:
        raise PyrepoError(str(exc)) from None
    return path


def add(mirror: Path, sources: list, no_index: bool = False) -> list:
    """Copy wheels/sdists (or wheels built from source dirs) into the mirror and re-index it.

    Returns the file names added. A file of the same name is replaced: a site rebuilds its packages.
    """
    if not mirror.is_dir():
        raise PyrepoError(f"mirror directory not found: {mirror} (create it or run `pyrepo fetch` first)")
    added = []
    with tempfile.TemporaryDirectory(prefix="pyrepo-add-") as tmp:
        files = []
        for number, source in enumerate(Path(s) for s in sources):
            if source.is_dir():
                out_dir = Path(tmp) / str(number)
                out_dir.mkdir()
                files += build_wheel(source, out_dir, mirror, no_index)
            elif source.is_file():
                files.append(_checked_file(source))
            else:
                raise PyrepoError(f"no such file or directory: {source}")
        for path in files:
            staged = mirror / f".{path.name}.part"
            shutil.copyfile(path, staged)
            os.replace(staged, mirror / path.name)
            added.append(path.name)
    write_index(mirror)
    return added
