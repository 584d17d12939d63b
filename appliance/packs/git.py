"""Cloning a pack's git repository and checking out the ref asked for, as StackStorm 3.9 resolves it
(pack_management.clone_repo): the repository's default branch when no ref is given (a repository on
disk may stay at a detached HEAD), else a branch `origin/<ref>`, then a commit or tag `<ref>`, then the
tag `v<ref>` for a version; otherwise StackStorm's error listing the versions (`v` tags) available.

git runs without a shell, with fixed arguments after `--`, never prompting, limited to the file, git,
http(s) and ssh transports (no `ext::` helpers).
"""

from __future__ import annotations

import os
import re
import subprocess
from typing import Optional

from appliance.packs import PackError
from appliance.packs.manifest import PACK_VERSION

GIT_TIMEOUT = 600  # seconds for one git command (a clone over a slow link)
_REF = re.compile(r"^[^\s\x00-\x1f\x7f-][^\s\x00-\x1f\x7f]{0,255}$")


def _environment() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("GIT_")}
    env.update(GIT_TERMINAL_PROMPT="0", GIT_ASKPASS="true", SSH_ASKPASS="true", GIT_PROTOCOL_FROM_USER="0",
               GIT_ALLOW_PROTOCOL="file:git:http:https:ssh", LC_ALL="C")
    return env


def git(args: list[str], cwd: Optional[str] = None, config: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """Run `git [-c config]... args`; a missing git binary is a PackError."""
    argv = ["git"]
    for item in config:
        argv += ["-c", item]
    try:
        return subprocess.run(argv + args, cwd=cwd, env=_environment(), capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=GIT_TIMEOUT, check=False)
    except FileNotFoundError:
        raise PackError("git is not installed on this host: it is needed to install packs from git "
                        "repositories.") from None
    except subprocess.TimeoutExpired:
        raise PackError(f"git {args[0]} took longer than {GIT_TIMEOUT} seconds.") from None


def _last_line(text: str) -> str:
    """git's reason: its first fatal or error line, else its last line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    reasons = [line for line in lines if line.startswith(("fatal:", "error:"))]
    return (reasons or lines or ["no message"])[0 if reasons else -1]


def clone(url: str, destination: str, ref: Optional[str], local_path: str = "") -> str:
    """Clone `url` into `destination` (which must not exist) at `ref`; returns the commit checked out."""
    # A repository on disk may belong to another user (the site's admin): trust it for this read only.
    config = (f"safe.directory={local_path}", f"safe.directory={local_path}/.git") if local_path else ()
    done = git(["clone", "--quiet", "--", url, destination], config=config)
    if done.returncode != 0:
        raise PackError(f"Cannot clone {url}: {_last_line(done.stderr)}")
    head = commit_of(destination, "HEAD")
    if head is None:
        raise PackError(f"Cannot install from {url}: the repository has no commit.")
    if ref:
        checkout(destination, url, ref)
        head = commit_of(destination, "HEAD") or head
    return head


def commit_of(repo: str, name: str) -> Optional[str]:
    """The commit `name` (branch, tag, hash, ...) points to in `repo`, None when it names none."""
    if not _REF.match(name):
        return None
    done = git(["rev-parse", "--verify", "--quiet", f"{name}^{{commit}}"], cwd=repo)
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else None


def active_branch(repo: str) -> Optional[str]:
    done = git(["symbolic-ref", "--quiet", "--short", "HEAD"], cwd=repo)
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else None


def checkout(repo: str, url: str, ref: str) -> None:
    """Check out `ref` in a fresh clone, trying what StackStorm tries, in its order."""
    if ref == active_branch(repo):
        return
    branch = commit_of(repo, f"refs/remotes/origin/{ref}")
    if branch:
        _run_checkout(repo, ["-B", ref, branch])
        return
    commit = commit_of(repo, ref)
    if commit is None and PACK_VERSION.match(ref):
        commit = commit_of(repo, f"v{ref}")
    if commit is None:
        message = f'"{ref}" is not a valid version, hash, tag or branch in {url}.'
        versions = available_versions(repo)
        if versions:
            message += f" Available versions are: {', '.join(versions)}."
        raise PackError(message)
    _run_checkout(repo, ["--detach", commit])


def _run_checkout(repo: str, args: list[str]) -> None:
    done = git(["checkout", "--quiet", *args], cwd=repo)
    if done.returncode != 0:
        raise PackError(f"Cannot check out {args[-1]}: {_last_line(done.stderr)}")


def available_versions(repo: str) -> list[str]:
    """The versions a repository offers: its tags `v<semantic version>`, without the `v`."""
    done = git(["tag", "--list"], cwd=repo)
    tags = done.stdout.split() if done.returncode == 0 else []
    return [tag[1:] for tag in tags if tag.startswith("v") and PACK_VERSION.match(tag[1:])]


def describe(repo: str, branch: str) -> Optional[str]:
    """packs.get's git_status: the status line, the remotes, and how far HEAD is from origin/<branch>;
    None when the directory is not a git work tree."""
    inside = git(["rev-parse", "--is-inside-work-tree"], cwd=repo, config=(f"safe.directory={repo}",))
    if inside.returncode != 0 or inside.stdout.strip() != "true" or not os.path.isdir(os.path.join(repo, ".git")):
        return None
    status = git(["status"], cwd=repo).stdout.splitlines()
    remotes = git(["remote", "get-url", "--all", "origin"], cwd=repo).stdout.split()
    text = f"Status:\n{status[0] if status else ''}\n\nRemotes:\n" + "\n".join(remotes)
    if _REF.match(branch):
        counts = git(["rev-list", "--left-right", "--count", f"HEAD...origin/{branch}"], cwd=repo).stdout.split()
        if len(counts) == 2 and counts != ["0", "0"]:
            ahead, behind = counts
            parts = [f"{ahead} commits ahead" if ahead != "0" else "",
                     f"{behind} commits behind" if behind != "0" else ""]
            text += "\n\n" + " and ".join(part for part in parts if part) + f" origin/{branch}."
    return text
