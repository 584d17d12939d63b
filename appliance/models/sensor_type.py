"""SensorType: a pack's sensor as registered from sensors/*.yaml (StackStorm's SensorTypeAPI; the
CLI's "sensor"). The sensor container runs one process per enabled sensor type."""

from __future__ import annotations

from typing import Any

from appliance.models.names import check_pack_ref, check_relative_path
from appliance.models.schema import Entity, Field

MINIMUM_POLL_INTERVAL = 4  # seconds, as StackStorm refuses shorter ones


def check_class_name(value: str) -> None:
    """A Python class name: the sensor's name and the class the container imports."""
    if not value.isidentifier():
        raise ValueError(f"{value[:100]!r} is not a Python class name")


def check_poll_interval(value: Any) -> None:
    if value < MINIMUM_POLL_INTERVAL:
        raise ValueError(f"Minimum possible poll_interval is {MINIMUM_POLL_INTERVAL} seconds")


def check_entry_point(value: str) -> None:
    """The sensor's .py file, relative to the pack's sensors/ folder and inside it."""
    check_relative_path(value)
    if not value.endswith(".py"):
        raise ValueError(f"{value[:100]!r} is not a Python file (.py)")


SENSOR_TYPES = Entity(
    name="sensor type",
    collection="sensor_types",
    fields={
        "id": Field("string", server=True),
        "ref": Field("string", server=True),
        "uid": Field("string", server=True),
        "name": Field("string", required=True, immutable=True, check=check_class_name),
        "pack": Field("string", required=True, immutable=True, check=check_pack_ref),
        "description": Field("string"),
        "entry_point": Field("string", required=True, check=check_entry_point),
        "artifact_uri": Field("string"),
        "enabled": Field("boolean", default=True),
        "trigger_types": Field("array", default=[]),  # refs of the trigger types it dispatches
        "poll_interval": Field("number", check=check_poll_interval),
        "metadata_file": Field("string", default="", check=check_relative_path),
    },
    uid_prefix="sensor_type",
    uid_fields=("pack", "name"),
    indexed=("pack", "enabled"),
    unique=("ref",),
)

