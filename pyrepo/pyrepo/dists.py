"""Distribution files (wheels and sdists) as they lie in a mirror directory."""

from __future__ import annotations

import email.parser
import hashlib
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    canonicalize_version,
    parse_sdist_filename,
    parse_wheel_filename,
)

SDIST_SUFFIXES = (".tar.gz", ".zip")


@dataclass(frozen=True)
class DistFile:
    """One wheel or sdist file: who it is for (project, version, tags) and its content hash."""

    path: Path
    project: NormalizedName
    version: str  # canonical form, so "2.9.0.post0" and "2.9.0-post0" compare equal
    tags: frozenset = field(default_factory=frozenset)  # empty for an sdist

    @property
    def filename(self) -> str:
        return self.path.name

    @property
    def is_wheel(self) -> bool:
        return self.path.name.endswith(".whl")

    def sha256(self) -> str:
        return file_sha256(self.path)


def is_dist_filename(name: str) -> bool:
    """True when the name has a wheel or sdist suffix (its content is not looked at)."""
    return name.endswith(".whl") or name.endswith(SDIST_SUFFIXES)


def parse_dist_filename(path: Path) -> Optional[DistFile]:
    """The DistFile for a wheel/sdist file name, or None for anything else (index pages, notes)."""
    name = path.name
    try:
        if name.endswith(".whl"):
            project, version, _build, tags = parse_wheel_filename(name)
            return DistFile(path, project, canonicalize_version(version), frozenset(tags))
        for suffix in SDIST_SUFFIXES:
            if name.endswith(suffix):
                project, version = parse_sdist_filename(name)
                return DistFile(path, project, canonicalize_version(version))
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None
    return None


def scan(mirror: Path) -> list:
    """Every distribution file at the top of the mirror directory, sorted by file name."""
    found = []
    for path in sorted(mirror.iterdir()):
        if path.is_file():
            dist = parse_dist_filename(path)
            if dist is not None:
                found.append(dist)
    return found


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file, the hash pip checks against the lock's --hash options."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_archive(path: Path) -> None:
    """Raise ValueError unless the file opens as the archive its name promises."""
    name = path.name
    if name.endswith((".whl", ".zip")):
        if not zipfile.is_zipfile(path):
            raise ValueError(f"{path} is not a valid zip archive")
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
        if bad is not None:
            raise ValueError(f"{path} is corrupt (bad CRC in {bad})")
    elif name.endswith(".tar.gz"):
        try:
            with tarfile.open(path, "r:gz") as archive:
                archive.getmembers()
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise ValueError(f"{path} is not a valid .tar.gz archive ({exc})") from None


def _metadata_text(path: Path) -> Optional[str]:
    """METADATA of a wheel or PKG-INFO of an sdist, or None when unreadable."""
    try:
        if path.name.endswith(".whl"):
            with zipfile.ZipFile(path) as archive:
                for member in archive.namelist():
                    parts = member.split("/")
                    if len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] == "METADATA":
                        return archive.read(member).decode("utf-8", "replace")
        elif path.name.endswith(".tar.gz"):
            with tarfile.open(path, "r:gz") as archive:
                for member in archive.getmembers():
                    parts = member.name.split("/")
                    if len(parts) == 2 and parts[1] == "PKG-INFO" and member.isfile():
                        extracted = archive.extractfile(member)
                        if extracted is not None:
                            return extracted.read().decode("utf-8", "replace")
        elif path.name.endswith(".zip"):
            with zipfile.ZipFile(path) as archive:
                for member in archive.namelist():
                    parts = member.split("/")
                    if len(parts) == 2 and parts[1] == "PKG-INFO":
                        return archive.read(member).decode("utf-8", "replace")
    except (OSError, zipfile.BadZipFile, tarfile.TarError, EOFError, KeyError):
        return None
    return None


def requires_python(path: Path) -> Optional[str]:
    """The Requires-Python of a distribution, published in the index so pip skips unusable files."""
    text = _metadata_text(path)
    if text is None:
        return None
    value = email.parser.Parser().parsestr(text, headersonly=True).get("Requires-Python")
    return value.strip() if value else None


def read_sdist_member(path: Path, basename: str) -> Optional[str]:
    """A top-level file of an sdist (e.g. pyproject.toml), or None when it has none."""
    try:
        if path.name.endswith(".tar.gz"):
            with tarfile.open(path, "r:gz") as archive:
                for member in archive.getmembers():
                    parts = member.name.split("/")
                    if len(parts) == 2 and parts[1] == basename and member.isfile():
                        extracted = archive.extractfile(member)
                        return extracted.read().decode("utf-8", "replace") if extracted else None
        elif path.name.endswith(".zip"):
            with zipfile.ZipFile(path) as archive:
                for member in archive.namelist():
                    parts = member.split("/")
                    if len(parts) == 2 and parts[1] == basename:
                        return archive.read(member).decode("utf-8", "replace")
    except (OSError, zipfile.BadZipFile, tarfile.TarError, EOFError, KeyError):
        return None
    return None


def group_by_release(dists: Iterable[DistFile]) -> dict:
    """{(project, version): [DistFile, ...]} to look pins up in."""
    groups: dict = {}
    for dist in dists:
        groups.setdefault((dist.project, dist.version), []).append(dist)
    return groups


def normalize(name: str) -> NormalizedName:
    """PEP 503 project name, the directory name in simple/ and the key pins are matched on."""
    return canonicalize_name(name)

