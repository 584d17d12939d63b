"""The database side of installing and removing packs (st2api runs it for POST /v1/packs/register and
POST /v1/packs/unload; the packs pack's actions reach it through the API).

- `kept(...)`: registering named packs either fully succeeds or leaves their documents as they were:
  a snapshot of the packs' documents (and of the triggers their rules use) is put back when the
  registration raises, so a failed upgrade keeps the previous version's registration.
- `prune(...)`: after a registration of named packs, the actions, sensors, trigger types and rules whose
  metadata file is gone from the pack are removed, so an upgrade leaves no content of the old version.
- `unload(...)`: every document of a pack removed, as StackStorm's packs.unload: rules (with the
  triggers only they used), sensors, trigger types, triggers, actions, then the pack itself with its
  config schema and registered config (the config file in <base_path>/configs stays, as in StackStorm).
"""

from __future__ import annotations

import contextlib
import logging
import os
from typing import Iterable, Iterator

from appliance.models import (
    ACTIONS,
    CONFIG_SCHEMAS,
    CONFIGS,
    PACKS,
    RULES,
    SENSOR_TYPES,
    TRIGGER_TYPES,
    TRIGGERS,
)
from appliance.models.schema import Entity
from appliance.packs import PackError
from appliance.packs.removal import refuse_system_packs
from appliance.revisions import bump
from appliance.rules.definitions import RuleDefinitions
from appliance.store import Store

LOG = logging.getLogger(__name__)

# The stored documents a pack owns (field `pack`); the pack document itself is found by `ref`.
CONTENT: tuple[Entity, ...] = (ACTIONS, SENSOR_TYPES, TRIGGER_TYPES, TRIGGERS, RULES, CONFIG_SCHEMAS, CONFIGS)
UNREGISTERABLE = "Unregister includes an unregisterable pack - {}."
# Registration content type -> the documents it makes from a pack's metadata files.
FROM_FILES: dict[str, Entity] = {"actions": ACTIONS, "sensors": SENSOR_TYPES, "triggers": TRIGGER_TYPES,
                                 "rules": RULES}


def _documents(store: Store, entity: Entity, packs: list[str]) -> list[dict]:
    key = "ref" if entity is PACKS else "pack"
    return store.collection(entity).find({key: {"$in": packs}})


def snapshot(store: Store, packs: list[str]) -> dict[str, list[dict]]:
    """The packs' documents by collection, plus (under "rule_triggers") the triggers their rules fire on."""
    taken = {entity.collection: _documents(store, entity, packs) for entity in (PACKS, *CONTENT)}
    refs = sorted({rule["trigger"]["ref"] for rule in taken[RULES.collection]})
    taken["rule_triggers"] = store.collection(TRIGGERS).find({"ref": {"$in": refs}}) if refs else []
    return taken


def restore(store: Store, rule_definitions: RuleDefinitions, packs: list[str], taken: dict[str, list[dict]]) -> None:
    """Put the packs' documents back as `snapshot` found them."""
    now_used = {rule["trigger"]["ref"] for rule in _documents(store, RULES, packs)}
    for entity in (RULES, ACTIONS, SENSOR_TYPES, TRIGGER_TYPES, TRIGGERS, CONFIGS, CONFIG_SCHEMAS, PACKS):
        coll = store.collection(entity)
        kept = {doc["id"] for doc in taken[entity.collection]}
        for doc in _documents(store, entity, packs):
            if doc["id"] not in kept:
                coll.delete(doc["id"])
    for entity in (PACKS, CONFIG_SCHEMAS, CONFIGS, TRIGGER_TYPES, TRIGGERS, ACTIONS, SENSOR_TYPES, RULES):
        _put_back(store, entity, taken[entity.collection])
    _put_back(store, TRIGGERS, taken["rule_triggers"])
    bump(store, "rules")
    for ref in now_used:  # triggers made for rules the failed registration wrote
        rule_definitions.release(ref)


def _put_back(store: Store, entity: Entity, docs: list[dict]) -> None:
    coll = store.collection(entity)
    for doc in docs:
        if coll.get(doc["id"]) is None:
            coll.insert(doc)
        else:
            coll.replace(doc)


@contextlib.contextmanager
def kept(store: Store, rule_definitions: RuleDefinitions, packs: list[str]) -> Iterator[None]:
    """Run a registration of `packs`; when it raises, their documents go back to what they were."""
    taken = snapshot(store, packs)
    try:
        yield
    except BaseException:
        try:
            restore(store, rule_definitions, packs, taken)
        except Exception:  # the registration's own error is the one to report
            LOG.exception("could not restore the registration of %s", ", ".join(packs))
        raise


def prune(store: Store, rule_definitions: RuleDefinitions, packs: list[str], types: Iterable[str]) -> int:
    """Remove the documents of `packs` (for the registered `types`) made from a metadata file the pack no
    longer has (documents made through the API have none and stay); returns how many."""
    removed = 0
    for pack in store.collection(PACKS).find({"ref": {"$in": packs}}):
        directory = pack.get("path") or ""
        for kind, entity in FROM_FILES.items():
            if kind not in types or not directory:
                continue
            for doc in store.collection(entity).find({"pack": pack["ref"]}):
                metadata_file = doc.get("metadata_file")
                if not metadata_file or os.path.isfile(os.path.join(directory, metadata_file)):
                    continue
                LOG.info("%s %s is gone from %s: unregistered", entity.name, doc.get("ref"), directory)
                if entity is RULES:
                    rule_definitions.delete(doc)
                else:
                    store.collection(entity).delete(doc["id"])
                    if entity is TRIGGER_TYPES:
                        store.collection(TRIGGERS).delete_many({"type": doc["ref"]})
                removed += 1
    return removed


def unload(store: Store, rule_definitions: RuleDefinitions, packs: Iterable[str]) -> dict[str, int]:
    """Remove every document of `packs` (StackStorm's system packs refused); returns counts by kind."""
    packs = list(dict.fromkeys(packs))
    bad = [pack for pack in packs if not isinstance(pack, str) or not pack]
    if bad:
        raise PackError(f"{bad[0]!r} is not a pack name")
    refuse_system_packs(packs, UNREGISTERABLE)
    counts = {"packs": 0, "actions": 0, "rules": 0, "sensors": 0, "triggers": 0, "trigger_types": 0,
              "config_schemas": 0, "configs": 0}
    for pack in packs:
        for rule in store.collection(RULES).find({"pack": pack}):
            rule_definitions.delete(rule)
            counts["rules"] += 1
        counts["sensors"] += store.collection(SENSOR_TYPES).delete_many({"pack": pack})
        for trigger_type in store.collection(TRIGGER_TYPES).find({"pack": pack}):
            users = store.collection(RULES).find({"trigger.type": trigger_type["ref"]})
            for rule in users:
                LOG.warning('Rule "%s" references deleted trigger "%s"', rule["ref"], trigger_type["ref"])
            store.collection(TRIGGER_TYPES).delete(trigger_type["id"])
            counts["trigger_types"] += 1
        counts["triggers"] += store.collection(TRIGGERS).delete_many({"pack": pack})
        counts["actions"] += store.collection(ACTIONS).delete_many({"pack": pack})
        counts["configs"] += store.collection(CONFIGS).delete_many({"pack": pack})
        counts["config_schemas"] += store.collection(CONFIG_SCHEMAS).delete_many({"pack": pack})
        counts["packs"] += store.collection(PACKS).delete_many({"ref": pack})
    return counts
