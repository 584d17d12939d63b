"""include_attributes / exclude_attributes projections with dotted paths."""

from __future__ import annotations

import pytest
from falcon import testing

from appliance.api.http import ApiError
from appliance.api.listing import project, time_range

DOC = {"id": "1", "status": "succeeded", "action": {"ref": "core.local", "runner_type": "local-shell-cmd"},
       "context": {"user": "st2admin", "pack": "core"}, "result": {"stdout": "x" * 10}}


def test_include_keeps_id_and_dotted_fields():
    assert project(DOC, ["action.ref", "context.user", "status"], []) == {
        "id": "1", "action": {"ref": "core.local"}, "context": {"user": "st2admin"}, "status": "succeeded"}


def test_include_of_missing_field_is_silently_absent():
    assert project(DOC, ["parent"], []) == {"id": "1"}


def test_exclude_drops_fields_without_touching_the_original():
    out = project(DOC, [], ["result", "action.runner_type"])
    assert "result" not in out and out["action"] == {"ref": "core.local"}
    assert DOC["result"] and DOC["action"]["runner_type"]


@pytest.mark.parametrize("value", ["9999-12-31T23:59:59-01:00", "not a time", "0001-01-01T00:00:00+01:00"])
def test_a_time_filter_that_does_not_parse_or_overflows_is_a_400(value):
    req = testing.create_req(query_string=f"timestamp_gt={value}")
    with pytest.raises(ApiError) as caught:
        time_range(req)
    assert caught.value.status == 400 and "is not an ISO-8601 time" in caught.value.faultstring
