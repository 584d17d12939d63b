"""Deleting packs from disk (StackStorm's packs.delete): the pack directories under the packs base and,
unless told otherwise, their virtualenvs. System packs are refused, as StackStorm refuses its own: its
SYSTEM_PACK_NAMES and the packs the appliance ships.
"""

from __future__ import annotations

import os
import shutil
from typing import Iterable

from appliance.models.names import PACK_REF
from appliance.packs import PackError
from appliance.packs.transaction import STATE_DIR

# StackStorm's SYSTEM_PACK_NAMES, then the packs shipped with the appliance (packs/ in its sources).
SYSTEM_PACKS = frozenset({"chatops", "core", "packs", "linux", "clush", "milkcheck", "runbooks"})
UNINSTALLABLE = "Uninstall includes an uninstallable pack - {}."


def refuse_system_packs(packs: Iterable[str], message: str = UNINSTALLABLE) -> None:
    system = sorted(set(packs) & SYSTEM_PACKS)
    if system:
        raise PackError(message.format(", ".join(system)))


def delete(packs: list[str], packs_base: str, virtualenvs: str, delete_env: bool = True) -> list[str]:
    """Remove the named packs' directories (entries of `packs_base` only) and their virtualenvs, with any
    unfinished installation of them; returns the directories removed."""
    refuse_system_packs(packs)
    names = {name for name in packs if isinstance(name, str) and PACK_REF.match(name)}  # never ".." nor STATE_DIR
    removed = []
    entries = sorted(os.listdir(packs_base)) if os.path.isdir(packs_base) else []
    for entry in entries:
        path = os.path.join(packs_base, entry)
        if entry in names and os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
            removed.append(path)
    for name in names:
        shutil.rmtree(os.path.join(packs_base, STATE_DIR, name), ignore_errors=True)
        shutil.rmtree(os.path.join(virtualenvs, STATE_DIR, name), ignore_errors=True)
    if delete_env:
        venvs = sorted(os.listdir(virtualenvs)) if os.path.isdir(virtualenvs) else []
        for entry in venvs:
            path = os.path.join(virtualenvs, entry)
            if entry in names and os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
    return removed
