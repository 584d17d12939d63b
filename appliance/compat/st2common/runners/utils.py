"""Helpers StackStorm keeps next to Action and that packs and st2tests import by these names."""

from __future__ import annotations

import logging
import sys
from typing import Any, Optional

__all__ = ["PackConfigDict", "get_logger_for_python_runner_action", "get_action_class_instance"]

LOG_FORMAT = "%(name)-12s: %(levelname)-8s %(message)s"


class PackConfigDict(dict):
    """A pack config whose missing keys raise an error that says where the config lives."""

    def __init__(self, pack_name: str, *args: Any) -> None:
        super().__init__(*args)
        self._pack_name = pack_name

    def __getitem__(self, key: Any) -> Any:
        try:
            return super().__getitem__(key)
        except KeyError:
            raise ValueError(
                f'The config of pack "{self._pack_name}" has no key "{key}". Add it to '
                f"configs/{self._pack_name}.yaml under the appliance's base path, then run "
                '"st2ctl reload --register-configs".'
            ) from None


def get_logger_for_python_runner_action(action_name: str, log_level: str = "debug") -> logging.Logger:
    """A logger named actions.python.<action> writing to stderr at the runner's log_level."""
    logger = logging.getLogger(f"actions.python.{action_name}")
    if not getattr(logger, "_st2_configured", False):
        level = getattr(logging, str(log_level).upper(), logging.DEBUG)  # AUDIT is not a stdlib level
        handler = logging.StreamHandler(sys.stderr)
        handler.setLevel(level)
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        logger.addHandler(handler)
        logger.setLevel(level)
        logger._st2_configured = True  # type: ignore[attr-defined]
    return logger


def get_action_class_instance(action_cls: type, config: Optional[dict] = None, action_service: Any = None) -> Any:
    """Instantiate an action class; old constructors without action_service get it set afterwards."""
    try:
        return action_cls(config=config, action_service=action_service)
    except TypeError as exc:
        if "unexpected keyword argument 'action_service'" not in str(exc):
            raise
    instance = action_cls(config=config)
    instance.action_service = action_service
    return instance
