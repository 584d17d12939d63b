"""The store contract (appliance.store.base.Collection/Store), run against every engine.

Engines: sqlite (temp file), the MongoDB engine over mongomock, and a real MongoDB when
APPLIANCE_TEST_MONGODB_URL is set. The mongomock run checks the pymongo calls the MongoDB engine
makes (filters passed through, "id" renamed to "_id", sort, paging, find_one_and_update arguments);
it does not prove that MongoDB itself behaves that way: mongomock has no server, no BSON and no wire
protocol. Only the APPLIANCE_TEST_MONGODB_URL run does.

Expected results are written out by hand, never computed by another filter implementation.
"""

from __future__ import annotations

import pytest

from appliance.models import ACTIONS, EXECUTIONS
from appliance.store.base import Conflict, StoreError


def ts(day: int) -> str:
    return f"2024-01-{day:02d}T00:00:00.000000Z"


# parent: missing (e1, e5), null (e2), a value (e3, e4, e6). "extra" mirrors the queried fields
# under a path the executions entity does not index, so that both the SQLite generated columns
# and its json_extract fallback are exercised.
ROWS = [
    ("e1", "requested", "core.local", 1, "alice", ...),
    ("e2", "running", "core.remote", 2, "bob", None),
    ("e3", "succeeded", "core.local", 3, "alice", "e1"),
    ("e4", "failed", "linux.check", 4, "carol", "e1"),
    ("e5", "succeeded", "core.local", 5, "bob", ...),
    ("e6", "succeeded", "core.remote", 6, "alice", "e2"),
]


def execution(doc_id, status, ref, day, user, parent) -> dict:
    fields = {"status": status, "start_timestamp": ts(day)}
    if parent is not ...:
        fields["parent"] = parent
    return {
        "id": doc_id,
        **fields,
        "action": {"ref": ref, "runner_type": "local-shell-cmd"},
        "context": {"user": user},
        "extra": dict(fields),
        "enabled": day % 2 == 0,
        "n": day,
    }


@pytest.fixture
def executions(store):
    coll = store.collection(EXECUTIONS)
    for row in ROWS:
        coll.insert(execution(*row))
    return coll


def ids(docs) -> list:
    return [doc["id"] for doc in docs]


# -- insert / get -------------------------------------------------------------------------------


def test_insert_returns_and_get_round_trips_every_json_type(store):
    coll = store.collection(EXECUTIONS)
    doc = {
        "id": "x1",
        "status": "requested",
        "parameters": {"cmd": "echo ünïcødé", "timeout": 60, "ratio": 0.5, "flag": True, "none": None},
        "list": [1, "two", {"three": 3}, [4]],
        "empty": {},
    }
    assert coll.insert(doc) == doc
    assert coll.get("x1") == doc
    assert coll.get("missing") is None


def test_insert_without_id_assigns_one(store):
    coll = store.collection(EXECUTIONS)
    stored = coll.insert({"status": "requested"})
    assert isinstance(stored["id"], str) and stored["id"]
    assert coll.get(stored["id"])["status"] == "requested"


def test_returned_documents_are_copies(executions):
    doc = executions.get("e1")
    doc["status"] = "mutated"
    doc["context"]["user"] = "mallory"
    assert executions.get("e1")["status"] == "requested"
    assert executions.get("e1")["context"]["user"] == "alice"


def test_insert_many(store):
    coll = store.collection(EXECUTIONS)
    coll.insert_many(execution(*row) for row in ROWS)  # any iterable, here a generator
    assert coll.count() == 6
    assert coll.get("e4") == execution(*ROWS[3])
    coll.insert_many([])
    assert coll.count() == 6


# -- find: every operator of the filter dialect -------------------------------------------------

FILTER_CASES = [
    # equality
    ({"{p}status": "succeeded"}, ["e3", "e5", "e6"]),
    ({"{p}status": "nonesuch"}, []),
    # $in / $nin, with and without None (None = null or missing)
    ({"{p}status": {"$in": ["running", "failed"]}}, ["e2", "e4"]),
    ({"{p}status": {"$in": []}}, []),
    ({"{p}status": {"$nin": ["succeeded", "requested"]}}, ["e2", "e4"]),
    ({"{p}status": {"$nin": []}}, ["e1", "e2", "e3", "e4", "e5", "e6"]),
    ({"{p}parent": {"$in": [None, "e2"]}}, ["e1", "e2", "e5", "e6"]),
    ({"{p}parent": {"$in": [None]}}, ["e1", "e2", "e5"]),
    ({"{p}parent": {"$nin": [None]}}, ["e3", "e4", "e6"]),
    ({"{p}parent": {"$nin": ["e1"]}}, ["e1", "e2", "e5", "e6"]),  # missing and null are "not in"
    ({"{p}parent": {"$nin": [None, "e1"]}}, ["e6"]),
    # None equality: null or missing
    ({"{p}parent": None}, ["e1", "e2", "e5"]),
    ({"{p}parent": "e1"}, ["e3", "e4"]),
    # $ne
    ({"{p}parent": {"$ne": "e1"}}, ["e1", "e2", "e5", "e6"]),
    ({"{p}parent": {"$ne": None}}, ["e3", "e4", "e6"]),
    ({"{p}status": {"$ne": "succeeded"}}, ["e1", "e2", "e4"]),
    # $exists: a null value exists
    ({"{p}parent": {"$exists": True}}, ["e2", "e3", "e4", "e6"]),
    ({"{p}parent": {"$exists": False}}, ["e1", "e5"]),
    # ranges on timestamps, one bound and two
    ({"{p}start_timestamp": {"$gt": ts(4)}}, ["e5", "e6"]),
    ({"{p}start_timestamp": {"$gte": ts(4)}}, ["e4", "e5", "e6"]),
    ({"{p}start_timestamp": {"$lt": ts(2)}}, ["e1"]),
    ({"{p}start_timestamp": {"$lte": ts(2)}}, ["e1", "e2"]),
    ({"{p}start_timestamp": {"$gt": ts(2), "$lte": ts(5)}}, ["e3", "e4", "e5"]),
    ({"{p}start_timestamp": {"$gte": "2024-01-02T00:00:00.000001Z", "$lt": ts(4)}}, ["e3"]),
    # $regex (Python-compatible), also on a field that is missing in some documents
    ({"{p}status": {"$regex": "^succ"}}, ["e3", "e5", "e6"]),
    ({"{p}status": {"$regex": "ed$"}}, ["e1", "e3", "e4", "e5", "e6"]),
    ({"{p}status": {"$regex": "^(running|failed)$"}}, ["e2", "e4"]),
    ({"{p}parent": {"$regex": "^e"}}, ["e3", "e4", "e6"]),
    # operators combined on one field, and with another field
    ({"{p}status": {"$in": ["succeeded", "failed"], "$ne": "failed"}}, ["e3", "e5", "e6"]),
    ({"{p}status": "succeeded", "{p}start_timestamp": {"$lt": ts(6)}}, ["e3", "e5"]),
]


@pytest.mark.parametrize("prefix", ["", "extra."], ids=["indexed", "unindexed"])
@pytest.mark.parametrize("filters, expected", FILTER_CASES)
def test_find_filter(executions, prefix, filters, expected):
    filters = {key.format(p=prefix): value for key, value in filters.items()}
    assert ids(executions.find(filters)) == expected
    assert executions.ids(filters) == expected
    assert executions.count(filters) == len(expected)


@pytest.mark.parametrize(
    "filters, expected",
    [
        ({"action.ref": "core.local"}, ["e1", "e3", "e5"]),
        ({"action.ref": {"$regex": r"^core\."}}, ["e1", "e2", "e3", "e5", "e6"]),
        ({"action.runner_type": "local-shell-cmd"}, ["e1", "e2", "e3", "e4", "e5", "e6"]),
        ({"context.user": "alice"}, ["e1", "e3", "e6"]),
        ({"context.user": {"$in": ["bob", "carol"]}}, ["e2", "e4", "e5"]),
        ({"context.missing": None}, ["e1", "e2", "e3", "e4", "e5", "e6"]),
        ({"context.missing": {"$exists": True}}, []),
        ({"nothere.at.all": {"$exists": False}}, ["e1", "e2", "e3", "e4", "e5", "e6"]),
        ({"status": "succeeded", "action.ref": "core.local"}, ["e3", "e5"]),
        ({"enabled": True}, ["e2", "e4", "e6"]),
        ({"enabled": False}, ["e1", "e3", "e5"]),
        ({"n": 3}, ["e3"]),
        ({"n": {"$gt": 4}}, ["e5", "e6"]),
        ({"id": "e3"}, ["e3"]),
        ({"id": "nonesuch"}, []),
        ({"id": {"$in": ["e1", "e4", "nonesuch"]}}, ["e1", "e4"]),
        ({"id": {"$nin": ["e1", "e4"]}}, ["e2", "e3", "e5", "e6"]),
        ({"id": {"$ne": "e1"}, "status": "succeeded"}, ["e3", "e5", "e6"]),
        ({"id": {"$regex": "^e[12]$"}}, ["e1", "e2"]),
        ({"id": {"$gt": "e4"}}, ["e5", "e6"]),
        ({"id": {"$exists": True}}, ["e1", "e2", "e3", "e4", "e5", "e6"]),
        ({}, ["e1", "e2", "e3", "e4", "e5", "e6"]),
    ],
)
def test_find_dotted_paths_types_and_id(executions, filters, expected):
    assert ids(executions.find(filters)) == expected
    assert executions.ids(filters) == expected
    assert executions.count(filters) == len(expected)


def test_ids_follow_the_sort(executions):
    newest_first = ids(executions.find(None, sort=[("start_timestamp", -1)]))
    assert executions.ids(None, sort=[("start_timestamp", -1)]) == newest_first == ["e6", "e5", "e4", "e3", "e2", "e1"]


def test_find_none_filters_means_everything(executions):
    assert ids(executions.find(None)) == ["e1", "e2", "e3", "e4", "e5", "e6"]
    assert executions.count(None) == 6
    assert executions.count() == 6


def test_find_one(executions):
    assert executions.find_one({"status": "succeeded"})["id"] == "e3"
    assert executions.find_one({"status": "nonesuch"}) is None


# -- sort and paging ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sort, expected",
    [
        (None, ["e1", "e2", "e3", "e4", "e5", "e6"]),  # by id
        ([("start_timestamp", 1)], ["e1", "e2", "e3", "e4", "e5", "e6"]),
        ([("start_timestamp", -1)], ["e6", "e5", "e4", "e3", "e2", "e1"]),
        ([("extra.start_timestamp", -1)], ["e6", "e5", "e4", "e3", "e2", "e1"]),
        ([("id", -1)], ["e6", "e5", "e4", "e3", "e2", "e1"]),
        ([("status", 1), ("start_timestamp", -1)], ["e4", "e1", "e2", "e6", "e5", "e3"]),
        ([("status", -1), ("start_timestamp", 1)], ["e3", "e5", "e6", "e2", "e1", "e4"]),
        ([("context.user", 1), ("n", -1)], ["e6", "e3", "e1", "e5", "e2", "e4"]),
        # null and missing sort first and equal to each other; ties go by id
        ([("parent", 1)], ["e1", "e2", "e5", "e3", "e4", "e6"]),
    ],
)
def test_sort(executions, sort, expected):
    assert ids(executions.find(sort=sort)) == expected


@pytest.mark.parametrize(
    "limit, offset, expected",
    [
        (2, 0, ["e6", "e5"]),
        (2, 1, ["e5", "e4"]),
        (2, 5, ["e1"]),
        (2, 6, []),
        (None, 4, ["e2", "e1"]),
        (10, 0, ["e6", "e5", "e4", "e3", "e2", "e1"]),
        (0, 0, []),
    ],
)
def test_limit_offset(executions, limit, offset, expected):
    assert ids(executions.find(sort=[("start_timestamp", -1)], limit=limit, offset=offset)) == expected


def test_filter_sort_and_page_together(executions):
    found = executions.find({"action.ref": "core.local"}, sort=[("start_timestamp", -1)], limit=2, offset=1)
    assert ids(found) == ["e3", "e1"]


# -- update -------------------------------------------------------------------------------------


def test_update_set_top_level_and_returns_new_document(executions):
    updated = executions.update("e1", set_fields={"status": "scheduled", "end_timestamp": ts(9)})
    assert updated["status"] == "scheduled"
    assert updated["end_timestamp"] == ts(9)
    assert updated["action"] == {"ref": "core.local", "runner_type": "local-shell-cmd"}
    assert executions.get("e1") == updated


def test_update_set_nested_paths_creates_parents(executions):
    updated = executions.update(
        "e1",
        set_fields={
            "result.stdout": "hello",
            "result.exit_code": 0,
            "deep.a.b.c": "x",
            "context.user": "dave",
            "liveaction.runner_info.hostname": "node1",
        },
    )
    assert updated["result"] == {"stdout": "hello", "exit_code": 0}
    assert updated["deep"] == {"a": {"b": {"c": "x"}}}
    assert updated["context"] == {"user": "dave"}
    assert executions.get("e1") == updated
    assert ids(executions.find({"context.user": "dave"})) == ["e1"]
    assert ids(executions.find({"liveaction.runner_info.hostname": "node1"})) == ["e1"]


def test_update_set_values_of_every_json_type(executions):
    values = {"d": {"k": [1, {"z": None}]}, "l": ["a", 2], "none": None, "t": True, "f": 0.25, "s": "ü"}
    updated = executions.update("e2", set_fields=values)
    for key, value in values.items():
        assert updated[key] == value
    assert executions.get("e2") == updated
    assert ids(executions.find({"none": None, "t": True})) == ["e2"]


def test_update_set_replaces_a_subdocument(executions):
    updated = executions.update("e1", set_fields={"action": {"ref": "core.noop"}})
    assert updated["action"] == {"ref": "core.noop"}
    assert ids(executions.find({"action.ref": "core.noop"})) == ["e1"]


def test_update_push_appends_documents_not_strings(executions):
    first = {"status": "scheduled", "timestamp": ts(7)}
    second = {"status": "running", "timestamp": ts(8), "nested": {"k": [1, 2]}}
    executions.update("e1", push={"log": first})
    updated = executions.update("e1", push={"log": second})
    assert updated["log"] == [first, second]
    assert executions.get("e1")["log"] == [first, second]


def test_update_push_scalars_and_nested_path(executions):
    executions.update("e1", push={"tags": "a", "audit.events": 1})
    updated = executions.update("e1", push={"tags": "b", "audit.events": 2})
    assert updated["tags"] == ["a", "b"]
    assert updated["audit"] == {"events": [1, 2]}


def test_update_set_and_push_together(executions):
    updated = executions.update(
        "e1", set_fields={"status": "running"}, push={"log": {"status": "running"}}
    )
    assert updated["status"] == "running"
    assert updated["log"] == [{"status": "running"}]


def test_update_missing_document_returns_none(executions):
    assert executions.update("nonesuch", set_fields={"status": "running"}) is None
    assert executions.update("nonesuch", push={"log": 1}) is None
    assert executions.get("nonesuch") is None
    assert executions.count() == 6


def test_update_without_changes_returns_current_document(executions):
    assert executions.update("e1") == executions.get("e1")
    assert executions.update("e1", expect={"status": "requested"}) == executions.get("e1")
    assert executions.update("e1", expect={"status": "running"}) is None
    assert executions.update("nonesuch") is None


def test_compare_and_set_succeeds_once(executions):
    won = executions.update("e1", set_fields={"status": "running"}, expect={"status": "requested"})
    assert won is not None and won["status"] == "running"
    again = executions.update("e1", set_fields={"status": "running", "loser": True}, expect={"status": "requested"})
    assert again is None
    assert executions.get("e1") == won  # the losing update changed nothing


def test_compare_and_set_with_operators_and_push(executions):
    expect = {"status": {"$in": ["requested", "scheduled"]}, "parent": {"$exists": False}}
    won = executions.update("e1", set_fields={"status": "canceling"}, push={"log": "x"}, expect=expect)
    assert won["status"] == "canceling" and won["log"] == ["x"]
    assert executions.update("e1", set_fields={"status": "canceled"}, push={"log": "y"}, expect=expect) is None
    assert executions.get("e1")["log"] == ["x"]
    assert executions.update("e5", set_fields={"n": 50}, expect={"parent": None, "n": {"$lt": 6}})["n"] == 50


# -- claim --------------------------------------------------------------------------------------


def test_claim_honours_sort_and_sets_fields(executions):
    sort = [("start_timestamp", 1)]
    first = executions.claim({"status": "succeeded"}, {"status": "archived", "by": "w1"}, sort=sort)
    assert first["id"] == "e3"
    assert first["status"] == "archived" and first["by"] == "w1"
    assert executions.get("e3") == first
    assert executions.claim({"status": "succeeded"}, {"status": "archived"}, sort=sort)["id"] == "e5"
    assert executions.claim({"status": "succeeded"}, {"status": "archived"}, sort=sort)["id"] == "e6"
    assert executions.claim({"status": "succeeded"}, {"status": "archived"}, sort=sort) is None
    assert executions.count({"status": "archived"}) == 3


def test_claim_descending_sort(executions):
    claimed = executions.claim({"action.ref": "core.local"}, {"status": "x"}, sort=[("start_timestamp", -1)])
    assert claimed["id"] == "e5"


def test_claim_without_sort_and_with_nested_set(executions):
    claimed = executions.claim({"parent": "e1"}, {"liveaction.runner_info.hostname": "node7"})
    assert claimed["id"] in ("e3", "e4")
    assert claimed["liveaction"] == {"runner_info": {"hostname": "node7"}}


def test_claim_nothing_matches(executions):
    assert executions.claim({"status": "nonesuch"}, {"status": "x"}) is None
    assert executions.claim({"status": "nonesuch"}, {"status": "x"}, sort=[("start_timestamp", -1)]) is None
    assert executions.count({"status": "x"}) == 0


def test_claim_empty_collection(store):
    coll = store.collection(EXECUTIONS)
    assert coll.claim({"status": "requested"}, {"status": "scheduled"}, sort=[("start_timestamp", 1)]) is None


# -- replace, delete ----------------------------------------------------------------------------


def test_replace_overwrites_the_whole_document(executions):
    new = {"id": "e1", "status": "succeeded", "start_timestamp": ts(20)}
    assert executions.replace(new) == new
    assert executions.get("e1") == new  # fields not in the new document are gone
    assert ids(executions.find({"status": "succeeded"}, sort=[("start_timestamp", -1)])) == ["e1", "e6", "e5", "e3"]
    assert ids(executions.find({"action.ref": "core.local"})) == ["e3", "e5"]


def test_replace_missing_document_is_an_error(executions):
    with pytest.raises(StoreError):
        executions.replace({"id": "nonesuch", "status": "x"})
    assert executions.get("nonesuch") is None


def test_delete(executions):
    assert executions.delete("e1") is True
    assert executions.get("e1") is None
    assert executions.delete("e1") is False
    assert executions.count() == 5


def test_delete_many(executions):
    assert executions.delete_many({"start_timestamp": {"$lt": ts(3)}}) == 2
    assert ids(executions.find()) == ["e3", "e4", "e5", "e6"]
    assert executions.delete_many({"status": "nonesuch"}) == 0
    assert executions.delete_many({"parent": None}) == 1  # e5
    assert executions.delete_many({}) == 3
    assert executions.count() == 0


# -- unique fields ------------------------------------------------------------------------------


@pytest.fixture
def actions(store):
    coll = store.collection(ACTIONS)
    coll.insert({"id": "a1", "ref": "core.local", "pack": "core", "name": "local"})
    coll.insert({"id": "a2", "ref": "core.remote", "pack": "core", "name": "remote"})
    return coll


def test_unique_conflict_on_insert(actions):
    with pytest.raises(Conflict) as caught:
        actions.insert({"id": "a3", "ref": "core.local", "pack": "core", "name": "local"})
    assert isinstance(caught.value, StoreError)
    assert caught.value.field == "ref"
    assert caught.value.value == "core.local"
    assert caught.value.existing_id == "a1"
    assert "core.local" in str(caught.value)
    assert actions.get("a3") is None
    assert actions.count() == 2


def test_duplicate_id_is_a_conflict(actions):
    with pytest.raises(Conflict) as caught:
        actions.insert({"id": "a1", "ref": "core.other", "pack": "core", "name": "other"})
    assert caught.value.field == "id"
    assert caught.value.existing_id == "a1"
    assert actions.get("a1")["ref"] == "core.local"


def test_unique_conflict_on_replace(actions):
    with pytest.raises(Conflict) as caught:
        actions.replace({"id": "a2", "ref": "core.local", "pack": "core", "name": "remote"})
    assert caught.value.field == "ref"
    assert caught.value.value == "core.local"
    assert caught.value.existing_id == "a1"
    assert actions.get("a2")["ref"] == "core.remote"
    # replacing a document with its own unique value is no conflict
    same = {"id": "a1", "ref": "core.local", "pack": "core", "name": "local", "description": "d"}
    assert actions.replace(same) == same


def test_unique_conflict_on_update(actions):
    with pytest.raises(Conflict) as caught:
        actions.update("a2", set_fields={"ref": "core.local"})
    assert caught.value.field == "ref"
    assert actions.get("a2")["ref"] == "core.remote"


def test_unique_value_is_free_again_after_delete(actions):
    actions.delete("a1")
    actions.insert({"id": "a9", "ref": "core.local", "pack": "core", "name": "local"})
    assert actions.find_one({"ref": "core.local"})["id"] == "a9"


def test_insert_many_conflict_stores_nothing(actions):
    batch = [
        {"id": "b1", "ref": "p.one", "pack": "p", "name": "one"},
        {"id": "b2", "ref": "core.remote", "pack": "core", "name": "remote"},
        {"id": "b3", "ref": "p.three", "pack": "p", "name": "three"},
    ]
    with pytest.raises(Conflict) as caught:
        actions.insert_many(batch)
    assert caught.value.field == "ref"
    assert caught.value.value == "core.remote"
    assert caught.value.existing_id == "a2"
    assert sorted(ids(actions.find())) == ["a1", "a2"]  # one transaction: all or nothing


def test_insert_many_duplicate_id_within_batch(store):
    coll = store.collection(EXECUTIONS)
    with pytest.raises(Conflict) as caught:
        coll.insert_many([{"id": "d1", "status": "a"}, {"id": "d1", "status": "b"}])
    assert caught.value.field == "id"
    assert coll.count() == 0


# -- store --------------------------------------------------------------------------------------


def test_collection_is_created_once_and_shared(store):
    assert store.collection(EXECUTIONS) is store.collection(EXECUTIONS)


def test_a_second_store_sees_the_same_data(target, store):
    store.collection(ACTIONS).insert({"id": "a1", "ref": "core.local"})
    other = target.open()
    assert other.collection(ACTIONS).get("a1") == {"id": "a1", "ref": "core.local"}
    with pytest.raises(Conflict):
        other.collection(ACTIONS).insert({"id": "a2", "ref": "core.local"})


def test_unknown_filter_operator_is_rejected(executions, target):
    if target.engine != "sqlite":
        pytest.skip("the MongoDB engine passes filters through; the server decides")
    with pytest.raises(StoreError):
        executions.find({"status": {"$bogus": 1}})
