"""milkcheck pack actions through the real st2 CLI: a clear failure without MilkCheck, and real runs
against tests/fixtures/milkcheck/conf whenever MilkCheck is installed."""

from __future__ import annotations

import os
import shutil

import pytest
from e2e_harness import ROOT, Appliance

pytestmark = pytest.mark.e2e

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
