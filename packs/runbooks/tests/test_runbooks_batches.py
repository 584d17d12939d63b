"""runbooks.batches and runbooks.batch_report (actions/batches.py), the helpers of rolling_restart."""

from batches import BatchesAction, report, split
from st2tests.base import BaseActionTestCase


class BatchesActionTestCase(BaseActionTestCase):
    action_cls = BatchesAction

    def test_split_in_clustershell_order(self):
        action = self.get_action_instance()
        self.assertEqual(action.run(operation="split", nodes="node[1-8]", size=3),
                         ["node[1-3]", "node[4-6]", "node[7-8]"])
        self.assertEqual(split("a2,a1,b1", 8), ["a[1-2],b1"])

    def test_bad_input_fails_the_action(self):
        self.assertEqual(split("node[1-4]", 0), (False, "The batch size must be a positive integer, not 0."))
        succeeded, message = split("node[4-1]", 2)
        self.assertFalse(succeeded)
        self.assertTrue(message.startswith("Bad node set 'node[4-1]'"))

    def test_report(self):
        result = self.get_action_instance().run(operation="report", batches=["n[1-2]", "n[3-4]", "n[5-6]"],
                                                ok=["n[1-2]", "n3", None])
        self.assertEqual(result, {"restarted": "n[1-3]", "failed": "n4", "not_attempted": "n[5-6]",
                                  "failed_batches": ["n[3-4]"]})
        self.assertEqual(report([], []), {"restarted": "", "failed": "", "not_attempted": "", "failed_batches": []})
