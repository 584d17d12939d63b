"""Where a pack comes from: StackStorm's pack spec `name_or_url[=ref]`.

- `file:///path` (or an absolute path): a git repository on disk is cloned, a plain directory copied;
- a git URL (https://, http://, ssh://, git://, user@host:path): cloned, for sites with a git server;
- a bare name: looked up in the site's pack index ([content] index_url), which gives its repository
  and version.

StackStorm expands `owner/repo` to a repository on GitHub; the appliance runs offline and refuses it with
a clear error rather than trying the network.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Callable, Optional

from appliance.packs import PackError

SEPARATOR = "="  # StackStorm's PACK_VERSION_SEPARATOR: name_or_url=ref
FILE_SCHEME = "file://"
_REMOTE = re.compile(r"^(?:(?:https?|ssh|git)://[^\s/]+/\S+|[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:\S+)$")
_MAX_SPEC = 4096


@dataclass(frozen=True)
class Source:
    spec: str  # as the user gave it
    url: str  # the repository's URL, file:// for one on disk
    ref: Optional[str]  # the version, tag, branch or commit asked for (None: the repository's default)
    local_path: str = ""  # file:// sources: the directory on disk

    @property
    def is_git(self) -> bool:
        """A git repository (cloned) rather than a plain directory (copied)."""
        return not self.local_path or is_git_repository(self.local_path)


def is_git_repository(path: str) -> bool:
    """A work tree with .git, or a bare repository (HEAD, objects/ and refs/)."""
    if os.path.exists(os.path.join(path, ".git")):
        return True
    return all(os.path.exists(os.path.join(path, name)) for name in ("HEAD", "objects", "refs"))


def split(spec: str) -> tuple[str, Optional[str]]:
    """(name or URL, ref or None), as StackStorm splits on "=" (text after a second "=" is dropped)."""
    parts = spec.split(SEPARATOR)
    return parts[0], (parts[1] if len(parts) > 1 and parts[1] else None)


def resolve(spec: str, find_in_index: Callable[[str], Optional[dict]]) -> Source:
    """The source of `spec`; `find_in_index(name)` gives a bare name's index entry (None when unknown)."""
    if not isinstance(spec, str) or not spec.strip():
        raise PackError(f"A pack is given by its name in the pack index or by a URL, not {spec!r}.")
    if len(spec) > _MAX_SPEC or any(ord(char) < 32 for char in spec):
        raise PackError(f"{spec[:80]!r}... is not a pack name or URL.")
    name_or_url, ref = split(spec.strip())
    if "/" not in name_or_url:
        entry = find_in_index(name_or_url)
        if not entry:
            raise PackError(f'No record of the "{name_or_url}" pack in the index.')
        repo_url = entry.get("repo_url")
        if not isinstance(repo_url, str) or not repo_url:
            raise PackError(f'The index entry of the "{name_or_url}" pack has no repo_url.')
        version = entry.get("version")
        nested = resolve(repo_url, find_in_index)
        return Source(spec, nested.url, ref or (str(version) if version else None), nested.local_path)
    if name_or_url.startswith(FILE_SCHEME) or name_or_url.startswith("/"):
        path = name_or_url[len(FILE_SCHEME):] if name_or_url.startswith(FILE_SCHEME) else name_or_url
        local = os.path.abspath(path)
        return Source(spec, FILE_SCHEME + local, ref, local)
    if _REMOTE.match(name_or_url) and not name_or_url.startswith("-"):
        return Source(spec, name_or_url, ref)
    if len(name_or_url.split("/")) == 2 and "@" not in name_or_url:
        raise PackError(f'"{name_or_url}" names a repository on GitHub, which this appliance does not contact: give '
                        "the pack as file:///<path of its git repository or directory>, or the git URL of your "
                        "site's server.")
    raise PackError(f'"{name_or_url[:200]}" is not a pack name, a file:// URL or a git URL.')
