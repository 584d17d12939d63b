"""Reading pip requirement files: the hashed locks and the plain requirement lists checked against them."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

from packaging.markers import Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name, canonicalize_version

from pyrepo.errors import PyrepoError

_HASH = re.compile(r"--hash[= ]\s*(\w+):([0-9a-fA-F]+)")
# Options pip allows in requirement files that say nothing about which distributions are wanted.
_IGNORED_OPTIONS = ("-i", "--index-url", "--extra-index-url", "-f", "--find-links", "--trusted-host",
                    "--no-index", "--pre", "--prefer-binary", "--only-binary", "--no-binary",
                    "--use-feature", "-c", "--constraint", "--config-settings")


@dataclass(frozen=True)
class Pin:
    """One locked distribution: exact version, the sha256 hashes pip will accept, and its marker."""

    name: NormalizedName
    version: str  # as written in the lock
    hashes: frozenset
    marker: Optional[Marker]
    line: int

    def applies(self, environment: dict) -> bool:
        """Whether pip would install this pin in the given marker environment."""
        return self.marker is None or self.marker.evaluate(environment)

    @property
    def release(self) -> tuple:
        """(name, canonical version): the key distribution files are matched on."""
        return self.name, canonicalize_version(self.version)

    def __str__(self) -> str:
        return f"{self.name}=={self.version}"


@dataclass(frozen=True)
class Wanted:
    """One requirement of a plain requirements file, with where it came from for error messages."""

    requirement: Requirement
    where: str  # "path:line"

    @property
    def name(self) -> NormalizedName:
        return canonicalize_name(self.requirement.name)


def _logical_lines(path: Path) -> Iterator:
    """(first line number, text) of each logical line: continuations joined, comments dropped."""
    try:
        raw = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise PyrepoError(f"file not found: {path}") from None
    except UnicodeDecodeError:
        raise PyrepoError(f"{path} is not a UTF-8 text file") from None
    buffer, start = "", 0
    for number, line in enumerate(raw, 1):
        if not buffer:
            start = number
        if line.lstrip().startswith("#"):
            line = ""
        line = re.sub(r"(^|\s)#.*$", "", line)
        if line.endswith("\\"):
            buffer += line[:-1] + " "
            continue
        text = (buffer + line).strip()
        buffer = ""
        if text:
            yield start, text
    if buffer.strip():
        yield start, buffer.strip()


def _parse_requirement(text: str, where: str) -> Requirement:
    try:
        return Requirement(text)
    except InvalidRequirement as exc:
        raise PyrepoError(f"{where}: invalid requirement {text!r} ({exc})") from None


def read_lock(path: Path) -> list:
    """Every pin of a lock written by `pyrepo lock`; anything not pinned and hashed is an error."""
    if not path.is_file():
        raise PyrepoError(f"lock file not found: {path} (run `pyrepo lock`)")
    pins = []
    seen: dict = {}
    for number, text in _logical_lines(path):
        where = f"{path}:{number}"
        hashes = frozenset(value.lower() for algo, value in _HASH.findall(text) if algo == "sha256")
        spec = _HASH.sub("", text).strip()
        if spec.startswith("-"):
            raise PyrepoError(f"{where}: unexpected option {spec.split()[0]!r} in a lock (locks carry pins only)")
        requirement = _parse_requirement(spec, where)
        specifiers = list(requirement.specifier)
        if requirement.url or len(specifiers) != 1 or specifiers[0].operator not in ("==", "==="):
            raise PyrepoError(f"{where}: {spec!r} is not pinned with == (not a lock written by pip-compile?)")
        if not hashes:
            raise PyrepoError(f"{where}: {spec!r} has no sha256 --hash (lock with --generate-hashes)")
        name = canonicalize_name(requirement.name)
        if name in seen:
            raise PyrepoError(f"{where}: {name} is pinned twice (also line {seen[name]})")
        seen[name] = number
        pins.append(Pin(name, specifiers[0].version, hashes, requirement.marker, number))
    if not pins:
        raise PyrepoError(f"lock file {path} pins nothing")
    return pins


def read_requirements(path: Path, _seen: Optional[set] = None) -> list:
    """The named requirements of a pip requirements file, following -r includes."""
    seen = _seen if _seen is not None else set()
    resolved = path.resolve()
    if resolved in seen:
        return []
    seen.add(resolved)
    if not path.is_file():
        raise PyrepoError(f"requirements file not found: {path}")
    wanted = []
    for number, text in _logical_lines(path):
        where = f"{path}:{number}"
        if text.startswith("-"):
            words = shlex.split(text)
            option, _, value = words[0].partition("=")
            if option in ("-r", "--requirement"):
                target = value or (words[1] if len(words) > 1 else "")
                if not target:
                    raise PyrepoError(f"{where}: {option} needs a file name")
                wanted.extend(read_requirements(path.parent / target, seen))
                continue
            if option in ("-e", "--editable"):
                raise PyrepoError(f"{where}: editable requirement {text!r} cannot come from a mirror")
            if option in _IGNORED_OPTIONS:
                continue
            raise PyrepoError(f"{where}: unknown option {option!r}")
        spec = _HASH.sub("", text).strip()
        requirement = _parse_requirement(spec, where)
        if requirement.url:
            raise PyrepoError(f"{where}: {spec!r} names a URL, not a package the mirror can hold")
        wanted.append(Wanted(requirement, where))
    return wanted
