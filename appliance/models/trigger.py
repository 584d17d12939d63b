"""Trigger: a concrete trigger of a type, the thing rules point at and instances refer to
(StackStorm's TriggerAPI; the CLI's "trigger specification", `st2 trigger getspecs`).

A parameterless type has one "shadow" trigger with the type's own pack and name, so dispatching the
type's ref finds it; a parameterised type (webhook, timers) gets one trigger per set of parameters,
named with a uuid4, when a rule asks for it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Optional

from appliance.models.names import check_pack_ref, check_resource_name
from appliance.models.schema import Entity, Field

TRIGGERS = Entity(
    name="trigger",
    collection="triggers",
    fields={
        "id": Field("string", server=True),
        "ref": Field("string", server=True),
        "uid": Field("string", server=True),
        "type": Field("string", required=True),
        "name": Field("string", required=True, check=check_resource_name),
        "pack": Field("string", required=True, check=check_pack_ref),
        "parameters": Field("object", default={}),
        "description": Field("string"),
    },
    uid_prefix="trigger",
    uid_fields=("pack", "name"),
    indexed=("type", "uid"),
    unique=("ref",),
)


def identify(trigger: dict) -> dict:
    """The trigger with its ref, and StackStorm's uid: pack, name and an md5 of the parameters
    (two triggers of one type differ by their parameters)."""
    parameters = json.dumps(trigger.get("parameters") or {}, sort_keys=True)
    digest = hashlib.md5(parameters.encode(), usedforsecurity=False).hexdigest()
    identified = TRIGGERS.identify(trigger)
    return {**identified, "uid": f"{identified['uid']}:{digest}"}


def shadow_of(trigger_type: dict) -> Optional[dict]:
    """The shadow trigger of a parameterless trigger type; None for a type that takes parameters."""
    if trigger_type.get("parameters_schema"):
        return None
    body = {"name": trigger_type["name"], "pack": trigger_type["pack"], "type": trigger_type["ref"]}
    return identify(TRIGGERS.build(body))
