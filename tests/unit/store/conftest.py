"""Store engines under test, as fixtures.

`target` is parametrized over every engine: sqlite (a temp file), MongoDB over mongomock (always
available, checks our pymongo calls but not MongoDB itself) and a real MongoDB when
APPLIANCE_TEST_MONGODB_URL is set (a fresh database per test, named after this run, dropped after).
`target.open()` returns a new Store on the same data, as another service process would.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest

from appliance.store.base import Store

MONGODB_URL = os.environ.get("APPLIANCE_TEST_MONGODB_URL", "")
RUN_ID = uuid.uuid4().hex[:8]
NO_MONGODB = "set APPLIANCE_TEST_MONGODB_URL=mongodb://host:27017/ to run against a real MongoDB"
MONGOMOCK_RACES = (
    "mongomock's find_one_and_update is not thread-safe (duplicate claims and 'dictionary changed size "
    "during iteration'), and it lives in one process: it checks our pymongo calls, not concurrency"
)

ENGINES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("mongomock", id="mongomock"),
    pytest.param("mongodb", id="mongodb", marks=pytest.mark.skipif(not MONGODB_URL, reason=NO_MONGODB)),
]
CONCURRENT_ENGINES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("mongomock", id="mongomock", marks=pytest.mark.skip(reason=MONGOMOCK_RACES)),
    pytest.param("mongodb", id="mongodb", marks=pytest.mark.skipif(not MONGODB_URL, reason=NO_MONGODB)),
]

_counter = iter(range(1, 1_000_000))


@dataclass
class Target:
    """Where one test's data lives: a sqlite file, a mongomock client, or a MongoDB database."""

    engine: str
    location: str = ""  # sqlite file path or MongoDB URL
    db_name: str = ""
    _mock_client: Any = None
    _opened: list = field(default_factory=list)

    def open(self) -> Store:
        if self.engine == "sqlite":
            from appliance.store.sqlite import SQLiteStore

            store: Store = SQLiteStore(self.location)
        else:
            from appliance.store.mongo import MongoStore

            if self.engine == "mongomock":
                store = MongoStore(self._mock_client, self.db_name)
            else:
                store = MongoStore.connect(self.location, self.db_name)
        self._opened.append(store)
        return store

    def close(self) -> None:
        for store in self._opened:
            if self.engine != "mongomock":  # closing the shared mongomock client would end the data
                store.close()
        if self.engine == "mongodb":
            import pymongo

            client: Any = pymongo.MongoClient(self.location, serverSelectionTimeoutMS=5000)
            try:
                client.drop_database(self.db_name)
            finally:
                client.close()


def make_target(engine: str, tmp_path) -> Target:
    if engine == "sqlite":
        return Target("sqlite", location=str(tmp_path / "st2.db"))
    db_name = f"appliance_test_{RUN_ID}_{next(_counter)}"
    if engine == "mongomock":
        import mongomock

        return Target("mongomock", db_name=db_name, _mock_client=mongomock.MongoClient())
    return Target("mongodb", location=MONGODB_URL, db_name=db_name)


@pytest.fixture(params=ENGINES)
def target(request, tmp_path):
    found = make_target(request.param, tmp_path)
    yield found
    found.close()


@pytest.fixture(params=CONCURRENT_ENGINES)
def concurrent_target(request, tmp_path):
    found = make_target(request.param, tmp_path)
    yield found
    found.close()


@pytest.fixture
def store(target):
    return target.open()
