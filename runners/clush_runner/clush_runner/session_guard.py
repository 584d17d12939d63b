"""Shell text that ends a remote command when the ssh session that started it goes away.

sshd starts a command without a tty in a session of its own and never signals it: killing the
ssh client (a cancel, a timeout) closes the connection, and the command runs on, orphaned. So
the command runs under a guard on the node: in a process group of its own (setsid), its stdin
/dev/null, while a watcher reads the session's stdin. The runner never closes that stdin while
the command runs, so end-of-file there means the session is gone, or the runner asks for a stop:
the watcher then sends SIGTERM to the group and, 2 s later, SIGKILL. Output and exit code are
the command's own. The node needs a POSIX login shell and setsid (util-linux).

Why a guard rather than the runner reaching back to the nodes to kill what it started: the stop
comes with the session's end, whatever ended it (a cancel, the run's timeout, command_timeout,
an action runner that died), needs no second login (nor the sudo password again), and reaches
each node the moment its own ssh is stopped.
"""

from __future__ import annotations

import shlex

LOGIN_SHELL = '"${SHELL:-/bin/sh}"'
KILL_AFTER_SECONDS = 2


def guard(command: str, shell: str = LOGIN_SHELL) -> str:
    """`shell -c command` under the guard, as one compound command (a subshell) of POSIX sh."""
    return (
        "(exec 3<&0; "
        f"setsid {shell} -c {shlex.quote(command)} </dev/null 3<&- & p=$!; "
        f"{{ cat <&3; kill -TERM -$p && sleep {KILL_AFTER_SECONDS} && kill -KILL -$p; }} >/dev/null 2>&1 & w=$!; "
        "exec 3<&-; wait $p; r=$?; kill $w 2>/dev/null; exit $r)"
    )
