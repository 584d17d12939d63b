"""/v1/sensortypes: `st2 sensor list/get` and `st2 sensor enable/disable` (a PUT of the sensor with
`enabled` flipped; as in StackStorm, only `enabled` can change, the rest comes from the pack)."""

from __future__ import annotations

import falcon

from appliance.api.http import bad_request, json_object, respond
from appliance.api.listing import list_collection, lookup
from appliance.models import SENSOR_TYPES
from appliance.services.context import Context
from appliance.triggers import SYSTEM_PACK


class _Base:
    def __init__(self, ctx: Context):
        self.sensor_types = ctx.store.collection(SENSOR_TYPES)
        self.max_page_size = ctx.config.get("api", "max_page_size")


class SensorTypes(_Base):
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        filters = {name: req.get_param(name) for name in ("pack", "name", "enabled") if req.get_param(name)}
        if "enabled" in filters:
            filters["enabled"] = filters["enabled"].lower() in ("true", "1")
        docs = list_collection(req, resp, self.sensor_types, filters, [("pack", 1), ("name", 1)], self.max_page_size)
        respond(resp, [SENSOR_TYPES.public(doc) for doc in docs])


class SensorType(_Base):
    def on_get(self, req: falcon.Request, resp: falcon.Response, ref_or_id: str) -> None:
        respond(resp, SENSOR_TYPES.public(lookup(self.sensor_types, "ref", ref_or_id)))

    def on_put(self, req: falcon.Request, resp: falcon.Response, ref_or_id: str) -> None:
        """Enable or disable: the sensor container starts or stops the sensor's process within a second."""
        existing = lookup(self.sensor_types, "ref", ref_or_id)
        if existing["pack"] == SYSTEM_PACK:
            raise bad_request("Resources belonging to system level packs can't be manipulated")
        enabled = json_object(req).get("enabled", False)  # StackStorm reads a missing flag as false
        SENSOR_TYPES.fields["enabled"].validate("enabled", enabled)
        doc = self.sensor_types.update(existing["id"], set_fields={"enabled": enabled})
        respond(resp, SENSOR_TYPES.public(doc or existing))
