"""Key changes reach the rules engine as StackStorm's key-value-pair trigger instances."""

from __future__ import annotations

from appliance.models import TRIGGER_INSTANCES


def test_key_changes_dispatch_key_value_pair_triggers(make_ctx):
    ctx = make_ctx()
    ctx.registrar.register(types=("triggers",))
    ctx.keys.set("cluster.state", "draining")
    ctx.keys.set("cluster.state", "up")
    ctx.keys.delete("cluster.state")
    instances = ctx.store.collection(TRIGGER_INSTANCES).find({}, sort=[("occurrence_time", 1)])
    refs = [doc["trigger"] for doc in instances]
    assert refs == ["core.st2.key_value_pair.create", "core.st2.key_value_pair.update",
                    "core.st2.key_value_pair.value_change", "core.st2.key_value_pair.delete"]
    change = instances[2]["payload"]
    assert change["old_object"]["value"] == "draining" and change["new_object"]["value"] == "up"
    assert all(doc["status"] == "pending" for doc in instances)
