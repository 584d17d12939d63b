"""Node set arithmetic with ClusterShell: expand, fold or count (the `operation` parameter)."""

from clush_runner.groups import use_site_groups
from ClusterShell.NodeSet import NodeSet, NodeSetException
from ClusterShell.NodeUtils import GroupResolverError, GroupSourceError
from st2common.runners.base_action import Action


class NodeSetAction(Action):
    def run(self, nodes, operation):
        use_site_groups()  # the groups clush.cmd sees
        try:
            nodeset = NodeSet(nodes)
        except (NodeSetException, GroupResolverError, GroupSourceError) as exc:
            return False, f"Bad node set {nodes!r}: {exc}"
        if operation == "expand":
            return list(nodeset)
        if operation == "count":
            return len(nodeset)
        return str(nodeset)
