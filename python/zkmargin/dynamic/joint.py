"""Joint scenarios across underlyings (docs §10.4): historical simulation, filtered
historical simulation and seeded Monte Carlo. Each returns ``S x U`` relative moves; wrap
them with :func:`joint_table` to feed the engine (``aggregation="joint"`` or the fused
VaR/ES of :mod:`zkmargin.dynamic.risk`)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from .. import _args, _arrays
from .._core import dynamic as _dynamic
from ..errors import ParameterError
from ..scenarios import ScenarioTable
from .volatility import DEFAULT_LAMBDA, _matrix

#: Added to the correlation matrix's diagonal before its Cholesky factorisation (the
#: core's), so a PSD matrix of rank below ``n`` factorises (docs §10.4.3).
PSD_JITTER: float = _dynamic.PSD_JITTER


def _horizon(horizon: int) -> int:
    if not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise ParameterError(f"horizon must be an int >= 1 (periods), got {horizon!r}", "horizon")
    return int(horizon)


def historical_scenarios(returns: Any, horizon: int = 1) -> NDArray[np.float64]:
    """Overlapping ``horizon``-period joint moves ``exp(sum of log returns) - 1``."""
    return _arrays.finite_outputs(
        "historical", _dynamic.historical(_matrix("returns", returns), _horizon(horizon))
    )


def filtered_historical_scenarios(
    returns: Any, lam: float = DEFAULT_LAMBDA, horizon: int = 1
) -> NDArray[np.float64]:
    """Historical returns rescaled to today's EWMA volatility:
    ``r[t] * sigma_now / sigma[t-1]`` (``sigma[t-1]`` the forecast made before ``r[t]``)."""
    lam = _args.number("lam", lam)
    out = _dynamic.filtered_historical(_matrix("returns", returns), lam, _horizon(horizon))
    return _arrays.finite_outputs("filtered_historical", out)


def monte_carlo_scenarios(
    sigma: Any, correlation: Any, horizon: float, n_scenarios: int, seed: int
) -> NDArray[np.float64]:
    """Correlated lognormal moves: ``z = L eps`` (Cholesky of the correlation matrix, which
    must be symmetric PSD with a unit diagonal), ``m = exp(sigma sqrt(h) z - sigma^2 h/2) - 1``.
    ``sigma`` annualised, ``horizon`` in years. The generator (SplitMix64 + Box-Muller) is
    specified in docs §10.4.3, so ``seed`` reproduces the table on any platform."""
    sig = _arrays.f64("sigma", np.atleast_1d(sigma))
    rho = _arrays.f64("correlation", correlation, ndim=2)
    if not isinstance(n_scenarios, (int, np.integer)) or n_scenarios < 1:
        raise ParameterError("n_scenarios must be an int >= 1", "n_scenarios")
    if not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**64:
        raise ParameterError("seed must be an int in [0, 2**64)", "seed")
    out = _dynamic.monte_carlo(sig, rho, _args.number("horizon", horizon), int(n_scenarios), int(seed))
    return _arrays.finite_outputs("monte_carlo", out)


def joint_table(moves: Any) -> ScenarioTable:
    """A custom scenario table of joint moves: vol unchanged, every weight 1."""
    m = _arrays.f64("moves", moves, ndim=2)
    return ScenarioTable(m, np.zeros_like(m), np.ones_like(m))
