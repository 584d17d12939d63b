"""Install targets of the mirror: a CPython version on a manylinux platform, as pip and tags see it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from packaging import tags

from pyrepo.errors import PyrepoError

# EL8 ships glibc 2.28 and EL9 2.34: wheels for manylinux_2_28 and older install on both.
DEFAULT_TARGETS = ("cp39-manylinux_2_28_x86_64", "cp311-manylinux_2_28_x86_64")
_TARGET = re.compile(r"^cp3(\d+)-manylinux_2_(\d+)_(x86_64|aarch64|ppc64le|s390x)$")
# Names of older manylinux policies, PEP 600 equivalents: (glibc minor, name prefix).
_LEGACY = ((17, "manylinux2014"), (12, "manylinux2010"), (5, "manylinux1"))


@dataclass(frozen=True)
class Target:
    """One interpreter + platform the mirror must serve, e.g. cp39-manylinux_2_28_x86_64."""

    name: str
    python: tuple  # (3, 9)
    glibc_minor: int
    arch: str

    @property
    def python_version(self) -> str:
        return f"{self.python[0]}.{self.python[1]}"

    @property
    def abi(self) -> str:
        return f"cp{self.python[0]}{self.python[1]}"

    @cached_property
    def platforms(self) -> list:
        """Every platform tag such a system accepts, newest first (pip does not expand manylinux_2_x)."""
        found = [f"manylinux_2_{minor}_{self.arch}" for minor in range(self.glibc_minor, 4, -1)]
        if self.arch in ("x86_64", "i686"):
            found += [f"{legacy}_{self.arch}" for minor, legacy in _LEGACY if minor <= self.glibc_minor]
        elif self.glibc_minor >= 17:
            found.append(f"manylinux2014_{self.arch}")
        return found

    @cached_property
    def supported_tags(self) -> frozenset:
        """The wheel tags pip on the target accepts (same generator as pip's own)."""
        cpython = tags.cpython_tags(python_version=self.python, abis=[self.abi], platforms=self.platforms)
        generic = tags.compatible_tags(python_version=self.python, interpreter=self.abi, platforms=self.platforms)
        return frozenset(list(cpython) + list(generic))

    def pip_download_args(self) -> list:
        """pip download options that make pip pick this target's files instead of the running Python's."""
        args = ["--implementation", "cp", "--python-version", self.python_version, "--abi", self.abi]
        for platform in self.platforms:
            args += ["--platform", platform]
        return args

    def marker_environment(self) -> dict:
        """PEP 508 marker values on the target, so pins are selected for it and not for this machine."""
        return {
            "implementation_name": "cpython",
            "implementation_version": self.python_version + ".0",
            "os_name": "posix",
            "platform_machine": self.arch,
            "platform_python_implementation": "CPython",
            "platform_release": "",
            "platform_system": "Linux",
            "platform_version": "",
            "python_full_version": self.python_version + ".0",
            "python_version": self.python_version,
            "sys_platform": "linux",
            "extra": "",
        }

    def lock_path(self, locks_dir: Path) -> Path:
        """The lock this target installs from: one lock per Python version."""
        return locks_dir / f"py{self.python_version}.txt"

    def __str__(self) -> str:
        return self.name


def parse_target(text: str) -> Target:
    """A Target from its name; only CPython 3 on manylinux (PEP 600) is supported."""
    match = _TARGET.match(text.strip())
    if not match:
        raise PyrepoError(f"bad target {text!r}: expected cp3XY-manylinux_2_NN_ARCH, e.g. {DEFAULT_TARGETS[0]}")
    minor, glibc, arch = match.groups()
    return Target(text.strip(), (3, int(minor)), int(glibc), arch)


def parse_targets(texts) -> list:
    """Targets from the command line (or the defaults), duplicates removed, order kept."""
    result, seen = [], set()
    for text in texts or DEFAULT_TARGETS:
        target = parse_target(text)
        if target.name not in seen:
            seen.add(target.name)
            result.append(target)
    return result


def pair_locks(targets: list, locks_dir: Path, lock=None) -> list:
    """[(target, lock path)]: the given lock for every target, else locks_dir/py<X.Y>.txt each."""
    pairs = []
    for target in targets:
        path = Path(lock) if lock is not None else target.lock_path(locks_dir)
        if not path.is_file():
            hint = "" if lock is not None else f" (run `pyrepo lock` with a Python {target.python_version})"
            raise PyrepoError(f"lock file not found: {path}{hint}")
        pairs.append((target, path))
    return pairs
