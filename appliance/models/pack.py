"""Pack: a pack's pack.yaml as registered (StackStorm's PackAPI); manifests may carry keys of their own."""

from __future__ import annotations

from appliance.models.names import check_pack_ref
from appliance.models.schema import Entity, Field

PACKS = Entity(
    name="pack",
    collection="packs",
    open=True,
    fields={
        "id": Field("string", server=True),
        "uid": Field("string", server=True),
        "ref": Field("string", required=True, check=check_pack_ref),
        "name": Field("string", required=True),
        "description": Field("string", required=True),
        "version": Field(("string", "number"), required=True),
        "author": Field("string", required=True),
        "email": Field("string"),
        "keywords": Field("array", default=[]),
        "contributors": Field("array"),
        "dependencies": Field("array", default=[]),
        "system": Field("object", default={}),
        "python_versions": Field("array"),
        "stackstorm_version": Field("string"),
        "path": Field("string"),
    },
    uid_prefix="pack",
    uid_fields=("ref",),
    unique=("ref",),
)
