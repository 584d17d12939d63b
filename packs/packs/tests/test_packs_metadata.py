"""The packs pack: every action registers, the install workflow passes the inspection a run makes, and the
parameters a run request gives are accepted or refused as StackStorm's."""

import os
import unittest

from appliance.pack_checks import PackMetadata
from appliance.parameters import ParameterError

PACK = PackMetadata(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
ACTIONS = ["delete", "download", "get", "get_pack_dependencies", "get_pack_warnings", "install.meta", "load",
           "search", "setup_virtualenv", "show", "uninstall.meta", "unload", "update_virtualenv",
           "virtualenv_prerun"]


class PacksMetadataTestCase(unittest.TestCase):
    def test_every_action_registers_under_stackstorm_s_name(self):
        self.assertEqual(PACK.action_names(), ACTIONS)
        names = {PACK.action(name)["name"] for name in PACK.action_names()}
        self.assertEqual(names, {name.replace(".meta", "") for name in ACTIONS})

    def test_install_is_an_orquesta_workflow_that_passes_inspection(self):
        self.assertEqual(PACK.action("install.meta")["runner_type"], "orquesta")
        self.assertEqual(PACK.workflow_errors("install.meta"), [])
        self.assertEqual(PACK.action("uninstall.meta")["runner_type"], "action-chain")

    def test_install_and_uninstall_parameters(self):
        PACK.check_parameters("install.meta", {"packs": ["file:///srv/packs/clush"]})
        PACK.check_parameters("install.meta", {"packs": ["file:///srv/packs/clush=1.0.0"], "force": True,
                                               "env": {"PIP_NO_INDEX": "yes"}})
        PACK.check_parameters("uninstall.meta", {"packs": ["clush"]})
        for name, parameters in [("install.meta", {}), ("install.meta", {"packs": "clush", "force": "maybe"}),
                                 ("uninstall.meta", {})]:
            with self.subTest(action=name, parameters=parameters), self.assertRaises(ParameterError):
                PACK.check_parameters(name, parameters)
