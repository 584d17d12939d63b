"""The st2 CLI's interactive forms on the prompt_toolkit it is installed with.

st2client 3.9.0 pins prompt-toolkit 3.0.52 but still calls prompt_toolkit 1's
`prompt(..., get_bottom_toolbar_tokens=...)` for every question that has a description, so
`st2 pack config` (whose "preview in an editor?" question always has one) and `st2 inquiry respond`
without -r stop with "prompt() got an unexpected keyword argument 'get_bottom_toolbar_tokens'".

Installed as a .pth file in the appliance's virtualenv (`python -m appliance.st2client_compat`, run by
`make install` and the RPM build), this hands st2client.utils.interactive, when the CLI imports it, a
`prompt` that shows the description as prompt_toolkit 3's bottom toolbar. Nothing else changes: the
CLI's code is the released one, and other programs only get a finder that ignores every other module.
"""

from __future__ import annotations

import importlib.machinery
import os
import sys
from typing import Any, Callable, Optional

MODULE = "st2client.utils.interactive"
PTH_NAME = "st2_appliance_cli.pth"
PTH_LINE = "import appliance.st2client_compat as _st2cli; _st2cli.install()\n"


def _toolbar_text(tokens: Callable[[Any], Any]) -> Optional[str]:
    """The text of a prompt_toolkit 1 token function's [(token, text), ...]."""
    try:
        return "".join(str(text) for _token, text in tokens(None))
    except Exception:  # a toolbar is decoration: never let it stop the question
        return None


def compatible(prompt: Callable[..., Any]) -> Callable[..., Any]:
    """`prompt`, also taking prompt_toolkit 1's get_bottom_toolbar_tokens when it does not itself."""
    import inspect  # only in the CLI: every program of the virtualenv loads this module

    try:
        if "get_bottom_toolbar_tokens" in inspect.signature(prompt).parameters:
            return prompt
    except (TypeError, ValueError):
        return prompt

    import functools

    @functools.wraps(prompt)
    def wrapper(*args: Any, **options: Any) -> Any:
        tokens = options.pop("get_bottom_toolbar_tokens", None)
        if tokens is not None and "bottom_toolbar" not in options:
            options["bottom_toolbar"] = _toolbar_text(tokens)
        return prompt(*args, **options)

    wrapper.__st2_appliance__ = True  # type: ignore[attr-defined]
    return wrapper


def patch(module: Any) -> None:
    prompt = getattr(module, "prompt", None)
    if callable(prompt) and not getattr(prompt, "__st2_appliance__", False):
        module.prompt = compatible(prompt)


class _Loader:
    """The module's own loader, then the patch (a plain class: importlib.abc costs every program ~10 ms)."""

    def __init__(self, loader: Any):
        self.loader = loader

    def create_module(self, spec: Any) -> Any:
        return self.loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self.loader.exec_module(module)
        patch(module)

    def __getattr__(self, name: str) -> Any:  # get_source, get_code ... for tracebacks
        return getattr(self.loader, name)


class _Finder:
    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != MODULE:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _Loader(spec.loader)
        return spec


def install() -> None:
    """Patch the CLI's module when it is imported (now, if it already is)."""
    if MODULE in sys.modules:
        patch(sys.modules[MODULE])
    elif not any(isinstance(finder, _Finder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _Finder())


def write_pth(site_packages: str) -> str:
    """Write the .pth file into `site_packages`; returns its path."""
    path = os.path.join(site_packages, PTH_NAME)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(PTH_LINE)
    return path


def main(argv: Optional[list] = None) -> None:
    """python -m appliance.st2client_compat [SITE_PACKAGES]: install the .pth (default: this
    interpreter's site-packages)."""
    import sysconfig

    argv = sys.argv[1:] if argv is None else argv
    print(write_pth(argv[0] if argv else sysconfig.get_paths()["purelib"]))


if __name__ == "__main__":
    main()
