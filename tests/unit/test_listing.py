"""include_attributes / exclude_attributes projections with dotted paths."""

from __future__ import annotations

from appliance.api.listing import project

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
