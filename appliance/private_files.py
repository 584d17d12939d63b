"""Files only the appliance's user may read: the database, the datastore key, the logs.

Whatever the umask, they are created 0600 in folders created 0700. An existing file of ours that
others can read is tightened; an existing folder is tightened only when it is the appliance's own
(its data folder), never a shared one such as /var/lib a site pointed a path into.
"""

from __future__ import annotations

import logging
import os
import stat

LOG = logging.getLogger(__name__)


def private_dir(path: str, own: bool = False) -> None:
    """Create `path` 0700 (with its parents); `own=True` also tightens it if it already exists."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    found = os.stat(path)
    if not found.st_mode & 0o077:
        return
    if own and found.st_uid == os.geteuid():
        os.chmod(path, 0o700)
    elif not found.st_mode & stat.S_ISVTX:
        LOG.warning("%s is open to other local users (mode %o): give the appliance's files a folder of "
                    "their own, mode 0700", path, stat.S_IMODE(found.st_mode))


def private_file(path: str, append: bool = False) -> None:
    """Create `path` 0600 in a private folder (or tighten it, if it is ours and open to others)."""
    private_dir(os.path.dirname(os.path.abspath(path)))
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else 0), 0o600))
    tighten(path)


def tighten(path: str) -> None:
    """chmod a file of ours to 0600 when group or others have any access to it."""
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return
    if found.st_uid == os.geteuid() and found.st_mode & 0o077:
        os.chmod(path, 0o600)
