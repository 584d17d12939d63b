"""RunnerType: what an installed runner package declares (StackStorm's runner.yaml entry)."""

from __future__ import annotations

from appliance.models.parameter_specs import check_specs
from appliance.models.schema import Entity, Field

RUNNER_TYPES = Entity(
    name="runner type",
    collection="runner_types",
    fields={
        "id": Field("string", server=True),
        "uid": Field("string", server=True),
        "name": Field("string", required=True, immutable=True),
        "description": Field("string", default="", immutable=True),
        "enabled": Field("boolean", default=True),
        "runner_package": Field("string", default="", immutable=True),
        "runner_module": Field("string", default="", immutable=True),
        "runner_parameters": Field("object", default={}, immutable=True, check=check_specs),
        "output_key": Field("string", immutable=True),
        "output_schema": Field("object", default={}, immutable=True),
        "query_module": Field("string", immutable=True),
    },
    uid_prefix="runner_type",
    uid_fields=("name",),
    unique=("name",),
)
