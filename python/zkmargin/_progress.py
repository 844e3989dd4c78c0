"""Progress bars for long command-line runs: tqdm when it is installed (the ``cli`` extra)
and stderr is a terminal, else nothing."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

#: Set by the command line's ``--no-progress``.
ENABLED = True


def progress(items: Iterable[T], desc: str, total: int | None = None) -> Iterator[T]:
    """``items``, with a progress bar on stderr when possible."""
    if ENABLED:
        try:
            from tqdm import tqdm
        except ImportError:
            pass
        else:
            # disable=None: no bar when stderr is not a terminal (logs, CI, pipes).
            yield from tqdm(items, desc=desc, total=total, disable=None, leave=False)
            return
    yield from items
