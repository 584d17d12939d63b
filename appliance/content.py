"""Content registration: installed runner packages and the packs on disk become stored documents.

This is what `st2ctl reload`, the first start and POST /v1/packs/register run. Every document goes
through its entity's declaration (appliance/models), as API requests do. Documents keep their id
across re-registration, so references from executions stay valid.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import threading
from typing import Callable, Iterable, Optional

import yaml

from appliance import codec, models, runners
from appliance.models import (
    ACTIONS,
    CONFIG_SCHEMAS,
    CONFIGS,
    PACKS,
    RUNNER_TYPES,
    SENSOR_TYPES,
    TRIGGER_TYPES,
    TRIGGERS,
    ValidationError,
    ref_of,
)
from appliance.models.config import CONFIG_SCHEMA_FILE, validate_config
from appliance.models.schema import shown
from appliance.models.trigger import shadow_of
from appliance.rules.definitions import RuleDefinitions
from appliance.store import Collection, Store
from appliance.triggers import SYSTEM_TRIGGER_TYPES

LOG = logging.getLogger(__name__)

CONTENT_TYPES = ("runners", "actions", "triggers", "sensors", "rules", "configs")


class ContentError(ValidationError):
    """A pack or metadata file is invalid; the message names the file (a 400 in the API)."""


def read_yaml(path: str) -> dict:
    """A metadata or config file's mapping; any error is one ContentError line naming the file."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ContentError(f"{path}: {exc}".replace("\n", " ")) from exc
    if not isinstance(data, dict):
        raise ContentError(f"{path}: expected a mapping at the top level")
    return data


def upsert(coll: Collection, key: str, doc: dict) -> dict:
    """Insert `doc`, or replace the document with the same `key` value keeping its id."""
    existing = coll.find_one({key: doc[key]})
    if existing is None:
        return coll.insert({"id": models.new_id(), **doc})
    return coll.replace({**doc, "id": existing["id"]})


def save_shadow_trigger(triggers: Collection, trigger_type: dict) -> None:
    """Create or refresh the shadow trigger of a parameterless trigger type (see models/trigger.py)."""
    shadow = shadow_of(trigger_type)
    if shadow is not None:
        upsert(triggers, "ref", shadow)


def _metadata_files(pack_dir: str, folder: str) -> list[str]:
    """A pack folder's metadata files (actions/*.yaml, triggers/*.yml, ...), in name order."""
    found = glob.glob(os.path.join(pack_dir, folder, "*.yaml")) + glob.glob(os.path.join(pack_dir, folder, "*.yml"))
    return sorted(found)


def _pack_metadata(pack: str, pack_dir: str, path: str) -> dict:
    """A pack's metadata file with its pack (filled in when missing, an error when another) and path."""
    meta = read_yaml(path)
    if meta.get("pack") and meta["pack"] != pack:
        raise ContentError(f'{path}: the file is in pack "{pack}" but names pack {shown(meta["pack"])}')
    return {**meta, "pack": pack, "metadata_file": os.path.relpath(path, pack_dir)}


def build_action(body: dict, runner_types: Collection, existing: Optional[dict] = None) -> dict:
    """An action document from a metadata file or an API body, its runner type checked."""
    action = ACTIONS.identify(ACTIONS.build(body, existing))
    if runner_types.find_one({"name": action["runner_type"]}) is None:
        raise ValidationError(f'RunnerType "{action["runner_type"]}" is not found.', "runner_type")
    return action


class Registrar:
    """Upserts runner types, packs (with their config schemas), actions, trigger types, sensors, rules and
    pack configs."""

    def __init__(self, store: Store, packs_paths: list[str], configs_path: str = "",
                 validate_trigger_parameters: bool = True):
        self.runner_types = store.collection(RUNNER_TYPES)
        self.packs = store.collection(PACKS)
        self.actions = store.collection(ACTIONS)
        self.trigger_types = store.collection(TRIGGER_TYPES)
        self.triggers = store.collection(TRIGGERS)
        self.sensor_types = store.collection(SENSOR_TYPES)
        self.config_schemas = store.collection(CONFIG_SCHEMAS)
        self.configs = store.collection(CONFIGS)
        self.rule_definitions = RuleDefinitions(store, validate_trigger_parameters)
        self.packs_paths = packs_paths
        self.configs_path = configs_path

    def register_runners(self) -> int:
        """Every runner package that loads; one that does not is logged and skipped."""
        count = 0
        for name in sorted(runners.available()):
            try:
                spec = {"name": name, **runners.load(name).RUNNER_TYPE}
            except runners.RunnerLoadError as exc:
                LOG.error("%s", exc)
                continue
            existing = self.runner_types.find_one({"name": spec["name"]})
            if existing is not None:
                spec["enabled"] = existing.get("enabled", True)  # an operator's disable survives
            try:
                doc = RUNNER_TYPES.build(spec)
            except ValidationError as exc:
                LOG.error("runner %s declares an invalid runner type: %s", name, exc)
                continue
            upsert(self.runner_types, "name", {**doc, "uid": RUNNER_TYPES.uid(doc)})
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

    def register_pack(self, directory: str, with_actions: bool = True) -> tuple[dict, int]:
        """Register one pack directory and its actions; returns (pack, number of actions)."""
        manifest_path = os.path.join(directory, "pack.yaml")
        manifest = read_yaml(manifest_path)
        body = {k: v for k, v in manifest.items() if k not in ("id", "uid")}
        body.setdefault("ref", manifest.get("name"))
        try:
            pack = PACKS.build({**body, "path": directory})
        except ValidationError as exc:
            raise ContentError(f"{manifest_path}: {exc}") from None
        pack = upsert(self.packs, "ref", {**pack, "uid": PACKS.uid(pack)})
        self.register_config_schema(pack["ref"], directory)
        count = 0
        if with_actions:
            for path in _metadata_files(directory, "actions"):
                self.register_action(pack["ref"], directory, path)
                count += 1
        return pack, count

    def register_action(self, pack: str, pack_dir: str, path: str) -> dict:
        meta = read_yaml(path)
        body = {**meta, "pack": pack, "metadata_file": os.path.relpath(path, pack_dir)}
        try:
            action = build_action(body, self.runner_types)
        except ValidationError as exc:
            raise ContentError(f"{path}: {exc}") from None
        return upsert(self.actions, "ref", action)

    def register_trigger_type(self, body: dict) -> dict:
        """Upsert a trigger type and, when it takes no parameters, its shadow trigger. The system table,
        pack triggers/*.yaml and (with sensors) each sensor's trigger_types come through here."""
        trigger_type = TRIGGER_TYPES.identify(TRIGGER_TYPES.build(body))
        trigger_type = upsert(self.trigger_types, "ref", trigger_type)
        save_shadow_trigger(self.triggers, trigger_type)
        return trigger_type

    def register_system_trigger_types(self) -> None:
        """StackStorm's own trigger types (appliance.triggers), as every StackStorm service start does."""
        for body in SYSTEM_TRIGGER_TYPES:
            self.register_trigger_type(body)

    def register_pack_trigger(self, pack: str, pack_dir: str, path: str) -> dict:
        body = _pack_metadata(pack, pack_dir, path)
        try:
            return self.register_trigger_type(body)
        except ValidationError as exc:
            raise ContentError(f"{path}: {exc}") from None

    def register_sensor(self, pack: str, pack_dir: str, path: str) -> dict:
        """A pack's sensor and the trigger types it declares. As StackStorm's registrar, `enabled`
        comes from the file (true when it does not say) and the sensor keeps its id."""
        body = _pack_metadata(pack, pack_dir, path)
        declared = body.pop("trigger_types", None) or []
        try:
            if not isinstance(declared, list) or not all(isinstance(item, dict) for item in declared):
                raise ValidationError("expected a list of trigger type definitions", "trigger_types")
            body["name"] = body.pop("class_name", None)
            if "entry_point" in body and not isinstance(body["entry_point"], str):
                raise ValidationError("expected the sensor's .py file", "entry_point")
            body["artifact_uri"] = "file://" + os.path.join(pack_dir, "sensors", str(body.get("entry_point")))
            sensor = SENSOR_TYPES.build(body)
            refs = [self.register_trigger_type({**item, "pack": pack, "metadata_file": body["metadata_file"]})["ref"]
                    for item in declared]
            sensor = SENSOR_TYPES.identify({**sensor, "trigger_types": refs})
        except ValidationError as exc:
            raise ContentError(f"{path}: {exc}") from None
        return upsert(self.sensor_types, "ref", sensor)

    def register_rule(self, pack: str, pack_dir: str, path: str) -> dict:
        """Create or replace a pack's rule. As StackStorm's registrar, a rule keeps its id, and its
        `enabled` comes from the file (false when the file does not say)."""
        body = _pack_metadata(pack, pack_dir, path)
        existing = self.rule_definitions.rules.find_one({"ref": ref_of(pack, str(body.get("name")))})
        try:
            return self.rule_definitions.save(body, existing)
        except ValidationError as exc:
            raise ContentError(f"{path}: {exc}") from None

    def register_config_schema(self, pack: str, pack_dir: str) -> Optional[dict]:
        """The pack's config.schema.yaml, checked as StackStorm checks it (a broken one is a ContentError
        naming the file); a pack without one has no schema (one left from an earlier version is dropped)."""
        path = os.path.join(pack_dir, CONFIG_SCHEMA_FILE)
        if not os.path.isfile(path):
            self.config_schemas.delete_many({"pack": pack})
            return None
        attributes = read_yaml(path)
        if not attributes:
            raise ContentError(f'Config schema "{path}" is empty and invalid.')
        try:
            schema = CONFIG_SCHEMAS.build({"pack": pack, "attributes": attributes})
        except ValidationError as exc:
            raise ContentError(f"{path}: {exc}") from None
        return upsert(self.config_schemas, "pack", schema)

    def config_path(self, pack: str) -> str:
        return os.path.join(self.configs_path, f"{pack}.yaml")

    def _checked_config(self, pack: str, values: dict) -> dict:
        """The config document for `values`, validated against the pack's registered schema (with its
        defaults filled in, as StackStorm validates; the values are stored as given)."""
        schema = self.config_schemas.find_one({"pack": pack})
        if schema is not None:
            validate_config(values, schema.get("attributes") or {}, pack, self.config_path(pack))
        try:
            codec.dumps(values)
        except (TypeError, ValueError) as exc:  # YAML's !!binary, say: the store and the API hold JSON
            raise ValidationError(f"the config holds a value JSON cannot represent ({exc})", "values") from None
        return CONFIGS.build({"pack": pack, "values": values})

    def register_config(self, pack: str) -> bool:
        """Register <configs_path>/<pack>.yaml; False when there is none (a config registered before is
        dropped). A broken or invalid one is a ContentError naming the file and the attribute."""
        path = self.config_path(pack)
        if not os.path.exists(path):
            self.configs.delete_many({"pack": pack})
            return False
        try:
            config = self._checked_config(pack, read_yaml(path))
        except ValidationError as exc:
            raise ContentError(f'Failed to register config "{path}" for pack "{pack}": {exc}') from None
        upsert(self.configs, "pack", config)
        return True

    def save_config(self, pack: str, values: dict) -> dict:
        """PUT /v1/configs/<pack>: validate, write <configs_path>/<pack>.yaml (0600, replaced whole) and
        register it; returns the stored config. The pack must be registered (its ref is a safe name)."""
        config = self._checked_config(pack, values)
        path = self.config_path(pack)
        try:
            _write_private(path, yaml.safe_dump(config["values"], default_flow_style=False))
        except OSError as exc:
            raise ContentError(f'Cannot write the config of pack "{pack}" to {path}: {exc.strerror}') from None
        LOG.info('Config for pack "%s" is updated (%s).', pack, path)
        return upsert(self.configs, "pack", config)

    def register(
        self,
        packs: Optional[Iterable[str]] = None,
        fail_on_failure: bool = True,
        types: Iterable[str] = CONTENT_TYPES,
    ) -> dict:
        """Register the named packs (or all) for the given content types; returns StackStorm's
        count dict with one key per registered type (packs come with actions, triggers, rules and
        configs). The system trigger types are registered every time."""
        if isinstance(packs, str):
            raise ContentError("packs must be a list of pack names")
        types = tuple(types)
        unknown = sorted(set(types) - set(CONTENT_TYPES))
        if unknown:
            raise ContentError(f"Unknown content type(s): {', '.join(unknown)}")
        counts: dict = {}
        self.register_system_trigger_types()
        if "runners" in types:
            counts["runners"] = self.register_runners()
        if {"actions", "triggers", "sensors", "rules", "configs"} & set(types):
            counts["packs"] = 0
            for kind in ("actions", "triggers", "sensors"):
                if kind in types:
                    counts[kind] = 0
            registered = {}
            for directory in self.pack_dirs(packs):
                try:
                    pack, actions = self.register_pack(directory, with_actions="actions" in types)
                except ContentError as exc:
                    if fail_on_failure:
                        raise
                    LOG.warning("skipping pack %s: %s", directory, exc)
                    continue
                registered[pack["ref"]] = directory
                counts["packs"] += 1
                if "actions" in types:
                    counts["actions"] += actions
                if "triggers" in types:
                    counts["triggers"] += self._pack_files(pack["ref"], directory, "triggers",
                                                           self.register_pack_trigger, fail_on_failure)
                if "sensors" in types:
                    counts["sensors"] += self._pack_files(pack["ref"], directory, "sensors",
                                                          self.register_sensor, fail_on_failure)
            if "rules" in types:  # once every pack's actions and trigger types are in: rules name them
                counts["rules"] = sum(self._pack_files(ref, directory, "rules", self.register_rule, fail_on_failure)
                                      for ref, directory in registered.items())
            if "configs" in types:
                counts["configs"] = self._configs(list(registered), fail_on_failure)
        return counts

    def _pack_files(self, pack: str, directory: str, folder: str, register: Callable[[str, str, str], dict],
                    fail_on_failure: bool) -> int:
        """Register each metadata file of a pack folder; one that fails stops everything, or with
        fail_on_failure off is logged and skipped."""
        count = 0
        for path in _metadata_files(directory, folder):
            try:
                register(pack, directory, path)
            except ContentError as exc:
                if fail_on_failure:
                    raise
                LOG.warning("skipping %s: %s", path, exc)
                continue
            count += 1
        return count

    def _configs(self, refs: list[str], fail_on_failure: bool) -> int:
        count = 0
        for ref in refs:
            try:
                count += self.register_config(ref)
            except ContentError as exc:
                if fail_on_failure:
                    raise
                LOG.warning("skipping config of pack %s: %s", ref, exc)
        return count


def _write_private(path: str, text: str) -> None:
    """Replace `path` with `text` in one step, the file 0600 whatever the umask (a config holds secrets)."""
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    temporary = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
