"""The clush, clush-copy and clush-script runners: one ClusterShell job each over a node set.

All three describe their work as engine steps (a command, a copy, or a copy then a command),
run them in the engine child and decide the status from the folded per-node result: the
execution succeeds when at most `max_failed_nodes` nodes failed or timed out.
"""

from __future__ import annotations

import os
import shlex
from abc import abstractmethod

from appliance.runners import RunContext, Runner, RunResult, runner_type, script_parameters
from appliance.runners import parameter as param
from appliance.script_arguments import script_arguments
from clush_runner.launcher import run_engine
from clush_runner.outcome import execution_status, failure_line
from clush_runner.session_guard import guard
from clush_runner.steps import script_command_line, script_steps

DEFAULT_TIMEOUT = 600
PERCENT_NOTE = "With the exec worker, %h is the node name and %n its rank; write a literal % as %%."


def node_set_parameters() -> dict:
    """What every ClusterShell runner takes: where to run and how widely, how long, as whom."""
    return {
        "nodes": param("string", "Target nodes in ClusterShell syntax: node[1-64], @group, node[1-8]!node3.",
                       required=True),
        "worker": param("string", "How to reach the nodes: ssh, or exec to run one local process per node "
                                  "(with %h replaced by the node name), rsh or pdsh.",
                        enum=["ssh", "exec", "rsh", "pdsh"], default="ssh"),
        "fanout": param("integer", "How many nodes are worked on at once.", default=64),
        "timeout": param("integer", "Seconds the whole run may take; nodes still running then are killed "
                                    "and the execution ends as timeout.", default=DEFAULT_TIMEOUT),
        "command_timeout": param("integer", "Seconds each node's command may take (0: no limit); a node over "
                                            "it is killed and listed in timeout_nodes.", default=0),
        "connect_timeout": param("integer", "Seconds to wait for an ssh connection.", default=10),
        "user": param("string", "Remote login name (ssh -l)."),
        "ssh_options": param("string", 'Extra ssh options, e.g. "-p 2222 -i /etc/st2/keys/id_ed25519".'),
        "gather": param("boolean", "Also return gathered output: each distinct stdout with the folded node set "
                                   "that printed it (like clush -b).", default=False),
        "max_failed_nodes": param("integer", "How many nodes may fail or time out with the execution still "
                                             "succeeding.", default=0),
    }


def guarded(params: dict) -> bool:
    """Over ssh a command runs under a session guard, so a cancel or timeout also ends it on the node."""
    return (params.get("worker") or "ssh") == "ssh"


def _runner_type(name: str, description: str, own: dict) -> dict:
    return runner_type(name, "clush_runner", "clush_runners", description, {**node_set_parameters(), **own})


class ClusterShellRunner(Runner):
    """Checks the shared parameters, runs the steps, maps the folded result to a status."""

    @abstractmethod
    def steps(self, ctx: RunContext) -> list[dict]:
        """The engine steps; raise ValueError when the parameters do not make any."""

    def run(self, ctx: RunContext) -> RunResult:
        params = ctx.runner_parameters
        try:
            self.check(params)
            steps = self.steps(ctx)
        except ValueError as exc:
            return RunResult("failed", {"error": str(exc)})
        worker = params.get("worker") or "ssh"
        job = {
            "nodes": params.get("nodes"),
            "worker": worker,
            "fanout": params.get("fanout") or 64,
            "command_timeout": params.get("command_timeout") or 0,
            "connect_timeout": params.get("connect_timeout") or 0,
            "ssh_user": params.get("user"),
            "ssh_options": " ".join([*map(shlex.quote, ctx.settings.ssh_config_options()),
                                     str(params.get("ssh_options") or "")]).strip(),
            "gather": bool(params.get("gather")),
            "steps": steps,
        }
        result = run_engine(ctx, job, float(params.get("timeout") or DEFAULT_TIMEOUT))
        status = execution_status(result, int(params.get("max_failed_nodes") or 0))
        if status != "succeeded" and not result.get("error"):
            result["error"] = failure_line(result, status, worker)
        return RunResult(status, result)

    @staticmethod
    def check(params: dict) -> None:
        if not str(params.get("nodes") or "").strip():
            raise ValueError("No target: the nodes parameter is empty.")
        for name in ("fanout", "timeout"):
            if params.get(name) is not None and params[name] < 1:
                raise ValueError(f"{name} must be at least 1, not {params[name]}.")
        for name in ("command_timeout", "connect_timeout", "max_failed_nodes"):
            if params.get(name) is not None and params[name] < 0:
                raise ValueError(f"{name} must not be negative, not {params[name]}.")


class ClushRunner(ClusterShellRunner):
    RUNNER_TYPE = _runner_type("clush", "Runs a shell command on every node of a node set "
                               "with ClusterShell. " + PERCENT_NOTE, {
                                   "cmd": param("string", "The shell command to run on each node.", required=True),
                               })

    def steps(self, ctx: RunContext) -> list[dict]:
        cmd = ctx.runner_parameters.get("cmd")
        if not cmd:
            raise ValueError("Nothing to run: the cmd parameter is empty.")
        if guarded(ctx.runner_parameters):
            return [{"kind": "shell", "command": guard(str(cmd)), "guarded": True}]
        return [{"kind": "shell", "command": str(cmd)}]


class ClushCopyRunner(ClusterShellRunner):
    RUNNER_TYPE = _runner_type("clush-copy", "Copies a file or directory of the action "
                               "runner's host to every node of a node set (scp, or cp with the exec worker).", {
                                   "source": param("string", "File or directory on the action runner's host.",
                                                   required=True),
                                   "dest": param("string", "Destination path on each node.", required=True),
                                   "preserve": param("boolean", "Keep modification times and modes.", default=False),
                               })

    def steps(self, ctx: RunContext) -> list[dict]:
        params = ctx.runner_parameters
        source, dest = params.get("source"), params.get("dest")
        if not source or not dest:
            raise ValueError("Both source and dest are needed for a copy.")
        if not os.path.exists(source):
            raise ValueError(f"The source {source} does not exist on the action runner's host.")
        return [{"kind": "copy", "source": source, "dest": dest, "preserve": bool(params.get("preserve"))}]


class ClushScriptRunner(ClusterShellRunner):
    RUNNER_TYPE = _runner_type("clush-script", "Copies a script to every node of a node "
                               "set, runs it there with the action's parameters as arguments, then removes it. "
                               + PERCENT_NOTE, {
                                   **script_parameters(),
                                   "script": param("string", "Script on the action runner's host to run; "
                                                             "defaults to the action's entry point."),
                                   "args": param("string", "Extra arguments, as shell text, after the parameter "
                                                           "arguments."),
                                   "kwarg_op": param("string", "What goes in front of named arguments.",
                                                     default="--"),
                                   "remote_dir": param("string", "Directory on each node the script is copied to.",
                                                       default="/tmp"),
                               })

    def steps(self, ctx: RunContext) -> list[dict]:
        params = ctx.runner_parameters
        script = params.get("script") or ctx.entry_point
        if not script:
            raise ValueError("No script: give the script parameter or an action entry_point.")
        if not os.path.isfile(script):
            raise ValueError(f"The script {script} does not exist on the action runner's host.")
        per_node = "-%h" if params.get("worker") == "exec" else ""  # exec "nodes" share one filesystem
        remote = (f"{(params.get('remote_dir') or '/tmp').rstrip('/')}/"
                  f"st2-{ctx.execution_id}{per_node}-{os.path.basename(script)}")
        args = script_arguments(ctx.action_parameters, ctx.action.get("parameters") or {},
                                params.get("kwarg_op") or "--")
        line = script_command_line(remote, args)
        if params.get("args"):
            line += " " + params["args"]
        if guarded(params):
            return script_steps(script, remote, guard(line), guarded=True)
        return script_steps(script, remote, line)
