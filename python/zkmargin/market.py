"""Market state: index prices, implied vols, forwards, rate, collateral prices."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import _arrays
from .errors import NonFiniteError, ParameterError, ShapeError, VolUnitError

#: Largest vol accepted as a fraction (10.0 = 1000% a year). A larger value is taken to be
#: a percentage passed by mistake (Deribit quotes ``mark_iv`` in percent) and raises
#: :class:`zkmargin.errors.VolUnitError`; pass ``vol_unit="percent"`` for percent input.
MAX_VOL = 10.0

VOL_UNITS = ("fraction", "percent")


def vol_fraction(field: str, vol: Any, vol_unit: str) -> NDArray[np.float64]:
    """``vol`` as fractions: divided by 100 (into a new array) for ``vol_unit="percent"``;
    as a fraction every entry must be at most :data:`MAX_VOL`."""
    if vol_unit not in VOL_UNITS:
        raise ParameterError(f"vol_unit must be one of {VOL_UNITS}, got {vol_unit!r}", "vol_unit")
    v = _arrays.f64(field, vol)
    if vol_unit == "percent":
        return v / 100.0
    big = np.flatnonzero(v > MAX_VOL)
    if big.size:
        i = int(big[0])
        raise VolUnitError(
            f"{field}[{i}]: {v[i]} is above {MAX_VOL} (= {MAX_VOL:.0%} a year) as a fraction; "
            'if these vols are in percent pass vol_unit="percent"',
            field,
            i,
        )
    return v


@dataclass(frozen=True, eq=False)
class Market:
    """docs/margin-model.md §1.2. ``forward=None`` means every forward equals its spot.

    ``vol`` is a fraction (0.55 = 55%) unless ``vol_unit="percent"``; as a fraction, a vol
    above :data:`MAX_VOL` raises :class:`~zkmargin.errors.VolUnitError`. The stored
    ``vol`` is always the fraction."""

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
        vol_unit: str = "fraction",
    ) -> None:
        object.__setattr__(self, "spot", _arrays.f64("spot", spot))
        v = vol_fraction("vol", vol, vol_unit)
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
