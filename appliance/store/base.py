"""The store interface every engine implements, and the filter dialect it accepts.

Filters are a small subset of MongoDB's query language, so the MongoDB engine passes them through
and the SQLite engine translates them to SQL:
  {"status": "running"}                      equality (None matches null or missing)
  {"status": {"$in": [...]}} / "$nin"         membership
  {"start_timestamp": {"$gt": t, "$lt": t}}   ranges ("$gte", "$lte" too), "$ne"
  {"parent": {"$exists": False}}              presence
  {"action.ref": {"$regex": "^core\\."}}      Python-compatible regular expression
Dotted paths reach into sub-documents; "id" is the document id.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Iterable, Optional

from appliance.config import Config
from appliance.models import Entity

Filters = dict[str, Any]
Sort = list[tuple[str, int]]


def dotted_value(values: dict, path: str) -> Any:
    """The value of dotted `path` in a document, or in a {dotted path: value} mapping of set fields."""
    if path in values:
        return values[path]
    value: Any = values
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


class StoreError(Exception):
    """The engine failed (unreachable server, corrupt file); the message says which."""


class Conflict(StoreError):
    """A unique field already holds this value; `existing_id` is the document that holds it."""

    def __init__(self, collection: str, field: str, value: Any, existing_id: Optional[str]):
        super().__init__(f"{collection}: {field}={value!r} already exists")
        self.field = field
        self.value = value
        self.existing_id = existing_id


class Collection(ABC):
    """One collection of documents; every method is safe to call from any thread."""

    def __init__(self, entity: Entity):
        self.entity = entity

    @abstractmethod
    def insert(self, doc: dict) -> dict:
        """Store a new document (its "id" is kept if given); Conflict on a unique clash."""

    @abstractmethod
    def insert_many(self, docs: Iterable[dict]) -> None:
        """Store many new documents in one transaction."""

    @abstractmethod
    def get(self, doc_id: str) -> Optional[dict]:
        """The document with this id, or None."""

    @abstractmethod
    def find(
        self,
        filters: Optional[Filters] = None,
        sort: Optional[Sort] = None,
        limit: Optional[int] = None,
        offset: int = 0,
    ) -> list[dict]:
        """Documents matching `filters`, ordered by `sort` ([(field, 1 | -1)]), then paged."""

    @abstractmethod
    def ids(self, filters: Optional[Filters] = None, sort: Optional[Sort] = None) -> list[str]:
        """The ids of the documents matching `filters`, ordered by `sort`, without reading the documents."""

    @abstractmethod
    def count(self, filters: Optional[Filters] = None) -> int:
        """How many documents match."""

    @abstractmethod
    def update(
        self,
        doc_id: str,
        set_fields: Optional[dict] = None,
        push: Optional[dict] = None,
        expect: Optional[Filters] = None,
    ) -> Optional[dict]:
        """Atomically set dotted fields and append to lists, only if the document still matches
        `expect` (compare-and-set). Returns the updated document, or None when it did not match."""

    @abstractmethod
    def claim(self, filters: Filters, set_fields: dict, sort: Optional[Sort] = None) -> Optional[dict]:
        """Atomically pick the first matching document and set fields on it; None if none match.
        Two concurrent callers never get the same document."""

    @abstractmethod
    def replace(self, doc: dict) -> dict:
        """Overwrite the whole document with the same id; Conflict on a unique clash."""

    @abstractmethod
    def delete(self, doc_id: str) -> bool:
        """Remove one document; False when it did not exist."""

    @abstractmethod
    def delete_many(self, filters: Filters) -> int:
        """Remove every matching document; returns how many."""

    def find_one(self, filters: Filters) -> Optional[dict]:
        found = self.find(filters, limit=1)
        return found[0] if found else None


class Store(ABC):
    """A database: one Collection per Entity."""

    @classmethod
    @abstractmethod
    def from_url(cls, url: str, config: Config) -> Store:
        """The store at `url` (its scheme selected this engine), with st2.conf's [database] options."""

    @abstractmethod
    def collection(self, entity: Entity) -> Collection:
        """The collection for `entity`, created with its indexes on first use."""

    @abstractmethod
    def close(self) -> None:
        """Release connections."""
