"""Pack virtualenvs: `<base_path>/virtualenvs/<pack>`, where the pack's Python actions and sensors run
(appliance/pack_env.py picks its interpreter), with the pack's requirements.txt installed by pip.

As StackStorm's setup_pack_virtualenv: the virtualenv is made with `[actionrunner] python_binary` (the
appliance's interpreter by default) and `[actionrunner] virtualenv_opts` (`--system-site-packages`), with
`virtualenv_binary` when set, else `python -m venv` (pip comes from the interpreter's own bundle: nothing is
downloaded). A .pth file then gives it StackStorm's import paths (appliance/compat) and, for the same
Python version, the appliance's own packages, after the pack's. pip runs with the caller's environment
minus PYTHONPATH, so PIP_NO_INDEX, PIP_FIND_LINKS, PIP_INDEX_URL (the packs.install `env` parameter, or the
action runner's own environment) reach it, then `[actionrunner] pip_opts`. StackStorm also installs
`six` into every virtualenv; the appliance does not (it is rarely in a site's mirror; the appliance's own
copy is visible through the .pth when the versions match).
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from typing import Callable, Optional

from appliance.models.names import PACK_REF
from appliance.pack_env import COMPAT_PATH
from appliance.packs import PackError
from appliance.packs.manifest import RESERVED_NAMES

PTH_FILE = "zzzzzzzzzz__st2__.pth"  # StackStorm's name: loaded after the pack's own .pth files
REQUIREMENTS = "requirements.txt"
Log = Callable[[str], None]


@dataclass(frozen=True)
class VirtualenvSettings:
    root: str  # <base_path>/virtualenvs
    python_binary: str = ""  # "" = the interpreter running this code (the appliance's)
    virtualenv_binary: str = ""  # "" = `python -m venv`
    virtualenv_opts: tuple[str, ...] = ("--system-site-packages",)
    pip_opts: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, config) -> VirtualenvSettings:
        return cls(root=config.virtualenvs_path, python_binary=config.get("actionrunner", "python_binary"),
                   virtualenv_binary=config.get("actionrunner", "virtualenv_binary"),
                   virtualenv_opts=tuple(config.get("actionrunner", "virtualenv_opts")),
                   pip_opts=tuple(config.get("actionrunner", "pip_opts")))

    @property
    def python(self) -> str:
        return self.python_binary or sys.executable

    def path_of(self, pack: str) -> str:
        if not isinstance(pack, str) or not PACK_REF.match(pack):
            raise PackError(f'Invalid pack name "{pack}"')
        if pack in RESERVED_NAMES:
            raise PackError(f"Pack name {pack} is a reserved name, and cannot be used")
        return os.path.join(self.root, pack)


def _quiet(_message: str) -> None:
    pass


def subprocess_environment(extra: Optional[dict] = None) -> dict[str, str]:
    """What venv and pip run with: this process's environment (with `extra` on top) minus PYTHONPATH, as
    StackStorm's get_env_for_subprocess_command; pip's check for a newer pip stays off (offline)."""
    env = dict(os.environ)
    env.update({str(key): str(value) for key, value in (extra or {}).items() if value is not None})
    env.pop("PYTHONPATH", None)
    env.pop("PYTHONHOME", None)
    env.setdefault("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    return env


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def create(path: str, settings: VirtualenvSettings, env: Optional[dict] = None, log: Log = _quiet) -> None:
    python = settings.python
    if not os.path.isfile(python):
        raise PackError(f'Python binary "{python}" doesn\'t exist')
    if settings.virtualenv_binary:
        argv = [settings.virtualenv_binary, "-p", python, *settings.virtualenv_opts, "--no-download", path]
    else:
        argv = [python, "-m", "venv", *settings.virtualenv_opts, path]
    log(f'Creating virtualenv in "{path}" with Python binary "{python}"')
    try:
        done = subprocess.run(argv, env=subprocess_environment(env), capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, check=False)
    except OSError as exc:
        raise PackError(f"Cannot run {argv[0]}: {exc.strerror}") from None
    if done.returncode != 0:
        log(done.stdout + done.stderr)
        raise PackError(f'Failed to create virtualenv in "{path}": {_last_line(done.stderr or done.stdout)}')


def site_packages(path: str) -> str:
    found = sorted(glob.glob(os.path.join(path, "lib", "python*", "site-packages")))
    if not found:
        raise PackError(f'The virtualenv "{path}" has no lib/python*/site-packages folder')
    return found[-1]


def inject_pth(path: str) -> str:
    """The .pth that makes StackStorm's modules (and, for the same Python, the appliance's packages)
    importable in the virtualenv, after the pack's own; returns its path."""
    site = site_packages(path)
    lines = ["# Written by the appliance: StackStorm's import paths, after the pack's own packages.", COMPAT_PATH]
    same_python = os.path.basename(os.path.dirname(site)) == f"python{sys.version_info[0]}.{sys.version_info[1]}"
    if same_python and sys.prefix != sys.base_prefix:  # the appliance runs in a virtualenv of its own
        for parent in dict.fromkeys((sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"])):
            lines.append(f"import sys; addsitedir({parent!r}, known_paths)")
    pth = os.path.join(site, PTH_FILE)
    with open(pth, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return pth


_NOT_FOUND = re.compile(r"No matching distribution found for (\S+)")


def pip_problem(output: str) -> str:
    """pip's failure in one line: the requirement it could not find, else its last error."""
    missing = _NOT_FOUND.findall(output)
    if missing:
        return f"No matching distribution found for {missing[-1]}"
    errors = [line.strip()[len("ERROR:"):].strip() for line in output.splitlines() if line.strip().startswith("ERROR:")]
    return errors[-1] if errors else _last_line(output)


def install_requirements(path: str, requirements: str, settings: VirtualenvSettings, env: Optional[dict] = None,
                         log: Log = _quiet) -> None:
    pip = os.path.join(path, "bin", "pip")
    argv = [pip, "install", *settings.pip_opts, "-U", "-r", requirements]
    log(f'Installing requirements from "{requirements}": {" ".join(argv)}')
    try:
        done = subprocess.run(argv, env=subprocess_environment(env), capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, check=False)
    except OSError as exc:
        raise PackError(f"Cannot run {pip}: {exc.strerror}") from None
    output = done.stdout + ("\n" if done.stdout else "") + done.stderr
    log(output.strip())
    if done.returncode != 0:
        raise PackError(f'Failed to install requirements from "{requirements}": {pip_problem(output)}')


def remove(path: str) -> None:
    if os.path.islink(path) or os.path.isfile(path):
        os.unlink(path)
    elif os.path.isdir(path):
        shutil.rmtree(path)


def setup(pack: str, pack_dir: str, settings: VirtualenvSettings, update: bool = False, env: Optional[dict] = None,
          log: Log = _quiet) -> str:
    """(Re)make the pack's virtualenv and install its requirements; `update` keeps an existing one and only
    installs. Returns the virtualenv's path. The caller keeps the previous virtualenv aside (transaction.py)."""
    path = settings.path_of(pack)
    if not update or not os.path.isdir(path):
        remove(path)
        os.makedirs(settings.root, exist_ok=True)
        create(path, settings, env, log)
    inject_pth(path)
    requirements = os.path.join(pack_dir, REQUIREMENTS)
    if os.path.isfile(requirements):
        install_requirements(path, requirements, settings, env, log)
    else:
        log("No pack specific requirements found")
    return path
