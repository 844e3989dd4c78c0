"""Fused per-account VaR / expected shortfall, the SPAN 2-style combination, liquidity and
concentration add-ons and liquidation-horizon haircuts (docs §10.5-§10.7)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from .. import _args, _arrays
from .._core import dynamic as _dynamic
from ..book import Accounts, Instruments, user_errors
from ..engine import MarginEngine
from ..market import Market
from .joint import joint_table


def joint_risk_arrays(
    instruments: Instruments, market: Market, moves: Any, threads: int | None = None
) -> NDArray[np.float64]:
    """``I x S`` P&L per contract under each joint move, priced by the core engine (§6.2)."""
    eng = MarginEngine(instruments, scenarios=joint_table(moves), threads=threads)
    return eng.risk_arrays(market)


def var_es(
    risk_arrays: Any, accounts: Accounts, confidence: float = 0.99, threads: int | None = None
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per-account (VaR, ES) of the loss ``-sum_rows q R[i, s]`` at ``confidence``.

    VaR is the ``k``-th largest loss and ES the mean of the ``k`` largest, with
    ``k = max(1, ceil((1 - confidence) S))`` (docs §10.5), so ``ES >= VaR`` always. Fused in
    Rust: memory beyond the inputs is one length-``S`` vector per thread."""
    r = _arrays.f64("risk_arrays", risk_arrays, ndim=2)
    c = _args.number("confidence", confidence)
    with user_errors(None, accounts):
        return _arrays.finite_outputs("var_es", _dynamic.var_es(r, accounts, c, threads))


def scenario_pnl(risk_arrays: Any, accounts: Accounts, threads: int | None = None) -> NDArray[np.float64]:
    """Per-account P&L under each scenario, ``A x S`` (for a few named stress scenarios)."""
    r = _arrays.f64("risk_arrays", risk_arrays, ndim=2)
    with user_errors(None, accounts):
        return _arrays.finite_outputs("scenario_pnl", _dynamic.scenario_pnl(r, accounts, threads))


def span2_margin(x: float, tail: Any, stress: Any, liquidity: Any, concentration: Any) -> NDArray[np.float64]:
    """``x max(0, VaR or ES) + (1 - x) max(0, stress) + liquidity + concentration``."""
    return _arrays.finite_outputs(
        "span2",
        _dynamic.span2(
            _args.number("x", x),
            _arrays.f64("tail", tail),
            _arrays.f64("stress", stress),
            _arrays.f64("liquidity", liquidity),
            _arrays.f64("concentration", concentration),
        ),
    )


def instrument_notional(engine: MarginEngine, market: Market) -> NDArray[np.float64]:
    """USD value a close-out trades per contract, from the core's own valuation (§2.3):
    ``|delta|`` (USD delta) for delta-one instruments, ``|mtm|`` (the premium) for options."""
    vals = engine.instrument_values(market)
    return np.ascontiguousarray(np.where(engine.instruments.is_option, np.abs(vals.mtm), np.abs(vals.delta)))


@dataclass(frozen=True, eq=False)
class LiquidityRule:
    """Per-instrument liquidity data (length ``I``) and the add-on parameters (§10.6).

    ``notional`` USD per contract, ``half_spread`` fraction of notional, ``depth`` USD of
    market depth or open interest (``> 0``), ``base_ratio`` the margin ratio ``MR`` the size
    premium compares against; ``share`` of depth above which concentration is charged at
    ``rate`` per USD; ``imf`` the size-premium factor ``f`` of ``max(MR, 0.8 MR + f sqrt(x))``.
    """

    notional: NDArray[np.float64]
    half_spread: NDArray[np.float64]
    depth: NDArray[np.float64]
    base_ratio: NDArray[np.float64]
    share: float = 0.1
    rate: float = 0.1
    imf: float = 0.0

    def __init__(
        self,
        notional: Any,
        half_spread: Any,
        depth: Any,
        base_ratio: Any = 0.0,
        share: float = 0.1,
        rate: float = 0.1,
        imf: float = 0.0,
    ) -> None:
        n = _arrays.f64("notional", notional)
        size = n.shape[0]

        def col(name: str, v: Any) -> NDArray[np.float64]:
            return _arrays.per_element(name, v, size, "notional")

        object.__setattr__(self, "notional", n)
        object.__setattr__(self, "half_spread", col("half_spread", half_spread))
        object.__setattr__(self, "depth", col("depth", depth))
        object.__setattr__(self, "base_ratio", col("base_ratio", base_ratio))
        object.__setattr__(self, "share", _args.number("share", share))
        object.__setattr__(self, "rate", _args.number("rate", rate))
        object.__setattr__(self, "imf", _args.number("imf", imf))


@dataclass(frozen=True, eq=False)
class Addons:
    closeout: NDArray[np.float64]
    concentration: NDArray[np.float64]
    size_premium: NDArray[np.float64]

    @property
    def total(self) -> NDArray[np.float64]:
        """Sum of the add-ons per account."""
        return self.closeout + self.concentration + self.size_premium


def addons(rule: LiquidityRule, accounts: Accounts, threads: int | None = None) -> Addons:
    """Per-account close-out cost, concentration add-on and size premium (§10.6)."""
    block = _arrays.finite_outputs("addons", _dynamic.addons(rule, accounts, threads))
    return Addons(block[0], block[1], block[2])


@dataclass(frozen=True)
class HaircutRule:
    """``h = min(cap, base + z sigma sqrt(tau / 365))`` with ``tau = max(min_days,
    |b| p / (participation depth))`` days to sell the balance (§10.7)."""

    z: float = 2.33
    participation: float = 0.1
    min_days: float = 1.0
    cap: float = 0.9


def dynamic_collateral(
    balances: Any,
    asset_price: Any,
    sigma: Any,
    depth: Any,
    base: Any,
    rule: HaircutRule | None = None,
    threads: int | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(collateral value per account, haircut per balance ``A x J``) with haircuts that grow
    with the asset's annualised volatility ``sigma`` and the balance's size against the
    asset's daily ``depth`` (USD)."""
    r = rule if rule is not None else HaircutRule()
    assets = _Assets(
        _arrays.f64("asset_price", asset_price),
        _arrays.f64("sigma", sigma),
        _arrays.f64("depth", depth),
        _arrays.f64("base", base),
    )
    rule_f = HaircutRule(
        _args.number("z", r.z),
        _args.number("participation", r.participation),
        _args.number("min_days", r.min_days),
        _args.number("cap", r.cap),
    )
    return _arrays.finite_outputs(
        "collateral", _dynamic.collateral(_arrays.f64("balances", balances, ndim=2), assets, rule_f, threads)
    )


class _Assets(NamedTuple):
    """The per-asset columns ``zkmargin._core.dynamic.collateral`` reads."""

    asset_price: NDArray[np.float64]
    sigma: NDArray[np.float64]
    depth: NDArray[np.float64]
    base: NDArray[np.float64]
