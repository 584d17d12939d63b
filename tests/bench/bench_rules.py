"""Rules-engine benchmark: trigger instances evaluated per second with 500 enabled rules on one
trigger, 1% of the instances matching one rule (whose action is then requested), embedded (SQLite).

Figures:
  rules.500.instances_per_s   instances claimed, matched and marked processed, per second (target 1000)
  rules.500.matched           instances that matched (and created an execution)

Run: python tests/bench/bench_rules.py [--instances 3000] [--rules 500]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.append(ROOT)

from appliance import config, models  # noqa: E402
from appliance.models.rule import RULES  # noqa: E402
from appliance.models.trigger_instance import TRIGGER_INSTANCES  # noqa: E402
from appliance.rules.engine import RulesEngine  # noqa: E402
from appliance.services.context import Context  # noqa: E402

TARGET = 1000.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=3000)
    parser.add_argument("--rules", type=int, default=500)
    args = parser.parse_args()
    base = tempfile.mkdtemp(prefix="bench-rules-")
    conf = os.path.join(base, "st2.conf")
    with open(conf, "w", encoding="utf-8") as handle:
        handle.write(f"[system]\nbase_path = {base}\n[content]\nsystem_packs_base_path = {ROOT}/packs\n")
    ctx = Context(config.load(conf))
    try:
        ctx.registrar.register(["core"], types=("runners", "actions", "triggers"))
        ctx.registrar.register_trigger_type({"name": "event", "pack": "bench", "payload_schema": {"type": "object"}})
        rules = ctx.store.collection(RULES)
        for number in range(args.rules):
            body = {"name": f"r{number}", "pack": "bench", "enabled": True,
                    "trigger": {"type": "bench.event", "parameters": {}, "ref": "bench.event"},
                    "criteria": {"trigger.n": {"type": "equals", "pattern": number}},
                    "action": {"ref": "core.noop", "parameters": {}}}
            doc = RULES.identify(RULES.build(body))
            rules.insert({"id": models.new_id(), **doc})
        rng = random.Random(1)
        span = args.rules * 100  # 1% of the values are a rule's number
        ids = [ctx.triggers.dispatch("bench.event", {"n": rng.randrange(span)})["id"] for _ in range(args.instances)]
        engine = RulesEngine(ctx.store, ctx.action_requests, ctx.keys, "stanley")
        started = time.perf_counter()
        for instance_id in ids:
            engine.process(instance_id, "bench.event")  # as the rules engine's bus message gives it
        elapsed = time.perf_counter() - started
        instances = ctx.store.collection(TRIGGER_INSTANCES)
        assert instances.count({"status": "processed"}) == args.instances
        per_s = args.instances / elapsed
        print(f"rules.{args.rules}.instances_per_s {per_s:.0f} (target {TARGET:.0f}, ratio {per_s / TARGET:.2f})")
        print(f"rules.{args.rules}.matched {ctx.executions.coll.count({})}")
    finally:
        ctx.close()
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
