"""Every stored entity, declared once (one module each), with the ids, timestamps and statuses they
share. See schema.py for what a declaration holds; adding an entity is one module here, one entry
in ENTITIES, one resource class and one route line.
"""

from __future__ import annotations

from appliance.models.action import ACTIONS
from appliance.models.api_key import API_KEYS
from appliance.models.common import format_time, new_id, now, parse_time
from appliance.models.config import CONFIG_SCHEMAS, CONFIGS
from appliance.models.execution import (
    ABANDONED,
    CANCELABLE_STATUSES,
    CANCELED,
    CANCELING,
    COMPLETED_STATUSES,
    DELAYED,
    EXECUTION_OUTPUT,
    EXECUTION_REQUEST,
    EXECUTIONS,
    FAILED,
    PAUSED,
    PAUSING,
    PENDING,
    REQUESTED,
    RESUMING,
    RUNNING,
    SCHEDULED,
    STATUSES,
    SUCCEEDED,
    TIMEOUT,
)
from appliance.models.key_value_pair import KEY_VALUE_PAIR_REQUEST, KEY_VALUE_PAIRS
from appliance.models.lease import LEASES
from appliance.models.names import ref_of
from appliance.models.pack import PACKS
from appliance.models.revision import REVISIONS
from appliance.models.rule import RULE_ENFORCEMENTS, RULES
from appliance.models.runner_type import RUNNER_TYPES
from appliance.models.schema import SECRET_MASK, Entity, Field, Schema, ValidationError
from appliance.models.sensor_type import SENSOR_TYPES
from appliance.models.token import TOKENS
from appliance.models.trigger import TRIGGERS
from appliance.models.trigger_instance import TRIGGER_INSTANCES
from appliance.models.trigger_type import TRIGGER_TYPES
from appliance.models.workflow_execution import WORKFLOW_EXECUTIONS

ENTITIES = (EXECUTIONS, EXECUTION_OUTPUT, ACTIONS, RUNNER_TYPES, PACKS, TOKENS, API_KEYS, TRIGGER_TYPES, TRIGGERS,
            TRIGGER_INSTANCES, KEY_VALUE_PAIRS, RULES, RULE_ENFORCEMENTS, REVISIONS, LEASES, SENSOR_TYPES,
            WORKFLOW_EXECUTIONS, CONFIG_SCHEMAS, CONFIGS)

__all__ = [
    "ABANDONED", "ACTIONS", "API_KEYS", "CANCELABLE_STATUSES", "CANCELED", "CANCELING", "COMPLETED_STATUSES",
    "CONFIGS", "CONFIG_SCHEMAS",
    "DELAYED", "ENTITIES", "EXECUTIONS", "EXECUTION_OUTPUT", "EXECUTION_REQUEST", "FAILED", "PACKS", "PAUSED",
    "KEY_VALUE_PAIRS", "LEASES", "REVISIONS", "KEY_VALUE_PAIR_REQUEST", "RULES", "RULE_ENFORCEMENTS", "SENSOR_TYPES",
    "PAUSING", "PENDING", "REQUESTED", "RESUMING", "RUNNER_TYPES", "RUNNING", "SCHEDULED", "SECRET_MASK",
    "STATUSES", "SUCCEEDED", "TIMEOUT", "TOKENS", "TRIGGERS", "TRIGGER_INSTANCES", "TRIGGER_TYPES",
    "WORKFLOW_EXECUTIONS", "Entity",
    "Field", "Schema", "ValidationError", "format_time", "new_id", "now", "parse_time", "ref_of",
]
