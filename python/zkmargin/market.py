"""Market state: index prices, implied vols, forwards, rate, collateral prices."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import _args, _arrays
from ._vols import MAX_VOL, vol_fraction
from .errors import ParameterError, ShapeError
from .rates import RateCurve
from .surface import VolSurface

__all__ = ["MAX_VOL", "Market"]


@dataclass(frozen=True, eq=False)
class Market:
    """docs/margin-model.md §1.2. ``forward=None`` means every forward equals its spot.

    ``vol`` is a fraction (0.55 = 55%) unless ``vol_unit="percent"``; as a fraction, a vol
    above :data:`MAX_VOL` raises :class:`~zkmargin.errors.VolUnitError`. The stored
    ``vol`` is always the fraction.

    ``surfaces``: one :class:`~zkmargin.surface.VolSurface` or ``None`` per underlying.
    Options on an underlying with a surface are valued off it (docs §2.5), today and in
    every scenario; their ``vol`` entries are not used (0 is fine).

    ``rate`` is one continuously compounded rate; ``rate_curve``, a
    :class:`~zkmargin.rates.RateCurve` of zero rates by expiry, replaces it: each option
    is then discounted at the curve's rate at its expiry (docs §1.5) and ``rate`` must be
    left at 0."""

    spot: NDArray[np.float64]
    vol: NDArray[np.float64]
    asset_price: NDArray[np.float64]
    haircut: NDArray[np.float64]
    rate: float
    forward: NDArray[np.float64] | None
    surfaces: tuple[VolSurface | None, ...] | None
    rate_curve: RateCurve | None

    def __init__(
        self,
        spot: Any,
        vol: Any,
        asset_price: Any,
        haircut: Any,
        rate: float = 0.0,
        forward: Any = None,
        vol_unit: str = "fraction",
        surfaces: Any = None,
        rate_curve: RateCurve | None = None,
    ) -> None:
        object.__setattr__(self, "spot", _arrays.f64("spot", spot))
        v = vol_fraction("vol", vol, vol_unit)
        object.__setattr__(self, "vol", v)
        ap = _arrays.f64("asset_price", asset_price)
        hc = _arrays.f64("haircut", haircut)
        _arrays.same_length("haircut", hc, ap.shape[0], "asset_price")
        object.__setattr__(self, "asset_price", ap)
        object.__setattr__(self, "haircut", hc)
        if rate_curve is not None and not isinstance(rate_curve, RateCurve):
            raise ParameterError("rate_curve must be a zkmargin.rates.RateCurve or None", "rate_curve")
        r = _args.real("rate", rate)
        if rate_curve is not None and r != 0.0:
            raise ParameterError("give one rate or a rate_curve, not both", "rate")
        object.__setattr__(self, "rate_curve", rate_curve)
        object.__setattr__(self, "rate", r)
        fwd = None if forward is None else _arrays.f64("forward", forward)
        if fwd is not None and fwd.shape != v.shape:
            raise ShapeError(f"forward: length {fwd.shape[0]} does not match vol ({v.shape[0]})", "forward")
        object.__setattr__(self, "forward", fwd)
        sf = None if surfaces is None else tuple(surfaces)
        if sf is not None:
            if len(sf) != self.spot.shape[0]:
                raise ShapeError(
                    f"surfaces: {len(sf)} entries for {self.spot.shape[0]} underlyings", "surfaces"
                )
            for u, x in enumerate(sf):
                if x is not None and not isinstance(x, VolSurface):
                    raise ParameterError(f"surfaces[{u}]: expected a VolSurface or None", "surfaces", u)
        object.__setattr__(self, "surfaces", sf)

    def rates_at(self, expiry: Any) -> NDArray[np.float64] | None:
        """The curve's zero rate at each expiry, or ``None`` for a market with one rate."""
        return None if self.rate_curve is None else self.rate_curve.rate(expiry)
