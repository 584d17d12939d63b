"""/v1/triggertypes (`st2 trigger ...`), /v1/triggers (`st2 trigger getspecs`) and /v1/triggerinstances
(`st2 trigger-instance list/get/re-emit`)."""

from __future__ import annotations

import copy
import uuid
from typing import Optional

import falcon

from appliance.api.http import bad_request, json_object, not_found, respond
from appliance.api.listing import list_collection, lookup, time_range
from appliance.content import save_shadow_trigger
from appliance.models import (
    TRIGGER_INSTANCES,
    TRIGGER_TYPES,
    TRIGGERS,
    ValidationError,
    new_id,
)
from appliance.models import trigger as trigger_model
from appliance.rules.definitions import check_trigger_parameters
from appliance.services.context import Context
from appliance.triggers import SYSTEM_PACK


class _Base:
    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.types = ctx.store.collection(TRIGGER_TYPES)
        self.triggers = ctx.store.collection(TRIGGERS)
        self.instances = ctx.store.collection(TRIGGER_INSTANCES)
        self.max_page_size = ctx.config.get("api", "max_page_size")

    def _filters(self, req: falcon.Request, params: tuple[str, ...]) -> dict:
        """Equality filters from the query, a comma-separated value meaning any of them."""
        filters: dict = {}
        for param in params:
            value = req.get_param(param)
            if value:
                filters[param] = {"$in": value.split(",")} if "," in value else value
        return filters


def _editable(trigger_type: dict) -> dict:
    if trigger_type["pack"] == SYSTEM_PACK:
        raise bad_request("Resources belonging to system level packs can't be manipulated")
    return trigger_type


class TriggerTypes(_Base):
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        filters = self._filters(req, ("pack", "name", "id"))
        docs = list_collection(req, resp, self.types, filters, [("pack", 1), ("name", 1)], self.max_page_size)
        respond(resp, [TRIGGER_TYPES.public(doc) for doc in docs])

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Create a trigger type, and its shadow trigger when it takes no parameters."""
        doc = TRIGGER_TYPES.identify(TRIGGER_TYPES.build(json_object(req)))
        doc = self.types.insert({"id": new_id(), **doc})
        save_shadow_trigger(self.triggers, doc)
        respond(resp, TRIGGER_TYPES.public(doc), 201)


class TriggerType(_Base):
    def on_get(self, req: falcon.Request, resp: falcon.Response, ref_or_id: str) -> None:
        respond(resp, TRIGGER_TYPES.public(lookup(self.types, "ref", ref_or_id)))

    def on_put(self, req: falcon.Request, resp: falcon.Response, ref_or_id: str) -> None:
        existing = _editable(lookup(self.types, "ref", ref_or_id))
        doc = TRIGGER_TYPES.identify(TRIGGER_TYPES.build(json_object(req), existing))
        doc = self.types.replace({**doc, "id": existing["id"]})
        save_shadow_trigger(self.triggers, doc)
        respond(resp, TRIGGER_TYPES.public(doc))

    def on_delete(self, req: falcon.Request, resp: falcon.Response, ref_or_id: str) -> None:
        """Delete a trigger type and its shadow trigger (the triggers of a parameterised type stay)."""
        existing = _editable(lookup(self.types, "ref", ref_or_id))
        self.types.delete(existing["id"])
        shadow = self.triggers.find_one({"ref": existing["ref"], "type": existing["ref"]})
        if shadow is not None:
            self.triggers.delete(shadow["id"])
        resp.status = falcon.HTTP_204


class _TriggerBase(_Base):
    def _build(self, body: dict, existing: Optional[dict] = None) -> dict:
        """A trigger of a stored type; a new one without a name is named with a uuid4, and without a
        pack is in its type's pack (as StackStorm makes the triggers of rules)."""
        type_ref = body.get("type", (existing or {}).get("type"))
        trigger_type = self.types.find_one({"ref": type_ref}) if isinstance(type_ref, str) else None
        if isinstance(type_ref, str) and trigger_type is None:
            raise ValidationError(f'Trigger type "{type_ref[:200]}" not found (field \'type\')', "type")
        defaults = {} if existing or trigger_type is None else {"name": str(uuid.uuid4()), "pack": trigger_type["pack"]}
        trigger = trigger_model.identify(TRIGGERS.build({**defaults, **body}, existing))
        if trigger_type is not None:  # a timer's schedule is checked here as in a rule, not found broken later
            check_trigger_parameters(trigger_type, trigger["parameters"],
                                     self.ctx.config.get("system", "validate_trigger_parameters"), "parameters")
        return trigger


class Triggers(_TriggerBase):
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        docs = list_collection(req, resp, self.triggers, self._filters(req, ("type",)), [("ref", 1)],
                               self.max_page_size)
        respond(resp, [TRIGGERS.public(doc) for doc in docs])

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Create a trigger; as in StackStorm, a trigger with the same ref that already exists is the
        answer instead."""
        doc = self._build(json_object(req))
        found = self.triggers.find_one({"ref": doc["ref"]})
        respond(resp, TRIGGERS.public(found or self.triggers.insert({"id": new_id(), **doc})), 201)


class Trigger(_TriggerBase):
    def on_get(self, req: falcon.Request, resp: falcon.Response, ref_or_id: str) -> None:
        respond(resp, TRIGGERS.public(lookup(self.triggers, "ref", ref_or_id)))

    def on_put(self, req: falcon.Request, resp: falcon.Response, ref_or_id: str) -> None:
        existing = lookup(self.triggers, "ref", ref_or_id)
        doc = self._build(json_object(req), existing)
        respond(resp, TRIGGERS.public(self.triggers.replace({**doc, "id": existing["id"]})))

    def on_delete(self, req: falcon.Request, resp: falcon.Response, ref_or_id: str) -> None:
        self.triggers.delete(lookup(self.triggers, "ref", ref_or_id)["id"])
        resp.status = falcon.HTTP_204


class _InstanceBase(_Base):
    def _get(self, instance_id: str) -> dict:
        doc = self.instances.get(instance_id)
        if doc is None:
            raise not_found(f'Resource with a id "{instance_id[:100]}" not found')
        return doc


class TriggerInstances(_InstanceBase):
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        filters = self._filters(req, ("trigger", "status", "id"))
        trigger_type = req.get_param("trigger_type")
        if trigger_type:  # the triggers of that type (and of ?trigger, when both are given)
            refs = [doc["ref"] for doc in self.triggers.find({"type": trigger_type})]
            wanted = req.get_param("trigger")
            filters["trigger"] = {"$in": [ref for ref in refs if not wanted or ref in wanted.split(",")]}
        occurred = time_range(req)
        if occurred:
            filters["occurrence_time"] = occurred
        sort = [("occurrence_time", -1), ("trigger", 1)]
        docs = list_collection(req, resp, self.instances, filters, sort, self.max_page_size, default_limit=100)
        respond(resp, [TRIGGER_INSTANCES.public(doc) for doc in docs])


class TriggerInstance(_InstanceBase):
    def on_get(self, req: falcon.Request, resp: falcon.Response, instance_id: str) -> None:
        respond(resp, TRIGGER_INSTANCES.public(self._get(instance_id)))


class TriggerInstanceReEmit(_InstanceBase):
    def on_post(self, req: falcon.Request, resp: falcon.Response, instance_id: str) -> None:
        """Dispatch the instance's payload again to its trigger, marked with where it came from. As in
        StackStorm, the request body is not read and the payload is not validated again."""
        original = self._get(instance_id)
        payload = {**copy.deepcopy(original.get("payload") or {}), "__context": {"original_id": original["id"]}}
        self.ctx.triggers.dispatch(original["trigger"], payload, validate=False)
        respond(resp, {"message": f"Trigger instance {original['id']} succesfully re-sent.", "payload": payload})
