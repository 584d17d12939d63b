"""The core actions as the appliance registers them, and the parameters `st2 run` accepts or refuses."""

import os
import unittest

from appliance.pack_checks import PackMetadata
from appliance.parameters import ParameterError

PACK = PackMetadata(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


class CoreMetadataTestCase(unittest.TestCase):
    def test_every_action_registers_with_an_installed_runner(self):
        self.assertEqual(PACK.action_names(), ["ask", "echo", "error", "http", "local", "local_sudo", "noop",
                                               "pause", "remote", "remote_sudo"])
        for name in PACK.action_names():
            with self.subTest(action=name):
                self.assertEqual(PACK.action(name)["ref"], f"core.{name}")

    def test_shell_actions(self):
        PACK.check_parameters("local", {"cmd": "hostname"})
        PACK.check_parameters("echo", {"message": "hello"})
        PACK.check_parameters("remote", {"cmd": "uptime", "hosts": "node1,node2"})
        with self.assertRaises(ParameterError):
            PACK.check_parameters("local", {})
        with self.assertRaises(ParameterError):
            PACK.check_parameters("echo", {"message": "hello", "cmd": "rm -rf /tmp/x"})  # immutable

    def test_http_and_pause(self):
        PACK.check_parameters("http", {"url": "https://example.invalid/", "method": "POST", "body": "{}"})
        with self.assertRaises(ParameterError):
            PACK.check_parameters("http", {"url": "https://example.invalid/", "method": "FETCH"})
        PACK.check_parameters("pause", {"max_pause": 2})
        with self.assertRaises(ParameterError):
            PACK.check_parameters("pause", {"max_pause": "two"})
