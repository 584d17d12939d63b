"""The runbooks pack with the real st2 CLI, on both wirings, over ClusterShell's exec worker (one local process per
node name, so each "node" leaves its trace in a file of the test's temporary directory): a rolling restart in
batches with folded node sets in its output, a failed batch stopping the rollout, and drain_reboot waiting for the
operator at its inquiry, then rebooting and verifying (with a retry) once approved, or stopping cleanly, nodes left
drained, once rejected."""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e_harness import Appliance, ok, wait_until

pytestmark = pytest.mark.e2e


def children(appliance: Appliance, execution_id: str) -> list[dict]:
    """The workflow's task executions, in the order they were created."""
    resp = appliance.api("GET", f"executions/{execution_id}/children", params={"depth": -1})
    assert resp.status_code == 200, resp.text
    return sorted(resp.json(), key=lambda child: child["start_timestamp"])


def task_names(appliance: Appliance, execution_id: str) -> list[str]:
    return [child["context"]["orquesta"]["task_name"] for child in children(appliance, execution_id)]


def traces(directory: Path, suffix: str) -> set[str]:
    """The nodes that left a `<node>.<suffix>` file."""
    return {path.name[: -len(suffix) - 1] for path in directory.glob(f"*.{suffix}")}


def test_the_pack_registers_with_its_actions(appliance: Appliance):
    done, actions = appliance.st2_json("action", "list", "--pack", "runbooks")
    assert done.returncode == 0, done.stderr
    assert {action["ref"] for action in actions} == {"runbooks.rolling_restart", "runbooks.drain_reboot",
                                                     "runbooks.batches", "runbooks.batch_report"}
    done, action = appliance.st2_json("action", "get", "runbooks.rolling_restart")
    assert action["runner_type"] == "orquesta"
    assert action["parameters"]["command"]["default"] == "systemctl restart {{ service }}"


def test_rolling_restart_runs_batch_after_batch_and_reports_folded_node_sets(appliance: Appliance, tmp_path):
    command = f"command=echo {{{{ service }}}} >> {tmp_path}/%h.restart"
    execution = appliance.run_completed("runbooks.rolling_restart", "nodes=node[1-8]", "service=slurmd",
                                        "batch_size=3", "worker=exec", command)
    assert execution["status"] == "succeeded", execution
    assert execution["result"] == {"output": {
        "batches": ["node[1-3]", "node[4-6]", "node[7-8]"], "restarted": "node[1-8]", "failed": "",
        "not_attempted": "", "batch_errors": []}}
    assert traces(tmp_path, "restart") == {f"node{i}" for i in range(1, 9)}
    assert (tmp_path / "node5.restart").read_text() == "slurmd\n"  # the command template saw the service

    tasks = children(appliance, execution["id"])
    assert [child["context"]["orquesta"]["task_name"] for child in tasks] == ["split"] + ["restart"] * 3 + ["report"]
    batches = tasks[1:4]
    assert [child["parameters"]["nodes"] for child in batches] == ["node[1-3]", "node[4-6]", "node[7-8]"]
    for before, after in zip(batches, batches[1:]):  # concurrency 1: a batch starts once the previous one ended
        assert before["end_timestamp"] <= after["start_timestamp"], (before, after)


def test_a_failed_batch_stops_the_rollout(appliance: Appliance, tmp_path):
    command = f"command=case %h in node5) exit 3;; esac; echo restarted > {tmp_path}/%h.restart"
    execution = appliance.run_completed("runbooks.rolling_restart", "nodes=node[1-8]", "service=slurmd",
                                        "batch_size=3", "worker=exec", command)
    assert execution["status"] == "failed", execution
    assert execution["result"]["output"] == {
        "batches": ["node[1-3]", "node[4-6]", "node[7-8]"], "restarted": "node[1-4,6]", "failed": "node5",
        "not_attempted": "node[7-8]", "batch_errors": ["Failed: 1 failed (node5) of 3 nodes."]}
    assert traces(tmp_path, "restart") == {"node1", "node2", "node3", "node4", "node6"}  # node7, node8 never ran
    assert task_names(appliance, execution["id"]) == ["split", "restart", "restart", "report"]


def drain_reboot_commands(directory: Path) -> list[str]:
    """Harmless per-node stand-ins for the Slurm and systemd commands: files in `directory`. The verification
    fails once on each node (the node is "still booting"), so it passes on its first retry."""
    return [
        f"drain_command=echo drained > {directory}/%h.drain",
        f"check_command=test -e {directory}/%h.drain",
        f"reboot_command=echo rebooted > {directory}/%h.reboot",
        f"verify_command=test -e {directory}/%h.up || {{ touch {directory}/%h.up; exit 1; }}",
        f"undrain_command=rm {directory}/%h.drain",
        "verify_delay=0", "verify_retries=3", "verify_retry_delay=1", "worker=exec",
    ]


def pending_inquiry(appliance: Appliance, execution_id: str) -> dict:
    """The workflow's core.ask execution once it waits, with the workflow paused."""
    def pending() -> list:
        return [child for child in children(appliance, execution_id)
                if child["action"]["ref"] == "core.ask" and child["status"] == "pending"]

    found = wait_until(pending, timeout=60)
    assert found, children(appliance, execution_id)
    appliance.wait_status(execution_id, ("paused",), timeout=60)
    return found[0]


def test_drain_reboot_waits_for_approval_then_reboots_verifies_and_resumes(appliance: Appliance, tmp_path):
    execution_id = appliance.st2_async("runbooks.drain_reboot", "nodes=node[1-4]", *drain_reboot_commands(tmp_path))
    inquiry = pending_inquiry(appliance, execution_id)
    assert traces(tmp_path, "drain") == {"node1", "node2", "node3", "node4"}
    assert traces(tmp_path, "reboot") == set()  # nothing reboots before the operator says so
    shown = appliance.st2_json("inquiry", "get", inquiry["id"])[1]
    assert shown["schema"]["title"] == "Reboot node[1-4]?" and shown["route"] == "runbooks.drain_reboot"

    answered = ok(appliance.st2("inquiry", "respond", inquiry["id"], "-r", '{"continue": true}'))
    assert f"Response accepted for inquiry {inquiry['id']}." in answered, answered
    done = appliance.wait_status(execution_id, timeout=60)
    assert done["status"] == "succeeded", done
    assert done["result"]["output"] == {
        "approved": True, "drained": "node[1-4]", "rebooted": "node[1-4]", "resumed": "node[1-4]",
        "left_drained": "", "failed_step": None, "failed_nodes": "", "error": None,
        "message": "Rebooted, verified and resumed node[1-4]."}
    assert task_names(appliance, execution_id) == ["drain", "check", "ask", "reboot", "verify", "verify", "undrain"]
    assert traces(tmp_path, "reboot") == traces(tmp_path, "up") == {"node1", "node2", "node3", "node4"}
    assert traces(tmp_path, "drain") == set()  # undrained


def test_drain_reboot_rejected_ends_cleanly_with_the_nodes_left_drained(appliance: Appliance, tmp_path):
    execution_id = appliance.st2_async("runbooks.drain_reboot", "nodes=node[1-4]", *drain_reboot_commands(tmp_path))
    inquiry = pending_inquiry(appliance, execution_id)
    ok(appliance.st2("inquiry", "respond", inquiry["id"], "-r", '{"continue": false}'))
    done = appliance.wait_status(execution_id, timeout=60)
    assert done["status"] == "succeeded", done
    assert done["result"]["output"] == {
        "approved": False, "drained": "node[1-4]", "rebooted": "", "resumed": "", "left_drained": "node[1-4]",
        "failed_step": None, "failed_nodes": "", "error": None,
        "message": "Reboot rejected by the operator; nothing was rebooted; left drained: node[1-4]."}
    assert task_names(appliance, execution_id) == ["drain", "check", "ask"]
    assert traces(tmp_path, "reboot") == set()
    assert traces(tmp_path, "drain") == {"node1", "node2", "node3", "node4"}
