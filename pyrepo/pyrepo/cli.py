"""The `pyrepo` command: a thin argparse layer over lock, fetch, index, add, serve and check."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Optional

from pyrepo import __version__
from pyrepo.errors import PyrepoError


def home() -> Path:
    """Where requirements/ and locks/ live: $PYREPO_HOME, this source checkout, else the current directory."""
    if os.environ.get("PYREPO_HOME"):
        return Path(os.environ["PYREPO_HOME"])
    project = Path(__file__).resolve().parent.parent
    return project if (project / "requirements").is_dir() else Path.cwd()


def tools_dir() -> Path:
    """Where `pyrepo lock` keeps its pip-tools virtualenvs, one per Python version."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pyrepo" / "tools"


def _mirror_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mirror", type=Path, default=Path(os.environ.get("PYREPO_MIRROR", "mirror")),
                        help="mirror directory (default: $PYREPO_MIRROR or ./mirror)")


def _target_options(parser: argparse.ArgumentParser) -> None:
    from pyrepo.targets import DEFAULT_TARGETS

    parser.add_argument("--target", action="append", metavar="TARGET",
                        help=f"cp3XY-manylinux_2_NN_ARCH, repeatable (default: {' '.join(DEFAULT_TARGETS)})")
    parser.add_argument("--lock", type=Path, help="one lock for every target (default: LOCKS_DIR/py<X.Y>.txt each)")
    parser.add_argument("--locks-dir", type=Path, help="directory of py<X.Y>.txt locks (default: HOME/locks)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; exposed for the tests and for generated documentation."""
    parser = argparse.ArgumentParser(prog="pyrepo", description="Build and serve an offline Python package mirror.")
    parser.add_argument("--version", action="version", version=f"pyrepo {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    lock = sub.add_parser("lock", help="pin requirements with hashes, one lock per Python version (pip-tools)")
    lock.add_argument("--python", action="append", metavar="PY",
                      help="interpreter path or X.Y version, repeatable (default: 3.9 and 3.11)")
    lock.add_argument("--input", action="append", type=Path, metavar="FILE",
                      help="requirement input, repeatable (default: HOME/requirements/{appliance,test,build}.in)")
    lock.add_argument("-r", "--requirement", action="append", type=Path, default=[], metavar="FILE",
                      help="extra requirements to lock too, e.g. a pack's requirements.txt; repeatable")
    lock.add_argument("--locks-dir", type=Path, help="where py<X.Y>.txt are written (default: HOME/locks)")
    lock.add_argument("--tools-dir", type=Path, help="pip-tools virtualenvs (default: ~/.cache/pyrepo/tools)")
    lock.add_argument("-U", "--upgrade", action="store_true", help="re-resolve every pin to the newest allowed")
    lock.add_argument("-P", "--upgrade-package", action="append", default=[], metavar="NAME",
                      help="re-resolve only this package, repeatable")

    fetch = sub.add_parser("fetch", help="download every locked distribution for each target, then index and check")
    _mirror_option(fetch)
    _target_options(fetch)
    fetch.add_argument("-v", "--verbose", action="store_true", help="show pip's progress")

    index = sub.add_parser("index", help="rewrite the PEP 503 simple index of the mirror")
    _mirror_option(index)

    add = sub.add_parser("add", help="copy wheels/sdists, or wheels built from source dirs, into the mirror")
    _mirror_option(add)
    add.add_argument("--no-index", action="store_true", help="build offline: build backends from the mirror only")
    add.add_argument("source", nargs="+", type=Path, help="a .whl/.tar.gz/.zip file or a source directory")

    serve = sub.add_parser("serve", help="serve the mirror read-only over HTTP")
    _mirror_option(serve)
    serve.add_argument("--bind", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port (default: 8080; 0 picks a free one)")
    serve.add_argument("-q", "--quiet", action="store_true", help="no request log")

    check = sub.add_parser("check", help="verify the mirror holds every locked distribution, intact, per target")
    _mirror_option(check)
    _target_options(check)
    check.add_argument("-r", "--requirement", action="append", type=Path, default=[], metavar="FILE",
                       help="also require that every entry of FILE is satisfied by the lock; repeatable")
    return parser


def _pairs(args: argparse.Namespace) -> list:
    from pyrepo.targets import pair_locks, parse_targets

    return pair_locks(parse_targets(args.target), args.locks_dir or home() / "locks", args.lock)


def _print_report(report, mirror: Path) -> int:
    for line in report.summary:
        print(line)
    for problem in report.problems:
        print(problem)
    if report.problems:
        kinds: dict = {}
        for problem in report.problems:
            kinds[problem.kind] = kinds.get(problem.kind, 0) + 1
        detail = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
        print(f"pyrepo: check failed: {len(report.problems)} problem(s) in {mirror} ({detail})", file=sys.stderr)
        return 1
    files = [p for p in mirror.iterdir() if p.is_file() and not p.name.startswith(".")]
    size = sum(p.stat().st_size for p in files)
    print(f"ok: {mirror} is complete ({len(files)} files, {size / 1e6:.1f} MB)")
    return 0


def _cmd_lock(args: argparse.Namespace) -> int:
    from pyrepo.lock import DEFAULT_INPUTS, DEFAULT_PYTHONS, compile_lock, find_python

    base = home()
    inputs = list(args.input or [base / name for name in DEFAULT_INPUTS]) + list(args.requirement)
    pythons = [find_python(spec) for spec in (args.python or DEFAULT_PYTHONS)]
    for python in pythons:
        written = compile_lock(base, python, inputs, args.locks_dir or base / "locks", args.tools_dir or tools_dir(),
                               args.upgrade, args.upgrade_package)
        print(f"wrote {written}")
    return 0


def _cmd_fetch(args: argparse.Namespace) -> int:
    from pyrepo.check import check_mirror
    from pyrepo.fetch import fetch

    pairs = _pairs(args)
    started = time.monotonic()
    fetch(args.mirror, pairs, quiet=not args.verbose)
    print(f"fetched in {time.monotonic() - started:.1f}s")
    return _print_report(check_mirror(args.mirror, pairs), args.mirror)


def _cmd_index(args: argparse.Namespace) -> int:
    from pyrepo.index import write_index

    files = write_index(args.mirror)
    print(f"indexed {len(files)} files in {args.mirror / 'simple'}")
    return 0


def _cmd_add(args: argparse.Namespace) -> int:
    from pyrepo.add import add

    for name in add(args.mirror, args.source, args.no_index):
        print(f"added {name}")
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    from pyrepo.serve import serve

    serve(args.mirror, args.bind, args.port, args.quiet)
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from pyrepo.check import check_mirror

    return _print_report(check_mirror(args.mirror, _pairs(args), args.requirement), args.mirror)


COMMANDS = {"lock": _cmd_lock, "fetch": _cmd_fetch, "index": _cmd_index, "add": _cmd_add,
            "serve": _cmd_serve, "check": _cmd_check}


def main(argv: Optional[list] = None) -> int:
    """Run one command; bad input ends with one `pyrepo: error:` line and exit status 1, never a traceback."""
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except PyrepoError as exc:
        print(f"pyrepo: error: {exc}", file=sys.stderr)
    except OSError as exc:
        where = f": {exc.filename}" if exc.filename else ""
        print(f"pyrepo: error: {exc.strerror or exc}{where}", file=sys.stderr)
    except KeyboardInterrupt:
        print("pyrepo: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the promise is one line, never a traceback
        if os.environ.get("PYREPO_DEBUG"):
            raise
        print(f"pyrepo: internal error: {type(exc).__name__}: {exc} (PYREPO_DEBUG=1 shows the traceback)",
              file=sys.stderr)
    return 1
