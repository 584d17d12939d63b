"""BaseActionAliasTestCase: tests of a pack's action aliases (aliases/*.yaml) against commands."""

from __future__ import annotations

import glob
import os
import re
from typing import Any, Optional

import yaml
from st2common.exceptions.content import ParseException
from st2common.models.utils.action_alias_utils import extract_parameters, extract_parameters_for_action_alias_db

from st2tests.pack_resource import BasePackResourceTestCase

__all__ = ["BaseActionAliasTestCase", "ActionAlias", "load_action_aliases"]

PACK_REF = re.compile(r"^[a-z0-9_]+$")  # StackStorm's PACK_REF_WHITELIST_REGEX
ALIAS_FIELDS = {"id", "ref", "uid", "name", "pack", "description", "enabled", "action_ref", "formats", "ack",
                "result", "extra", "immutable_parameters", "metadata_file"}


class ActionAlias:
    """An alias as its file declares it, checked as StackStorm's registrar checks it."""

    def __init__(self, path: str, pack: str, content: Any) -> None:
        if not isinstance(content, dict):
            raise ValueError(f"{path}: an action alias must be a mapping")
        unknown = sorted(set(content) - ALIAS_FIELDS)
        if unknown:
            raise ValueError(f"{path}: Additional properties are not allowed ({', '.join(map(repr, unknown))})")
        declared = content.get("pack") or pack
        if declared != pack:
            raise ValueError(f'{path}: Model is in pack "{pack}" but field "pack" is different: {declared}')
        for field in ("name", "action_ref"):
            if not isinstance(content.get(field), str):
                raise ValueError(f"{path}: '{field}' is a required property (a string)")
        formats = content.get("formats") or []
        if not isinstance(formats, list) or not all(_is_format(item) for item in formats):
            raise ValueError(f"{path}: 'formats' must be a list of strings and {{display, representation}} objects")
        self.metadata_file = path
        self.name = content["name"]
        self.pack = pack
        self.ref = f"{pack}.{self.name}"
        self.action_ref = content["action_ref"]
        self.description = content.get("description")
        self.enabled = content.get("enabled", True)
        self.formats = formats
        self.ack = content.get("ack")
        self.result = content.get("result")
        self.extra = content.get("extra")
        self.immutable_parameters = content.get("immutable_parameters")

    def get_format_strings(self) -> list:
        """Every format string: plain ones, and the `representation` list of a {display, representation}."""
        strings: list = []
        for item in self.formats:
            if isinstance(item, dict) and item.get("representation"):
                strings.extend(item["representation"])
            else:
                strings.append(item)
        return strings


def _is_format(item: Any) -> bool:
    if isinstance(item, str):
        return True
    return (isinstance(item, dict) and isinstance(item.get("display", ""), str)
            and isinstance(item.get("representation", []), list)
            and all(isinstance(text, str) for text in item.get("representation", [])))


def _pack_ref(pack_path: str) -> str:
    """The pack's ref: pack.yaml's `ref`, else its `name` when that is a valid ref, else the folder's name."""
    manifest = os.path.join(pack_path, "pack.yaml")
    if not os.path.isfile(manifest):
        return os.path.basename(pack_path)
    with open(manifest) as handle:
        metadata = yaml.safe_load(handle) or {}
    if metadata.get("ref"):
        return metadata["ref"]
    name = str(metadata.get("name", ""))
    if not PACK_REF.match(name):
        raise ValueError(f'Pack name "{name}" contains invalid characters and "ref" attribute is not available: '
                         "add a \"ref\" of word characters to pack.yaml.")
    return name


def load_action_aliases(pack_path: str) -> list:
    """The pack's aliases (aliases/*.yaml and *.yml), in file name order."""
    pack = _pack_ref(pack_path)
    folder = os.path.join(pack_path, "aliases")
    paths = sorted(glob.glob(os.path.join(folder, "*.yaml")) + glob.glob(os.path.join(folder, "*.yml")))
    aliases = []
    for path in paths:
        with open(path) as handle:
            aliases.append(ActionAlias(path, pack, yaml.safe_load(handle)))
    return aliases


class BaseActionAliasTestCase(BasePackResourceTestCase):
    """Set `action_alias_name`; setUp loads that alias of the pack into `self.action_alias_db`."""

    action_alias_name: Optional[str] = None
    action_alias_db: Optional[ActionAlias] = None

    def setUp(self) -> None:
        super().setUp()
        if not self.action_alias_name:
            raise ValueError('"action_alias_name" class attribute needs to be provided')
        self.action_alias_db = self._get_action_alias_db_by_name(name=self.action_alias_name)

    def assertCommandMatchesExactlyOneFormatString(self, format_strings: list, command: str) -> None:
        """The command matches one of the format strings, and only one."""
        matched = []
        for format_string in format_strings:
            try:
                extract_parameters(format_str=format_string, param_stream=command)
            except ParseException:
                continue
            matched.append(format_string)
        if not matched:
            raise AssertionError(f'Command "{command}" didn\'t match any of the provided format strings')
        if len(matched) > 1:
            raise AssertionError(f'Command "{command}" matched multiple format strings: {", ".join(matched)}')

    def assertExtractedParametersMatch(self, format_string: str, command: str, parameters: dict) -> None:
        """The command, read with one of the alias's format strings, gives exactly these parameters."""
        extracted = extract_parameters_for_action_alias_db(action_alias_db=self.action_alias_db,
                                                           format_str=format_string, param_stream=command)
        if extracted != parameters:
            message = (f'Extracted parameters from command string "{command}" against format string '
                       f'"{format_string}" didn\'t match the provided parameters: ')
            try:
                self.assertEqual(extracted, parameters)
            except AssertionError as exc:
                message += str(exc)
            raise AssertionError(message)

    def _get_action_alias_db_by_name(self, name: str) -> ActionAlias:
        for alias in load_action_aliases(self._get_base_pack_path()):
            if alias.name == name:
                return alias
        raise ValueError(f'Alias with name "{name}" not found')
