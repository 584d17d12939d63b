"""MockDatastoreService: the datastore methods of action_service and sensor_service, over a dict.

Key names are StackStorm's: local=True (the default) puts the key under `<pack>.<Class>:`, local=False
uses the name as given. As the real services, only the system scope is accepted (another raises
ValueError). As StackStorm's mock, values are kept as given (the real service stores str(value)) and
read back as stored whether or not `decrypt` is asked; `encrypt=True` marks the item secret.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

from st2common.services.datastore import SYSTEM_SCOPE, KeyNames

__all__ = ["MockDatastoreService", "KeyValuePair", "SYSTEM_SCOPE"]


class KeyValuePair:
    """A stored key as list_values returns it: id, name, value, and scope, secret, ttl when set."""

    def __init__(self, **attributes: Any) -> None:
        self.__dict__.update(attributes)

    def __repr__(self) -> str:
        return f"<KeyValuePair name={self.name!r} value={self.value!r}>"


class MockDatastoreService(KeyNames):
    """The datastore of one pack class, kept in memory for the length of a test."""

    def __init__(self, logger: Any, pack_name: str, class_name: str, api_username: Optional[str] = None) -> None:
        self._logger = logger
        self._pack_name = pack_name
        self._class_name = class_name
        self._username = api_username or "admin"
        self._datastore_items: dict = {}  # full key name -> KeyValuePair, in the order keys were first set

    def get_user_info(self) -> dict:
        """What the API answers for an admin's token (GET /v1/user)."""
        return {
            "username": self._username,
            "rbac": {"is_admin": True, "enabled": True, "roles": ["admin"]},
            "authentication": {"method": "authentication token", "location": "header"},
        }

    def list_values(self, local: bool = True, prefix: Optional[str] = None, limit: Optional[int] = None,
                    offset: Optional[int] = 0) -> list:
        """The stored items whose name starts with the local prefix (+ prefix), or with prefix when
        local=False (every item without one); `offset` and `limit` page through them."""
        start = self._local_prefix() + (prefix or "") if local else (prefix or "")
        found = [item for name, item in self._datastore_items.items() if name.startswith(start)]
        found = found[offset or 0:]
        return found[:limit] if limit else found

    def get_value(self, name: str, local: bool = True, scope: str = SYSTEM_SCOPE, decrypt: bool = False) -> Any:
        """The value stored under the name, None when there is none."""
        item = self._datastore_items.get(self._full_name(name, local, scope))
        return None if item is None else item.value

    def set_value(self, name: str, value: Any, ttl: Optional[int] = None, local: bool = True,
                  scope: str = SYSTEM_SCOPE, encrypt: bool = False) -> bool:
        """Store the value (replacing any); a ttl is kept on the item but never expires it."""
        full = self._full_name(name, local, scope)
        item = KeyValuePair(id=full, name=full, value=value, scope=scope)
        if encrypt:
            item.secret = True
        if ttl:
            self._logger.warning("MockDatastoreService is not able to expire keys based on ttl.")
            item.ttl = ttl
        self._datastore_items[full] = item
        return True

    def delete_value(self, name: str, local: bool = True, scope: str = SYSTEM_SCOPE) -> bool:
        """True when the key existed and is gone, False when there was no such key."""
        return self._datastore_items.pop(self._full_name(name, local, scope), None) is not None


class DatastoreMethods:
    """The datastore methods an action or sensor calls on its service, handed to `datastore_service`."""

    _datastore_service: MockDatastoreService

    @property
    def datastore_service(self) -> MockDatastoreService:
        return self._datastore_service

    def get_user_info(self) -> dict:
        return self.datastore_service.get_user_info()

    def list_values(self, local: bool = True, prefix: Optional[str] = None, limit: Optional[int] = None,
                    offset: Optional[int] = None) -> list:
        return self.datastore_service.list_values(local=local, prefix=prefix, limit=limit, offset=offset)

    def get_value(self, name: str, local: bool = True, scope: str = SYSTEM_SCOPE, decrypt: bool = False) -> Any:
        return self.datastore_service.get_value(name=name, local=local, scope=scope, decrypt=decrypt)

    def set_value(self, name: str, value: Any, ttl: Optional[int] = None, local: bool = True,
                  scope: str = SYSTEM_SCOPE, encrypt: bool = False) -> bool:
        return self.datastore_service.set_value(name=name, value=value, ttl=ttl, local=local, scope=scope,
                                                encrypt=encrypt)

    def delete_value(self, name: str, local: bool = True, scope: str = SYSTEM_SCOPE) -> bool:
        return self.datastore_service.delete_value(name=name, local=local, scope=scope)


def mock_logger() -> Any:
    """A Mock with a root logger's methods, so a test can assert what was logged."""
    from unittest.mock import Mock

    return Mock(spec=logging.RootLogger)
