"""Volatility estimation, dynamic scan ranges and anti-procyclicality (docs §10.1-§10.3).

Price histories are time-major ``T x U`` arrays: row ``t`` holds every underlying's price
at observation ``t``. All arithmetic runs in the Rust core; ``zkmargin.baseline.dynamic``
implements the same formulas in pure Python.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from .. import _args, _arrays
from .._core import dynamic as _dynamic
from ..errors import ParameterError
from ..scenarios import ScenarioTable, span_scenarios

#: RiskMetrics daily decay.
DEFAULT_LAMBDA = 0.94
#: Crypto trades every day of the year.
PERIODS_PER_YEAR = 365.0


def _matrix(field: str, x: Any) -> NDArray[np.float64]:
    """A 2-D float array; a 1-D history is one underlying (a ``T x 1`` column)."""
    arr = _arrays.f64(field, x, ndim=np.ndim(x))
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    return _arrays.f64(field, arr, ndim=2)


def log_returns(prices: Any) -> NDArray[np.float64]:
    """``ln(P[t+1] / P[t])`` per underlying, ``(T-1) x U``. Needs ``T >= 2`` positive prices."""
    return _arrays.finite_outputs("log_returns", _dynamic.log_returns(_matrix("prices", prices)))


def ewma_volatility(returns: Any, lam: float = DEFAULT_LAMBDA) -> NDArray[np.float64]:
    """RiskMetrics EWMA volatility per period after each return (``n x U``); the last row is
    today's estimate. ``sigma2[0] = r[0]^2``, ``sigma2[t] = lam sigma2[t-1] + (1-lam) r[t]^2``."""
    return _arrays.finite_outputs(
        "ewma_vol", _dynamic.ewma_vol(_matrix("returns", returns), _args.number("lam", lam))
    )


def rolling_volatility(returns: Any, window: int) -> NDArray[np.float64]:
    """Sample standard deviation (ddof=1) over each window of ``window`` returns."""
    if not isinstance(window, (int, np.integer)) or window < 2:
        raise ParameterError(f"window must be an int >= 2, got {window!r}", "window")
    return _arrays.finite_outputs(
        "rolling_vol", _dynamic.rolling_vol(_matrix("returns", returns), int(window))
    )


def annualise(vol: Any, periods_per_year: float = PERIODS_PER_YEAR) -> NDArray[np.float64]:
    """``vol * sqrt(periods_per_year)``, any shape."""
    arr = np.ascontiguousarray(_arrays.f64("vol", vol, ndim=np.ndim(vol)))
    periods = _args.number("periods_per_year", periods_per_year)
    return _arrays.finite_outputs("annualise", _dynamic.annualise(arr.ravel(), periods)).reshape(arr.shape)


def scan_ranges(
    sigma: Any, k: float = 3.5, horizon: float = 2.0 / 365.0, floor: float = 0.05, cap: float = 0.45
) -> NDArray[np.float64]:
    """Price scan range per underlying: ``clamp(k * sigma * sqrt(horizon), floor, cap)`` with
    ``sigma`` annualised and ``horizon`` in years (the liquidation horizon)."""
    return _arrays.finite_outputs(
        "scan_ranges",
        _dynamic.scan_ranges(
            _arrays.f64("sigma", np.atleast_1d(sigma)),
            _args.number("k", k),
            _args.number("horizon", horizon),
            _args.number("floor", floor),
            _args.number("cap", cap),
        ),
    )


def apc_volatility(
    current: Any, lookback: Any = 0.0, stressed: Any = 0.0, stress_weight: float = 0.25
) -> NDArray[np.float64]:
    """Anti-procyclical volatility ``max(lookback, (1 - w) current + w stressed)``.

    ``lookback`` is the volatility over a long look-back (EMIR's 10-year floor) and
    ``stressed`` the volatility of the worst past period (EMIR's 25% weight on stressed
    observations); pass 0 to switch either tool off."""
    cur = _arrays.f64("current", np.atleast_1d(current))
    lb = _arrays.per_element("lookback", lookback, cur.shape[0], "current")
    st = _arrays.per_element("stressed", stressed, cur.shape[0], "current")
    return _arrays.finite_outputs(
        "apc_vol", _dynamic.apc_vol(cur, lb, st, _args.number("stress_weight", stress_weight))
    )


def cap_path(targets: Any, max_rise: float = 0.25) -> NDArray[np.float64]:
    """Rate-limit a time-major path of requirements or ranges: ``out[t] = min(target[t],
    out[t-1] * (1 + max_rise))``. Decreases are immediate."""
    arr = _arrays.f64("targets", targets, ndim=np.ndim(targets))
    out = _dynamic.cap_path(_matrix("targets", arr), _args.number("max_rise", max_rise))
    _arrays.finite_output("cap_path", out)
    return out.reshape(arr.shape)


def span_table_from_ranges(
    ranges: Any,
    vol_range_at_reference: float = 0.25,
    reference_range: float = 0.16,
    vol_cap: float = 1.0,
) -> ScenarioTable:
    """SPAN's 16-scenario table with price range ``R_u`` per underlying and vol shocks
    scaled likewise: ``V_u = min(vol_cap, vol_range_at_reference * R_u / reference_range)``.

    The table's ``vol_up = vol_down = max_u V_u`` and each underlying's shock levels are
    multiplied by ``V_u / max V``, so underlying ``u`` sees exactly ``vol * (1 +- V_u)``."""
    r = _arrays.f64("ranges", np.atleast_1d(ranges))
    for name, value in (
        ("vol_range_at_reference", vol_range_at_reference),
        ("reference_range", reference_range),
        ("vol_cap", vol_cap),
    ):
        if not (np.isfinite(value) and value > 0):
            raise ParameterError(f"{name} must be finite and > 0, got {value!r}", name)
    vranges = np.minimum(vol_cap, vol_range_at_reference * r / reference_range)
    vmax = float(vranges.max())
    base = span_scenarios(r.shape[0], scan_range=r, vol_range=vmax)
    shocks = np.ascontiguousarray(base.vol_shocks * (vranges / vmax))
    return ScenarioTable(
        base.moves,
        shocks,
        base.weights,
        vol_up=vmax,
        vol_down=vmax,
        power_short=0.0,
        power_long=0.0,
        min_vol_up=0.0,
    )


def dynamic_span_table(
    sigma: Any,
    k: float = 3.5,
    horizon: float = 2.0 / 365.0,
    floor: float = 0.05,
    cap: float = 0.45,
    vol_range_at_reference: float = 0.25,
    reference_range: float = 0.16,
    vol_cap: float = 1.0,
) -> ScenarioTable:
    """:func:`span_table_from_ranges` of :func:`scan_ranges` of annualised ``sigma``."""
    ranges = scan_ranges(sigma, k, horizon, floor, cap)
    return span_table_from_ranges(ranges, vol_range_at_reference, reference_range, vol_cap)
