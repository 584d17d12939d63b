"""Action: a pack's runnable unit, from actions/<name>.yaml or POST /v1/actions (StackStorm's ActionAPI)."""

from __future__ import annotations

from appliance.models.names import check_pack_ref, check_relative_path, check_resource_name
from appliance.models.parameter_specs import check_specs
from appliance.models.schema import Entity, Field

ACTIONS = Entity(
    name="action",
    collection="actions",
    fields={
        "id": Field("string", server=True),
        "ref": Field("string", server=True),
        "uid": Field("string", server=True),
        "name": Field("string", required=True, check=check_resource_name),
        "pack": Field("string", default="default", check=check_pack_ref),
        "description": Field("string", default=""),
        "enabled": Field("boolean", default=True),
        "runner_type": Field("string", required=True),
        "entry_point": Field("string", default="", check=check_relative_path),
        "parameters": Field("object", default={}, check=check_specs),
        "output_schema": Field("object", default={}),
        "tags": Field("array", default=[]),
        "notify": Field("object", default={}),
        "metadata_file": Field("string", default="", check=check_relative_path),
    },
    uid_prefix="action",
    uid_fields=("pack", "name"),
    indexed=("pack", "name"),
    unique=("ref",),
)

