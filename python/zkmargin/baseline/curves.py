"""The market's curves evaluated for the baselines (docs §1.5, §2.5).

A vol surface at ``(T, k = ln(K / F))``: linear in total variance ``w = vol^2 T`` along
``k`` within an expiry (flat beyond the end nodes) and along ``T`` at fixed ``k``, one point
at a time in pure Python (:func:`surface_vol`, the reference's) and vectorised with NumPy
(:func:`surface_vols`, the NumPy engine's); the Rust core evaluates surfaces itself. A rate
curve one expiry at a time in pure Python (:func:`curve_rate`); the Rust core and the NumPy
engine take ``RateCurve.rate``.
"""

from __future__ import annotations

import bisect
import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..market import Market
from ..rates import RateCurve
from ..surface import VolSurface


def _slice_w(surface: VolSurface, j: int, x: float) -> float:
    k, row = surface.log_moneyness, surface.vol[j]
    if x <= k[0]:
        return float(row[0] ** 2 * surface.expiry[j])
    if x >= k[-1]:
        return float(row[-1] ** 2 * surface.expiry[j])
    m = bisect.bisect_right(k.tolist(), x)
    w0, w1 = row[m - 1] ** 2 * surface.expiry[j], row[m] ** 2 * surface.expiry[j]
    return float(w0 + (w1 - w0) * ((x - k[m - 1]) / (k[m] - k[m - 1])))


def surface_vol(surface: VolSurface, t: float, x: float) -> float:
    """Vol at expiry ``t`` and log-moneyness ``x``, in pure Python; ``ValueError`` outside
    the covered expiries (callers check ``surface.covers``)."""
    if not surface.covers(t):
        raise ValueError(f"expiry {t} outside the surface")
    e = surface.expiry.tolist()
    j = bisect.bisect_right(e, t) - 1
    if j == len(e) - 1:
        w = _slice_w(surface, j, x)
    else:
        w0, w1 = _slice_w(surface, j, x), _slice_w(surface, j + 1, x)
        w = w0 + (w1 - w0) * ((t - e[j]) / (e[j + 1] - e[j]))
    return math.sqrt(w / t)


def surface_vols(surface: VolSurface, t: Any, x: Any) -> NDArray[np.float64]:
    """:func:`surface_vol` vectorised over broadcast ``t`` and ``x`` (every ``t`` covered)."""
    tt, xx = np.broadcast_arrays(np.asarray(t, dtype=np.float64), np.asarray(x, dtype=np.float64))
    e, k = surface.expiry, surface.log_moneyness
    w_nodes = surface.vol**2 * e[:, None]
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
        out: NDArray[np.float64] = np.where(xx <= k[0], edge, np.where(xx >= k[-1], w_nodes[jj, -1], inner))
        return out

    w0, w1 = slice_w(j), slice_w(j1)
    span = np.where(j1 > j, e[j1] - e[j], 1.0)
    w = np.where(j1 > j, w0 + (w1 - w0) * ((tt - e[j]) / span), w0)
    out: NDArray[np.float64] = np.sqrt(w / tt)
    return out


def curve_rate(curve: RateCurve, t: float) -> float:
    """``curve.rate`` at one ``t``, in pure Python."""
    e, r = curve.expiry.tolist(), curve.zero_rate.tolist()
    if t <= e[0]:
        return float(r[0])
    if t >= e[-1]:
        return float(r[-1])
    j = bisect.bisect_right(e, t)
    w0, w1 = r[j - 1] * e[j - 1], r[j] * e[j]
    return float((w0 + (w1 - w0) * ((t - e[j - 1]) / (e[j] - e[j - 1]))) / t)


def market_rate(market: Market, t: float) -> float:
    """The rate an option expiring at ``t`` is discounted at, in pure Python."""
    return market.rate if market.rate_curve is None else curve_rate(market.rate_curve, t)
