"""Engine selection: st2.conf's [database] settings pick the engine, like kombu picks a transport.

`_target(config)` is (scheme, URL); the scheme's entry in ENGINES names the class, imported only then.
"""

from __future__ import annotations

import os
import subprocess
import sys

import mongomock
import pytest

from appliance import config as st2config
from appliance import schemes
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
    assert st2store._target(cfg) == ("sqlite", f"sqlite://{db}")
    assert st2store.describe(cfg) == f"sqlite://{db}"
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
    assert st2store._target(cfg) == ("sqlite", "sqlite://" + os.path.join(str(tmp_path), "data", "st2.db"))


def test_nothing_set_is_sqlite_under_data_path(conf, tmp_path):
    cfg = conf(f"[system]\nbase_path = {tmp_path}\n")
    where = os.path.join(str(tmp_path), "data", "st2.db")
    assert st2store._target(cfg) == ("sqlite", "sqlite://" + where)
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
    assert st2store._target(cfg) == ("sqlite", f"sqlite://{tmp_path}/var/st2.db")
    cfg = conf(f"[system]\ndata_path = {tmp_path}/var\n[database]\npath = {tmp_path}/other.db\n")
    assert st2store._target(cfg) == ("sqlite", f"sqlite://{tmp_path}/other.db")


def test_no_file_at_all_is_sqlite_under_default_base_path(tmp_path):
    cfg = st2config.load(str(tmp_path / "missing.conf"))
    assert st2store._target(cfg) == ("sqlite", "sqlite:///opt/stackstorm/data/st2.db")


def test_sqlite_engine_takes_synchronous_from_the_config(conf, tmp_path):
    cfg = conf(f"[database]\nurl = sqlite://{tmp_path}/st2.db\nsynchronous = full\n")
    opened = st2store.open_store(cfg)
    try:
        with opened.pool.connection() as conn:
            assert conn.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
            assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        opened.close()


@pytest.mark.parametrize(
    ("url", "scheme"),
    [
        ("mongodb://mongo1:27017/", "mongodb"),
        ("mongodb://u@a:1,b:2/?replicaSet=rs0", "mongodb"),
        ("mongodb+srv://cluster.example/", "mongodb+srv"),
    ],
)
def test_mongodb_url(conf, fake_mongo, url, scheme):
    cfg = conf(f"[database]\nurl = {url}\nhost = ignored-when-url-is-set\n")
    assert st2store._target(cfg) == (scheme, url)
    assert st2store.describe(cfg) == url
    assert isinstance(st2store.open_store(cfg), MongoStore)
    assert fake_mongo[0][0] == url


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
    assert st2store.describe(cfg) == "mongodb://mongo1:27018/"
    assert isinstance(st2store.open_store(cfg), MongoStore)
    assert fake_mongo[0][0] == "mongodb://mongo1:27018/"


def test_stackstorm_host_default_port(conf):
    assert st2store._target(conf("[database]\nhost = mongo1\n")) == ("mongodb", "mongodb://mongo1:27017/")


def test_stackstorm_host_may_be_a_url(conf):
    url = "mongodb://a:27017,b:27017/?replicaSet=rs0"
    assert st2store._target(conf(f"[database]\nhost = {url}\n")) == ("mongodb", url)


@pytest.mark.parametrize(
    ("url", "suggestion"),
    [
        ("postgres://db/st2", None),
        ("mysql://x", None),
        ("mongdb://mongo1/", "mongodb://"),
        ("mongodb+svr://cluster.example/", "mongodb+srv://"),
        ("sqlite3:///var/lib/st2.db", "sqlite://"),
        ("sqlite:/missing-slash.db", "sqlite://"),
        ("st2.db", None),
    ],
)
def test_bad_scheme_is_one_line_naming_file_section_key_and_nearest_scheme(conf, tmp_path, url, suggestion):
    cfg = conf(f"[database]\nurl = {url}\n")
    for call in (st2store._target, st2store.open_store, st2store.describe):
        with pytest.raises(StoreError) as caught:
            call(cfg)
        message = str(caught.value)
        assert message.startswith(f"{tmp_path / 'st2.conf'}: [database] url: "), message
        assert url in message
        assert "\n" not in message
        assert "known: mongodb://, mongodb+srv://, sqlite://" in message
        if suggestion:
            assert f"did you mean {suggestion}...?" in message
        else:
            assert "did you mean" not in message


def test_bad_scheme_in_stackstorm_host_key_names_that_key(conf, tmp_path):
    cfg = conf("[database]\nhost = mongdb://st2:hunter2@mongo1/\n")
    with pytest.raises(StoreError) as caught:
        st2store.open_store(cfg)
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'st2.conf'}: [database] host: unknown scheme 'mongdb'"), message
    assert "did you mean mongodb://...?" in message
    assert "hunter2" not in message and "st2:***@mongo1" in message


def test_every_scheme_names_an_engine_class_that_builds_itself_from_a_url():
    for scheme, path in st2store.ENGINES.items():
        engine = schemes.load(st2store.ENGINES, scheme)
        assert issubclass(engine, st2store.Store), scheme
        assert "from_url" in vars(engine), f"{path} must build itself from (url, config)"


def test_an_engine_module_is_imported_only_when_its_scheme_is_used(conf, tmp_path):
    """A SQLite site needs no pymongo: opening the SQLite store does not import the MongoDB engine."""
    conf(f"[system]\ndata_path = {tmp_path}\n")
    script = (
        "import sys\n"
        "from appliance import config, store\n"
        f"store.open_store(config.load({str(tmp_path / 'st2.conf')!r})).close()\n"
        "print(sorted(m for m in ('appliance.store.sqlite', 'appliance.store.mongo', 'pymongo') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['appliance.store.sqlite']"


def test_describe_masks_a_password_in_the_url(conf):
    cfg = conf("[database]\nurl = mongodb://st2:hunter2@mongo1:27017/?authSource=admin\n")
    assert st2store.describe(cfg) == "mongodb://st2:***@mongo1:27017/?authSource=admin"
    assert st2store._target(cfg)[1] == "mongodb://st2:hunter2@mongo1:27017/?authSource=admin"
    cfg = conf("[database]\nhost = mongodb+srv://st2:p%40ss@cluster.example/\n")
    assert st2store.describe(cfg) == "mongodb+srv://st2:***@cluster.example/"
