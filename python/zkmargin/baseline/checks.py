"""Argument checks for the Python Black-76 baselines.

Dtypes, layouts and broadcasting go through :func:`zkmargin.pricing.broadcast_inputs`, the
same intake as :func:`zkmargin.black76`; the value checks below mirror the Rust core's, in
its order (docs/margin-model.md §9), so every implementation rejects the same inputs with
the same error class, field and index.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import ExpiredError, InputError, NonFiniteError, NonPositiveError
from ..pricing import broadcast_inputs

Columns = tuple[NDArray[np.bool_], list[NDArray[np.float64]], tuple[int, ...]]


def _first(
    field: str, arr: NDArray[np.float64], bad: NDArray[np.bool_], err: type[InputError], rule: str
) -> None:
    (idx,) = np.nonzero(bad)
    if idx.size:
        k = int(idx[0])
        raise err(f"{field}[{k}] = {arr[k]!r}: {rule}", field, k)


def black76_arguments(is_call: Any, forward: Any, strike: Any, t: Any, vol: Any, rate: Any) -> Columns:
    """(is_call, [forward, strike, t, vol, rate], shape): flat, equal-length, validated."""
    calls, cols, shape = broadcast_inputs(is_call, forward, strike, t, vol, rate)
    named = dict(zip(("forward", "strike", "t", "vol", "rate"), cols, strict=True))
    for field in ("forward", "strike", "vol"):
        arr = named[field]
        _first(field, arr, ~np.isfinite(arr), NonFiniteError, "must be finite")
        _first(field, arr, arr <= 0.0, NonPositiveError, "must be > 0")
    _first("t", named["t"], ~np.isfinite(named["t"]), NonFiniteError, "must be finite")
    _first("t", named["t"], named["t"] <= 0.0, ExpiredError, "time to expiry must be > 0")
    _first("rate", named["rate"], ~np.isfinite(named["rate"]), NonFiniteError, "must be finite")
    return calls, cols, shape
