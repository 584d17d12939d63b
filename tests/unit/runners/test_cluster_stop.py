"""The clush and remote-shell runners on an 8-node cluster (tests/support/cluster.py: one network
namespace and one real sshd per node): a cancel, the whole-run timeout and command_timeout end the
command on every node, which each node's namespace is checked for; failures get one error line."""

from __future__ import annotations

import time
import uuid

import pytest
from clush_runner.clush_runners import ClushRunner, ClushScriptRunner
from remote_runner.remote_command_runner import RemoteShellCommandRunner
from runner_helpers import make_ctx, run_in_thread, runner_params

from appliance import config as st2config
from appliance.runners import RunnerSettings
from tests.support import cluster
from tests.support.cluster import Cluster

cluster_nodes = cluster.cluster_nodes


def marker() -> str:
    """A sleep no other process on this machine runs: `sleep 61.<random>`."""
    return f"sleep 61.{uuid.uuid4().int % 10**6:06d}"


def settings(nodes: Cluster) -> RunnerSettings:
    """What st2actionrunner gives runners with [ssh_runner] use_ssh_config and the cluster's ssh config."""
    return RunnerSettings(system_user=nodes.user, ssh_config_file=str(nodes.ssh_config))


def clush(cluster_: Cluster, cmd: str, **given):
    params = runner_params(ClushRunner, **{"nodes": cluster_.names, "cmd": cmd, **given})
    return make_ctx(runner_parameters=params, settings=settings(cluster_))


def cancel_when_started(runner, ctx, count: int) -> tuple[object, float]:
    """Run, wait for `count` nodes to print `started`, cancel; the outcome and the seconds the stop took."""
    thread, box = run_in_thread(runner, ctx)
    deadline = time.monotonic() + 30
    while ctx.emit.text().count("started") < count and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ctx.emit.text().count("started") == count, ctx.emit.lines
    asked = time.monotonic()
    ctx.cancel.set()
    thread.join(30)
    assert "result" in box, "the runner did not return after the cancel"
    return box["result"], box["ended"] - asked


def test_each_node_answers_by_name_through_the_st2_conf_ssh_config(cluster_nodes: Cluster):
    outcome = ClushRunner().run(clush(cluster_nodes, "hostname", gather=True))
    assert outcome.status == "succeeded", outcome.result
    assert outcome.result["ok_nodes"] == "node[1-8]"
    assert outcome.result["nodes"]["node3"] == {"return_code": 0, "stdout": "node3", "stderr": ""}


def test_cancel_ends_the_command_on_every_node(cluster_nodes: Cluster):
    sleep = marker()
    ctx = clush(cluster_nodes, f"echo started; {sleep}; echo never")
    outcome, took = cancel_when_started(ClushRunner(), ctx, 8)
    assert outcome.status == "canceled", outcome.result
    assert outcome.result["canceled_nodes"] == "node[1-8]"
    assert "unstopped_nodes" not in outcome.result
    assert outcome.result["error"] == "Canceled: 8 canceled (node[1-8]) of 8 nodes."
    assert took < 5, took
    assert cluster_nodes.wait_clean(sleep, 5) == {}, "the command outlived the cancel"


def test_the_run_timeout_ends_the_command_on_every_node(cluster_nodes: Cluster):
    sleep = marker()
    started = time.monotonic()
    outcome = ClushRunner().run(clush(cluster_nodes, f"echo started; {sleep}", timeout=3))
    assert time.monotonic() - started < 10
    assert outcome.status == "timeout", outcome.result
    assert outcome.result["timeout_nodes"] == "node[1-8]"
    assert outcome.result["nodes"]["node[1-8]"]["stdout"] == "started"
    assert cluster_nodes.wait_clean(sleep, 5) == {}, "the command outlived the run's timeout"


def test_command_timeout_ends_the_command_on_the_slow_nodes(cluster_nodes: Cluster):
    sleep = marker()
    cmd = f"case $(hostname) in node2|node5) {sleep};; esac; echo done"
    outcome = ClushRunner().run(clush(cluster_nodes, cmd, command_timeout=2))
    assert outcome.status == "failed", outcome.result
    assert outcome.result["timeout_nodes"] == "node[2,5]"
    assert outcome.result["ok_nodes"] == "node[1,3-4,6-8]"
    assert outcome.result["error"] == "Failed: 2 timed out (node[2,5]) of 8 nodes."
    assert cluster_nodes.wait_clean(sleep, 5) == {}, "the command outlived command_timeout"


def test_a_script_is_stopped_and_still_removed(cluster_nodes: Cluster, tmp_path):
    sleep = marker()
    script = tmp_path / "slow.sh"
    script.write_text(f"#!/bin/sh\necho started\n{sleep}\n")
    remote = tmp_path / "remote"
    remote.mkdir()  # the nodes share this host's filesystem
    ctx = make_ctx(runner_parameters=runner_params(ClushScriptRunner, nodes="node[1-2]", script=str(script),
                                                   remote_dir=str(remote)), settings=settings(cluster_nodes))
    outcome, _ = cancel_when_started(ClushScriptRunner(), ctx, 2)
    assert outcome.status == "canceled", outcome.result
    assert cluster_nodes.wait_clean(sleep, 5) == {}
    assert list(remote.iterdir()) == []


def test_a_node_cut_off_is_reported_as_not_stopped(cluster_nodes: Cluster):
    sleep = marker()
    ctx = clush(cluster_nodes, f"echo started; {sleep}", nodes="node[1-3]")
    thread, box = run_in_thread(ClushRunner(), ctx)
    deadline = time.monotonic() + 30
    while ctx.emit.text().count("started") < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    cluster_nodes.set_link("node3", up=False)
    try:
        ctx.cancel.set()
        thread.join(30)
        outcome = box["result"]
        assert outcome.status == "canceled", outcome.result
        assert outcome.result["unstopped_nodes"] == "node3"
        assert outcome.result["canceled_nodes"] == "node[1-3]"
        assert "1 could not be reached to stop the command, which may still run there (node3)" in \
            outcome.result["error"]
        assert cluster_nodes.wait_clean(sleep, 5).keys() == {"node3"}  # only the node nobody could reach
    finally:
        cluster_nodes.set_link("node3", up=True)


def test_failed_and_unreachable_nodes_in_one_error_line(cluster_nodes: Cluster):
    node = cluster_nodes.node("node8")
    cluster.stop_sshd(cluster_nodes, node)
    try:
        cmd = "case $(hostname) in node4) exit 3;; esac"
        outcome = ClushRunner().run(clush(cluster_nodes, cmd, connect_timeout=5))
    finally:
        cluster.start_sshd(cluster_nodes, node)
    assert outcome.status == "failed"
    assert outcome.result["failed_nodes"] == "node[4,8]"
    assert outcome.result["error"] == "Failed: 1 failed (node4), 1 unreachable (node8) of 8 nodes."
    assert "\n" not in outcome.result["error"]


def remote(nodes: Cluster, cmd: str, **given):
    return make_ctx(runner_parameters=runner_params(RemoteShellCommandRunner, hosts="node1,node2", cmd=cmd,
                                                    **given), settings=settings(nodes))


@pytest.mark.parametrize("sudo", [False, True], ids=["plain", "sudo"])
def test_remote_cancel_ends_the_command_on_each_host(cluster_nodes: Cluster, sudo: bool):
    sleep = marker()
    ctx = remote(cluster_nodes, f"echo started; {sleep}", sudo=sudo)
    outcome, took = cancel_when_started(RemoteShellCommandRunner(), ctx, 2)
    assert outcome.status == "canceled", outcome.result
    assert outcome.result["node1"]["stdout"] == "started" and outcome.result["node2"]["return_code"] == -15
    assert outcome.result["error"] == "Canceled: 2 canceled (node[1-2]) of 2 hosts."
    assert took < 5, took
    assert cluster_nodes.wait_clean(sleep, 5) == {}, "the command outlived the cancel"


def test_remote_timeout_ends_the_command_on_each_host(cluster_nodes: Cluster):
    sleep = marker()
    outcome = RemoteShellCommandRunner().run(remote(cluster_nodes, f"echo started; {sleep}", timeout=2))
    assert outcome.status == "timeout", outcome.result
    assert outcome.result["node2"]["error"] == "Action failed to complete in 2 seconds"
    assert outcome.result["error"] == "Timed out: 2 timed out (node[1-2]) of 2 hosts."
    assert cluster_nodes.wait_clean(sleep, 5) == {}, "the command outlived its timeout"


def test_st2_conf_names_the_ssh_config_file(tmp_path):
    conf = tmp_path / "st2.conf"
    conf.write_text("[ssh_runner]\nssh_config_file_path = /etc/st2/ssh_config\n")
    assert st2config.load(str(conf)).ssh_config_file == ""  # StackStorm's rule: only with use_ssh_config
    conf.write_text("[ssh_runner]\nuse_ssh_config = true\nssh_config_file_path = /etc/st2/ssh_config\n")
    assert st2config.load(str(conf)).ssh_config_file == "/etc/st2/ssh_config"
    assert RunnerSettings(ssh_config_file="/etc/st2/ssh_config").ssh_config_options() == [
        "-F", "/etc/st2/ssh_config"]
