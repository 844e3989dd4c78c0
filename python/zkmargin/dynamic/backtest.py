"""Backtests of margin policies (docs §10.10): Kupiec's proportion-of-failures test."""

from __future__ import annotations

import math

from ..errors import ParameterError


def kupiec(n: int, breaches: int, p: float) -> tuple[float, float]:
    """Kupiec's POF likelihood ratio for ``breaches`` exceedances in ``n`` observations at
    expected breach probability ``p``, and its chi-square(1) p-value ``erfc(sqrt(LR / 2))``.

    ``LR = -2 [ (n-x) ln(1-p) + x ln p - (n-x) ln(1-x/n) - x ln(x/n) ]`` with ``0 ln 0 = 0``."""
    if not isinstance(n, int) or n < 1:
        raise ParameterError("n must be an int >= 1", "n")
    if not isinstance(breaches, int) or not 0 <= breaches <= n:
        raise ParameterError("breaches must be an int in [0, n]", "breaches")
    if not (math.isfinite(p) and 0.0 < p < 1.0):
        raise ParameterError(f"p must be in (0, 1), got {p!r}", "p")
    from .reference import (
        kupiec as _kupiec,
    )  # scalar arithmetic: the reference is the implementation

    return _kupiec(n, breaches, p)
