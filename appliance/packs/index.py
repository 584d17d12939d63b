"""Pack indexes: StackStorm's index.json (`{"metadata": ..., "packs": {name: {name, description, version,
author, keywords, repo_url, content, ...}}}`) at each `[content] index_url`, read for `st2 pack search`,
`st2 pack show` and installs by name.

The appliance has no default index (StackStorm's is the Exchange, unreachable offline): with none
configured those are one clear error and no network call. A site publishes its own, usually as
`file:///...`; http(s):// URLs work too. As StackStorm's services/packs.py: the first URL listed wins
for a pack several indexes hold, an unreadable index is reported in the status but does not hide the
others, and search looks at every field but repo_url and email, name and keywords matches first.
"""

from __future__ import annotations

import itertools
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Optional

from appliance.packs import PackError

EXCLUDE_FIELDS = ("repo_url", "email")
SEARCH_PRIORITY = ("name", "keywords")
HTTP_TIMEOUT = 30
NO_INDEX = ("No pack index is configured ([content] index_url is empty): install packs by the file:// URL of "
            "their git repository or directory, or set [content] index_url to your site's index.json "
            "(file:///...).")


class IndexUnavailable(PackError):
    """No index is configured, or none could be read."""


def _read(url: str) -> Any:
    if url.lower().startswith("file://"):
        path = urllib.parse.unquote(urllib.parse.urlparse(url).path)
        with open(os.path.abspath(path), encoding="utf-8") as handle:
            return json.load(handle)
    if not url.lower().startswith(("http://", "https://")):
        raise ValueError("only file://, http:// and https:// index URLs are read")
    with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT) as response:  # noqa: S310 - scheme checked above
        return json.loads(response.read().decode("utf-8"))


def fetch(index_urls: list[str], allow_empty: bool = False) -> tuple[dict, list[dict]]:
    """(every pack of every index by name, one status per index), as StackStorm's fetch_pack_index."""
    if not index_urls:
        raise IndexUnavailable(NO_INDEX)
    index: dict = {}
    status = []
    for url in reversed(index_urls):  # the first URL listed is read last: its packs win
        entry: dict = {"url": url, "packs": 0, "message": None, "error": None}
        data = None
        try:
            data = _read(url)
        except ValueError as exc:
            entry.update(error="malformed", message=repr(exc))
        except (OSError, urllib.error.URLError) as exc:
            entry.update(error="unresponsive", message=repr(exc))
        if data == {}:
            entry.update(error="empty", message="The index URL returned an empty object.")
        elif isinstance(data, list):
            entry.update(error="malformed", message="Expected an index object, got a list instead.")
        elif data is not None and (not isinstance(data, dict) or not isinstance(data.get("packs"), dict)):
            entry.update(error="malformed", message='Index object is missing "packs" attribute.')
        if not entry["error"] and isinstance(data, dict):
            packs = {name: pack for name, pack in data["packs"].items() if isinstance(pack, dict)}
            entry.update(message="Success.", packs=len(packs))
            index.update(packs)
        status.append(entry)
    if not index and not allow_empty:
        word = "index" if len(index_urls) == 1 else "indexes"
        problems = "; ".join(f"{item['url']}: {item['error']} ({item['message']})" for item in status)
        tried = ", ".join(reversed(index_urls))
        raise IndexUnavailable(f"No results from the {word}: tried {tried}. Status: {problems}")
    return index, status


def pack_from_index(name: str, index_urls: list[str]) -> Optional[dict]:
    """The index entry of pack `name`, None when no index has it."""
    if not name:
        raise PackError("Pack name must be specified.")
    index, _ = fetch(index_urls)
    return index.get(name)


def _lowered(value: Any) -> Any:
    """StackStorm's lowercase_value: strings, list items, and dict keys and values."""
    if isinstance(value, str):
        return value.lower()
    if isinstance(value, list):
        return [_lowered(item) for item in value]
    if isinstance(value, dict):
        return {_lowered(k): _lowered(v) for k, v in value.items()}
    return value


def search(query: str, index_urls: list[str], case_sensitive: bool = True) -> list[dict]:
    """The packs with a field containing `query` (a substring of a string, an item of a list, a key of a
    mapping), those matching by name first, then by keywords, then by any other field."""
    if not query:
        raise PackError("Query must be specified.")
    if not case_sensitive:
        query = str(query).lower()
    index, _ = fetch(index_urls)
    matches: list[list[dict]] = [[] for _ in range(len(SEARCH_PRIORITY) + 1)]
    for pack in index.values():
        for key, value in pack.items():
            if not isinstance(value, (str, list, dict, tuple)):
                value = str(value)
            if not case_sensitive:
                value = _lowered(value)
            try:
                found = key not in EXCLUDE_FIELDS and query in value
            except TypeError:
                found = False
            if found:
                bucket = SEARCH_PRIORITY.index(key) if key in SEARCH_PRIORITY else -1
                matches[bucket].append(pack)
                break
    return list(itertools.chain.from_iterable(matches))
