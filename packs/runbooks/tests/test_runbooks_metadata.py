"""The runbooks: their workflows pass the inspection a run makes, and their parameters validate."""

import os
import unittest

from appliance.pack_checks import PackMetadata
from appliance.parameters import ParameterError

PACK = PackMetadata(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


class RunbooksMetadataTestCase(unittest.TestCase):
    def test_every_action_registers(self):
        self.assertEqual(PACK.action_names(), ["batch_report", "batches", "drain_reboot", "rolling_restart"])
        for name in PACK.action_names():
            PACK.action(name)

    def test_the_workflows_pass_inspection(self):
        for name in ("rolling_restart", "drain_reboot"):
            with self.subTest(workflow=name):
                self.assertEqual(PACK.workflow_errors(name), [])

    def test_parameters(self):
        PACK.check_parameters("rolling_restart", {"nodes": "node[1-64]", "service": "slurmd", "batch_size": 16,
                                                  "worker": "exec"})
        PACK.check_parameters("drain_reboot", {"nodes": "node[1-4]"})
        for name, parameters in [("rolling_restart", {"nodes": "node1"}),
                                 ("rolling_restart", {"nodes": "node1", "service": "x", "batch_size": "big"}),
                                 ("rolling_restart", {"nodes": "node1", "service": "x", "worker": "telnet"}),
                                 ("batches", {"nodes": "node1", "operation": "report"})]:
            with self.subTest(action=name, parameters=parameters), self.assertRaises(ParameterError):
                PACK.check_parameters(name, parameters)
