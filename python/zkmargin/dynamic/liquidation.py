"""Health, partial liquidation and the batch liquidation scan (docs §10.8)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from .. import _args, _arrays
from .._core import dynamic as _dynamic
from ..book import Accounts, Instruments, user_errors
from ..engine import MarginEngine
from ..errors import ParameterError, ShapeError
from ..market import Market
from ..params import MarginParams
from ..results import MarginResult
from ..scenarios import ScenarioTable
from .joint import joint_table
from .risk import LiquidityRule
from .shift import EngineLike, collateral_value, shocked_market

#: ``LiquidationScan.method`` codes: nothing closed (target already met), greedy position
#: selection, pro rata, whole-account fallback.
METHODS = ("none", "greedy", "pro_rata", "full")

#: The core's tolerances of the scan (docs §10.8): a root search stops when its bracket is
#: ``FRACTION_TOLERANCE`` wide or after ``MAX_ITERATIONS`` rounds; greedy scores within
#: ``TIE`` (relative) go to the lower row; at most ``MAX_PASSES`` minimality passes.
FRACTION_TOLERANCE: float = _dynamic.FRACTION_TOLERANCE
MAX_ITERATIONS: int = _dynamic.MAX_ITERATIONS
TIE: float = _dynamic.TIE
MAX_PASSES: int = _dynamic.MAX_PASSES


@dataclass(frozen=True, eq=False)
class LiquidationScan:
    """Liquidatable accounts, largest shortfall first, with their close-outs (docs §10.8).

    Per liquidation ``k``: ``account``, ``shortfall``, ``full`` (every row closed),
    ``bad_debt`` (what the whole-account fallback leaves uncovered), ``closed_notional``
    (USD) and ``method`` (an index into :data:`METHODS`). The close-out is CSR: for ``p`` in
    ``row_offsets[k]:row_offsets[k + 1]``, fraction ``close_fraction[p]`` of book row
    ``rows[p]`` is closed; every row of the account is listed, in book order."""

    account: NDArray[np.int64]
    shortfall: NDArray[np.float64]
    full: NDArray[np.bool_]
    bad_debt: NDArray[np.float64]
    closed_notional: NDArray[np.float64]
    method: NDArray[np.uint8]
    row_offsets: NDArray[np.int64]
    rows: NDArray[np.int64]
    close_fraction: NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.account.shape[0])

    def method_names(self) -> list[str]:
        """The method of each liquidation as a name from :data:`METHODS`."""
        return [METHODS[m] for m in self.method.tolist()]

    def closed_quantities(
        self, accounts: Accounts
    ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
        """(row index into ``accounts``, instrument, signed quantity to close) for every
        position of every liquidated account, in scan order."""
        return self.rows, accounts.instrument[self.rows], self.close_fraction * accounts.quantity[self.rows]


class _ScanRule(NamedTuple):
    """The scan's rule as ``zkmargin._core.dynamic.liquidation_scan`` reads it."""

    model: str
    target: str
    buffer: float
    penalty: float
    liquidity: LiquidityRule


def health(margin: MarginResult, extra_requirement: Any = 0.0) -> NDArray[np.float64]:
    """``equity - (maintenance margin + add-ons)``; liquidatable where negative."""
    return margin.equity - (margin.maintenance_margin + np.asarray(extra_requirement, dtype=np.float64))


def scan_margin(
    engine: MarginEngine,
    accounts: Accounts,
    market: Market,
    rule: LiquidityRule,
    model: str = "portfolio",
    target: str = "initial",
    buffer: float = 0.0,
    penalty: float = 0.025,
    extra_equity: Any = None,
    threads: int | None = None,
) -> LiquidationScan:
    """Every account with ``equity < MM + add-ons`` under ``model``, ordered by shortfall,
    with the close-out that restores ``equity - costs >= target + add-ons`` on the kept book
    (``target`` IM, or ``(1 + buffer) MM``; recomputed by ``engine``, so netting counts).

    Each account gets the smaller (in notional closed) of a greedy position selection and
    the pro-rata close-out, each then lowered row by row to a coordinate-minimal one; the
    whole account when neither restores health (docs §10.8). ``extra_equity`` (per
    account) is added to the engine's equity, e.g. cash realised by earlier close-outs.
    Inputs are not modified."""
    if not isinstance(engine, MarginEngine):
        raise ParameterError("engine must be a zkmargin.MarginEngine", "engine")
    engine._check_model(model)
    _args.instance("accounts", accounts, Accounts)
    _args.instance("market", market, Market)
    _args.instance("rule", rule, LiquidityRule)
    _args.instance("target", target, str)
    if market.rate_curve is not None or (market.surfaces is not None and any(market.surfaces)):
        # The scan's Rust search prices per-option vols and one rate; refuse, not ignore.
        raise ParameterError(
            "liquidation scans take neither vol surfaces nor a rate curve (market.surfaces, "
            "market.rate_curve)",
            "surfaces" if market.rate_curve is None else "rate_curve",
        )
    extra = None if extra_equity is None else _arrays.f64("extra_equity", extra_equity)
    with user_errors(engine.instruments, accounts):
        out = _dynamic.liquidation_scan(
            engine._native,
            market,
            accounts,
            _ScanRule(model, target, _args.number("buffer", buffer), _args.number("penalty", penalty), rule),
            extra,
            engine.threads if threads is None else threads,
        )
    return LiquidationScan(*out)


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
