"""clush pack actions through the real st2 CLI, with the exec worker (one local process per node name)."""

from __future__ import annotations

import pytest
from e2e_harness import Appliance, pids_running, unique_sleep, wait_until

from tests.support import cluster
from tests.support.cluster import Cluster

pytestmark = pytest.mark.e2e
cluster_nodes = cluster.cluster_nodes


def test_cmd_over_64_nodes_returns_one_result_per_node(appliance: Appliance):
    done, execution = appliance.st2_json("run", "clush.cmd", "nodes=node[1-64]", "cmd=echo %h", "worker=exec")
    assert done.returncode == 0, done.stdout + done.stderr
    assert execution["status"] == "succeeded", execution
    result = execution["result"]
    assert len(result["nodes"]) == 64
    assert result["nodes"]["node42"] == {"return_code": 0, "stdout": "node42", "stderr": ""}
    assert result["ok_nodes"] == "node[1-64]" and result["counts"]["ok"] == 64

    tail = appliance.st2("execution", "tail", execution["id"])
    assert tail.returncode == 0, tail.stdout + tail.stderr
    assert {f"node{i}: node{i}" for i in range(1, 65)} <= set(tail.stdout.splitlines()), tail.stdout


def test_failing_nodes_are_reported_per_node(appliance: Appliance):
    cmd = "cmd=case %h in node3|node7) echo disk full on %h >&2; exit 2;; esac; echo ok"
    done, execution = appliance.st2_json("run", "clush.cmd", "nodes=node[1-10]", cmd, "worker=exec")
    assert "Traceback" not in done.stdout + done.stderr
    assert execution["status"] == "failed", execution
    result = execution["result"]
    assert result["failed_nodes"] == "node[3,7]"
    assert result["nodes"]["node7"] == {"return_code": 2, "stdout": "", "stderr": "disk full on node7"}
    assert result["nodes"]["node[1-2,4-6,8-10]"]["stdout"] == "ok"

    done, tolerated = appliance.st2_json("run", "clush.cmd", "nodes=node[1-10]", cmd, "worker=exec",
                                         "max_failed_nodes=2")
    assert tolerated["status"] == "succeeded", tolerated


def test_slow_nodes_time_out_alone(appliance: Appliance):
    done, execution = appliance.st2_json("run", "clush.cmd", "nodes=node[1-6]", "worker=exec", "command_timeout=1",
                                         "cmd=case %h in node[2,5]) sleep 30;; esac; echo done")
    assert execution["status"] == "failed", execution
    assert execution["result"]["timeout_nodes"] == "node[2,5]"
    assert execution["result"]["ok_nodes"] == "node[1,3-4,6]"


def test_gathered_output(appliance: Appliance):
    done, execution = appliance.st2_json("run", "clush.cmd", "nodes=node[1-12]", "worker=exec", "gather=true",
                                         "cmd=case %h in node1[0-2]) echo kernel-6.1;; *) echo kernel-5.14;; esac")
    assert execution["status"] == "succeeded", execution
    assert execution["result"]["gathered"] == {"node[1-9]": "kernel-5.14", "node[10-12]": "kernel-6.1"}


def test_a_literal_percent_gets_a_readable_error(appliance: Appliance):
    done, execution = appliance.st2_json("run", "clush.cmd", "nodes=node[1-2]", "worker=exec", "cmd=date +%s")
    assert execution["status"] == "failed"
    assert "%%" in execution["result"]["error"]


def test_cancel_stops_every_node(appliance: Appliance):
    argv = unique_sleep(60)
    execution_id = appliance.st2_async("clush.cmd", "nodes=node[1-8]", "worker=exec", f"cmd=exec {' '.join(argv)}")
    assert wait_until(lambda: len(pids_running(argv)) == 8, 20), "the 8 sleeps did not start"
    done = appliance.st2("execution", "cancel", execution_id)
    assert done.returncode == 0, done.stdout + done.stderr
    execution = appliance.wait_status(execution_id, timeout=15)
    assert execution["status"] == "canceled", execution
    assert execution["result"]["canceled_nodes"] == "node[1-8]"
    assert wait_until(lambda: not pids_running(argv), 5), "sleeps survived the cancel"


def test_runners_and_actions_are_listed(appliance: Appliance):
    done, runners = appliance.st2_json("runner", "list")
    assert done.returncode == 0, done.stderr
    assert {"clush", "clush-copy", "clush-script"} <= {runner["name"] for runner in runners}
    done, actions = appliance.st2_json("action", "list", "--pack", "clush")
    assert {action["ref"] for action in actions} >= {"clush.cmd", "clush.script", "clush.copy", "clush.ping",
                                                      "clush.nodeset_expand", "clush.nodeset_fold",
                                                      "clush.nodeset_count"}


def test_nodeset_fold_through_the_cli(appliance: Appliance):
    done, execution = appliance.st2_json("run", "clush.nodeset_fold", "nodes=node1,node2,node3,node7")
    assert execution["status"] == "succeeded", execution
    assert execution["result"]["result"] == "node[1-3,7]"


def test_cancel_over_ssh_leaves_nothing_on_the_nodes(appliance: Appliance, cluster_nodes: Cluster):
    """An 8-node cluster (a network namespace and an sshd per node): the cancel ends the command on each node."""
    sleep = "sleep 62.4817"
    execution_id = appliance.st2_async("clush.cmd", f"nodes={cluster_nodes.names}", f"cmd=echo started; {sleep}",
                                       f"ssh_options=-F {cluster_nodes.ssh_config}")
    assert wait_until(lambda: len(cluster_nodes.running(sleep)) == 8, 30), "the 8 remote sleeps did not start"
    done = appliance.st2("execution", "cancel", execution_id)
    assert done.returncode == 0, done.stdout + done.stderr
    execution = appliance.wait_status(execution_id, timeout=20)
    assert execution["status"] == "canceled", execution
    assert execution["result"]["canceled_nodes"] == "node[1-8]"
    assert execution["result"]["error"] == "Canceled: 8 canceled (node[1-8]) of 8 nodes."
    assert cluster_nodes.wait_clean(sleep, 10) == {}, "the remote commands survived the cancel"
