"""Named stress scenarios and liquidation cascades (docs §10.9).

Both reuse the core for every number: instrument P&L comes from the engine's risk arrays
(§6.2), requirements from ``MarginEngine.compute`` on a shocked market, collateral from
the same engine on the balances alone, and partial-liquidation sizes from the Rust scan.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .. import _args, _arrays, _core
from ..book import Accounts, Instruments
from ..engine import MarginEngine
from ..errors import ConvergenceWarning, ParameterError, ShapeError
from ..market import Market
from ..params import MarginParams
from ..scenarios import ScenarioTable
from .liquidation import scan_margin
from .risk import LiquidityRule, scenario_pnl
from .shift import collateral_value, shocked_market


@dataclass(frozen=True)
class StressScenario:
    """A named joint move: relative price move per underlying (or one for all) and an
    implied-vol multiplier (``>= 0.05``; 2.0 doubles every vol)."""

    name: str
    move: float | tuple[float, ...]
    vol_multiplier: float = 1.0

    def moves(self, n_underlyings: int) -> NDArray[np.float64]:
        """The relative move of each of ``n_underlyings`` underlyings (validated)."""
        m = _arrays.per_element("move", self.move, n_underlyings, "number of underlyings")
        if not np.all(np.isfinite(m)) or np.any(m <= -1.0):
            raise ParameterError(f"stress {self.name!r}: moves must be finite and > -1", "move")
        vm = _args.number("vol_multiplier", self.vol_multiplier)
        if not (np.isfinite(vm) and vm >= 0.05):
            raise ParameterError(f"stress {self.name!r}: vol_multiplier must be >= 0.05", "vol_multiplier")
        return np.array(m)


#: A small library in the spirit of March 2020 and May 2021 crypto crashes.
DEFAULT_STRESSES = (
    StressScenario("crash -50%, vol x2", -0.5, 2.0),
    StressScenario("crash -30%, vol x1.5", -0.3, 1.5),
    StressScenario("squeeze +50%, vol x1.5", 0.5, 1.5),
    StressScenario("vol crush -20% flat", 0.0, 0.8),
)


def stress_table(
    stresses: tuple[StressScenario, ...] | list[StressScenario], n_underlyings: int
) -> ScenarioTable:
    """The scenarios as a §6.1 table whose vol rule reproduces each multiplier exactly:
    powers 0 (``mult = 1``), ``min_vol_up = 0``, ``vol_down = 1`` and ``vol_up`` the largest
    rise, so ``v = (x - 1) / vol_up`` for ``x > 1`` and ``v = x - 1`` for ``x < 1``."""
    if not stresses:
        raise ShapeError("at least one stress scenario is needed", "stresses")
    moves = np.array([s.moves(n_underlyings) for s in stresses])
    mult = np.array([s.vol_multiplier for s in stresses])
    vol_up = max(float(mult.max()) - 1.0, 1.0)
    levels = np.where(mult > 1.0, (mult - 1.0) / vol_up, mult - 1.0)
    shocks = np.repeat(levels[:, None], n_underlyings, axis=1)
    return ScenarioTable(
        moves,
        shocks,
        np.ones_like(moves),
        vol_up=vol_up,
        vol_down=1.0,
        power_short=0.0,
        power_long=0.0,
        min_vol_up=0.0,
    )


@dataclass(frozen=True, eq=False)
class StressReport:
    """Equity of every account after each named stress scenario."""

    names: list[str]
    #: per account and scenario, equity after the shock (``A x K``)
    equity_after: NDArray[np.float64]
    #: accounts with negative equity, per scenario
    underwater: NDArray[np.int64]
    #: total negative equity (bad debt if every underwater account is closed out), per scenario
    shortfall: NDArray[np.float64]


def stress_test(
    instruments: Instruments,
    accounts: Accounts,
    market: Market,
    asset_underlying: Any,
    stresses: tuple[StressScenario, ...] | list[StressScenario] = DEFAULT_STRESSES,
    threads: int | None = None,
) -> StressReport:
    """Apply every named scenario to every account: equity after = today's equity + the
    instruments' scenario P&L (§6.2 risk arrays) + the change in haircut collateral value."""
    n_und = market.spot.shape[0]
    table = stress_table(stresses, n_und)
    eng = MarginEngine(instruments, scenarios=table, threads=_core.resolve_threads(threads))
    equity = eng.compute(accounts, market, "cross").equity
    pnl = scenario_pnl(eng.risk_arrays(market), accounts, threads)
    coll0 = collateral_value(eng, accounts.balances, market)
    after = np.empty_like(pnl)
    for k, s in enumerate(stresses):
        shocked = shocked_market(market, instruments, table.moves[k], asset_underlying, s.vol_multiplier)
        after[:, k] = equity + pnl[:, k] + (collateral_value(eng, accounts.balances, shocked) - coll0)
    return StressReport(
        [s.name for s in stresses], after, (after < 0).sum(axis=0), np.maximum(-after, 0.0).sum(axis=0)
    )


@dataclass(frozen=True, eq=False)
class CascadeResult:
    """The path of a liquidation cascade (:func:`cascade`). ``converged`` is ``False`` when
    it stopped at ``max_rounds`` while its last round still liquidated accounts, so the
    path is cut short and the totals are lower bounds."""

    mode: str
    #: cumulative move of the crashed underlying after each round (round 0 = the shock)
    moves: list[float]
    #: accounts liquidated (partially or fully) per round
    liquidations: list[int]
    liquidated_notional: float
    bad_debt: float
    #: quantities left with the accounts and taken over by the liquidator (per row / instrument)
    quantity_after: NDArray[np.float64]
    liquidator_position: NDArray[np.float64]
    penalties: float = 0.0
    rounds: int = field(default=0)
    converged: bool = True


def cascade(
    instruments: Instruments,
    accounts: Accounts,
    market: Market,
    asset_underlying: Any,
    rule: LiquidityRule,
    underlying: int,
    shock: float,
    depth: float,
    impact: float = 1.0,
    mode: str = "partial",
    penalty: float = 0.02,
    params: MarginParams | None = None,
    max_rounds: int = 50,
    threads: int | None = None,
) -> CascadeResult:
    """Liquidation cascade on one underlying after an initial relative move ``shock``.

    Each round: value every account at the current move (today's equity + instrument P&L
    from the risk arrays + collateral revaluation + realised P&L and costs of earlier
    close-outs), take maintenance and initial margin from the engine on the shocked market,
    run the liquidation scan (``mode="partial"``) or close every liquidatable account in full
    (``mode="full"``), hand the closed quantities to a liquidator, and move the price by
    ``exp(-impact * sign(D) * sqrt(|D| / depth))`` where ``D`` is the USD delta closed (closing
    longs sells). Stops when a round liquidates nobody (``converged``), or after
    ``max_rounds``; stopping there while still liquidating sets ``converged=False`` and
    issues a :class:`~zkmargin.errors.ConvergenceWarning`.
    """
    if mode not in ("partial", "full"):
        raise ParameterError("mode must be 'partial' or 'full'", "mode")
    if not (np.isfinite(depth) and depth > 0):
        raise ParameterError("depth must be finite and > 0", "depth")
    if not isinstance(max_rounds, int) or max_rounds < 1:
        raise ParameterError("max_rounds must be an int >= 1", "max_rounds")
    n_und = market.spot.shape[0]
    if not 0 <= underlying < n_und:
        raise ParameterError("underlying out of range", "underlying")
    th = _core.resolve_threads(threads)
    base_eng = MarginEngine(instruments, params=params, threads=th)
    equity0 = base_eng.compute(accounts, market, "cross").equity
    coll0 = collateral_value(base_eng, accounts.balances, market)
    qty = accounts.quantity.copy()
    row_account = np.repeat(np.arange(len(accounts)), np.diff(accounts.offsets))
    liquidator = np.zeros(len(instruments))
    realised = np.zeros(len(accounts))
    closed_out = np.zeros(len(accounts), dtype=bool)
    level = 1.0 + shock
    moves, counts = [], []
    notional = bad_debt = penalties = 0.0
    rounds = 0
    while rounds < max_rounds:
        rounds += 1
        move = np.zeros(n_und)
        move[underlying] = level - 1.0
        book = accounts.with_quantity(qty)
        table = ScenarioTable(move[None, :], np.zeros((1, n_und)), np.ones((1, n_und)))
        pnl_eng = MarginEngine(instruments, scenarios=table, params=params, threads=th)
        risk = pnl_eng.risk_arrays(market)
        shocked = shocked_market(market, instruments, move, asset_underlying)
        equity = (
            equity0
            + scenario_pnl(risk, book, th)[:, 0]
            + realised
            + (collateral_value(base_eng, accounts.balances, shocked) - coll0)
        )
        # The scan values the book itself; the cascade's own accounting (realised P&L and
        # costs of earlier close-outs) enters as the difference from that equity.
        engine_equity = base_eng.compute(book, shocked, "portfolio").equity
        scan = scan_margin(
            base_eng, book, shocked, rule, penalty=penalty, extra_equity=equity - engine_equity, threads=th
        )
        moves.append(level - 1.0)
        live = ~closed_out[scan.account]
        acc = scan.account[live]
        counts.append(int(acc.shape[0]))
        if acc.shape[0] == 0:
            break
        per_liq = np.diff(scan.row_offsets)
        live_rows = np.repeat(live, per_liq)
        f_row = np.zeros(qty.shape[0])
        f_row[scan.rows[live_rows]] = 1.0 if mode == "full" else scan.close_fraction[live_rows]
        full = np.zeros(len(accounts), dtype=bool)
        full[acc] = True if mode == "full" else scan.full[live]
        closed = f_row * qty
        vals = base_eng.instrument_values(shocked)
        ins = accounts.instrument
        closed_usd = np.abs(closed) * rule.notional[ins]
        spread = np.bincount(row_account, closed_usd * rule.half_spread[ins], minlength=len(accounts))
        pen_due = np.bincount(row_account, closed_usd * penalty, minlength=len(accounts))
        # The penalty is paid only out of what is left after the spread (as in the scan).
        pen_paid = np.minimum(pen_due, np.maximum(equity - spread, 0.0))
        bad_debt += float(np.maximum(spread - equity, 0.0)[full].sum())
        # The P&L of the closed part up to this move is realised; the costs are paid.
        realised += np.bincount(row_account, closed * risk[ins, 0], minlength=len(accounts))
        realised -= spread + pen_paid
        penalties += float(pen_paid.sum())
        np.add.at(liquidator, ins, closed)
        qty = qty - closed
        notional += float(closed_usd.sum())
        closed_out |= full
        # USD delta on the crashed underlying handed over: closing longs sells.
        on_und = instruments.underlying[accounts.instrument] == underlying
        d_closed = float((closed * vals.delta[accounts.instrument])[on_und].sum())
        # Square-root impact, applied multiplicatively so the price stays positive.
        level *= float(np.exp(-impact * np.sign(d_closed) * np.sqrt(abs(d_closed) / depth)))
    converged = counts[-1] == 0
    if not converged:
        warnings.warn(
            f"cascade stopped at max_rounds={max_rounds} while still liquidating "
            f"({counts[-1]} accounts in the last round); raise max_rounds for the full path",
            ConvergenceWarning,
            stacklevel=2,
        )
    return CascadeResult(
        mode, moves, counts, notional, bad_debt, qty, liquidator, penalties, rounds, converged=converged
    )
