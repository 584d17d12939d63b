"""Engine selection: st2.conf's [database] settings pick the engine, like kombu picks a transport."""

from __future__ import annotations

import os

import mongomock
import pytest

from appliance import config as st2config
from appliance import store as st2store
from appliance.models import ACTIONS
from appliance.store.base import StoreError
from appliance.store.mongo import MongoStore
from appliance.store.sqlite import SQLiteStore


@pytest.fixture
def conf(tmp_path):
    """Write an st2.conf and load it."""

    def write(text: str) -> st2config.Config:
        path = tmp_path / "st2.conf"
        path.write_text(text, encoding="utf-8")
        return st2config.load(str(path))

    return write


@pytest.fixture
def fake_mongo(monkeypatch):
    """Replace pymongo.MongoClient in the MongoDB engine; record how it was called."""
    calls: list = []

    def client(url, **kwargs):
        calls.append((url, kwargs))
        return mongomock.MongoClient()

    monkeypatch.setattr("appliance.store.mongo.pymongo.MongoClient", client)
    return calls


def test_sqlite_url_with_path(conf, tmp_path):
    db = tmp_path / "db" / "st2.db"
    cfg = conf(f"[database]\nurl = sqlite://{db}\n")
    assert st2store._target(cfg) == ("sqlite", str(db))
    assert st2store.describe(cfg) == f"sqlite {db}"
    opened = st2store.open_store(cfg)
    try:
        assert isinstance(opened, SQLiteStore)
        opened.collection(ACTIONS).insert({"id": "a1", "ref": "core.local"})
        assert opened.collection(ACTIONS).get("a1")["ref"] == "core.local"
    finally:
        opened.close()
    assert db.exists()  # parent folder created on demand


def test_sqlite_url_without_path_uses_data_path(conf, tmp_path):
    cfg = conf(f"[system]\nbase_path = {tmp_path}\n\n[database]\nurl = sqlite://\n")
    assert st2store._target(cfg) == ("sqlite", os.path.join(str(tmp_path), "data", "st2.db"))


def test_nothing_set_is_sqlite_under_data_path(conf, tmp_path):
    cfg = conf(f"[system]\nbase_path = {tmp_path}\n")
    where = os.path.join(str(tmp_path), "data", "st2.db")
    assert st2store._target(cfg) == ("sqlite", where)
    opened = st2store.open_store(cfg)
    try:
        assert isinstance(opened, SQLiteStore)
        assert opened.path == where
        opened.collection(ACTIONS).insert({"id": "a1", "ref": "core.local"})
    finally:
        opened.close()
    assert os.path.exists(where)


def test_nothing_set_honours_system_data_path_and_database_path(conf, tmp_path):
    cfg = conf(f"[system]\ndata_path = {tmp_path}/var\n")
    assert st2store._target(cfg) == ("sqlite", f"{tmp_path}/var/st2.db")
    cfg = conf(f"[system]\ndata_path = {tmp_path}/var\n[database]\npath = {tmp_path}/other.db\n")
    assert st2store._target(cfg) == ("sqlite", f"{tmp_path}/other.db")


def test_no_file_at_all_is_sqlite_under_default_base_path(tmp_path):
    cfg = st2config.load(str(tmp_path / "missing.conf"))
    assert st2store._target(cfg) == ("sqlite", "/opt/stackstorm/data/st2.db")


@pytest.mark.parametrize(
    "url", ["mongodb://mongo1:27017/", "mongodb://u@a:1,b:2/?replicaSet=rs0", "mongodb+srv://cluster.example/"]
)
def test_mongodb_url(conf, url):
    cfg = conf(f"[database]\nurl = {url}\nhost = ignored-when-url-is-set\n")
    assert st2store._target(cfg) == ("mongodb", url)
    assert st2store.describe(cfg) == f"mongodb {url}"


def test_mongodb_url_opens_mongo_store_with_db_name_and_credentials(conf, fake_mongo):
    cfg = conf(
        "[database]\nurl = mongodb://mongo1:27017/\ndb_name = site\nusername = st2\npassword = s3cr%t\n"
    )
    opened = st2store.open_store(cfg)
    assert isinstance(opened, MongoStore)
    [(url, kwargs)] = fake_mongo
    assert url == "mongodb://mongo1:27017/"
    assert kwargs["username"] == "st2" and kwargs["password"] == "s3cr%t"
    assert kwargs["tz_aware"] is True
    assert kwargs["serverSelectionTimeoutMS"] > 0
    opened.collection(ACTIONS).insert({"id": "a1", "ref": "core.local"})
    assert opened._client.list_database_names() == ["site"]
    assert "s3cr%t" not in st2store.describe(cfg)


def test_mongodb_without_credentials_passes_none(conf, fake_mongo):
    st2store.open_store(conf("[database]\nurl = mongodb://mongo1/\n"))
    [(_url, kwargs)] = fake_mongo
    assert "username" not in kwargs and "password" not in kwargs


def test_stackstorm_host_and_port_keys_select_mongodb(conf, fake_mongo):
    cfg = conf("[database]\nhost = mongo1\nport = 27018\ndb_name = st2\n")
    assert st2store._target(cfg) == ("mongodb", "mongodb://mongo1:27018/")
    assert isinstance(st2store.open_store(cfg), MongoStore)
    assert fake_mongo[0][0] == "mongodb://mongo1:27018/"


def test_stackstorm_host_default_port(conf):
    assert st2store._target(conf("[database]\nhost = mongo1\n")) == ("mongodb", "mongodb://mongo1:27017/")


def test_stackstorm_host_may_be_a_url(conf):
    url = "mongodb://a:27017,b:27017/?replicaSet=rs0"
    assert st2store._target(conf(f"[database]\nhost = {url}\n")) == ("mongodb", url)


@pytest.mark.parametrize("url", ["postgres://db/st2", "mysql://x", "sqlite:/missing-slash.db", "st2.db"])
def test_bad_scheme_names_file_section_and_key(conf, tmp_path, url):
    cfg = conf(f"[database]\nurl = {url}\n")
    for call in (st2store._target, st2store.open_store, st2store.describe):
        with pytest.raises(StoreError) as caught:
            call(cfg)
        message = str(caught.value)
        assert str(tmp_path / "st2.conf") in message
        assert "[database]" in message
        assert "url" in message
        assert url in message


def test_describe_masks_a_password_in_the_url(conf):
    cfg = conf("[database]\nurl = mongodb://st2:hunter2@mongo1:27017/?authSource=admin\n")
    assert st2store.describe(cfg) == "mongodb mongodb://st2:***@mongo1:27017/?authSource=admin"
    assert st2store._target(cfg)[1] == "mongodb://st2:hunter2@mongo1:27017/?authSource=admin"
