"""st2-run-pack-tests: a pack's tests/ run with pytest as StackStorm 3.9's script runs them, with no network.

    st2-run-pack-tests [-c] [-j] [-t] [-v] [-x] -p <path to pack> [-f <test file / class / method>]

As StackStorm's: a pack without tests/ prints "No tests found." and exits 0; the tests run in a virtualenv
<tmp>/st2-pack-tests-virtualenvs/<pack> made afresh each run (-j reuses it and installs nothing, -x runs
without one); PYTHONPATH holds the pack's lib, sensors, actions, actions/lib and etc (and tests with -f);
`python -m pytest -s -v <pack>/tests/[<-f>]` runs from the pack directory and its exit code is the command's.

Unlike StackStorm's, nothing is downloaded: the virtualenv is made with the appliance's Python and
--system-site-packages plus a .pth adding the appliance's site-packages, so pytest, StackStorm's modules
(appliance/compat: st2common, st2tests, ...) and the appliance's libraries are there already. pip runs only
for the pack's requirements.txt and requirements-tests.txt (and pytest when the appliance has none), with
ST2_PIP_OPTIONS (default -q) and whatever PIP_* variables are set, so PIP_NO_INDEX=1 and PIP_FIND_LINKS=<site
mirror> install from the site's mirror. `mock` is the standard library's unittest.mock when not installed;
-c measures coverage when pytest-cov is installed and says so otherwise; -t shows the tests' durations.
"""

from __future__ import annotations

import getopt
import importlib.util
import json
import os
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from typing import Optional

from appliance.pack_env import COMPAT_PATH
from appliance.packs.virtualenvs import inject_pth

USAGE = """\
Usage: st2-run-pack-tests [-c] [-j] [-t] [-v] [-x] -p <path to pack> [-f <test selection>]
  -p : the pack directory (its tests are in <pack>/tests/)
  -f : only these tests, relative to <pack>/tests/: a file, file::Class or file::Class::test_method
  -c : measure the coverage of the pack's code (when pytest-cov is installed)
  -j : only run the tests: reuse the test virtualenv as the last run left it, install nothing
  -t : show how long each test took
  -v : show the environment the tests get (PYTHONPATH, PATH, installed packages)
  -x : no test virtualenv: run with the appliance's Python as it is"""

VIRTUALENVS_FOLDER = "st2-pack-tests-virtualenvs"  # under the temporary directory: /tmp unless TMPDIR says
PYTEST_REQUIREMENT = "pytest>7"
MOCK_FALLBACK = os.path.join(COMPAT_PATH, "fallback")  # `import mock` = unittest.mock
# A pack with its own pytest configuration keeps it; any other is cut off from configurations and
# conftest.py files above it (a pack inside another project, such as this repository's packs/).
PYTEST_CONFIGS = {"pytest.ini": "", ".pytest.ini": "", "pyproject.toml": "[tool.pytest.ini_options]",
                  "tox.ini": "[pytest]", "setup.cfg": "[tool:pytest]"}


class Stop(Exception):
    """The run ends here: the message (to stderr when the code is not 0) and the exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Options:
    pack: str = ""
    location: str = ""
    virtualenv: bool = True  # not -x
    just_tests: bool = False  # -j
    verbose: bool = False
    coverage: bool = False
    timing: bool = False


# flag -> (the Options attribute it sets, the value; None: the flag's argument)
FLAGS = {"-p": ("pack", None), "-f": ("location", None), "-x": ("virtualenv", False), "-j": ("just_tests", True),
         "-v": ("verbose", True), "-c": ("coverage", True), "-t": ("timing", True)}


def parse_options(argv: list[str]) -> Options:
    """StackStorm's flags, read as bash getopts reads ":p:f:xjvct" (grouped, -p<path>, stops at an operand)."""
    try:
        pairs, _operands = getopt.getopt(argv, "p:f:xjvct")
    except getopt.GetoptError as exc:
        if exc.msg.endswith("requires argument"):
            raise Stop(f"Option -{exc.opt} requires an argument.\n{USAGE}", 2) from None
        raise Stop(f"Invalid option: -{exc.opt}\n{USAGE}", 2) from None
    options = Options()
    for flag, value in pairs:
        attribute, setting = FLAGS[flag]
        setattr(options, attribute, value if setting is None else setting)
    if not options.pack:
        raise Stop(USAGE, 2)
    return options


class PackTests:
    """One run of st2-run-pack-tests over one pack."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.pack_path = os.path.realpath(options.pack)
        self.pack_name = os.path.basename(self.pack_path)
        self.tests_path = os.path.join(self.pack_path, "tests") + os.sep
        self.virtualenv_dir = os.path.join(tempfile.gettempdir(), VIRTUALENVS_FOLDER, self.pack_name)
        self.python = sys.executable  # the appliance's, until a virtualenv replaces it
        self.env = dict(os.environ)
        self.env.pop("PYTHONHOME", None)

    def log(self, message: str) -> None:
        print(message, flush=True)

    def verbose(self, message: str) -> None:
        if self.options.verbose:
            self.log(message)

    # -- the steps ---------------------------------------------------------------------------------
    def run(self) -> list[str]:
        """Prepare everything; returns the pytest command line, to run from the pack directory with self.env."""
        if not os.path.isdir(self.pack_path):
            raise Stop(f"Invalid pack path: {self.pack_path}", 3)
        self.log(f"Running tests for pack: {self.pack_name}")
        if not os.path.isdir(self.tests_path):
            raise Stop("No tests found.", 0)
        self._put_on_path(os.path.dirname(sys.executable))
        if self.options.virtualenv:
            self._virtualenv()
        if not self.options.just_tests:
            self._install()
        available = self._python_path()
        if self.options.verbose:
            self._show_environment()
        command = self._pytest_command(available)
        self.log("Running tests...")
        return command

    def _put_on_path(self, directory: str) -> None:
        entries = self.env.get("PATH", os.defpath).split(os.pathsep)
        if entries[0] != directory:
            self.verbose(f"Adding {directory} to $PATH")
            self.env["PATH"] = os.pathsep.join([directory, *entries])

    def _requirement_files(self) -> list[tuple[str, str]]:
        files = [("requirements.txt", "Installing pack-specific dependencies..."),
                 ("requirements-tests.txt", "Installing pack-specific test dependencies...")]
        return [(os.path.join(self.pack_path, name), message) for name, message in files
                if os.path.isfile(os.path.join(self.pack_path, name))]

    def _virtualenv(self) -> None:
        """Create the virtualenv (not with -j), then use it as `activate` would."""
        if not self.options.just_tests:
            self.log(f"Creating virtualenv in {self.virtualenv_dir}...")
            os.makedirs(os.path.dirname(self.virtualenv_dir), exist_ok=True)
            # pip comes from the appliance through the .pth; the virtualenv gets its own only when the
            # appliance has none and something is to be installed.
            needs_pip = bool(self._requirement_files()) or importlib.util.find_spec("pytest") is None
            own_pip = needs_pip and importlib.util.find_spec("pip") is None
            command = [sys.executable, "-m", "venv", "--clear", "--system-site-packages", self.virtualenv_dir]
            if not own_pip:
                command.insert(-1, "--without-pip")
            done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            if done.returncode != 0:
                raise Stop(f"Could not create the virtualenv {self.virtualenv_dir}: {done.stdout.strip()}", 2)
            inject_pth(self.virtualenv_dir)  # the appliance's site-packages and StackStorm's modules
        python = os.path.join(self.virtualenv_dir, "bin", "python")
        if not os.path.isfile(python):
            raise Stop(f"No test virtualenv in {self.virtualenv_dir}: run without -j to create it, or with -x "
                       "to run the tests without one.", 2)
        self.log(f"Activating virtualenv in {self.virtualenv_dir}...")
        self.python = python
        self.env["VIRTUAL_ENV"] = self.virtualenv_dir
        self._put_on_path(os.path.join(self.virtualenv_dir, "bin"))

    def _install(self) -> None:
        """pytest when missing, then the pack's requirement files, with pip and the PIP_* environment."""
        files = self._requirement_files()
        if not self.options.virtualenv:
            if files:
                self.log(f"Not installing the pack's requirements (-x): the tests run with {self.python} as it is.")
            return
        if not self._importable(["pytest"], self.env)["pytest"]:
            self.log("Installing global pack test dependencies...")
            self._pip(PYTEST_REQUIREMENT)
        for path, message in files:
            self.log(message)
            self._pip("-r", path)

    def _pip(self, *arguments: str) -> None:
        options = shlex.split(self.env.get("ST2_PIP_OPTIONS", "-q"))
        command = [self.python, "-m", "pip", "install", "--disable-pip-version-check", *options, *arguments]
        self.verbose(" ".join(command))
        done = subprocess.run(command, env=self.env)
        if done.returncode != 0:
            raise Stop(f"pip could not install {' '.join(arguments)} (exit code {done.returncode}); "
                       "offline, point PIP_FIND_LINKS (with PIP_NO_INDEX=1) or PIP_INDEX_URL at the site's mirror.", 1)

    def _importable(self, modules: list[str], env: dict) -> dict:
        """Which modules the tests' Python finds with `env`."""
        probe = ("import importlib.util, json, sys; "
                 "print(json.dumps({m: importlib.util.find_spec(m) is not None for m in sys.argv[1:]}))")
        done = subprocess.run([self.python, "-c", probe, *modules], capture_output=True, text=True, env=env)
        if done.returncode != 0:
            raise Stop(f"{self.python} does not run: {done.stderr.strip()}", 2)
        return json.loads(done.stdout.strip().splitlines()[-1])

    def _python_path(self) -> dict:
        """PYTHONPATH as StackStorm builds it; returns which of pytest, pytest_cov and mock import."""
        pack = self.pack_path
        paths = [os.path.join(pack, "lib"), COMPAT_PATH, os.path.join(pack, "sensors"), os.path.join(pack, "actions"),
                 os.path.join(pack, "actions", "lib"), os.path.join(pack, "etc")]
        if self.env.get("PYTHONPATH"):
            paths.append(self.env["PYTHONPATH"])
        self.env["PYTHONPATH"] = os.pathsep.join(paths)
        available = self._importable(["pytest", "pytest_cov", "mock"], self.env)
        if not available["pytest"]:
            raise Stop(f"pytest is not installed for {self.python}: run without -j (and -x) to install it, "
                       "with PIP_FIND_LINKS or PIP_INDEX_URL naming the site's mirror.", 2)
        if not available["mock"]:
            paths.append(MOCK_FALLBACK)
        if self.options.location:
            paths.append(self.tests_path)
        self.env["PYTHONPATH"] = os.pathsep.join(paths)
        return available

    def _show_environment(self) -> None:
        self.log(f"PYTHONPATH={self.env['PYTHONPATH']}")
        self.log(f"PATH={self.env['PATH']}")
        self.log(f"Virtualenv activated={str(self.options.virtualenv).lower()}")
        self.log("Installed Python dependencies:")
        subprocess.run([self.python, "-m", "pip", "list", "--format", "columns", "--disable-pip-version-check"],
                       env=self.env, check=False)

    def _pytest_command(self, available: dict) -> list[str]:
        command = [self.python, "-m", "pytest", "-s", "-v"]
        if self.options.coverage:
            if available["pytest_cov"]:
                self.verbose("Enabling pytest coverage")
                for name in sorted(os.listdir(self.pack_path)):
                    folder = os.path.join(self.pack_path, name)
                    if os.path.isdir(folder) and name != "tests" and not name.startswith("."):
                        command.append(f"--cov={folder}")
            else:
                self.log(f"No coverage (-c): pytest-cov is not installed for {self.python}; add it to the pack's "
                         "requirements-tests.txt (and to the site's mirror) to measure coverage.")
        if self.options.timing:
            command.append("--durations=0")
        if not self._has_pytest_config():
            command += ["-c", os.devnull, "--rootdir", self.pack_path, "--confcutdir", self.pack_path]
        command.append(self.tests_path + self.options.location)
        return command

    def _has_pytest_config(self) -> bool:
        for name, section in PYTEST_CONFIGS.items():
            path = os.path.join(self.pack_path, name)
            if os.path.isfile(path):
                if not section:
                    return True
                with open(path, errors="replace") as handle:
                    if section in handle.read():
                        return True
        return False


def main(argv: Optional[list[str]] = None) -> int:
    try:
        options = parse_options(sys.argv[1:] if argv is None else argv)
        tests = PackTests(options)
        command = tests.run()
    except Stop as stop:
        print(str(stop), file=sys.stdout if stop.code in (0, 3) else sys.stderr, flush=True)
        return stop.code
    sys.stdout.flush()
    sys.stderr.flush()
    os.chdir(tests.pack_path)
    os.execve(command[0], command, tests.env)
    return 1  # not reached


if __name__ == "__main__":
    sys.exit(main())
