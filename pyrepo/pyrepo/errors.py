"""The one exception type the CLI turns into a single `pyrepo: error: ...` line."""

from __future__ import annotations


class PyrepoError(Exception):
    """Bad input or a failed step the user can fix; its message is the whole diagnosis."""
