"""pack.yaml: reading it, the pack's ref, the StackStorm and Python versions it asks for, its warnings and
its dependencies, with StackStorm 3.9's rules and messages (st2common util/pack.py, pack_management.py).
"""

from __future__ import annotations

import os
import re
import sys
from typing import Any, Optional

import yaml

from appliance.models.names import PACK_REF
from appliance.pack_env import yaml_problem
from appliance.packs import PackError

MANIFEST = "pack.yaml"
# The StackStorm release the appliance answers for: a pack's `stackstorm_version` is checked against it.
STACKSTORM_VERSION = "3.9.0"
# StackStorm's PACK_VERSION_REGEX: a semantic version (x.y.z, optional -prerelease and +build).
PACK_VERSION = re.compile(
    r"^(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)(?:-[\da-z\-]+(?:\.[\da-z\-]+)*)?(?:\+[\da-z\-]+(?:\.[\da-z\-]+)*)?$"
)
RESERVED_NAMES = ("_global",)  # StackStorm's RESERVED_PACK_LIST
_SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z.\-]+))?(?:\+([0-9A-Za-z.\-]+))?$")
_OPERATORS = ("<", ">", "==", "<=", ">=", "!=")
PYTHON2_WARNING = ("DEPRECATION WARNING: Pack %s only supports Python 2.x. Python 2 support has been removed "
                   "since st2 v3.4.0. Please update your packs to work with Python 3.x")


def read(pack_dir: str, shown_as: str = "") -> dict:
    """The manifest of the pack in `pack_dir` (named `shown_as` in errors, e.g. its URL)."""
    label = shown_as or pack_dir
    path = os.path.join(pack_dir, MANIFEST)
    if not os.path.isfile(path):
        raise PackError(f'Pack "{label}" is missing {MANIFEST} file')
    try:
        with open(path, encoding="utf-8") as handle:
            content = yaml.safe_load(handle)
    except yaml.YAMLError as exc:
        raise PackError(f'Pack "{label}" has an invalid {MANIFEST}: {yaml_problem(exc)}') from None
    except UnicodeDecodeError as exc:
        raise PackError(f'Pack "{label}" has an invalid {MANIFEST}: not UTF-8 text (byte {exc.start})') from None
    except OSError as exc:
        raise PackError(f'Pack "{label}": cannot read {MANIFEST}: {exc.strerror}') from None
    if not content:
        raise PackError(f'Pack "{label}" metadata file is empty')
    if not isinstance(content, dict):
        raise PackError(f'Pack "{label}" has an invalid {MANIFEST}: expected a mapping, not a '
                        f"{type(content).__name__}")
    return content



def ref_of(metadata: dict) -> str:
    """The pack's ref: `ref`, else `name` when it is a valid ref (StackStorm's get_pack_ref_from_metadata)."""
    if metadata.get("ref"):
        ref = metadata["ref"]
        if not isinstance(ref, str) or not PACK_REF.match(ref):
            raise PackError(f'Pack ref "{ref}" contains invalid characters: only lowercase letters, digits and '
                            f'"_" are allowed ({PACK_REF.pattern})')
    else:
        name = metadata.get("name")
        if not isinstance(name, str) or not name:
            raise PackError(f'Pack metadata file ({MANIFEST}) is missing the "name" attribute')
        if not PACK_REF.match(name):
            raise PackError(f'Pack name "{name}" contains invalid characters and "ref" attribute is not available. '
                            'You either need to add "ref" attribute which contains only word characters to the pack '
                            "metadata file or update name attribute to contain only word characters.")
        ref = name
    if ref in RESERVED_NAMES:
        raise PackError(f"{ref} is a reserved name, and cannot be used as a pack name")
    return ref


def check_versions(metadata: dict, stackstorm_version: str = STACKSTORM_VERSION,
                   python_version: tuple = tuple(sys.version_info[:3])) -> None:
    """StackStorm's verify_pack_version: `stackstorm_version` must match, and a pack for Python 2 only
    cannot run on Python 3 (`force` skips this check)."""
    name = metadata.get("name")
    required = metadata.get("stackstorm_version")
    if required:
        if not isinstance(required, str):
            raise PackError(f'Pack "{name}" has an invalid stackstorm_version {required!r}: expected a string '
                            'such as ">=3.0.0, <4.0.0"')
        try:
            compatible = semver_match(stackstorm_version, required)
        except ValueError as exc:
            raise PackError(f'Pack "{name}" has an invalid stackstorm_version "{required}": {exc}') from None
        if not compatible:
            raise PackError(f'Pack "{name}" requires StackStorm "{required}", but current version is '
                            f'"{stackstorm_version}". You can override this restriction by providing the "force" '
                            "flag, but the pack is not guaranteed to work.")
    versions = metadata.get("python_versions")
    if versions and isinstance(versions, list):
        wanted = {str(item) for item in versions}
        major = python_version[0]
        current = ".".join(str(part) for part in python_version)
        if wanted == {"2"} and major != 2 or wanted == {"3"} and major != 3:
            only = "2" if wanted == {"2"} else "3"
            raise PackError(f'Pack "{name}" requires Python {only}.x, but current Python version is "{current}". '
                            'You can override this restriction by providing the "force" flag, but the pack is '
                            "not guaranteed to work.")


def warning(metadata: dict) -> Optional[str]:
    """StackStorm's get_pack_warnings: the deprecation line of a pack for Python 2 only, else None."""
    versions = metadata.get("python_versions")
    if versions and isinstance(versions, list) and {str(item) for item in versions} == {"2"}:
        return PYTHON2_WARNING % metadata.get("name")
    return None


def dependencies(metadata: dict) -> list[str]:
    """The pack specs of `dependencies` (names or URLs, with `=ref`)."""
    found = metadata.get("dependencies") or []
    if not isinstance(found, list) or not all(isinstance(item, str) and item for item in found):
        raise PackError(f'Pack "{metadata.get("name")}": "dependencies" must be a list of pack names or URLs')
    return found


# -- semantic versions, as the semver library StackStorm uses compares them ---------------------------------
def _parse(version: str) -> tuple[tuple[int, int, int], Optional[list[str]]]:
    match = _SEMVER.match(version)
    if not match:
        raise ValueError(f"{version} is not valid SemVer string")
    major, minor, patch, prerelease, _build = match.groups()
    return (int(major), int(minor), int(patch)), prerelease.split(".") if prerelease else None


def _identifier_key(part: str) -> tuple[int, Any]:
    return (0, int(part)) if part.isdigit() else (1, part)  # numbers sort before words


def compare(left: str, right: str) -> int:
    """-1, 0 or 1 as `left` is lower than, equal to or higher than `right` (build metadata ignored)."""
    (core_l, pre_l), (core_r, pre_r) = _parse(left), _parse(right)
    if core_l != core_r:
        return -1 if core_l < core_r else 1
    if pre_l == pre_r:
        return 0
    if pre_l is None or pre_r is None:  # a release is higher than its pre-releases
        return 1 if pre_l is None else -1
    key_l, key_r = [_identifier_key(p) for p in pre_l], [_identifier_key(p) for p in pre_r]
    return (key_l > key_r) - (key_l < key_r)


def _match_one(version: str, expression: str) -> bool:
    expression = expression.strip()
    if expression[:2] in _OPERATORS:
        operator, wanted = expression[:2], expression[2:]
    elif expression[:1] in ("<", ">"):
        operator, wanted = expression[:1], expression[1:]
    elif expression[:1].isdigit():
        operator, wanted = "==", expression
    else:
        raise ValueError(f"expected <op><version> where <op> is one of {', '.join(_OPERATORS)}, got "
                         f"{expression!r}")
    order = compare(version, wanted.strip())
    return {"<": order < 0, ">": order > 0, "==": order == 0, "<=": order <= 0, ">=": order >= 0,
            "!=": order != 0}[operator]


def semver_match(version: str, specifier: str) -> bool:
    """StackStorm's complex_semver_match: "all", one `<op><version>`, or several separated by commas."""
    if specifier.strip() == "all":
        return True
    parts = [part for part in specifier.split(",") if part.strip()]
    if not parts:
        raise ValueError("empty version specifier")
    return all(_match_one(version, part) for part in parts)
