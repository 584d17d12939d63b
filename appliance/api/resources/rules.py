"""/v1/rules (`st2 rule ...`), /v1/rules/views (rules with their action's and trigger's descriptions,
for the web UI), /v1/ruletypes and /v1/ruleenforcements (`st2 rule-enforcement ...`)."""

from __future__ import annotations

import hashlib

import falcon

from appliance.api.http import bad_request, json_object, not_found, respond
from appliance.api.listing import list_collection, lookup, time_range
from appliance.models import RULE_ENFORCEMENTS, RULES
from appliance.rules.definitions import RuleDefinitions
from appliance.services.context import Context
from appliance.store import Collection


def _rule_type(name: str, description: str) -> dict:
    """A rule type as StackStorm lists it; the id is derived from the name, so every host agrees."""
    digest = hashlib.md5(name.encode(), usedforsecurity=False).hexdigest()[:24]
    return {"id": digest, "name": name, "description": description, "enabled": True, "parameters": {}}


RULE_TYPES = (_rule_type("standard", "A rule that applies whenever its criteria match."),
              _rule_type("backstop", "A rule that applies when no standard rule of the trigger matched."))

# Query parameter -> field, as StackStorm's rules controller filters them (and ?enabled, ?trigger).
_RULE_FILTERS = {"id": "id", "name": "name", "pack": "pack", "action": "action.ref", "user": "context.user"}
_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}


def _equal(req: falcon.Request, table: dict[str, str]) -> dict:
    """Equality filters from the query (`table`: parameter -> field); a comma-separated ?id or ?name
    is a list of them, as StackStorm reads those two."""
    filters: dict = {}
    for param, field in table.items():
        value = req.get_param(param)
        if value:
            filters[field] = {"$in": value.split(",")} if param in ("id", "name") and "," in value else value
    return filters


def _boolean(name: str, raw: str) -> bool:
    try:
        return _BOOLEANS[raw.strip().lower()]
    except KeyError:
        raise bad_request(f"Invalid {name} value {raw[:40]!r}: must be true or false") from None


class _Rules:
    def __init__(self, ctx: Context):
        self.definitions = RuleDefinitions(ctx.store, ctx.config.get("system", "validate_trigger_parameters"))
        self.rules = self.definitions.rules
        self.max_page_size = ctx.config.get("api", "max_page_size")

    def _list(self, req: falcon.Request, resp: falcon.Response) -> list[dict]:
        filters = _equal(req, _RULE_FILTERS)
        enabled = req.get_param("enabled")
        if enabled:
            filters["enabled"] = _boolean("enabled", enabled)
        trigger = req.get_param("trigger")
        if trigger:  # a trigger type (what `st2 rule list --trigger` documents) or a trigger ref
            is_type = self.definitions.trigger_types.find_one({"ref": trigger}) is not None
            filters["trigger.type" if is_type else "trigger.ref"] = trigger
        docs = list_collection(req, resp, self.rules, filters, [("pack", 1), ("name", 1)], self.max_page_size)
        return [RULES.public(doc) for doc in docs]


class Rules(_Rules):
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        respond(resp, self._list(req, resp))

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        rule = self.definitions.save(json_object(req), user=req.context.user)
        respond(resp, RULES.public(rule), 201)


class Rule(_Rules):
    def on_get(self, req: falcon.Request, resp: falcon.Response, ref_or_id: str) -> None:
        respond(resp, RULES.public(lookup(self.rules, "ref", ref_or_id)))

    def on_put(self, req: falcon.Request, resp: falcon.Response, ref_or_id: str) -> None:
        """Replace the rule (`st2 rule update/enable/disable` PUT the whole rule to /rules/<id>)."""
        existing = lookup(self.rules, "ref", ref_or_id)
        rule = self.definitions.save(json_object(req), existing, user=req.context.user)
        respond(resp, RULES.public(rule))

    def on_delete(self, req: falcon.Request, resp: falcon.Response, ref_or_id: str) -> None:
        self.definitions.delete(lookup(self.rules, "ref", ref_or_id))
        resp.status = falcon.HTTP_204


def _by_ref(coll: Collection, refs: set) -> dict[str, dict]:
    refs.discard(None)
    return {doc["ref"]: doc for doc in coll.find({"ref": {"$in": sorted(refs)}})} if refs else {}


class _RuleViews(_Rules):
    def _described(self, rules: list[dict]) -> list[dict]:
        """The rules with action.description and trigger.description (the trigger's, else its type's)."""
        actions = _by_ref(self.definitions.actions, {rule["action"].get("ref") for rule in rules if "action" in rule})
        specs = [rule["trigger"] for rule in rules if "trigger" in rule]
        triggers = _by_ref(self.definitions.triggers, {spec.get("ref") for spec in specs})
        types = _by_ref(self.definitions.trigger_types, {spec.get("type") for spec in specs})
        for rule in rules:
            if "action" in rule:
                action = actions.get(rule["action"].get("ref"), {})
                rule["action"] = {**rule["action"], "description": action.get("description", "")}
            if "trigger" in rule:
                trigger = triggers.get(rule["trigger"].get("ref"), {})
                trigger_type = types.get(rule["trigger"].get("type"), {})
                description = trigger.get("description") or trigger_type.get("description") or ""
                rule["trigger"] = {**rule["trigger"], "description": description}
        return rules


class RuleViews(_RuleViews):
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        respond(resp, self._described(self._list(req, resp)))


class RuleView(_RuleViews):
    def on_get(self, req: falcon.Request, resp: falcon.Response, ref_or_id: str) -> None:
        respond(resp, self._described([RULES.public(lookup(self.rules, "ref", ref_or_id))])[0])


class RuleTypes:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        respond(resp, list(RULE_TYPES))


class RuleType:
    def on_get(self, req: falcon.Request, resp: falcon.Response, rule_type: str) -> None:
        """By id, as StackStorm, or by name."""
        found = next((doc for doc in RULE_TYPES if rule_type in (doc["id"], doc["name"])), None)
        if found is None:
            raise not_found(f'Resource with a name or id "{rule_type[:100]}" not found')
        respond(resp, found)


# Query parameter -> field, as StackStorm's rule enforcements controller filters them.
_ENFORCEMENT_FILTERS = {"id": "id", "rule_ref": "rule.ref", "rule_id": "rule.id", "execution": "execution_id",
                        "trigger_instance": "trigger_instance_id"}


def _enforcement(doc: dict) -> dict:
    """As StackStorm shows an enforcement: without its empty fields."""
    return {name: value for name, value in RULE_ENFORCEMENTS.public(doc).items() if value}


class _Enforcements:
    def __init__(self, ctx: Context):
        self.enforcements = ctx.store.collection(RULE_ENFORCEMENTS)
        self.max_page_size = ctx.config.get("api", "max_page_size")


class RuleEnforcements(_Enforcements):
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        filters = _equal(req, _ENFORCEMENT_FILTERS)
        enforced = time_range(req, "enforced_at_gt", "enforced_at_lt")
        if enforced:
            filters["enforced_at"] = enforced
        sort = [("enforced_at", -1), ("rule.ref", 1)]
        docs = list_collection(req, resp, self.enforcements, filters, sort, self.max_page_size, default_limit=50)
        respond(resp, [_enforcement(doc) for doc in docs])


class RuleEnforcement(_Enforcements):
    def on_get(self, req: falcon.Request, resp: falcon.Response, enforcement_id: str) -> None:
        respond(resp, _enforcement(lookup(self.enforcements, "id", enforcement_id)))
