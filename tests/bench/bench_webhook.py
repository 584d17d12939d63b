"""Webhook benchmark: from `POST /v1/webhooks/<url>` to the execution its rule starts, as a
user's HTTP client and the event stream see them, on an embedded appliance.

Figures:
  webhook.embedded.to_execution.p50_ms   POST sent -> st2.execution__create on the stream (target 20)
  webhook.embedded.to_execution.p99_ms
  webhook.embedded.post.p50_ms           the POST's own answer (202)

Requests go one at a time (latency, not throughput), each with a number in its body that the
rule passes to core.local's cmd, so each execution is matched to its request.

Run: python tests/bench/bench_webhook.py [--n 200]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from bench_e2e import Appliance, Deadline, percentile  # noqa: E402

TARGET_P50_MS = 20.0
HOOK = "bench/hook"


def _watch(appliance: Appliance, seen: dict, ready: threading.Event, stop: threading.Event) -> None:
    """Record when each numbered execution's create event arrives on the stream."""
    headers = {"X-Auth-Token": appliance.token, "Accept": "text/event-stream"}
    with requests.get(appliance.stream_url, params={"events": "st2.execution__create"}, headers=headers,
                      stream=True, timeout=120) as resp:
        ready.set()
        for line in resp.iter_lines(chunk_size=1, decode_unicode=True):
            if stop.is_set():
                return
            if line and line.startswith("data: "):
                cmd = (json.loads(line[6:]).get("parameters") or {}).get("cmd", "")
                if cmd.startswith("true # "):
                    seen[int(cmd[7:])] = time.perf_counter()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()
    deadline = Deadline(120)
    appliance = Appliance("webhook")
    try:
        appliance.start(deadline)
        appliance.login(deadline)
        session = appliance.session()
        rule = {"name": "bench_hook", "pack": "default", "enabled": True,
                "trigger": {"type": "core.st2.webhook", "parameters": {"url": HOOK}},
                "action": {"ref": "core.local", "parameters": {"cmd": "true # {{ trigger.body.n }}"}}}
        answer = session.post(f"{appliance.api_url}/rules", json=rule, timeout=30)
        if answer.status_code != 201:
            print(f"# webhook: rule refused ({answer.status_code}): {answer.text[:200]}")
            return 1
        seen: dict = {}
        ready, stop = threading.Event(), threading.Event()
        watcher = threading.Thread(target=_watch, args=(appliance, seen, ready, stop), daemon=True)
        watcher.start()
        ready.wait(10)
        sent, posts = {}, []
        for number in range(args.n):
            sent[number] = time.perf_counter()
            answer = session.post(f"{appliance.api_url}/webhooks/{HOOK}", json={"n": number}, timeout=30)
            posts.append((time.perf_counter() - sent[number]) * 1000)
            if answer.status_code != 202:
                print(f"# webhook: POST answered {answer.status_code}: {answer.text[:200]}")
                return 1
            wait_until = time.monotonic() + 10
            while number not in seen and time.monotonic() < wait_until:
                time.sleep(0.0005)
        stop.set()
        latencies = [(seen[n] - sent[n]) * 1000 for n in sent if n in seen]
        if len(latencies) < args.n:
            print(f"# webhook: only {len(latencies)} of {args.n} executions were seen on the stream")
        p50 = percentile(latencies, 50)
        print(f"webhook.embedded.to_execution.p50_ms {p50:.1f} (target {TARGET_P50_MS:.0f}, "
              f"ratio {TARGET_P50_MS / p50:.2f})")
        print(f"webhook.embedded.to_execution.p99_ms {percentile(latencies, 99):.1f}")
        print(f"webhook.embedded.post.p50_ms {percentile(posts, 50):.1f}")
    finally:
        appliance.stop()
        appliance.remove()
    return 0


if __name__ == "__main__":
    sys.exit(main())
