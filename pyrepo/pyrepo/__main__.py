"""`python -m pyrepo` runs the CLI, so tests and sites need no console script on PATH."""

from pyrepo.cli import main

raise SystemExit(main())
