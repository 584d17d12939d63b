"""The production engine: MongoDB through pymongo, selected by st2.conf's [database] settings.

Documents keep their string id in `_id`; the filter dialect of appliance.store.base is MongoDB's,
so filters pass through with "id" renamed. Claims and compare-and-set are find_one_and_update,
which MongoDB applies atomically to one document.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional

import pymongo
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError, PyMongoError

from appliance.config import Config
from appliance.models import Entity, new_id
from appliance.store.base import Collection, Conflict, Filters, Store, StoreError, dotted_value


def _to_mongo(filters: Optional[Filters]) -> dict:
    return {("_id" if key == "id" else key): value for key, value in (filters or {}).items()}


def _sort(sort) -> list:
    terms = [("_id" if path == "id" else path, direction) for path, direction in sort or []]
    terms.append(("_id", sort[-1][1] if sort else 1))
    return terms


def _from_mongo(doc: Optional[dict]) -> Optional[dict]:
    if doc is None:
        return None
    doc = dict(doc)
    doc["id"] = str(doc.pop("_id"))
    return doc


def _to_doc(doc: dict) -> dict:
    stored = {key: value for key, value in doc.items() if key != "id"}
    stored["_id"] = doc["id"]
    return stored


def _with_id(doc: dict) -> dict:
    return doc if "id" in doc else {"id": new_id(), **doc}



class MongoCollection(Collection):
    def __init__(self, entity: Entity, collection: Any):
        super().__init__(entity)
        self._coll = collection

    def _conflict(self, values: dict, own_id: Optional[str], details: Optional[dict]) -> Conflict:
        """A Conflict naming the clashing field, its value and the document holding it. MongoDB says
        which index clashed (keyPattern); mongomock does not, so then the unique fields are probed.
        The details are looked up after the fact: if that fails, the clash is still reported."""
        key = (details or {}).get("keyPattern") or {}
        field = next(iter(key), None)
        try:
            field = field or self._clashing_field(values, own_id)
        except PyMongoError:
            field = "id"
        if field == "_id":
            field = "id"
        if field == "id":
            value: Any = own_id
            query: dict = {"_id": own_id}
        else:
            value = dotted_value(values, field)
            query = {field: value, "_id": {"$ne": own_id}}
        try:
            existing = self._coll.find_one(query, {"_id": 1})
        except PyMongoError:
            existing = None
        return Conflict(self.entity.collection, field, value, str(existing["_id"]) if existing else None)

    def _clashing_field(self, values: dict, own_id: Optional[str]) -> str:
        for path in self.entity.unique:
            value = dotted_value(values, path)
            if value is not None and self._coll.find_one({path: value, "_id": {"$ne": own_id}}, {"_id": 1}):
                return path
        return "id"

    def _call(self, method, *args, **kwargs):
        try:
            return method(*args, **kwargs)
        except DuplicateKeyError:
            raise
        except PyMongoError as exc:
            raise StoreError(f"mongodb {self.entity.collection}: {exc}") from exc

    def insert(self, doc: dict) -> dict:
        doc = _with_id(doc)
        try:
            self._call(self._coll.insert_one, _to_doc(doc))
        except DuplicateKeyError as exc:
            raise self._conflict(doc, doc["id"], exc.details) from None
        return doc

    def insert_many(self, docs: Iterable[dict]) -> None:
        """Ordered insert; on a clash the documents already written are deleted again, so that
        (as with the SQLite engine's transaction) either all documents are stored or none."""
        originals = [_with_id(doc) for doc in docs]
        if not originals:
            return
        batch = [_to_doc(doc) for doc in originals]
        try:
            self._coll.insert_many(batch, ordered=True)
        except pymongo.errors.BulkWriteError as exc:
            details = exc.details or {}
            errors = details.get("writeErrors") or [{}]
            inserted = [doc["_id"] for doc in batch[: details.get("nInserted", 0)]]
            first = errors[0]
            conflict = None
            if first.get("code") in (11000, 11001) and "index" in first:
                culprit = originals[first["index"]]
                conflict = self._conflict(culprit, culprit["id"], first)
            if inserted:
                self._call(self._coll.delete_many, {"_id": {"$in": inserted}})
            if conflict is not None:
                raise conflict from None
            raise StoreError(f"mongodb {self.entity.collection}: {exc}") from exc
        except PyMongoError as exc:
            raise StoreError(f"mongodb {self.entity.collection}: {exc}") from exc

    def get(self, doc_id: str) -> Optional[dict]:
        return _from_mongo(self._call(self._coll.find_one, {"_id": doc_id}))

    def find(self, filters=None, sort=None, limit=None, offset=0) -> list[dict]:
        if limit == 0:  # pymongo's limit(0) means "no limit"; the interface means no documents
            return []
        cursor = self._coll.find(_to_mongo(filters)).sort(_sort(sort)).skip(offset)
        if limit is not None:
            cursor = cursor.limit(limit)
        return [_from_mongo(doc) for doc in self._call(list, cursor)]

    def ids(self, filters=None, sort=None) -> list[str]:
        cursor = self._coll.find(_to_mongo(filters), {"_id": 1}).sort(_sort(sort))
        return [str(doc["_id"]) for doc in self._call(list, cursor)]

    def count(self, filters=None) -> int:
        return self._call(self._coll.count_documents, _to_mongo(filters))

    def update(self, doc_id, set_fields=None, push=None, expect=None) -> Optional[dict]:
        query = {"_id": doc_id, **_to_mongo(expect)}
        change: dict = {}
        if set_fields:
            change["$set"] = set_fields
        if push:
            change["$push"] = push
        if not change:
            return _from_mongo(self._call(self._coll.find_one, query))
        try:
            return _from_mongo(
                self._call(self._coll.find_one_and_update, query, change, return_document=ReturnDocument.AFTER)
            )
        except DuplicateKeyError as exc:
            raise self._conflict(set_fields or {}, doc_id, exc.details) from None

    def claim(self, filters, set_fields, sort=None) -> Optional[dict]:
        try:
            return _from_mongo(
                self._call(
                    self._coll.find_one_and_update,
                    _to_mongo(filters),
                    {"$set": set_fields},
                    sort=_sort(sort),
                    return_document=ReturnDocument.AFTER,
                )
            )
        except DuplicateKeyError as exc:
            raise self._conflict(set_fields, None, exc.details) from None

    def replace(self, doc: dict) -> dict:
        try:
            result = self._call(self._coll.replace_one, {"_id": doc["id"]}, _to_doc(doc))
        except DuplicateKeyError as exc:
            raise self._conflict(doc, doc["id"], exc.details) from None
        if result.matched_count == 0:
            raise StoreError(f"{self.entity.collection}: no document with id {doc['id']}")
        return doc

    def delete(self, doc_id: str) -> bool:
        return self._call(self._coll.delete_one, {"_id": doc_id}).deleted_count > 0

    def delete_many(self, filters: Filters) -> int:
        return self._call(self._coll.delete_many, _to_mongo(filters)).deleted_count


class MongoStore(Store):
    """A MongoDB database; `client` may be a pymongo.MongoClient or a mongomock one."""

    def __init__(self, client: Any, db_name: str):
        self._client = client
        self._db = client[db_name]
        self._collections: dict[str, MongoCollection] = {}

    @classmethod
    def from_url(cls, url: str, config: Config) -> MongoStore:
        """mongodb:// or mongodb+srv:// with [database] db_name, username and password."""
        return cls.connect(
            url,
            config.get("database", "db_name"),
            config.get("database", "username"),
            config.get("database", "password"),
        )

    @classmethod
    def connect(cls, url: str, db_name: str, username: str = "", password: str = "") -> MongoStore:
        kwargs: dict = {"serverSelectionTimeoutMS": 5000, "tz_aware": True}
        if username:
            kwargs.update(username=username, password=password)
        return cls(pymongo.MongoClient(url, **kwargs), db_name)

    def collection(self, entity: Entity) -> MongoCollection:
        found = self._collections.get(entity.collection)
        if found is None:
            coll = self._db[entity.collection]
            try:
                for path in entity.indexed:
                    coll.create_index([(path, 1)])
                for path in entity.unique:
                    coll.create_index([(path, 1)], unique=True)
                for group in entity.compound:
                    coll.create_index([(path, -1 if path.endswith("timestamp") else 1) for path in group])
            except PyMongoError as exc:
                raise StoreError(f"mongodb: cannot prepare {entity.collection}: {exc}") from exc
            found = self._collections[entity.collection] = MongoCollection(entity, coll)
        return found

    def close(self) -> None:
        self._client.close()
