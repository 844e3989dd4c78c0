"""Implied Black-76 vols (docs/margin-model.md §2.4)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import _arrays
from ._core import margin as _margin
from .pricing import broadcast_columns


def implied_vol(
    price: Any,
    is_call: Any,
    forward: Any,
    strike: Any,
    t: Any,
    rate: Any = 0.0,
    threads: int | None = None,
) -> NDArray[np.float64]:
    """Black-76 implied vols of discounted option prices, solved in Rust (GIL released,
    multi-threaded); arguments broadcast like numpy.

    ``black76(is_call, forward, strike, t, implied_vol(p, ...), rate).price`` returns ``p``
    to 1e-12 relative (docs §2.4 gives the method and where rounding of the vol itself
    sets the floor). A price at or below the discounted intrinsic value, at or above the
    discounted forward (call) or strike (put), or within rounding of either, has no vol:
    :class:`zkmargin.errors.ArbitrageBoundsError` names the first such index. Bad
    forwards, strikes, times and rates raise as in :func:`zkmargin.black76`.
    """
    named = [("price", price), ("forward", forward), ("strike", strike), ("t", t), ("rate", rate)]
    calls, (p, f, k, tt, r), shape = broadcast_columns(is_call, named, keep_scalars=True)
    if 0 in shape:
        return np.empty(shape)
    vols: NDArray[np.float64] = _margin.implied_vol(p, calls, f, k, tt, r, threads)
    _arrays.finite_output("implied_vol", vols)
    return vols.reshape(shape)
