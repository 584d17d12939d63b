"""Is the mirror complete and intact for a lock? Every problem is reported, one line each."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from pyrepo.dists import group_by_release, read_sdist_member, scan
from pyrepo.errors import PyrepoError
from pyrepo.index import read_index
from pyrepo.lockfile import read_lock, read_requirements

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.9
    import tomli as tomllib

# What pip builds a pyproject-less (setup.py) sdist with.
_LEGACY_BUILD_REQUIRES = ("setuptools>=40.8.0",)


@dataclass(frozen=True)
class Problem:
    """One thing that would make an offline install fail."""

    kind: str  # missing, corrupt, stale, unlocked, unbuildable
    subject: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind.upper():<11} {self.subject}: {self.detail}"


@dataclass
class Report:
    """Problems found, plus one summary line per target checked."""

    problems: list = field(default_factory=list)
    summary: list = field(default_factory=list)

    def add(self, problem: Problem) -> None:
        if problem not in self.problems:
            self.problems.append(problem)

    @property
    def ok(self) -> bool:
        return not self.problems


def build_requires(sdist_path: Path) -> list:
    """The build-system requirements of an sdist: what must be in the mirror to build it offline."""
    text = read_sdist_member(sdist_path, "pyproject.toml")
    requires = None
    if text is not None:
        try:
            requires = tomllib.loads(text).get("build-system", {}).get("requires")
        except (tomllib.TOMLDecodeError, AttributeError):
            requires = None
    result = []
    for item in requires if isinstance(requires, list) else _LEGACY_BUILD_REQUIRES:
        try:
            result.append(Requirement(str(item)))
        except InvalidRequirement:
            continue
    return result


class _Hashes(dict):
    """sha256 per file name, computed once per check."""

    def __init__(self, dists: list) -> None:
        super().__init__()
        self._paths = {d.filename: d for d in dists}

    def __missing__(self, filename: str) -> str:
        value = self._paths[filename].sha256()
        self[filename] = value
        return value


def _check_pins(report: Report, target, lock: Path, pins: list, releases: dict, hashes: _Hashes) -> None:
    env = target.marker_environment()
    applying = [p for p in pins if p.applies(env)]
    by_name = {p.name: p for p in applying}
    wheels_n = sdists_n = 0
    for pin in applying:
        files = releases.get(pin.release, [])
        wheels = [f for f in files if f.is_wheel and f.tags & target.supported_tags]
        sdists = [f for f in files if not f.is_wheel]
        candidates = wheels or sdists
        if not candidates:
            others = [f.filename for f in files if f.is_wheel]
            detail = "no wheel for this target and no sdist in the mirror"
            if others:
                detail += f" (only {', '.join(others)})"
            report.add(Problem("missing", f"{pin} for {target}", detail))
            continue
        bad = [f for f in candidates if hashes[f.filename] not in pin.hashes]
        for dist in bad:
            report.add(Problem("corrupt", dist.filename, f"hash mismatch: sha256 {hashes[dist.filename]} is not "
                               f"a hash the lock allows for {pin}"))
        if wheels:
            wheels_n += 1
            continue
        sdists_n += 1
        for sdist in candidates:
            if sdist in bad:
                continue
            for requirement in build_requires(sdist.path):
                if requirement.marker is not None and not requirement.marker.evaluate(env):
                    continue
                found = by_name.get(canonicalize_name(requirement.name))
                if found is None or not requirement.specifier.contains(found.version, prereleases=True):
                    report.add(Problem("unbuildable", f"{sdist.filename} for {target}",
                                       f"its build requirement {requirement} is not in {lock.name}"))
    report.summary.append(f"{target}: {len(applying)} pins of {lock} ({wheels_n} wheels, {sdists_n} sdists)")


def _check_requirements(report: Report, target, lock: Path, pins: list, wanted: list) -> None:
    env = target.marker_environment()
    by_name = {p.name: p for p in pins if p.applies(env)}
    for item in wanted:
        requirement = item.requirement
        if requirement.marker is not None and not requirement.marker.evaluate(env):
            continue
        pin = by_name.get(item.name)
        if pin is None:
            report.add(Problem("unlocked", item.where, f"{requirement} is not in the lock {lock}"))
        elif not requirement.specifier.contains(pin.version, prereleases=True):
            report.add(Problem("unlocked", item.where, f"{requirement} does not match the lock's {pin} ({lock})"))


def _check_index(report: Report, mirror: Path, dists: list, hashes: _Hashes) -> None:
    published = read_index(mirror)
    if published is None:
        report.add(Problem("stale", str(mirror), "no simple index (run `pyrepo index`)"))
        return
    present = {d.filename for d in dists}
    for dist in dists:
        listed = published.get(dist.filename)
        if listed is None:
            report.add(Problem("stale", dist.filename, "not in the simple index (run `pyrepo index`)"))
        elif listed != hashes[dist.filename]:
            report.add(Problem("stale", dist.filename, "the simple index publishes another sha256 "
                               "(file changed or corrupt; re-fetch it, then `pyrepo index`)"))
    for filename in sorted(set(published) - present):
        report.add(Problem("stale", filename, "listed in the simple index but missing from the mirror"))


def check_mirror(mirror: Path, pairs: list, requirement_files: list = ()) -> Report:
    """Check every (target, lock) pair against the mirror, and the extra requirement files against the locks."""
    if not mirror.is_dir():
        raise PyrepoError(f"mirror directory not found: {mirror}")
    wanted = [w for path in requirement_files for w in read_requirements(Path(path))]
    locks = {lock: read_lock(lock) for _target, lock in pairs}
    dists = scan(mirror)
    releases = group_by_release(dists)
    hashes = _Hashes(dists)
    report = Report()
    for target, lock in pairs:
        _check_requirements(report, target, lock, locks[lock], wanted)
        _check_pins(report, target, lock, locks[lock], releases, hashes)
    _check_index(report, mirror, dists, hashes)
    return report
