"""Implied-vol surfaces per underlying (docs/margin-model.md §2.5).

A :class:`VolSurface` holds smiles at listed expiries on one log-moneyness grid
``k = ln(K / F)``; vols between nodes and expiries are interpolated linearly in total
variance ``w = vol^2 T`` (along ``k`` within an expiry, flat beyond the end nodes; along
``T`` at fixed ``k``), so total variance never falls with expiry once the slices do not,
which the constructor checks. The Rust core evaluates it for the engine; :meth:`evaluate`
(NumPy) and :meth:`evaluate_one` (pure Python) are the same formula for the NumPy engine
and the reference.
"""

from __future__ import annotations

import bisect
import math
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

    def _slice_w(self, j: int, x: float) -> float:
        k, row = self.log_moneyness, self.vol[j]
        if x <= k[0]:
            return float(row[0] ** 2 * self.expiry[j])
        if x >= k[-1]:
            return float(row[-1] ** 2 * self.expiry[j])
        m = bisect.bisect_right(k.tolist(), x)
        w0, w1 = row[m - 1] ** 2 * self.expiry[j], row[m] ** 2 * self.expiry[j]
        return float(w0 + (w1 - w0) * ((x - k[m - 1]) / (k[m] - k[m - 1])))

    def evaluate_one(self, t: float, x: float) -> float:
        """Vol at expiry ``t`` and log-moneyness ``x``, one point at a time (pure Python);
        ``ValueError`` outside the covered expiries (callers check :meth:`covers`)."""
        if not self.covers(t):
            raise ValueError(f"expiry {t} outside the surface")
        e = self.expiry.tolist()
        j = bisect.bisect_right(e, t) - 1
        if j == len(e) - 1:
            w = self._slice_w(j, x)
        else:
            w0, w1 = self._slice_w(j, x), self._slice_w(j + 1, x)
            w = w0 + (w1 - w0) * ((t - e[j]) / (e[j + 1] - e[j]))
        return math.sqrt(w / t)

    def evaluate(self, t: Any, x: Any) -> NDArray[np.float64]:
        """:meth:`evaluate_one` vectorised over broadcast ``t`` and ``x`` (every ``t`` covered)."""
        tt, xx = np.broadcast_arrays(np.asarray(t, dtype=np.float64), np.asarray(x, dtype=np.float64))
        e, k = self.expiry, self.log_moneyness
        w_nodes = self.vol**2 * e[:, None]
        j = np.clip(np.searchsorted(e, tt, side="right") - 1, 0, e.shape[0] - 1)
        j1 = np.minimum(j + 1, e.shape[0] - 1)
        xc = np.clip(xx, k[0], k[-1])
        m = np.clip(np.searchsorted(k, xc, side="right"), 1, max(k.shape[0] - 1, 1))

        def slice_w(jj: NDArray[np.int64]) -> NDArray[np.float64]:
            edge: NDArray[np.float64] = w_nodes[jj, 0]
            if k.shape[0] == 1:
                return edge
            w0, w1 = w_nodes[jj, m - 1], w_nodes[jj, m]
            inner = w0 + (w1 - w0) * ((xc - k[m - 1]) / (k[m] - k[m - 1]))
            out: NDArray[np.float64] = np.where(
                xx <= k[0], edge, np.where(xx >= k[-1], w_nodes[jj, -1], inner)
            )
            return out

        w0, w1 = slice_w(j), slice_w(j1)
        span = np.where(j1 > j, e[j1] - e[j], 1.0)
        w = np.where(j1 > j, w0 + (w1 - w0) * ((tt - e[j]) / span), w0)
        out: NDArray[np.float64] = np.sqrt(w / tt)
        return out

    def as_native(self) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """``(expiry, log_moneyness, vol)`` as the Rust core takes them."""
        return (self.expiry, self.log_moneyness, self.vol)
