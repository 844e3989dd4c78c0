"""Health, partial liquidation and the batch liquidation scan (docs §10.8)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .. import _arrays, _core
from ..book import Accounts, Instruments
from ..engine import MarginEngine
from ..errors import ParameterError, ShapeError
from ..market import Market
from ..params import MarginParams
from ..results import MarginResult
from ..scenarios import ScenarioTable
from .joint import joint_table
from .risk import LiquidityRule, _threads
from .shift import EngineLike, collateral_value, shocked_market

TARGETS = ("initial", "maintenance")


@dataclass(frozen=True, eq=False)
class LiquidationScan:
    """Liquidatable accounts, largest shortfall first. ``fraction`` of every position of the
    account is closed (pro rata); ``full`` marks the whole-account fallback; ``bad_debt`` is
    what a full close-out leaves uncovered."""

    account: NDArray[np.int64]
    shortfall: NDArray[np.float64]
    fraction: NDArray[np.float64]
    full: NDArray[np.bool_]
    bad_debt: NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.account.shape[0])

    def closed_quantities(
        self, accounts: Accounts
    ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
        """(row index into ``accounts``, instrument, signed quantity to close) for every
        position of every liquidated account, in scan order."""
        starts, ends = accounts.offsets[self.account], accounts.offsets[self.account + 1]
        counts = ends - starts
        first_out = np.cumsum(counts) - counts  # where each account's rows start in the output
        rows = np.repeat(starts - first_out, counts) + np.arange(int(counts.sum()))
        frac = np.repeat(self.fraction, counts)
        return rows, accounts.instrument[rows], frac * accounts.quantity[rows]


def health(margin: MarginResult, extra_requirement: Any = 0.0) -> NDArray[np.float64]:
    """``equity - (maintenance margin + add-ons)``; liquidatable where negative."""
    return margin.equity - (margin.maintenance_margin + np.asarray(extra_requirement, dtype=np.float64))


def liquidation_targets(
    margin: MarginResult, target: str = "initial", buffer: float = 0.0
) -> NDArray[np.float64]:
    """Base requirement a partial liquidation must restore: IM, or ``(1 + buffer) MM``."""
    if target not in TARGETS:
        raise ParameterError(f"target must be one of {TARGETS}, got {target!r}", "target")
    if not (np.isfinite(buffer) and buffer >= 0):
        raise ParameterError("buffer must be finite and >= 0", "buffer")
    if target == "initial":
        return np.ascontiguousarray(margin.initial_margin)
    return np.ascontiguousarray(margin.maintenance_margin * (1.0 + buffer))


def liquidation_scan(
    accounts: Accounts,
    equity: Any,
    maintenance: Any,
    target: Any,
    rule: LiquidityRule,
    penalty: float = 0.025,
    threads: int | None = None,
) -> LiquidationScan:
    """Every account with ``equity < maintenance + add-ons``, ordered by shortfall, with the
    smallest pro-rata close-out fraction ``f`` after which
    ``equity - f (penalty + half spread) notional >= (1 - f) target + add-ons((1 - f) q)``;
    ``f = 1`` (full) when no partial close-out restores it."""
    out = _core.dyn_liquidation_scan(
        _arrays.f64("equity", equity),
        _arrays.f64("maintenance", maintenance),
        _arrays.f64("target", target),
        float(penalty),
        *rule.args(),
        accounts.offsets,
        accounts.instrument,
        accounts.quantity,
        _threads(threads),
    )
    return LiquidationScan(*out)


def scan_margin(
    accounts: Accounts,
    margin: MarginResult,
    rule: LiquidityRule,
    penalty: float = 0.025,
    target: str = "initial",
    buffer: float = 0.0,
    threads: int | None = None,
) -> LiquidationScan:
    """:func:`liquidation_scan` fed from an engine result."""
    tgt = liquidation_targets(margin, target, buffer)
    return liquidation_scan(accounts, margin.equity, margin.maintenance_margin, tgt, rule, penalty, threads)


def liquidation_price(
    instruments: Instruments,
    instrument: Any,
    quantity: Any,
    balances: Any,
    market: Market,
    asset_underlying: Any,
    model: str = "portfolio",
    scenarios: ScenarioTable | None = None,
    params: MarginParams | None = None,
    engine_cls: Callable[..., EngineLike] = MarginEngine,
    max_down: float = 0.95,
    max_up: float = 4.0,
    steps: int = 200,
) -> tuple[float, float]:
    """Underlying prices at which ``equity = MM`` for an account exposed to one underlying:
    the nearest below and above today's index price (``nan`` when there is none within
    ``[-max_down, +max_up]`` relative moves). Today's price for both when the account is
    already at or below maintenance.

    ``equity(m)`` is today's equity plus the account's P&L under the joint move ``m`` (risk
    arrays, §6.2) plus the revaluation of collateral mapped to the underlying; ``MM(m)`` is
    the engine's maintenance margin on the market shifted by ``m``. The root is bracketed
    on a grid of ``steps`` moves per side and refined by 60 bisection steps on ``m``.
    ``engine_cls`` may be the pure-Python ``zkmargin.baseline.MarginEngine``.
    """
    ins = _arrays.i64("instrument", instrument)
    qty = _arrays.f64("quantity", quantity)
    bal = _arrays.f64("balances", balances)
    _arrays.same_length("quantity", qty, ins.shape[0], "instrument")
    if ins.shape[0] == 0:
        raise ShapeError("the account has no positions", "instrument")
    unds = np.unique(instruments.underlying[ins])
    if unds.shape[0] != 1:
        raise ParameterError("the account must be exposed to exactly one underlying", "instrument")
    u = int(unds[0])
    n_und = market.spot.shape[0]
    acc = Accounts(np.array([0, ins.shape[0]]), ins, qty, bal[None, :])
    mm_engine = engine_cls(instruments, scenarios=scenarios, params=params)
    equity0 = float(mm_engine.compute(acc, market, "cross").equity[0])
    coll0 = float(collateral_value(mm_engine, bal[None, :], market)[0])

    def moves(m: NDArray[np.float64]) -> NDArray[np.float64]:
        out = np.zeros((m.shape[0], n_und))
        out[:, u] = m
        return out

    def gaps(m: NDArray[np.float64]) -> NDArray[np.float64]:
        risk = engine_cls(instruments, scenarios=joint_table(moves(m))).risk_arrays(market)
        pnl = qty @ risk[ins]
        out = np.empty(m.shape[0])
        for k in range(m.shape[0]):
            shocked = shocked_market(market, instruments, moves(m[k : k + 1])[0], asset_underlying)
            eq = equity0 + pnl[k] + float(collateral_value(mm_engine, bal[None, :], shocked)[0]) - coll0
            out[k] = eq - float(mm_engine.compute(acc, shocked, model).maintenance_margin[0])
        return out

    spot = float(market.spot[u])
    if gaps(np.zeros(1))[0] <= 0.0:
        return spot, spot
    result = []
    for end in (-max_down, max_up):
        grid = np.linspace(0.0, end, steps + 1)[1:]
        g = gaps(grid)
        hit = np.flatnonzero(g <= 0.0)
        if hit.size == 0:
            result.append(float("nan"))
            continue
        j = int(hit[0])
        good, bad = (0.0 if j == 0 else float(grid[j - 1])), float(grid[j])
        for _ in range(60):
            mid = 0.5 * (good + bad)
            if gaps(np.array([mid]))[0] <= 0.0:
                bad = mid
            else:
                good = mid
        result.append(spot * (1.0 + bad))
    return result[0], result[1]
