"""Errors about pack content, under StackStorm's names."""

__all__ = ["ParseException"]


class ParseException(ValueError):
    """A command does not match an action alias format string."""
