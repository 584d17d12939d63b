"""Content registration: installed runner packages and the packs on disk become stored documents.

This is what `st2ctl reload --register-all`, the first start and POST /v1/packs/register run.
Documents keep their id across re-registration, so references from executions stay valid.
"""

from __future__ import annotations

import glob
import logging
import os
from typing import Iterable, Optional

import yaml

from appliance import models
from appliance.models import ACTIONS, PACKS, RUNNER_TYPES
from appliance.runners import installed_runners
from appliance.store import Store

LOG = logging.getLogger(__name__)


class ContentError(ValueError):
    """A pack or metadata file is invalid; the message names the file."""


def _read_yaml(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ContentError(f"{path}: {exc}".replace("\n", " ")) from exc
    if not isinstance(data, dict):
        raise ContentError(f"{path}: expected a mapping at the top level")
    return data


class Registrar:
    """Upserts runner types, packs and actions."""

    def __init__(self, store: Store, packs_paths: list[str]):
        self.runner_types = store.collection(RUNNER_TYPES)
        self.packs = store.collection(PACKS)
        self.actions = store.collection(ACTIONS)
        self.packs_paths = packs_paths

    def _upsert(self, coll, key: str, doc: dict) -> dict:
        existing = coll.find_one({key: doc[key]})
        if existing is None:
            return coll.insert({"id": models.new_id(), **doc})
        return coll.replace({**doc, "id": existing["id"]})

    def register_runners(self) -> int:
        count = 0
        for name, cls in sorted(installed_runners().items()):
            spec = dict(cls.RUNNER_TYPE)
            spec.setdefault("name", name)
            spec.setdefault("enabled", True)
            spec.setdefault("runner_parameters", {})
            spec["uid"] = f"runner_type:{spec['name']}"
            existing = self.runner_types.find_one({"name": spec["name"]})
            if existing is not None:
                spec["enabled"] = existing.get("enabled", True)  # an operator's disable survives
            self._upsert(self.runner_types, "name", spec)
            count += 1
        return count

    def pack_dirs(self, names: Optional[Iterable[str]] = None) -> list[str]:
        """Pack directories on the configured paths (the first path wins for a name)."""
        wanted = set(names) if names else None
        found: dict[str, str] = {}
        for base in self.packs_paths:
            for manifest in sorted(glob.glob(os.path.join(base, "*", "pack.yaml"))):
                directory = os.path.dirname(manifest)
                name = os.path.basename(directory)
                if name not in found and (wanted is None or name in wanted):
                    found[name] = directory
        if wanted:
            missing = sorted(wanted - set(found))
            if missing:
                raise ContentError(f"Pack(s) not found in {', '.join(self.packs_paths)}: {', '.join(missing)}")
        return list(found.values())

    def register_pack(self, directory: str) -> tuple[dict, int]:
        """Register one pack directory and its actions; returns (pack, number of actions)."""
        manifest = _read_yaml(os.path.join(directory, "pack.yaml"))
        ref = manifest.get("ref") or manifest.get("name")
        if not ref:
            raise ContentError(f"{directory}/pack.yaml: 'name' is required")
        pack = {
            **{k: v for k, v in manifest.items() if k not in ("id", "uid")},
            "ref": ref,
            "uid": f"pack:{ref}",
            "path": directory,
        }
        for field in ("description", "version", "author"):
            if not pack.get(field):
                raise ContentError(f"{directory}/pack.yaml: '{field}' is required")
        pack = self._upsert(self.packs, "ref", pack)
        count = 0
        for path in sorted(glob.glob(os.path.join(directory, "actions", "*.yaml"))
                           + glob.glob(os.path.join(directory, "actions", "*.yml"))):
            self.register_action(ref, directory, path)
            count += 1
        return pack, count

    def register_action(self, pack: str, pack_dir: str, path: str) -> dict:
        meta = _read_yaml(path)
        name = meta.get("name")
        runner = meta.get("runner_type")
        if not name or not runner:
            raise ContentError(f"{path}: 'name' and 'runner_type' are required")
        if self.runner_types.find_one({"name": runner}) is None:
            raise ContentError(f"{path}: unknown runner_type {runner!r}")
        parameters = meta.get("parameters") or {}
        if not isinstance(parameters, dict):
            raise ContentError(f"{path}: 'parameters' must be a mapping")
        action = {
            "name": name,
            "pack": pack,
            "ref": models.ref_of(pack, name),
            "uid": models.uid_of("action", pack, name),
            "description": meta.get("description", ""),
            "enabled": meta.get("enabled", True),
            "runner_type": runner,
            "entry_point": meta.get("entry_point", ""),
            "parameters": parameters,
            "output_schema": meta.get("output_schema") or {},
            "tags": meta.get("tags") or [],
            "notify": meta.get("notify") or {},
            "metadata_file": os.path.relpath(path, pack_dir),
        }
        return self._upsert(self.actions, "ref", action)

    def register(self, packs: Optional[Iterable[str]] = None, fail_on_failure: bool = True) -> dict:
        """Register runners, then the named packs (or all); returns StackStorm's count dict."""
        counts = {"runners": self.register_runners(), "packs": 0, "actions": 0}
        for directory in self.pack_dirs(packs):
            try:
                _, actions = self.register_pack(directory)
            except ContentError as exc:
                if fail_on_failure:
                    raise
                LOG.warning("skipping pack %s: %s", directory, exc)
                continue
            counts["packs"] += 1
            counts["actions"] += actions
        return counts
