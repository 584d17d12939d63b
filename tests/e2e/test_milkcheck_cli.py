"""milkcheck pack actions through the real st2 CLI: a clear failure without MilkCheck, real runs
against tests/fixtures/milkcheck/conf whenever MilkCheck is installed, and ssh_options reaching the
ssh MilkCheck starts, on the 8-node test cluster (tests/support/cluster.py)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
from e2e_harness import ROOT, Appliance

from tests.support import cluster
from tests.support.cluster import Cluster

pytestmark = pytest.mark.e2e
cluster_nodes = cluster.cluster_nodes

CONF = os.path.join(ROOT, "tests", "fixtures", "milkcheck", "conf")
REAL = os.environ.get("APPLIANCE_TEST_MILKCHECK") or shutil.which("milkcheck")


def test_without_milkcheck_the_execution_says_how_to_install_it(appliance: Appliance):
    done, execution = appliance.st2_json("run", "milkcheck.status", "milkcheck_path=/nonexistent/milkcheck")
    assert "Traceback" not in done.stdout + done.stderr
    assert execution["status"] == "failed"
    assert "pyrepo add" in execution["result"]["error"]


@pytest.mark.skipif(not REAL, reason="MilkCheck is not installed (or set APPLIANCE_TEST_MILKCHECK)")
def test_status_and_restart_with_the_real_milkcheck(appliance: Appliance):
    done, execution = appliance.st2_json("run", "milkcheck.status", "services=compute", f"config_dir={CONF}",
                                         f"milkcheck_path={REAL}")
    assert execution["status"] == "failed", execution
    assert execution["result"]["failed_nodes"] == "node3"
    done, execution = appliance.st2_json("run", "milkcheck.restart", "services=compute", "only_nodes=node[1-2]",
                                         f"config_dir={CONF}", f"milkcheck_path={REAL}")
    assert execution["status"] == "succeeded", execution
    assert [row["action"] for row in execution["result"]["services"]] == ["stop", "start", "start"]


def test_ssh_options_reach_the_ssh_milkcheck_starts(appliance: Appliance, cluster_nodes: Cluster, tmp_path: Path):
    """A stand-in reaching nodes as MilkCheck does (tests/fixtures/milkcheck/over_ssh.py): only the cluster's
    ssh config names the nodes, and ssh_options given on the command line bring it to MilkCheck's ssh."""
    program = tmp_path / "over-ssh-milkcheck"
    program.write_text(f"#!/bin/sh\nexec {sys.executable} {ROOT}/tests/fixtures/milkcheck/over_ssh.py \"$@\"\n")
    program.chmod(0o755)
    done, execution = appliance.st2_json("run", "milkcheck.status", f"nodes={cluster_nodes.names}",
                                         f"milkcheck_path={program}", f"ssh_options=-F {cluster_nodes.ssh_config}")
    assert execution["status"] == "succeeded", execution
    lines = set(execution["result"]["stdout"].splitlines())
    assert {f" > {node.name}: {node.name}" for node in cluster_nodes.nodes} <= lines
    done, execution = appliance.st2_json("run", "milkcheck.status", f"milkcheck_path={program}",
                                         "ssh_options=-oPort=22 node9")
    assert execution["status"] == "failed" and execution["result"]["status"] == "usage_error"
    assert execution["result"]["error"] == "ssh_options: 'node9' is not an ssh option (options start with '-')."
