"""Backtests of margin policies (docs §10.10): static vs dynamic margin over a price path,
with Kupiec's proportion-of-failures test."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .. import _args, _arrays, _core
from .._progress import progress
from ..book import Accounts, Instruments
from ..engine import MarginEngine
from ..errors import ParameterError, ShapeError
from ..market import Market
from ..scenarios import span_scenarios
from .joint import joint_table
from .risk import scenario_pnl
from .shift import shocked_market
from .volatility import (
    annualise,
    apc_volatility,
    cap_path,
    ewma_volatility,
    log_returns,
    scan_ranges,
    span_table_from_ranges,
)


def kupiec(n: int, breaches: int, p: float) -> tuple[float, float]:
    """Kupiec's POF likelihood ratio for ``breaches`` exceedances in ``n`` observations at
    expected breach probability ``p``, and its chi-square(1) p-value ``erfc(sqrt(LR / 2))``.

    ``LR = -2 [ (n-x) ln(1-p) + x ln p - (n-x) ln(1-x/n) - x ln(x/n) ]`` with ``0 ln 0 = 0``."""
    if not isinstance(n, int) or n < 1:
        raise ParameterError("n must be an int >= 1", "n")
    if not isinstance(breaches, int) or not 0 <= breaches <= n:
        raise ParameterError("breaches must be an int in [0, n]", "breaches")
    p = _args.number("p", p)
    if not (math.isfinite(p) and 0.0 < p < 1.0):
        raise ParameterError(f"p must be in (0, 1), got {p!r}", "p")
    x = breaches

    def loglik(prob: float) -> float:
        # 0 * log(0) = 0: a breach-free (or all-breach) sample has a finite likelihood.
        a = (n - x) * math.log1p(-prob) if n - x else 0.0
        b = x * math.log(prob) if x else 0.0
        return a + b

    lr = -2.0 * (loglik(p) - loglik(x / n)) if 0 < x < n else -2.0 * loglik(p)
    return lr, math.erfc(math.sqrt(max(lr, 0.0) / 2.0))


@dataclass(frozen=True, eq=False)
class PolicyBacktest:
    """One margin policy over a price path: per evaluation day and account, the initial
    margin held and the loss realised over the next ``horizon`` days."""

    name: str
    requirement: NDArray[np.float64]  # days x A
    loss: NDArray[np.float64]  # days x A
    expected_rate: float

    @property
    def breaches(self) -> int:
        """Account-days whose realised loss exceeded the margin held."""
        return int((self.loss > self.requirement).sum())

    @property
    def observations(self) -> int:
        """Account-days observed."""
        return int(self.loss.size)

    @property
    def breach_rate(self) -> float:
        """Breaches per observation."""
        return self.breaches / self.observations

    @property
    def capital(self) -> float:
        """Mean total margin held per day."""
        return float(self.requirement.sum(axis=1).mean())

    def kupiec(self) -> tuple[float, float]:
        """Kupiec's proportion-of-failures test at the expected rate: (LR statistic, p-value)."""
        return kupiec(self.observations, self.breaches, self.expected_rate)


def backtest(
    instruments: Instruments,
    accounts: Accounts,
    market: Market,
    prices: Any,
    asset_underlying: Any,
    horizon: int = 2,
    warmup: int = 60,
    static_range: float = 0.16,
    lam: float = 0.94,
    k: float = 3.5,
    stress_weight: float = 0.25,
    max_rise: float = 0.25,
    expected_rate: float = 0.01,
    threads: int | None = None,
) -> dict[str, PolicyBacktest]:
    """Static vs dynamic margin over a spot path ``prices`` (``T x U``; row 0 is ``market``).

    Every day ``t >= warmup`` with ``t + horizon < T``, the market is today's shifted to
    ``prices[t]`` (spots, forwards and mapped collateral; vols and expiries unchanged) and
    each account's portfolio IM is computed under

    - ``static``: SPAN table with the fixed ``static_range`` for every underlying;
    - ``dynamic``: :func:`dynamic_span_table` of the anti-procyclical volatility
      ``max(0, (1 - w) sigma_t + w max_{s <= t} sigma_s)`` (EWMA through day ``t``,
      annualised), with the scan ranges rate-limited by :func:`cap_path` (``max_rise``).

    The realised loss is ``-P&L`` of the book from ``prices[t]`` to ``prices[t + horizon]``,
    priced by the core's risk arrays. No look-ahead: day ``t`` uses returns up to ``t``.
    """
    px = _arrays.f64("prices", prices, ndim=2)
    n_days, n_und = px.shape
    if n_und != market.spot.shape[0]:
        raise ShapeError("prices must have one column per underlying", "prices")
    if not np.allclose(px[0], market.spot, rtol=1e-12):
        raise ParameterError("prices[0] must equal market.spot", "prices")
    if warmup < 2 or warmup + horizon >= n_days:
        raise ShapeError(
            f"history too short: {n_days} days for warmup {warmup} + horizon {horizon}", "prices"
        )
    th = _core.resolve_threads(threads)
    sigma = annualise(ewma_volatility(log_returns(px), lam))  # row t-1: through day t
    stressed = np.maximum.accumulate(sigma, axis=0)
    days = np.arange(warmup, n_days - horizon)
    apc = np.array([apc_volatility(sigma[t - 1], 0.0, stressed[t - 1], stress_weight) for t in days])
    ranges = cap_path(np.ascontiguousarray([scan_ranges(a, k, horizon / 365.0) for a in apc]), max_rise)
    static = span_scenarios(n_und, scan_range=static_range)
    req = {"static": np.empty((days.size, len(accounts))), "dynamic": np.empty((days.size, len(accounts)))}
    loss = np.empty((days.size, len(accounts)))
    for row, t in enumerate(progress(days.tolist(), "backtest days", total=days.size)):
        mkt = shocked_market(market, instruments, px[t] / px[0] - 1.0, asset_underlying)
        req["static"][row] = (
            MarginEngine(instruments, scenarios=static, threads=th).compute(accounts, mkt).initial_margin
        )
        table = span_table_from_ranges(ranges[row])
        req["dynamic"][row] = (
            MarginEngine(instruments, scenarios=table, threads=th).compute(accounts, mkt).initial_margin
        )
        move = px[t + horizon] / px[t] - 1.0
        risk = MarginEngine(instruments, scenarios=joint_table(move[None, :]), threads=th).risk_arrays(mkt)
        loss[row] = -scenario_pnl(risk, accounts, th)[:, 0]
    return {name: PolicyBacktest(name, r, loss, expected_rate) for name, r in req.items()}
