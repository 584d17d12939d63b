"""StackStorm's noop runner (core.noop)."""
