"""The action runner resolves entry points inside their pack only, symbolic links included."""

from __future__ import annotations

import os

import pytest

from appliance.services.actionrunner import _entry_point


def test_entry_point_inside_the_pack(tmp_path):
    (tmp_path / "actions").mkdir()
    assert _entry_point(str(tmp_path), "run.sh") == os.path.join(str(tmp_path), "actions", "run.sh")
    assert _entry_point(str(tmp_path), "") == ""


@pytest.mark.parametrize("entry_point", ["../../../etc/passwd", "/etc/passwd", "escape/passwd"])
def test_entry_point_leaving_the_pack_is_refused(tmp_path, entry_point):
    pack = tmp_path / "pack"
    (pack / "actions").mkdir(parents=True)
    (pack / "actions" / "escape").symlink_to("/etc")
    with pytest.raises(LookupError, match="outside of the pack directory"):
        _entry_point(str(pack), entry_point)
