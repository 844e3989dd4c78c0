"""Black-76 and per-contract instrument values in plain Python floats (docs/margin-model.md §2).

Only :mod:`math` does arithmetic here, so these functions are an implementation of the
specification that shares nothing with the Rust or NumPy engines.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..book import Kind, Settlement
from ..pricing import Greeks
from .checks import black76_arguments

_SQRT2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)

Quintuple = tuple[float, float, float, float, float]


def norm_cdf(x: float) -> float:
    # erfc keeps full relative accuracy in the lower tail, where 0.5 * (1 + erf) cancels.
    return 0.5 * math.erfc(-x / _SQRT2)


def norm_pdf(x: float) -> float:
    return _INV_SQRT_2PI * math.exp(-0.5 * x * x)


def black76_one(is_call: bool, f: float, k: float, t: float, s: float, r: float) -> Quintuple:
    """(price, delta, gamma, vega, theta) of one option, §2.1."""
    disc = math.exp(-r * t)
    sqrt_t = math.sqrt(t)
    sd = s * sqrt_t
    d1 = (math.log(f / k) + 0.5 * s * s * t) / sd
    d2 = d1 - sd
    pdf = norm_pdf(d1)
    if is_call:
        price = disc * (f * norm_cdf(d1) - k * norm_cdf(d2))
        delta = disc * norm_cdf(d1)
    else:
        price = disc * (k * norm_cdf(-d2) - f * norm_cdf(-d1))
        delta = -disc * norm_cdf(-d1)
    gamma = disc * pdf / (f * sd)
    vega = disc * f * pdf * sqrt_t
    theta = r * price - disc * f * pdf * s / (2.0 * sqrt_t)
    return price, delta, gamma, vega, theta


def black76(is_call: Any, forward: Any, strike: Any, t: Any, vol: Any, rate: Any = 0.0) -> Greeks:
    """Black-76 price and Greeks, one Python call per option (the "Python loop" baseline).

    Same arguments, validation and result type as :func:`zkmargin.black76`.
    """
    calls, cols, shape = black76_arguments(is_call, forward, strike, t, vol, rate)
    rows = [
        black76_one(c, f, k, tt, s, r)
        for c, f, k, tt, s, r in zip(calls.tolist(), *(x.tolist() for x in cols), strict=True)
    ]
    out = [np.array([row[j] for row in rows], dtype=np.float64).reshape(shape) for j in range(5)]
    return Greeks(*out)


class Contract:
    """One instrument at today's market, as Python floats.

    ``spot`` is the underlying's index price ``S_u`` and ``fwd`` the instrument's forward
    ``F_i`` (a perpetual's or future's mark; already ``S_u`` for spot).
    """

    __slots__ = (
        "cs",
        "expiry",
        "fwd",
        "inverse",
        "is_call",
        "kind",
        "spot",
        "strike",
        "underlying",
        "vol",
    )

    def __init__(
        self,
        kind: int,
        underlying: int,
        strike: float,
        expiry: float,
        cs: float,
        settlement: int,
        spot: float,
        fwd: float,
        vol: float,
    ) -> None:
        self.kind = kind
        self.underlying = underlying
        self.strike = strike
        self.expiry = expiry
        self.cs = cs
        self.inverse = settlement == Settlement.INVERSE
        self.spot = spot
        self.fwd = fwd
        self.vol = vol
        self.is_call = kind == Kind.CALL

    @property
    def is_option(self) -> bool:
        return self.kind in (Kind.CALL, Kind.PUT)

    def black(self, f: float, s: float, r: float) -> Quintuple:
        return black76_one(self.is_call, f, self.strike, self.expiry, s, r)

    def settlement_value(self, f: float, s: float, r: float) -> float:
        """§2.2: value per contract in the settlement currency at forward ``f`` and vol
        ``s``: USD ``L`` for linear instruments, coins ``V = G / F`` for inverse ones."""
        if self.is_option:
            price = self.black(f, s, r)[0]
            if self.inverse:
                return self.cs * price / f
            return self.cs * price
        if self.inverse:
            return -self.cs / f
        return self.cs * f

    def values(self, r: float) -> tuple[float, float, float, float, float, float]:
        """(mark_price, mtm, delta, gamma, vega, theta) per contract, §2.3."""
        f, sp, cs = self.fwd, self.spot, self.cs
        if self.is_option:
            price, d_b, g_b, v_b, t_b = self.black(f, self.vol, r)
            if self.inverse:
                return (
                    price / f,
                    sp * cs * price / f,
                    sp * cs * (d_b - price / f),
                    sp * cs * (f * g_b - 2.0 * d_b + 2.0 * price / f),
                    sp * cs * v_b / f,
                    sp * cs * t_b / f,
                )
            return price, cs * price, cs * f * d_b, cs * f * f * g_b, cs * v_b, cs * t_b
        mtm = cs * sp if self.kind == Kind.SPOT else 0.0
        if self.inverse:
            return f, mtm, sp * cs / f, -2.0 * sp * cs / f, 0.0, 0.0
        return f, mtm, cs * f, 0.0, 0.0, 0.0

    def notional(self) -> float:
        """``N_i`` of §4: USD face for inverse delta-one contracts, ``cs F`` otherwise
        (``F`` is already the index for spot)."""
        if self.inverse and not self.is_option:
            return self.cs
        return self.cs * self.fwd
