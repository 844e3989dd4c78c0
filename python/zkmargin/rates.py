"""A zero-rate curve by expiry (docs/margin-model.md §1.5).

Zero rates ``r_j`` at expiries ``T_1 < ... < T_n`` (years, > 0, continuously
compounded). Between nodes ``r(T) T`` (minus the log discount factor) is linear in ``T``,
i.e. the forward rate is constant between nodes; before ``T_1`` the zero rate is ``r_1``
and after ``T_n`` it is ``r_n`` (flat). :meth:`rate` evaluates it (with NumPy) for the Rust core
and the NumPy engine, ``zkmargin.baseline.curves.curve_rate`` (pure Python) for the
reference; the engines discount each option at ``r(T_i)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import _arrays
from .errors import ExpiredError, NonFiniteError, ParameterError


@dataclass(frozen=True, eq=False)
class RateCurve:
    """Zero rates ``zero_rate[j]`` at ``expiry[j]``; see the module docstring."""

    expiry: NDArray[np.float64]
    zero_rate: NDArray[np.float64]

    def __init__(self, expiry: Any, zero_rate: Any) -> None:
        t = _arrays.f64("expiry", expiry)
        r = _arrays.f64("zero_rate", zero_rate)
        _arrays.same_length("zero_rate", r, t.shape[0], "expiry")
        if t.size == 0:
            raise ParameterError("expiry: a rate curve needs at least one node", "expiry")
        for name, x in (("expiry", t), ("zero_rate", r)):
            bad = np.flatnonzero(~np.isfinite(x))
            if bad.size:
                raise NonFiniteError(f"{name}[{int(bad[0])}]: must be finite", name, int(bad[0]))
        if t[0] <= 0.0:
            raise ExpiredError("expiry[0]: rate curve expiries must be > 0", "expiry", 0)
        bad = np.flatnonzero(np.diff(t) <= 0.0)
        if bad.size:
            raise ParameterError("expiry: nodes must be strictly increasing", "expiry", int(bad[0]) + 1)
        object.__setattr__(self, "expiry", t)
        object.__setattr__(self, "zero_rate", r)

    def rate(self, t: Any) -> NDArray[np.float64]:
        """Zero rate at each ``t`` (any shape, ``t >= 0``)."""
        tt = np.asarray(t, dtype=np.float64)
        e, r = self.expiry, self.zero_rate
        clipped = np.clip(tt, e[0], e[-1])
        rt = np.interp(clipped, e, r * e)
        out: NDArray[np.float64] = np.where(tt <= e[0], r[0], np.where(tt >= e[-1], r[-1], rt / clipped))
        return out
