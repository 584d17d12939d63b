"""The SQLite database holds tokens, API keys and action results: its file, -wal and -shm are 0600
inside a 0700 directory, whatever the umask, checked after real writes."""

from __future__ import annotations

import os
import stat

import pytest

from appliance.models import EXECUTIONS
from appliance.private_files import private_dir
from appliance.store.base import StoreError
from appliance.store.sqlite import SQLiteStore


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture(params=[0o022, 0o000], ids=["umask022", "umask000"])
def umask(request):
    previous = os.umask(request.param)
    yield request.param
    os.umask(previous)


def write_some(path: str) -> SQLiteStore:
    """A store with documents written and its connections still open (so -wal and -shm exist)."""
    store = SQLiteStore(path)
    coll = store.collection(EXECUTIONS)
    coll.insert_many({"id": f"x{i}", "status": "requested"} for i in range(20))
    coll.update("x1", set_fields={"status": "running"})
    return store


def assert_private(db) -> None:
    for name in (str(db), f"{db}-wal", f"{db}-shm"):
        assert os.path.exists(name), f"{name} should exist while the store is open"
        assert mode(name) == 0o600, f"{name} is {oct(mode(name))}"


def test_new_database_is_0600_in_a_new_0700_directory(tmp_path, umask):
    db = tmp_path / "data" / "st2.db"
    store = write_some(str(db))
    try:
        assert mode(db.parent) == 0o700
        assert_private(db)
    finally:
        store.close()
    assert mode(db) == 0o600


def test_an_existing_file_of_ours_is_tightened_and_an_open_folder_reported(tmp_path, umask, caplog):
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o755)  # a folder the site chose (it may be shared, such as /var/lib): not ours to chmod
    db = data / "st2.db"
    db.write_bytes(b"")
    db.chmod(0o644)  # created by an earlier release
    store = write_some(str(db))
    try:
        assert mode(data) == 0o755
        assert_private(db)
        assert "open to other local users" in caplog.text
    finally:
        store.close()


def test_the_appliance_data_folder_is_tightened(tmp_path, umask):
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o755)  # as an earlier release left <base_path>/data
    private_dir(str(data), own=True)
    assert mode(data) == 0o700


def test_a_shared_sticky_directory_is_left_alone(tmp_path, umask):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # like /tmp: tightening it would lock every other user out
    db = shared / "st2.db"
    store = write_some(str(db))
    try:
        assert mode(shared) == 0o1777
        assert_private(db)
    finally:
        store.close()


def test_a_database_that_cannot_be_created_is_one_store_error(tmp_path):
    (tmp_path / "data").write_text("a file where the directory should be")
    with pytest.raises(StoreError) as caught:
        SQLiteStore(str(tmp_path / "data" / "st2.db"))
    assert str(caught.value) == f"cannot create sqlite database {tmp_path}/data/st2.db: File exists"
