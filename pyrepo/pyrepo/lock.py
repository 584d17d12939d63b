"""Pin the appliance's requirements per Python version, with hashes, using pip-tools.

pip-compile resolves for the interpreter it runs under, so each Python version gets its own
pip-tools virtualenv (cached under the tools directory) and its own lock, locks/py<X.Y>.txt.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
from pathlib import Path

from pyrepo.errors import PyrepoError
from pyrepo.lockfile import read_lock

DEFAULT_PYTHONS = ("3.9", "3.11")
DEFAULT_INPUTS = ("requirements/appliance.in", "requirements/test.in", "requirements/build.in")
PIP_TOOLS = "pip-tools>=7.4"
# Lines that would tie a lock to this machine's indexes; pip-compile copies them from pip's config.
_INDEX_OPTION = re.compile(r"^\s*(-i|-f|--index-url|--extra-index-url|--find-links|--trusted-host|--no-index)\b",
                           re.MULTILINE)
_VERSION_CODE = "import sys; print('%d.%d' % sys.version_info[:2]); print(sys.executable)"


def _ask(python: str) -> list:
    """[X.Y, real executable] of an interpreter, asked from the interpreter itself."""
    try:
        result = subprocess.run([python, "-c", _VERSION_CODE], capture_output=True, text=True, timeout=60)
    except OSError as exc:
        raise PyrepoError(f"cannot run {python}: {exc.strerror or exc}") from None
    if result.returncode != 0:
        raise PyrepoError(f"{python} does not run: {result.stderr.strip().splitlines()[-1:] or result.returncode}")
    return result.stdout.split()


def interpreter_version(python: str) -> str:
    """X.Y of an interpreter."""
    return _ask(python)[0]


def _candidates(version: str) -> list:
    found = [shutil.which(f"python{version}")]
    roots = [os.environ.get("PYENV_ROOT", ""), os.path.expanduser("~/.pyenv")]
    for root in filter(None, roots):
        pattern = os.path.join(root, "versions", f"{version}.*", "bin", "python")
        found += sorted(glob.glob(pattern), key=lambda p: [int(x) for x in re.findall(r"\d+", p.split("/")[-3])])[::-1]
    found += [f"/usr/bin/python{version}", f"/usr/local/bin/python{version}"]
    return [c for c in found if c and os.access(c, os.X_OK)]


def find_python(spec: str) -> str:
    """An interpreter from a path, a command name or a version such as 3.9 (PATH, pyenv, /usr/bin)."""
    if re.fullmatch(r"\d+\.\d+", spec):
        for candidate in _candidates(spec):
            try:
                version, executable = _ask(candidate)
                if version == spec:
                    return executable  # the real one, not a pyenv shim
            except PyrepoError:
                continue  # e.g. a pyenv shim for a version that is not selected
        raise PyrepoError(f"no Python {spec} interpreter found (give its path with --python)")
    path = shutil.which(spec) or (spec if os.access(spec, os.X_OK) else None)
    if path is None:
        raise PyrepoError(f"Python interpreter not found: {spec}")
    return path


def tool_python(python: str, version: str, tools_dir: Path) -> Path:
    """The python of a virtualenv holding pip-tools for this Python version, created on first use."""
    venv = tools_dir / f"py{version}"
    venv_python = venv / "bin" / "python"
    if not (venv / "bin" / "pip-compile").exists():
        steps = ([python, "-m", "venv", str(venv)],
                 [str(venv_python), "-m", "pip", "install", "-q", "--upgrade", "pip", PIP_TOOLS])
        for step in steps:
            if subprocess.call(step) != 0:
                raise PyrepoError(f"setting up pip-tools for Python {version} in {venv} failed: {' '.join(step)}")
    return venv_python


def check_no_index_options(lock: Path) -> None:
    """Refuse a lock that carries index settings: it must mean the same on every machine."""
    match = _INDEX_OPTION.search(lock.read_text(encoding="utf-8"))
    if match:
        raise PyrepoError(f"{lock} carries the index option {match.group(1)!r}; remove it and lock again")


def _relative(path: Path, home: Path) -> str:
    try:
        return str(path.resolve().relative_to(home.resolve()))
    except ValueError:
        return str(path.resolve())


def compile_lock(home: Path, python: str, inputs: list, locks_dir: Path, tools_dir: Path,
                 upgrade: bool = False, upgrade_packages: list = ()) -> Path:
    """Run pip-compile under `python` and write locks_dir/py<X.Y>.txt; returns its path."""
    version = interpreter_version(python)
    for item in inputs:
        if not Path(item).is_file():
            raise PyrepoError(f"requirements file not found: {item}")
    locks_dir.mkdir(parents=True, exist_ok=True)
    output = locks_dir / f"py{version}.txt"
    command = [str(tool_python(python, version, tools_dir)), "-m", "piptools", "compile", "--quiet",
               "--generate-hashes", "--allow-unsafe", "--strip-extras", "--no-emit-index-url",
               "--no-emit-find-links", "--no-emit-trusted-host",
               "--output-file", _relative(output, home)]
    if upgrade:
        command.append("--upgrade")
    for name in upgrade_packages:
        command += ["--upgrade-package", name]
    command += [_relative(Path(item), home) for item in inputs]
    print(f"pyrepo: locking for Python {version} ({python}) into {output}", flush=True)
    env = dict(os.environ, CUSTOM_COMPILE_COMMAND="pyrepo lock")  # the header's how-to-regenerate line
    if subprocess.call(command, cwd=home, env=env) != 0:
        raise PyrepoError(f"pip-compile failed for Python {version}; see its message above")
    check_no_index_options(output)
    read_lock(output)
    return output
