"""Action alias format strings, read as StackStorm 3.9 reads them (ChatOps commands, BaseActionAliasTestCase).

A format string is a regular expression with parameters in it: `{{ name }}` takes a word, a quoted string
or a {...} object from the command, `{{ name = default }}` may be left out. Whitespace before a parameter
belongs to it. The whole command must match unless the format string anchors itself (^, $, \\A, \\Z).
Trailing `key=value` pairs of the command (value: a word, a quoted string or {...}) are extra parameters
and are cut off before matching.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Union

from st2common.exceptions.content import ParseException

try:  # Python 3.11+
    from re import _constants as _sre_constants
    from re import _parser as _sre_parser
except ImportError:  # Python 3.9, 3.10
    import sre_constants as _sre_constants  # type: ignore[no-redef]
    import sre_parse as _sre_parser  # type: ignore[no-redef]

__all__ = ["ActionAliasFormatParser", "extract_parameters", "extract_parameters_for_action_alias_db",
           "search_regex_tokens"]

# The building blocks. Each value form has one capturing group, or none for an empty quoted string; the
# value is whichever group matched (the others are empty).
_KEY = r"\s*(\S+?)\s*"
_WORD_VALUE = r'""|\'\'|"(.+?)"|\'(.+?)\'|({.+?})|(\S+)'
_TEXT_VALUE = r'""|\'\'|"(.+?)"|\'(.+?)\'|({.+?})|(.+?)'  # a default: may hold spaces
_PAIR = rf"(?:^|\s+){_KEY}=({_WORD_VALUE})"  # groups: key, the value as written, its four forms
_TRAILING_PAIRS = rf".*?(({_PAIR}\s*)*)$"
_OPTIONAL = "{{" + _KEY + rf"\s*=\s*(?:{_TEXT_VALUE})\s*" + "}}"  # groups: key, the default's four forms
_REQUIRED = "{{" + _KEY + "}}"
# What a parameter becomes in the regular expression: an optional quote, then the shortest text up to a
# matching quote, a {...} object, or the shortest text the rest of the format string lets it have.
_PARAMETER = r'\1["\']?(?P<\2>(?:(?<=\').+?(?=\')|(?<=").+?(?=")|{.+?}|.+?))["\']?'

_AT = _sre_constants.AT
_BEGINNINGS = ((_AT, _sre_constants.AT_BEGINNING), (_AT, _sre_constants.AT_BEGINNING_STRING))
_ENDS = ((_AT, _sre_constants.AT_END), (_AT, _sre_constants.AT_END_STRING))


def search_regex_tokens(needle_tokens: Iterable[tuple], haystack_tokens: Any, backwards: bool = False) -> bool:
    """Whether a parsed regular expression holds one of the (opcode, argument) tokens, looking into groups
    and, as StackStorm does, into the second alternative of a branch only."""
    needles = tuple(needle_tokens)
    tokens = reversed(list(haystack_tokens)) if backwards else haystack_tokens
    for opcode, argument in tokens:
        if opcode == _sre_constants.SUBPATTERN:
            if search_regex_tokens(needles, argument[-1]):
                return True
        elif opcode == _sre_constants.BRANCH:
            alternatives = argument[1]
            if len(alternatives) > 1 and search_regex_tokens(needles, alternatives[1]):
                return True
        elif (opcode, argument) in needles:
            return True
    return False


def _joined(groups: Iterable[str]) -> str:
    return "".join(groups)


class ActionAliasFormatParser:
    """One format string against one command."""

    def __init__(self, alias_format: str = None, param_stream: str = None) -> None:
        self._format = alias_format or ""
        self._original_param_stream = param_stream or ""
        self._kv_pairs, self._param_stream = self._cut_trailing_pairs(self._original_param_stream)
        self._optional = [(found[0], _joined(found[1:]))
                          for found in re.findall(_OPTIONAL, self._format, re.DOTALL)]
        self._regex = self._compile(self._format)

    @staticmethod
    def _cut_trailing_pairs(stream: str) -> tuple[list[tuple[str, str]], str]:
        """(the key=value pairs ending the command, the command without them, padded with a space)."""
        pairs: list[tuple[str, str]] = []
        ending = re.match(_TRAILING_PAIRS, stream, re.DOTALL)
        if ending and ending.group(1):
            pairs = [(found[0], _joined(found[2:])) for found in re.findall(_PAIR, ending.group(1), re.DOTALL)]
            stream = stream.replace(ending.group(1), "")
        return pairs, f" {stream} "

    @staticmethod
    def _compile(alias_format: str) -> re.Pattern:
        pattern = re.sub(r"(\s*)" + _OPTIONAL, "(?:" + _PARAMETER + ")?", alias_format)
        pattern = re.sub(r"(\s*)" + _REQUIRED, _PARAMETER, pattern)
        tokens = _sre_parser.parse(pattern, re.DOTALL)
        if not search_regex_tokens(_BEGINNINGS, tokens):
            pattern = r"^\s*" + pattern
        if not search_regex_tokens(_ENDS, tokens, backwards=True):
            pattern = pattern + r"\s*$"
        return re.compile(pattern, re.DOTALL)

    def _parameters(self, match: Union[re.Match, None]) -> dict:
        if not match:
            raise ParseException(f'Command "{self._original_param_stream}" doesn\'t match format string '
                                 f'"{self._format}"')
        result = match.groupdict()
        for name, default in self._optional:
            result[name] = result.get(name) or default
        for name, value in self._kv_pairs:
            result[name] = value
        if self._format and not (self._param_stream.strip() or any(result.values())):
            raise ParseException("No value supplied and no default value found.")
        return result

    def get_extracted_param_value(self) -> dict:
        """The parameters of the command; ParseException when it does not match."""
        return self._parameters(self._regex.search(self._param_stream))

    def get_multiple_extracted_param_value(self) -> list:
        """The parameters of each match of the format string in the command."""
        return [self._parameters(match) for match in self._regex.finditer(self._param_stream)]


def extract_parameters(format_str: str, param_stream: str, match_multiple: bool = False) -> Union[dict, list]:
    parser = ActionAliasFormatParser(alias_format=format_str, param_stream=param_stream)
    if match_multiple:
        return parser.get_multiple_extracted_param_value()
    return parser.get_extracted_param_value()


def extract_parameters_for_action_alias_db(action_alias_db: Any, format_str: str, param_stream: str,
                                           match_multiple: bool = False) -> Union[dict, list]:
    """extract_parameters, for a format string the alias has (ValueError otherwise)."""
    if format_str not in action_alias_db.get_format_strings():
        raise ValueError(f'Format string "{format_str}" is not available on the alias "{action_alias_db.name}"')
    return extract_parameters(format_str=format_str, param_stream=param_stream, match_multiple=match_multiple)
