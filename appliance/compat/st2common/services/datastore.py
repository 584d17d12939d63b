"""Datastore access for actions and sensors: StackStorm's semantics over the API, with the standard library only.

The action's process may run in a bare pack virtualenv, so this talks HTTP with urllib rather than
st2client or requests. Keys are local to the pack and class (`<pack>.<Class>:<name>`) unless
local=False; only the system scope exists here, as in StackStorm's action datastore service.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.error
import urllib.parse
import urllib.request
from types import SimpleNamespace
from typing import Any, Optional

__all__ = ["ActionDatastoreService", "SensorDatastoreService", "SYSTEM_SCOPE"]

SYSTEM_SCOPE = "system"
SEPARATOR = ":"
DEFAULT_LIMIT = 100  # StackStorm's api.max_page_size
HTTP_TIMEOUT = 60


class KeyNames:
    """How a pack class names its keys: `local` ones are `<pack>.<Class>:<name>`; only the system scope exists
    (StackStorm's datastore services and their test mock share these rules)."""

    _pack_name: str
    _class_name: str

    def _local_prefix(self) -> str:
        return f"{self._pack_name}.{self._class_name}{SEPARATOR}"

    def _full_name(self, name: str, local: bool, scope: str) -> str:
        if scope != SYSTEM_SCOPE:
            raise ValueError(f"Scope {scope} is unsupported.")
        return self._local_prefix() + name if local else name


class ActionDatastoreService(KeyNames):
    """Reads and writes datastore keys with the execution's temporary token."""

    def __init__(self, logger: logging.Logger, pack_name: str, class_name: str,
                 auth_token: Optional[str] = None, api_url: Optional[str] = None) -> None:
        self._logger = logger
        self._pack_name = pack_name
        self._class_name = class_name
        self._token = auth_token if auth_token is not None else os.environ.get("ST2_ACTION_AUTH_TOKEN")
        url = api_url or os.environ.get("ST2_ACTION_API_URL") or os.environ.get("ST2_API_URL") or ""
        self._api_url = url.rstrip("/")

    # -- the methods actions call ----------------------------------------------------------------
    def get_user_info(self) -> dict:
        return self._call("GET", "/user")

    def list_values(self, local: bool = True, prefix: Optional[str] = None, limit: Optional[int] = None,
                    offset: int = 0) -> list:
        key_prefix = self._local_prefix() + (prefix or "") if local else prefix
        query = {"limit": limit or DEFAULT_LIMIT, "offset": offset or 0}
        if key_prefix:
            query["prefix"] = key_prefix
        return [SimpleNamespace(**item) for item in self._call("GET", "/keys", query) or []]

    def get_value(self, name: str, local: bool = True, scope: str = SYSTEM_SCOPE,
                  decrypt: bool = False) -> Optional[str]:
        """The key's value, or None when it is missing or anything goes wrong (StackStorm's rule)."""
        full = self._full_name(name, local, scope)
        try:
            item = self._call("GET", "/keys/" + urllib.parse.quote(full, safe=""),
                              {"scope": scope, "decrypt": str(bool(decrypt)).lower()})
        except Exception as exc:
            self._logger.debug("Could not read datastore key %s: %s", full, exc)
            return None
        return item.get("value") if isinstance(item, dict) else None

    def set_value(self, name: str, value: Any, ttl: Optional[int] = None, local: bool = True,
                  scope: str = SYSTEM_SCOPE, encrypt: bool = False) -> bool:
        full = self._full_name(name, local, scope)
        body: dict = {"name": full, "value": str(value), "scope": scope}
        if encrypt:
            body["secret"] = True
        if ttl:
            body["ttl"] = ttl
        self._call("PUT", "/keys/" + urllib.parse.quote(full, safe=""), body=body)
        return True

    def delete_value(self, name: str, local: bool = True, scope: str = SYSTEM_SCOPE) -> bool:
        full = self._full_name(name, local, scope)
        try:
            self._call("DELETE", "/keys/" + urllib.parse.quote(full, safe=""), {"scope": scope})
        except Exception as exc:
            self._logger.debug("Could not delete datastore key %s: %s", full, exc)
            return False
        return True

    # -- plumbing --------------------------------------------------------------------------------
    def _call(self, method: str, path: str, query: Optional[dict] = None, body: Optional[dict] = None) -> Any:
        if not self._api_url:
            raise RuntimeError("ST2_ACTION_API_URL is not set: the datastore is out of reach.")
        url = self._api_url + path + ("?" + urllib.parse.urlencode(query) if query else "")
        data = json.dumps(body).encode("utf-8") if body is not None else None
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self._token:
            request.add_header("X-Auth-Token", self._token)
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:
            payload = response.read()
        return json.loads(payload) if payload else None


class SensorDatastoreService(ActionDatastoreService):
    """The same for sensors, with the sensor container's service token (ST2_AUTH_TOKEN, ST2_API_URL)."""

    def __init__(self, logger: logging.Logger, pack_name: str, class_name: str,
                 auth_token: Optional[str] = None, api_url: Optional[str] = None) -> None:
        super().__init__(logger, pack_name, class_name,
                         auth_token if auth_token is not None else os.environ.get("ST2_AUTH_TOKEN"),
                         api_url or os.environ.get("ST2_API_URL"))
