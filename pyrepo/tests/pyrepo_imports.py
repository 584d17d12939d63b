"""Run inside the offline virtualenv: import every top-level module of the given distributions.

Usage: python pyrepo_imports.py DIST [DIST ...]; prints one line per failure and exits 1 if any.
"""

import importlib
import importlib.metadata as metadata
import sys


def top_level_modules(name):
    dist = metadata.distribution(name)
    text = dist.read_text("top_level.txt")
    if text:
        return sorted({line.strip().replace("/", ".") for line in text.split() if line.strip()})
    found = set()
    for entry in dist.files or ():
        first = entry.parts[0]
        if first.endswith((".dist-info", ".data")) or first in ("..", "__pycache__", "bin"):
            continue
        if len(entry.parts) == 1:
            if first.endswith(".py"):
                found.add(first[:-3])
            elif first.endswith(".so"):
                found.add(first.split(".")[0])
        elif len(entry.parts) == 2 and entry.parts[1] == "__init__.py":
            found.add(first)
    return sorted(found)


def main(names):
    failures, count = [], 0
    for name in names:
        try:
            modules = top_level_modules(name)
        except metadata.PackageNotFoundError:
            failures.append(f"{name}: not installed")
            continue
        if not modules:
            failures.append(f"{name}: no importable top-level module found")
        for module in modules:
            count += 1
            try:
                importlib.import_module(module)
            except Exception as exc:  # noqa: BLE001 - report every failure, keep going
                failures.append(f"{name}: import {module}: {type(exc).__name__}: {exc}")
    for line in failures:
        print(line)
    print(f"imported {count - len(failures)} modules of {len(names)} distributions, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
