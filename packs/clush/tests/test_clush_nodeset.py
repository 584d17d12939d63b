"""clush.nodeset_expand, nodeset_fold and nodeset_count: the pack's Python action."""

from nodeset import NodeSetAction
from st2tests.base import BaseActionTestCase


class NodeSetActionTestCase(BaseActionTestCase):
    action_cls = NodeSetAction

    def test_expand_fold_count(self):
        action = self.get_action_instance()
        self.assertEqual(action.run(nodes="node[1-3]", operation="expand"), ["node1", "node2", "node3"])
        self.assertEqual(action.run(nodes="node1,node2,node3,node7", operation="fold"), "node[1-3,7]")
        self.assertEqual(action.run(nodes="node[1-64]!node[10-19]", operation="count"), 54)

    def test_a_bad_node_set_fails_the_action(self):
        succeeded, message = self.get_action_instance().run(nodes="node[3-1]", operation="count")
        self.assertFalse(succeeded)
        self.assertIn("Bad node set 'node[3-1]'", message)
