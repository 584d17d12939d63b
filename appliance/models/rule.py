"""Rule: when a trigger fires and its criteria match, run an action (StackStorm's RuleAPI), from
rules/<name>.yaml or POST /v1/rules. The criteria's operators are checked when the rule is stored."""

from __future__ import annotations

from appliance.models.names import check_pack_ref, check_relative_path, check_resource_name
from appliance.models.schema import Entity, Field, ValidationError

RULE_TYPES = ("standard", "backstop")


def _check_type(value: dict) -> None:
    if value.get("ref", "standard") not in RULE_TYPES:
        raise ValidationError(f"{value.get('ref')!r:.60} is not one of {list(RULE_TYPES)}", "ref")
    if not isinstance(value.get("parameters", {}), dict):
        raise ValidationError("parameters must be an object", "parameters")


def _check_trigger(value: dict) -> None:
    if not isinstance(value.get("type"), str) or not value["type"]:
        raise ValidationError("'type' is a required property (the trigger type ref)", "type")
    if not isinstance(value.get("parameters", {}), dict):
        raise ValidationError(f"{value.get('parameters')!r:.60} is not of type 'object'", "parameters")


def _check_action(value: dict) -> None:
    if not isinstance(value.get("ref"), str) or not value["ref"]:
        raise ValidationError("'ref' is a required property (the action ref)", "ref")
    if not isinstance(value.get("parameters", {}), dict):
        raise ValidationError(f"{value.get('parameters')!r:.60} is not of type 'object'", "parameters")


def _check_criteria(value: dict) -> None:
    from appliance.rules.operators import check  # the operator table lives with the rules engine

    check(value)


RULES = Entity(
    name="rule",
    collection="rules",
    fields={
        "id": Field("string", server=True),
        "ref": Field("string", server=True),
        "uid": Field("string", server=True),
        "name": Field("string", required=True, check=check_resource_name),
        "pack": Field("string", default="default", check=check_pack_ref),
        "description": Field("string", default=""),
        "enabled": Field("boolean", default=False),  # StackStorm's API default: created disabled
        "type": Field("object", default={"ref": "standard", "parameters": {}}, check=_check_type),
        "trigger": Field("object", required=True, check=_check_trigger),
        "criteria": Field("object", default={}, check=_check_criteria),
        "action": Field("object", required=True, check=_check_action),
        "context": Field("object", default={}),
        "tags": Field("array", default=[]),
        "metadata_file": Field("string", default="", check=check_relative_path),
    },
    uid_prefix="rule",
    uid_fields=("pack", "name"),
    indexed=("pack", "trigger.ref", "action.ref", "enabled"),
    unique=("ref",),
)

RULE_ENFORCEMENTS = Entity(
    name="rule enforcement",
    collection="rule_enforcements",
    fields={
        "id": Field("string", required=True),
        # <rule id>:<trigger instance id>: one enforcement per pair, even when an instance is
        # processed again after its rules engine died
        "key": Field("string", required=True, hidden=True),
        "rule": Field("object", required=True),  # {id, ref, uid}
        "trigger_instance_id": Field("string", required=True),
        "execution_id": Field("string"),
        "failure_reason": Field("string"),
        "enforced_at": Field("string", required=True),
        "status": Field("string", required=True, enum=("succeeded", "failed")),
    },
    indexed=("rule.ref", "trigger_instance_id", "execution_id", "enforced_at"),
    unique=("key",),
)
