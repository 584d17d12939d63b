"""ssh options for the ssh MilkCheck starts: `ssh` and `scp` wrappers first on milkcheck's PATH.

MilkCheck runs its remote commands with ClusterShell's ssh worker, which starts `ssh` found on
PATH with the options a program sets in the task (`ssh_path`, `ssh_options`); MilkCheck sets
none but `ssh_user`. Nothing outside the process can set them: ClusterShell's defaults.conf has
no ssh keys, milkcheck.conf is a fixed path that refuses unknown keys, and ssh reads no
environment variable naming its configuration. So, when there are options to give, the runner
puts a private directory (0700, removed after the run) first on milkcheck's PATH, holding `ssh`
and `scp` scripts that exec the real programs with those options first (so they win, as
ClusterShell's own ssh_options do) and then the arguments they were given. Every option is one
shell-quoted word of the script: nothing of a request is read by a shell as code.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import tempfile
from typing import Iterator

WRAPPED = ("ssh", "scp")
# ssh options whose value may come as the next word (`-p 2222`), from ssh(1)'s synopsis.
TAKES_VALUE = "BbcDEeFIiJLlmOoPpQRSWw"
_OPTION = re.compile(r"-[0-9A-Za-z]")


def option_words(text: str) -> list[str]:
    """The words of an ssh_options string; ValueError unless every word is an option or its value.

    A stray word would become ssh's destination (and the node name its command), so it is refused.
    """
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise ValueError(f"ssh_options cannot be split into words: {exc}.") from None
    value_next = False
    for word in words:
        if value_next:
            value_next = False
        elif _OPTION.match(word):
            flags = word[1:]
            cut = next((i for i, flag in enumerate(flags) if flag in TAKES_VALUE), None)
            value_next = cut is not None and cut == len(flags) - 1
        else:
            raise ValueError(f"ssh_options: {word!r} is not an ssh option (options start with '-').")
    if value_next:
        raise ValueError(f"ssh_options: {words[-1]!r} needs a value after it.")
    return words


def wrapper_script(program: str, options: list[str]) -> str:
    """A POSIX sh script running `program` with `options` first, then its own arguments."""
    return f'#!/bin/sh\nexec {" ".join(shlex.quote(word) for word in [program, *options])} "$@"\n'


@contextlib.contextmanager
def ssh_environment(options: list[str], env: dict[str, str]) -> Iterator[dict[str, str]]:
    """milkcheck's environment: `env` as is without options, else with the wrappers first on PATH.

    A program not found on PATH gets no wrapper, so it stays as missing as it was.
    """
    if not options:
        yield env
        return
    path = env.get("PATH", os.defpath)
    directory = tempfile.mkdtemp(prefix="milkcheck-ssh-")  # 0700, only this user can read or replace it
    try:
        for name in WRAPPED:
            program = shutil.which(name, path=path)
            if program:
                wrapper = os.path.join(directory, name)
                with open(os.open(wrapper, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o700), "w") as handle:
                    handle.write(wrapper_script(program, options))
        yield {**env, "PATH": directory + os.pathsep + path}
    finally:
        shutil.rmtree(directory, ignore_errors=True)
