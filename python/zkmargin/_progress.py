"""Progress bars for long command-line runs: tqdm when it is installed (the ``cli`` extra),
stderr is a terminal and the command line turned them on; library calls stay silent."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

#: Off for library calls; the command line turns it on (``--no-progress`` keeps it off).
ENABLED = False


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
