"""Replacing an installed pack so that a failure leaves the previous version as it was.

An install is several actions (download, virtualenv, registration), so the replacement spans them: the
download moves the installed directory aside and the new one in, the virtualenv step moves the old
virtualenv aside before building the new one, and the registration step commits (the old copies are
deleted) or aborts (the new files and virtualenv are removed and the old ones moved back). What was done
is written down before it is done, so an install that was killed half-way is rolled back by the next one.

Layout (renames stay on one file system):
    <packs base>/.st2-install/<ref>/         owner, pack (state), venv (state), previous/ (the old pack)
    <virtualenvs>/.st2-install/<ref>/previous/   the old virtualenv
"""

from __future__ import annotations

import os
import shutil
from typing import Optional

from appliance.packs import PackError

STATE_DIR = ".st2-install"  # hidden: never taken for a pack by the registrar (it reads */pack.yaml)
PACK_CONFIG = "config.yaml"  # a config kept inside the pack directory survives upgrades, as in StackStorm
_PREVIOUS, _NONE = "previous", "none"


class Busy(PackError):
    """Another installation of the pack has not finished (its transaction exists)."""


def _remove(path: str) -> None:
    if os.path.islink(path) or os.path.isfile(path):
        os.unlink(path)
    elif os.path.isdir(path):
        shutil.rmtree(path)


class Transaction:
    """The pending replacement of one pack `ref` under `packs_base`, with its virtualenv under `virtualenvs`."""

    def __init__(self, packs_base: str, virtualenvs: str, ref: str):
        self.ref = ref
        self.root = os.path.join(packs_base, STATE_DIR, ref)
        self.venv_root = os.path.join(virtualenvs, STATE_DIR, ref)
        self.live = os.path.join(packs_base, ref)
        self.venv = os.path.join(virtualenvs, ref)

    # -- life cycle -------------------------------------------------------------------------------
    @classmethod
    def begin(cls, packs_base: str, virtualenvs: str, ref: str, owner: str) -> Transaction:
        """A new transaction owned by `owner` (the install's execution); Busy when one exists already."""
        made = cls(packs_base, virtualenvs, ref)
        os.makedirs(os.path.dirname(made.root), exist_ok=True)
        try:
            os.mkdir(made.root)
        except FileExistsError:
            raise Busy(f'Another installation of pack "{ref}" has not finished (execution {made.owner or "?"}).') \
                from None
        made._write("owner", owner)
        return made

    @classmethod
    def find(cls, packs_base: str, virtualenvs: str, ref: str) -> Optional[Transaction]:
        found = cls(packs_base, virtualenvs, ref)
        return found if os.path.isdir(found.root) else None

    @property
    def owner(self) -> str:
        return self._read("owner") or ""

    def _write(self, name: str, value: str) -> None:
        with open(os.path.join(self.root, name), "w", encoding="utf-8") as handle:
            handle.write(value)
            handle.flush()
            os.fsync(handle.fileno())

    def _read(self, name: str) -> Optional[str]:
        try:
            with open(os.path.join(self.root, name), encoding="utf-8") as handle:
                return handle.read().strip()
        except OSError:
            return None

    # -- the steps ----------------------------------------------------------------------------------
    def install(self, staged: str) -> None:
        """Put the pack directory `staged` (on the same file system) in place of the installed one, which
        is kept aside; a config.yaml of the installed pack is carried over."""
        previous = os.path.join(self.root, _PREVIOUS)
        had = os.path.lexists(self.live)
        self._write("pack", _PREVIOUS if had else _NONE)
        if had:
            os.rename(self.live, previous)
            old_config = os.path.join(previous, PACK_CONFIG)
            if os.path.isfile(old_config) and not os.path.islink(old_config):
                shutil.copy2(old_config, os.path.join(staged, PACK_CONFIG))
        os.rename(staged, self.live)

    def set_virtualenv_aside(self) -> None:
        """Before a new virtualenv is built: keep the installed one aside (once per transaction; a
        second call only clears what a previous attempt built)."""
        if self._read("venv") is not None:
            _remove(self.venv)
            return
        had = os.path.lexists(self.venv)
        self._write("venv", _PREVIOUS if had else _NONE)
        if had:
            os.makedirs(self.venv_root, exist_ok=True)
            os.rename(self.venv, os.path.join(self.venv_root, _PREVIOUS))

    def commit(self) -> None:
        """The new version stays: drop the old copies and the transaction."""
        _remove(self.venv_root)
        _remove(self.root)

    def abort(self) -> None:
        """Back to the previous version: the new virtualenv and files removed, the old ones moved back."""
        self._restore(self._read("venv"), self.venv, os.path.join(self.venv_root, _PREVIOUS))
        self._restore(self._read("pack"), self.live, os.path.join(self.root, _PREVIOUS))
        self.commit()

    @staticmethod
    def _restore(state: Optional[str], live: str, previous: str) -> None:
        if state == _NONE:
            _remove(live)
        elif state == _PREVIOUS and os.path.lexists(previous):  # else the old one was never moved
            _remove(live)
            os.rename(previous, live)
