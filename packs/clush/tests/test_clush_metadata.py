"""The clush actions as the appliance registers them, and the parameters `st2 run` accepts or refuses."""

import os
import unittest

from appliance.pack_checks import PackMetadata
from appliance.parameters import ParameterError

PACK = PackMetadata(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


class ClushMetadataTestCase(unittest.TestCase):
    def test_every_action_registers_with_an_installed_runner(self):
        self.assertEqual(PACK.action_names(), ["cmd", "copy", "nodeset_count", "nodeset_expand", "nodeset_fold",
                                               "ping", "script"])
        runners = {name: PACK.action(name)["runner_type"] for name in PACK.action_names()}
        self.assertEqual(runners["cmd"], "clush")
        self.assertEqual(runners["copy"], "clush-copy")
        self.assertEqual(runners["script"], "clush-script")

    def test_node_set_actions(self):
        PACK.check_parameters("cmd", {"nodes": "node[1-64]", "cmd": "uptime", "worker": "exec", "fanout": 16})
        PACK.check_parameters("copy", {"nodes": "@compute", "source": "/etc/hosts", "dest": "/etc/hosts"})
        PACK.check_parameters("script", {"nodes": "node1", "script": "/srv/check.sh", "args": "-q"})
        PACK.check_parameters("ping", {"nodes": "node[1-4]", "max_failed_nodes": 1})
        for name, parameters in [("cmd", {"cmd": "uptime"}),  # no nodes
                                 ("cmd", {"nodes": "node1", "cmd": "uptime", "worker": "telnet"}),
                                 ("ping", {"nodes": "node1", "cmd": "reboot"}),  # immutable
                                 ("nodeset_fold", {"nodes": "n[1-2]", "operation": "expand"})]:
            with self.subTest(action=name, parameters=parameters), self.assertRaises(ParameterError):
                PACK.check_parameters(name, parameters)
