"""Importing a pack's Python file (an action or a sensor) as StackStorm does: as a module named after
the file, with the file's folder on sys.path so its sibling modules import too."""

from __future__ import annotations

import importlib.util
import os
import sys
from types import ModuleType

__all__ = ["load_module"]


def load_module(file_path: str) -> ModuleType:
    """The module of `file_path`; whatever importing it raises propagates. A module of the same name
    already imported (json.py, ...) is never shadowed in sys.modules."""
    directory = os.path.dirname(os.path.realpath(file_path))
    if directory not in sys.path:
        sys.path.append(directory)
    name = os.path.splitext(os.path.basename(file_path))[0]
    spec = importlib.util.spec_from_file_location(name, file_path)
    if spec is None or spec.loader is None:
        raise ImportError(f"{file_path} is not a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(name, module)
    spec.loader.exec_module(module)
    return module
