"""The milkcheck actions (the milkcheck runner, no Python of their own): what registers and what `st2 run`
accepts or refuses."""

import os
import unittest

from appliance.pack_checks import PackMetadata
from appliance.parameters import ParameterError

PACK = PackMetadata(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


class MilkCheckMetadataTestCase(unittest.TestCase):
    def test_every_action_registers_with_the_milkcheck_runner(self):
        self.assertEqual(PACK.action_names(), ["restart", "run", "start", "status", "stop"])
        for name in PACK.action_names():
            with self.subTest(action=name):
                self.assertEqual(PACK.action(name)["runner_type"], "milkcheck")

    def test_each_named_action_is_fixed(self):
        for name in ("start", "stop", "status", "restart"):
            with self.subTest(action=name):
                action = PACK.action(name)
                self.assertTrue(action["parameters"]["actions"]["immutable"])
                PACK.check_parameters(name, {"nodes": "node[1-8]", "services": ["slurmd"], "dry_run": True})
                with self.assertRaises(ParameterError):
                    PACK.check_parameters(name, {"actions": ["stop"]})

    def test_run_takes_any_actions(self):
        PACK.check_parameters("run", {"actions": ["reload"], "variables": {"VERSION": "2.1"}, "report": "no"})
        for parameters in ({}, {"actions": []}, {"actions": ["start"], "report": "loud"}):
            with self.subTest(parameters=parameters), self.assertRaises(ParameterError):
                PACK.check_parameters("run", parameters)
