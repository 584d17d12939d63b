"""StackStorm's action-chain runner: a chain of actions, each a child execution, linked by on-success/on-failure."""
