"""Implied-vol surfaces per underlying (docs/margin-model.md §2.5).

A :class:`VolSurface` holds smiles at listed expiries on one log-moneyness grid
``k = ln(K / F)``; vols between nodes and expiries are interpolated linearly in total
variance ``w = vol^2 T`` (along ``k`` within an expiry, flat beyond the end nodes; along
``T`` at fixed ``k``), so total variance never falls with expiry once the slices do not,
which the constructor checks. The Rust core evaluates it for the engine;
:mod:`zkmargin.baseline.curves` holds the same formula in NumPy and in pure Python for the
baselines.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import _arrays
from ._vols import vol_fraction
from .errors import ExpiredError, ParameterError, ShapeError


@dataclass(frozen=True, eq=False)
class VolSurface:
    """``vol[j, m]`` at ``expiry[j]`` (years, strictly increasing, > 0) and
    ``log_moneyness[m]`` (strictly increasing), as fractions unless
    ``vol_unit="percent"``. Covers expiries ``expiry[0] .. expiry[-1]``: an option
    outside that range raises :class:`~zkmargin.errors.SurfaceCoverageError` naming it."""

    expiry: NDArray[np.float64]
    log_moneyness: NDArray[np.float64]
    vol: NDArray[np.float64]

    def __init__(self, expiry: Any, log_moneyness: Any, vol: Any, vol_unit: str = "fraction") -> None:
        t = _arrays.f64("expiry", expiry)
        k = _arrays.f64("log_moneyness", log_moneyness)
        v2 = _arrays.f64("vol", vol, ndim=2)
        if v2.shape != (t.shape[0], k.shape[0]):
            raise ShapeError(f"vol: shape {v2.shape}, expected ({t.shape[0]}, {k.shape[0]})", "vol")
        for name, x in (("expiry", t), ("log_moneyness", k)):
            if x.size == 0 or not np.all(np.isfinite(x)):
                raise ParameterError(f"{name}: needs finite nodes", name)
            bad = np.flatnonzero(np.diff(x) <= 0.0)
            if bad.size:
                raise ParameterError(f"{name}: nodes must be strictly increasing", name, int(bad[0]) + 1)
        if t[0] <= 0.0:
            raise ExpiredError("expiry: expiries must be > 0", "expiry", 0)
        flat = vol_fraction("vol", np.ascontiguousarray(v2).reshape(-1), vol_unit)
        if not np.all(np.isfinite(flat)) or np.any(flat <= 0.0):
            j = int(np.flatnonzero(~(np.isfinite(flat) & (flat > 0.0)))[0])
            raise ParameterError(f"vol[{j}]: surface vols must be finite and > 0", "vol", j)
        v = flat.reshape(v2.shape)
        w = v * v * t[:, None]
        falls = np.argwhere(w[1:] < w[:-1])
        if falls.size:
            j, m = int(falls[0][0]) + 1, int(falls[0][1])
            raise ParameterError(
                f"vol: total variance vol^2 T falls from expiry {t[j - 1]} to {t[j]} at "
                f"log-moneyness {k[m]} (calendar arbitrage)",
                "vol",
                j * k.shape[0] + m,
            )
        object.__setattr__(self, "expiry", t)
        object.__setattr__(self, "log_moneyness", k)
        object.__setattr__(self, "vol", np.ascontiguousarray(v))

    def covers(self, t: float) -> bool:
        """Whether expiry ``t`` lies in ``[expiry[0], expiry[-1]]``."""
        return bool(self.expiry[0] <= t <= self.expiry[-1])

    def as_native(self) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """``(expiry, log_moneyness, vol)`` as the Rust core takes them."""
        return (self.expiry, self.log_moneyness, self.vol)
