"""Starts the ClusterShell engine child for one execution and reads back its folded result."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from typing import Optional

from appliance import process
from appliance.runners import RunContext
from clush_runner.engine import STOP_GRACE_SECONDS

# Beyond the job's own deadline, how long the engine gets to write its result before it is killed.
RESULT_GRACE_SECONDS = 10.0
# After a cancel, how long the engine gets to stop its nodes and report them before it is killed.
CANCEL_GRACE_SECONDS = STOP_GRACE_SECONDS + 3.0


def run_engine(ctx: RunContext, job: dict, deadline: Optional[float], env: Optional[dict] = None) -> dict:
    """Run `job` (see engine.py) to completion; the result dict, with `error` if it could not run."""
    fd, result_path = tempfile.mkstemp(prefix="st2-clush-", suffix=".json")
    os.close(fd)
    try:
        job = {**job, "result_path": result_path, "deadline": deadline}
        try:
            done = process.run(
                [sys.executable, "-m", "clush_runner.engine"],
                env=process.action_environment(ctx.env, env, debug=bool(ctx.runner_parameters.get("debug"))),
                stdin_data=json.dumps(job),
                timeout=deadline + RESULT_GRACE_SECONDS if deadline else None,
                cancel=ctx.cancel,
                on_line=ctx.emit,
                on_start=ctx.started,
                leader_first=True,  # the engine ends its workers itself and reports them canceled
                grace=CANCEL_GRACE_SECONDS,
            )
        except OSError as exc:
            return {"error": f"Could not start the ClusterShell engine: {exc}"}
        result = _read_result(result_path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(result_path)
    if result is not None:
        return result
    if done.canceled:
        return {"interrupted": "canceled", "error": "Canceled before the engine reported any node"}
    if done.timed_out:
        return {"interrupted": "timeout", "error": "The engine did not report within its deadline"}
    last = done.stderr.strip().splitlines()[-1:] or ["no message"]
    return {"error": f"The ClusterShell engine failed (exit code {done.return_code}): {last[0]}"}


def _read_result(path: str) -> Optional[dict]:
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError:
        return None
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None
