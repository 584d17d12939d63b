"""Packs as sites deliver them, made by the tests: git repositories (one commit and `v<version>` tag per
version), tiny pure-Python wheels for an offline find-links mirror (built with zipfile: no setuptools,
no network), a mirror of them made with pyrepo, and the `env` that points packs.install's pip at it."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import zipfile
from typing import Optional

import yaml

_GIT_ENV = {"GIT_AUTHOR_NAME": "Pack Dev", "GIT_AUTHOR_EMAIL": "dev@example.invalid",
            "GIT_COMMITTER_NAME": "Pack Dev", "GIT_COMMITTER_EMAIL": "dev@example.invalid",
            "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}


# A python action `probe` returning {"value": <module>.VALUE, "prefix": sys.prefix}: which copy of the
# requirement `module` it imported, and from which virtualenv. files(module) -> pack files.
PROBE_ACTION = {
    "actions/probe.yaml": "name: probe\nrunner_type: python-script\nentry_point: probe.py\n",
    "actions/probe.py": "import sys\n\nimport {module}\nfrom st2common.runners.base_action import Action\n\n\n"
                        "class Probe(Action):\n    def run(self):\n"
                        "        return {{'value': {module}.VALUE, 'prefix': sys.prefix}}\n",
}


def probe_action(module: str) -> dict:
    """The files of the `probe` action importing `module` (see PROBE_ACTION)."""
    return {path: text.format(module=module) for path, text in PROBE_ACTION.items()}


def offline_env(mirror: str) -> str:
    """packs.install's `env` as the sites' handbook writes it: pip uses the mirror and nothing else."""
    return json.dumps({"PIP_NO_INDEX": "yes", "PIP_FIND_LINKS": f"file://{mirror}"})


def git(repo: str, *args: str) -> str:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("GIT_")}, **_GIT_ENV}
    done = subprocess.run(["git", "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false", *args], cwd=repo,
                          env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout.strip()


def write_pack(directory: str, name: str, version: str, files: Optional[dict] = None,
               manifest: Optional[dict] = None) -> None:
    """A pack directory: pack.yaml (name, version and `manifest` keys; a key set to None is left out) and
    `files` (relative path -> text; None deletes the file)."""
    os.makedirs(directory, exist_ok=True)
    data = {"name": name, "description": f"The {name} test pack", "version": version, "author": "Pack Dev",
            "email": "dev@example.invalid", "python_versions": ["3"]}
    data.update(manifest or {})
    data = {key: value for key, value in data.items() if value is not None}
    with open(os.path.join(directory, "pack.yaml"), "w", encoding="utf-8") as handle:
        yaml.safe_dump(data, handle, sort_keys=False)
    for relative, text in (files or {}).items():
        path = os.path.join(directory, relative)
        if text is None:
            if os.path.exists(path):
                os.unlink(path)
            continue
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)


class PackRepo:
    """A git repository of one pack on disk, on branch master; file:///<path> installs it."""

    def __init__(self, path: str, name: str):
        self.path, self.name = path, name
        os.makedirs(path, exist_ok=True)
        git(path, "init", "--quiet", "--initial-branch=master")

    @property
    def url(self) -> str:
        return "file://" + self.path

    def commit(self, version: str, files: Optional[dict] = None, manifest: Optional[dict] = None,
               tag: Optional[str] = "v{version}") -> str:
        """Write the pack at `version`, commit, tag (by default v<version>); returns the commit."""
        write_pack(self.path, self.name, version, files, manifest)
        git(self.path, "add", "--all")
        git(self.path, "commit", "--quiet", "--allow-empty", "-m", f"{self.name} {version}")
        if tag:
            git(self.path, "tag", tag.format(version=version))
        return git(self.path, "rev-parse", "HEAD")


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def build_wheel(directory: str, name: str, version: str = "1.0", source: str = "VALUE = 42\n") -> str:
    """A py3-none-any wheel of one module `name` with `source`, in `directory`; returns its path."""
    os.makedirs(directory, exist_ok=True)
    dist_info = f"{name}-{version}.dist-info"
    files = {
        f"{name}.py": source.encode(),
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: appliance-tests\nRoot-Is-Purelib: true\n"
                              b"Tag: py3-none-any\n",
    }
    record = "".join(f"{path},{_record_hash(data)},{len(data)}\n" for path, data in files.items())
    record += f"{dist_info}/RECORD,,\n"
    path = os.path.join(directory, f"{name}-{version}-py3-none-any.whl")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as wheel:
        for member, data in files.items():
            wheel.writestr(member, data)
        wheel.writestr(f"{dist_info}/RECORD", record)
    return path


def pyrepo_mirror(mirror: str, wheels: list[str]) -> list[str]:
    """A site mirror made by the mirror tool: `pyrepo add` copies the wheels in and writes the PEP 503 index;
    returns the names of the files it holds."""
    os.makedirs(mirror, exist_ok=True)
    done = subprocess.run([sys.executable, "-m", "pyrepo", "add", "--mirror", mirror, *wheels], cwd=mirror,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120, check=False)
    assert done.returncode == 0, f"pyrepo add: {done.stdout}{done.stderr}"
    return sorted(name for name in os.listdir(mirror) if os.path.isfile(os.path.join(mirror, name)))
