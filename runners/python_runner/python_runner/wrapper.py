"""The child side of python-script: load one action file, run it, report its result on stdout.

This runs under the pack virtualenv's interpreter, where only the standard library and the
compatibility packages (handed on PYTHONPATH) can be relied on. Its request arrives as one JSON
line on stdin, never in argv: {"pack", "file_path", "parameters", "config", "user", "log_level"}.
The result goes to stdout between StackStorm's delimiters, as {"result": ..., "status": ...}.
"""

from __future__ import annotations

import inspect
import json
import os
import sys
import traceback
from typing import Any, Optional

DELIMITER = "%%%%%~=~=~=************=~=~=~%%%%"
INVALID_STATUS_EXIT_CODE = 220  # StackStorm's code for run() returning (non-bool, value)


class ActionService:
    """What an action reaches through self.action_service: the datastore and the user's info."""

    def __init__(self, action_wrapper: ActionWrapper) -> None:
        self._action_wrapper = action_wrapper
        self._datastore_service = None

    @property
    def datastore_service(self) -> Any:
        if self._datastore_service is None:
            from st2common.runners.utils import get_logger_for_python_runner_action
            from st2common.services.datastore import ActionDatastoreService

            wrapper = self._action_wrapper
            logger = get_logger_for_python_runner_action(wrapper._class_name or "action", wrapper._log_level)
            self._datastore_service = ActionDatastoreService(logger, wrapper._pack, wrapper._class_name or "")
        return self._datastore_service

    def get_user_info(self) -> dict:
        return self.datastore_service.get_user_info()

    def list_values(self, local: bool = True, prefix: Optional[str] = None, limit: Optional[int] = None,
                    offset: int = 0) -> list:
        return self.datastore_service.list_values(local=local, prefix=prefix, limit=limit, offset=offset)

    def get_value(self, name: str, local: bool = True, scope: str = "system", decrypt: bool = False) -> Any:
        return self.datastore_service.get_value(name=name, local=local, scope=scope, decrypt=decrypt)

    def set_value(self, name: str, value: Any, ttl: Optional[int] = None, local: bool = True,
                  scope: str = "system", encrypt: bool = False) -> bool:
        return self.datastore_service.set_value(name=name, value=value, ttl=ttl, local=local, scope=scope,
                                                encrypt=encrypt)

    def delete_value(self, name: str, local: bool = True, scope: str = "system") -> bool:
        return self.datastore_service.delete_value(name=name, local=local, scope=scope)


class ActionWrapper:
    """One action run. Attribute names follow StackStorm's wrapper: Action.__init__ reads them."""

    def __init__(self, pack: str, file_path: str, config: Optional[dict] = None,
                 parameters: Optional[dict] = None, user: Optional[str] = None, log_level: str = "DEBUG") -> None:
        self._pack = pack
        self._file_path = file_path
        self._config = config or {}
        self._parameters = parameters or {}
        self._user = user
        self._log_level = log_level
        self._class_name: Optional[str] = None

    def run(self) -> int:
        """Run the action and print its result; the return value is the process exit code."""
        from st2common.runners.utils import get_action_class_instance

        action_cls = load_action_class(self._file_path)
        self._class_name = action_cls.__name__
        action = get_action_class_instance(action_cls, config=self._config, action_service=ActionService(self))
        output = action.run(**self._parameters)

        status = None
        if isinstance(output, tuple) and len(output) == 2:
            status, output = output
        if status is not None and not isinstance(status, bool):
            sys.stderr.write(
                f"Status returned from the action run() method must either be True or False, got: {status}\n"
                "Return a list instead of a tuple, or a tuple whose first item is the status, "
                "e.g. (True, ('item1', 'item2')).\n"
            )
            return INVALID_STATUS_EXIT_CODE
        write_result({"result": output, "status": status})
        return 0


class ActionLoadError(Exception):
    """The action file could not be imported; the message carries the original traceback."""


def load_action_class(file_path: str) -> type:
    """The Action subclass defined in the file (the first by name, as StackStorm picks it)."""
    from st2common.runners.base_action import Action
    from st2common.util.loader import load_module

    try:
        module = load_module(file_path)
    except Exception as exc:
        raise ActionLoadError(
            f'Failed to load action class from file "{file_path}" (action file most likely doesn\'t exist '
            f"or contains invalid syntax): {exc}\n\n{traceback.format_exc()}"
        ) from None
    classes = sorted(
        (cls for _, cls in inspect.getmembers(module, inspect.isclass)
         if cls.__module__ == module.__name__ and _is_action(cls, Action) and not inspect.isabstract(cls)),
        key=lambda cls: cls.__name__,
    )
    if not classes:
        raise Exception(f'File "{file_path}" has no action class or the file doesn\'t exist.')
    return classes[0]


def _is_action(cls: type, base: type) -> bool:
    """A subclass of our Action, or of an Action from another copy of st2common on sys.path."""
    if issubclass(cls, base):
        return True
    return any(parent.__name__ == "Action" and "st2" in parent.__module__ for parent in cls.__mro__[1:])


def write_result(output: dict) -> None:
    """Print the result between the delimiters; values JSON cannot hold are reported as text."""
    try:
        text = json.dumps(output, allow_nan=False)
    except (TypeError, ValueError):
        text = json.dumps({"result": str(output["result"]), "status": output["status"]})
    sys.stdout.flush()
    stream = sys.__stdout__.buffer
    stream.write((DELIMITER + text + "\n" + DELIMITER).encode("utf-8"))
    stream.flush()


def main() -> int:
    if sys.path and os.path.abspath(sys.path[0] or ".") == os.path.dirname(os.path.abspath(__file__)):
        sys.path.pop(0)  # run as a script: our own directory must not shadow the pack's modules
    line = sys.stdin.buffer.readline()
    try:
        request = json.loads(line.decode("utf-8"))
    except ValueError as exc:
        sys.stderr.write(f"Expected the action request as one JSON line on stdin: {exc}\n")
        return 1
    if not isinstance(request.get("config") or {}, dict):
        sys.stderr.write("The pack config must be a JSON object.\n")
        return 1
    wrapper = ActionWrapper(
        pack=request.get("pack", ""),
        file_path=request["file_path"],
        config=request.get("config"),
        parameters=request.get("parameters"),
        user=request.get("user"),
        log_level=request.get("log_level") or "DEBUG",
    )
    try:
        return wrapper.run()
    except Exception:
        traceback.print_exc()
        return 1


if __name__ == "__main__":
    sys.exit(main())
