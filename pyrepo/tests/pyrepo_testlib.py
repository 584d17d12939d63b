"""Test helpers: tiny wheels, sdists and projects built in tmp dirs, and running the CLI.

A module of its own (not conftest.py) so test modules import it by a name no other conftest takes.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))  # import pyrepo from this checkout, installed or not


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def wheel_bytes(name: str, version: str, tag: str = "py3-none-any", requires_python: str = None,
                requires: tuple = ()) -> bytes:
    """A minimal valid wheel: one module and the .dist-info pip reads."""
    module = name.replace("-", "_").replace(".", "_").lower()
    dist_info = f"{module}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    if requires_python:
        metadata += f"Requires-Python: {requires_python}\n"
    metadata += "".join(f"Requires-Dist: {r}\n" for r in requires)
    files = {
        f"{module}/__init__.py": f"VERSION = {version!r}\n".encode(),
        f"{dist_info}/METADATA": metadata.encode(),
        f"{dist_info}/WHEEL": f"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: {tag}\n".encode(),
    }
    record = "".join(f"{path},{_record_hash(data)},{len(data)}\n" for path, data in files.items())
    record += f"{dist_info}/RECORD,,\n"
    files[f"{dist_info}/RECORD"] = record.encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return buffer.getvalue()


def make_wheel(directory: Path, name: str, version: str, tag: str = "py3-none-any", **kwargs) -> Path:
    """Write a wheel file named as pip names it into directory."""
    directory.mkdir(parents=True, exist_ok=True)
    module = name.replace("-", "_").replace(".", "_").lower()
    path = directory / f"{module}-{version}-{tag}.whl"
    path.write_bytes(wheel_bytes(name, version, tag, **kwargs))
    return path


def make_sdist(directory: Path, name: str, version: str, pyproject: str = None) -> Path:
    """Write a minimal sdist (PKG-INFO, and pyproject.toml when given)."""
    directory.mkdir(parents=True, exist_ok=True)
    base = f"{name.replace('-', '_').lower()}-{version}"
    path = directory / f"{base}.tar.gz"
    members = {"PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"}
    if pyproject is not None:
        members["pyproject.toml"] = pyproject
    with tarfile.open(path, "w:gz") as archive:
        for member, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{base}/{member}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


BACKEND = '''"""An in-tree PEP 517 backend: builds need no index, so these tests run offline."""
import base64, hashlib, os, zipfile

NAME, VERSION = {name!r}, {version!r}


def _hash(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    module = NAME.replace("-", "_")
    dist_info = "%s-%s.dist-info" % (module, VERSION)
    files = {{
        module + "/__init__.py": open(os.path.join(module, "__init__.py"), "rb").read(),
        dist_info + "/METADATA": ("Metadata-Version: 2.1\\nName: %s\\nVersion: %s\\n" % (NAME, VERSION)).encode(),
        dist_info + "/WHEEL": b"Wheel-Version: 1.0\\nGenerator: tiny\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
    }}
    record = "".join("%s,%s,%d\\n" % (p, _hash(d), len(d)) for p, d in files.items()) + dist_info + "/RECORD,,\\n"
    files[dist_info + "/RECORD"] = record.encode()
    filename = "%s-%s-py3-none-any.whl" % (module, VERSION)
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    os.makedirs("build", exist_ok=True)  # like setuptools: leaves build output in the tree it builds
    return filename
'''


def make_project(directory: Path, name: str, version: str) -> Path:
    """A source tree `pip wheel` can build without any index (its backend is in the tree)."""
    module = name.replace("-", "_")
    (directory / module).mkdir(parents=True)
    (directory / module / "__init__.py").write_text(f"VERSION = {version!r}\n")
    (directory / "tiny_backend.py").write_text(BACKEND.format(name=name, version=version))
    (directory / "pyproject.toml").write_text(
        '[build-system]\nrequires = []\nbuild-backend = "tiny_backend"\nbackend-path = ["."]\n')
    return directory


def make_project_sdist(directory: Path, name: str, version: str) -> Path:
    """An sdist of make_project's tree: pip can prepare its metadata with no index at all."""
    directory.mkdir(parents=True, exist_ok=True)
    base = f"{name.replace('-', '_').lower()}-{version}"
    tree = make_project(directory / f".{base}-tree", name, version)
    (tree / "PKG-INFO").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    path = directory / f"{base}.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        archive.add(tree, arcname=base)
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_lock(path: Path, pins: dict) -> Path:
    """A lock like pip-compile's: {"name==version": [files...] or (files, marker)} with every file's hash."""
    lines = ["# test lock\n"]
    for spec, files in pins.items():
        marker = ""
        if isinstance(files, tuple):
            files, marker = files
            marker = f" ; {marker}"
        hashes = sorted({sha256(f) for f in files}) or ["0" * 64]
        lines.append(f"{spec}{marker} \\\n" + " \\\n".join(f"    --hash=sha256:{h}" for h in hashes) + "\n")
        lines.append("    # via -r requirements.in\n")
    path.write_text("".join(lines))
    return path


def clean_pip_env(**extra: str) -> dict:
    """Environment for a pip that sees no configured index, find-links or cache of this machine."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_CACHE_DIR="1")
    env.update(extra)
    return env


def run_cli(*args: str, env: dict = None, cwd: Path = None) -> subprocess.CompletedProcess:
    """`python -m pyrepo ARGS` with this checkout on PYTHONPATH."""
    environment = dict(env if env is not None else os.environ)
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT), environment.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-m", "pyrepo", *map(str, args)], capture_output=True, text=True,
                          env=environment, cwd=cwd, timeout=600)


def assert_one_error_line(result: subprocess.CompletedProcess, *fragments: str) -> str:
    """Bad input: non-zero exit, exactly one `pyrepo: error:` line on stderr, no traceback."""
    assert result.returncode != 0, result
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pyrepo: error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]

