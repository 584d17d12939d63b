"""Engine steps shared by the runners that ship a script to hosts and run it there.

clush-script and remote-shell-script do the same dance: copy the script, make it executable, run
it, remove it whatever the run's outcome, and report the run's exit code. Keeping it here means a
fix to that dance reaches both.
"""

from __future__ import annotations

import shlex
from typing import Optional, Sequence


def script_command_line(remote: str, args: Sequence[str]) -> str:
    """The remote script followed by its arguments, each quoted for a POSIX shell."""
    return " ".join(shlex.quote(part) for part in [remote, *args])


def script_steps(source: str, remote: str, run: str, stdin: Optional[str] = None,
                 guarded: bool = False) -> list[dict]:
    """Copy `source` to `remote`, then chmod it, run the shell text `run`, remove it, exit with run's code.

    `run` is whatever starts the copied script (plain, or wrapped in cd/env/sudo, under a
    session_guard when `guarded`, so a stop ends it and the script is still removed); `stdin` is
    text for the shell step's standard input (a sudo password), never put on a command line.
    """
    target = shlex.quote(remote)
    shell = {"kind": "shell", "command": f"chmod 700 {target} && {run}; rc=$?; rm -f {target}; exit $rc",
             "guarded": guarded}
    if stdin:
        shell["stdin"] = stdin
    return [{"kind": "copy", "source": source, "dest": remote, "preserve": False}, shell]
