"""Market state: index prices, implied vols, forwards, rate, collateral prices."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import _arrays
from .errors import NonFiniteError, ShapeError


@dataclass(frozen=True, eq=False)
class Market:
    """docs/margin-model.md §1.2. ``forward=None`` means every forward equals its spot."""

    spot: NDArray[np.float64]
    vol: NDArray[np.float64]
    asset_price: NDArray[np.float64]
    haircut: NDArray[np.float64]
    rate: float
    forward: NDArray[np.float64] | None

    def __init__(
        self,
        spot: Any,
        vol: Any,
        asset_price: Any,
        haircut: Any,
        rate: float = 0.0,
        forward: Any = None,
    ) -> None:
        object.__setattr__(self, "spot", _arrays.f64("spot", spot))
        v = _arrays.f64("vol", vol)
        object.__setattr__(self, "vol", v)
        ap = _arrays.f64("asset_price", asset_price)
        hc = _arrays.f64("haircut", haircut)
        _arrays.same_length("haircut", hc, ap.shape[0], "asset_price")
        object.__setattr__(self, "asset_price", ap)
        object.__setattr__(self, "haircut", hc)
        r = float(rate)
        if not np.isfinite(r):
            raise NonFiniteError("rate is not finite", "rate")
        object.__setattr__(self, "rate", r)
        fwd = None if forward is None else _arrays.f64("forward", forward)
        if fwd is not None and fwd.shape != v.shape:
            raise ShapeError(f"forward: length {fwd.shape[0]} does not match vol ({v.shape[0]})", "forward")
        object.__setattr__(self, "forward", fwd)
