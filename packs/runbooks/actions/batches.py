"""Node set batches for runbooks.rolling_restart: split a node set, then tell how each batch went."""

from clush_runner.groups import use_site_groups
from ClusterShell.NodeSet import NodeSet, NodeSetException
from ClusterShell.NodeUtils import GroupResolverError, GroupSourceError
from st2common.runners.base_action import Action

BAD = (NodeSetException, GroupResolverError, GroupSourceError)


class BatchesAction(Action):
    def run(self, operation, nodes=None, size=None, batches=None, ok=None):
        if operation == "report":
            return report(batches or [], ok or [])
        return split(nodes, size)


def split(nodes, size):
    """The node set cut into folded batches of `size` nodes, in ClusterShell's order."""
    if not isinstance(size, int) or size < 1:
        return False, f"The batch size must be a positive integer, not {size!r}."
    use_site_groups()  # the groups clush.cmd sees
    try:
        names = list(NodeSet(nodes))
    except BAD as exc:
        return False, f"Bad node set {nodes!r}: {exc}"
    return [str(NodeSet.fromlist(names[i:i + size])) for i in range(0, len(names), size)]


def report(batches, ok):
    """Folded node sets: restarted (ok in a batch that ran), failed (the rest of a batch that ran) and
    not_attempted (batches that never started, their `ok` entry null)."""
    restarted, failed, not_attempted = NodeSet(), NodeSet(), NodeSet()
    failed_batches = []
    for index, batch in enumerate(batches):
        batch_set = NodeSet(batch)
        done = ok[index] if index < len(ok) else None
        if done is None:
            not_attempted.update(batch_set)
            continue
        good = NodeSet(done or "") & batch_set
        restarted.update(good)
        if len(good) < len(batch_set):
            failed.update(batch_set - good)
            failed_batches.append(batch)
    return {"restarted": str(restarted), "failed": str(failed), "not_attempted": str(not_attempted),
            "failed_batches": failed_batches}
