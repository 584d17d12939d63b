"""Download every locked distribution for each target into the mirror, hash-checked by pip."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from pyrepo.errors import PyrepoError
from pyrepo.index import write_index
from pyrepo.lockfile import read_lock


def pinned_requirements(pins: list) -> str:
    """A requirements file of exactly these pins with their hashes (markers already applied)."""
    lines = []
    for pin in pins:
        hashes = " ".join(f"--hash=sha256:{h}" for h in sorted(pin.hashes))
        lines.append(f"{pin.name}=={pin.version} {hashes}\n")
    return "".join(lines)


def pip_failure(output: str) -> str:
    """pip's diagnosis in one line: which pin failed its hash, or pip's last ERROR line."""
    lines = output.splitlines()
    if any("DO NOT MATCH THE HASHES" in line for line in lines):
        culprits = [line.split(" from ")[0].strip() for line in lines if line.startswith("    ") and " from " in line]
        got = [line.split()[-1] for line in lines if line.strip().startswith("Got")]
        detail = ", ".join(f"{c} (got sha256 {g})" for c, g in zip(culprits, got)) or "see --verbose"
        return f"hash mismatch: {detail}"
    errors = [line[len("ERROR: "):] for line in lines if line.startswith("ERROR: ")]
    if errors:
        return errors[-1]
    remaining = [line.strip() for line in lines if line.strip()]
    return remaining[-1] if remaining else "no output"


def fetch(mirror: Path, pairs: list, pip: list = None, quiet: bool = True) -> None:
    """pip download each target's pins: its wheel, or the sdist when no wheel fits (pip prefers wheels).

    Markers are evaluated here for the target, because pip would evaluate them for the running Python.
    """
    pip = pip or [sys.executable, "-m", "pip"]
    mirror.mkdir(parents=True, exist_ok=True)
    for target, lock in pairs:
        env = target.marker_environment()
        pins = [p for p in read_lock(lock) if p.applies(env)]
        with tempfile.TemporaryDirectory(prefix="pyrepo-fetch-") as tmp:
            requirements = Path(tmp) / f"{target}.txt"
            requirements.write_text(pinned_requirements(pins), encoding="utf-8")
            command = pip + ["download", "--no-deps", "--require-hashes", "--progress-bar", "off",
                             "--dest", str(mirror), "-r", str(requirements)] + target.pip_download_args()
            print(f"fetching {len(pins)} pins of {lock} for {target}", flush=True)
            if quiet:
                result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                code, why = result.returncode, pip_failure(result.stdout)
            else:
                code, why = subprocess.call(command), "see pip's output above"
        if code != 0:
            raise PyrepoError(f"pip download for {target} from {lock} failed: {why}")
    write_index(mirror)
