"""`from st2common.runners.base_action import Action`: the base class of every Python action."""

from __future__ import annotations

import abc
from typing import Any, Optional

from st2common.runners.utils import PackConfigDict, get_logger_for_python_runner_action

__all__ = ["Action"]


class Action(metaclass=abc.ABCMeta):
    """Subclass it and implement run(**parameters); return a value or (succeeded: bool, value)."""

    description = None

    def __init__(self, config: Optional[dict] = None, action_service: Any = None) -> None:
        wrapper = getattr(action_service, "_action_wrapper", None)
        log_level = getattr(wrapper, "_log_level", "debug") if wrapper is not None else "debug"
        pack = getattr(wrapper, "_pack", "unknown") if wrapper is not None else "unknown"
        self.action_service = action_service
        self.config = PackConfigDict(pack, config or {})
        self.logger = get_logger_for_python_runner_action(type(self).__name__, log_level)

    @abc.abstractmethod
    def run(self, **kwargs: Any) -> Any:
        """Do the action's work."""
