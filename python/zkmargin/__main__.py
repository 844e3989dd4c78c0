"""``python -m zkmargin``: the same command line as ``zkmargin``."""

from .cli import main

raise SystemExit(main())
