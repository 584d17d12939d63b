"""The pre-2.0 home of Action, still imported by older packs."""

from st2common.runners.base_action import Action

__all__ = ["Action"]
