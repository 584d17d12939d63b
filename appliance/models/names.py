"""Name and path rules shared by several entities: what may reach a file path or a ref."""

from __future__ import annotations

import posixpath
import re

# StackStorm's PACK_REF_WHITELIST_REGEX: a pack ref becomes a directory and a virtualenv name.
PACK_REF = re.compile(r"^[a-z0-9_]+$")
# A resource name inside a pack (action, rule, sensor ...): no path separator, no control character.
RESOURCE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")


def ref_of(pack: str, name: str) -> str:
    """A pack resource's ref: `<pack>.<name>`."""
    return f"{pack}.{name}"


def check_pack_ref(value: str) -> None:
    if not PACK_REF.match(value):
        raise ValueError(f'"{value}" is not a valid pack ref: only lowercase letters, digits and "_" '
                         f"are allowed ({PACK_REF.pattern})")


def check_resource_name(value: str) -> None:
    if len(value) > 255 or not RESOURCE_NAME.match(value):
        raise ValueError(f'"{value[:80]}" is not a valid name: letters, digits, "_", "-" and "." only, '
                         "starting with a letter, digit or \"_\"")


def check_relative_path(value: str) -> None:
    """A path that must stay inside its pack folder (entry points, metadata files)."""
    normal = posixpath.normpath(value) if value else ""
    if "\0" in value or value.startswith(("/", "\\", "~")) or normal == ".." or normal.startswith("../"):
        raise ValueError(f'File "{value[:200]}" is located outside of the pack directory')
