"""Hypothesis strategies for small, valid margin problems, shared by the engine tests.

A ``Case`` is everything an engine needs: instruments of every kind and settlement, a
market (with or without explicit forwards), a raw CSR book (empty accounts, repeated
instruments within an account, zero quantities), a scenario table (Deribit, SPAN or a
custom joint table), parameters and an aggregation rule.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from hypothesis import strategies as st
from numpy.typing import NDArray

from zkmargin import (
    Accounts,
    Instruments,
    Kind,
    MarginParams,
    Market,
    ScenarioTable,
    Settlement,
    baseline,
    deribit_scenarios,
    span_scenarios,
)
from zkmargin.results import GREEK_FIELDS
from zkmargin.span import InterSpread, SpanRules

#: absolute tolerance floor, as a fraction of the gross magnitude of what is being summed
FLOOR = 1e-12


@dataclass(frozen=True)
class Case:
    instruments: Instruments
    market: Market
    accounts: Accounts
    scenarios: ScenarioTable
    params: MarginParams
    aggregation: str
    correlation: NDArray[np.float64] | None
    settlement_mode: str = "cross"
    #: per collateral asset, the underlying it is shocked with (-1: none), or None
    asset_underlying: NDArray[np.int64] | None = None
    span: SpanRules | None = None

    def engine(self, cls: type[Any], **overrides: Any) -> Any:
        kw: dict[str, Any] = {
            "scenarios": self.scenarios,
            "params": self.params,
            "aggregation": self.aggregation,
            "correlation": self.correlation,
            "settlement_mode": self.settlement_mode,
            "asset_underlying": self.asset_underlying,
            "span": self.span,
        }
        kw.update(overrides)
        return cls(self.instruments, **kw)

    def with_accounts(self, accounts: Accounts) -> Case:
        return replace(self, accounts=accounts)


def _floats(lo: float, hi: float) -> st.SearchStrategy[float]:
    # whole multiples of 1e-9: account data are decimal amounts, and keeping products far
    # from the subnormal range lets the scaling tests demand bit-exact results
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False).map(
        lambda x: min(max(round(x, 9), lo), hi)
    )


# a few shared expiries so roll buckets really merge rows of different instruments
_EXPIRIES = st.one_of(st.sampled_from([1 / 365, 7 / 365, 30 / 365, 0.25, 1.0]), _floats(0.5 / 365, 2.0))


@st.composite
def instrument_specs(draw: st.DrawFn, n_underlyings: int) -> dict[str, Any]:
    kind = draw(st.sampled_from(list(Kind)))
    settlement = Settlement.LINEAR if kind == Kind.SPOT else draw(st.sampled_from(list(Settlement)))
    is_option = kind in (Kind.CALL, Kind.PUT)
    dated = kind in (Kind.FUTURE, Kind.CALL, Kind.PUT)
    return {
        "kind": int(kind),
        "underlying": draw(st.integers(0, n_underlyings - 1)),
        "moneyness": draw(_floats(0.5, 2.0)) if is_option else 0.0,
        # spot and perpetual expiries are ignored; a non-zero one checks they stay at T = 0
        "expiry": draw(_EXPIRIES) if dated else draw(st.sampled_from([0.0, 0.25])),
        "contract_size": draw(st.sampled_from([0.001, 0.01, 1.0, 10.0, 100.0]) | _floats(0.001, 100.0)),
        "settlement": int(settlement),
        "vol": draw(_floats(0.05, 2.0)) if is_option else draw(st.sampled_from([0.0, 0.3])),
        "basis": draw(_floats(0.8, 1.25)),
    }


def _correlation(draw: st.DrawFn, n: int) -> NDArray[np.float64]:
    vecs = np.array(
        draw(st.lists(st.lists(_floats(-1.0, 1.0), min_size=n, max_size=n), min_size=n, max_size=n))
    )
    norms = np.linalg.norm(vecs, axis=1, keepdims=True)
    # unit rows make a unit diagonal; a (near-)zero row stands for an uncorrelated factor
    vecs = np.where(norms > 1e-3, vecs / np.maximum(norms, 1e-3), np.eye(n))
    rho = np.clip(vecs @ vecs.T, -1.0, 1.0)
    rho = 0.5 * (rho + rho.T)
    np.fill_diagonal(rho, 1.0)
    # the normalised Gram matrix is PSD; a small ridge keeps rounding from making it not so
    rho = (rho + 1e-9 * np.eye(n)) / (1.0 + 1e-9)
    np.fill_diagonal(rho, 1.0)
    return rho


@st.composite
def span_rules(draw: st.DrawFn, n: int) -> SpanRules:
    """Calendar charge rates and up to three inter-commodity tiers on random leg pairs."""
    intra = draw(st.lists(st.sampled_from([0.0, 0.01]) | _floats(0.0, 0.2), min_size=n, max_size=n))
    spreads = []
    if n >= 2:
        for _ in range(draw(st.integers(0, 3))):
            a, b = draw(st.permutations(range(n)))[:2]
            nonzero = _floats(-3.0, 3.0).filter(lambda r: abs(r) > 1e-3)
            ratio = st.sampled_from([1.0, -1.0, 0.5, -2.0]) | nonzero
            spreads.append(InterSpread(a, b, draw(ratio), draw(ratio), draw(_floats(0.0, 1.0))))
    return SpanRules(np.array(intra), tuple(spreads))


@st.composite
def scenario_tables(draw: st.DrawFn, n_underlyings: int, damped: bool = False) -> ScenarioTable:
    """A Deribit, SPAN or custom table; Deribit's per underlying parameters vary, and its
    extended dampener (and a custom table's gain offsets) are off unless ``damped`` (a
    fixed dampener or cap per portfolio is not subadditive, so netting invariants need
    them off)."""
    u = n_underlyings

    def per_u(lo: float, hi: float) -> NDArray[np.float64]:
        return np.array(draw(st.lists(_floats(lo, hi), min_size=u, max_size=u)))

    which = draw(st.sampled_from(["deribit", "span", "custom"]))
    if which == "deribit":
        return deribit_scenarios(
            u,
            price_range=per_u(0.02, 0.4),
            buckets=draw(st.integers(1, 4)),
            extended_factor=draw(st.sampled_from([0.0, 0.5, 1.0])),
            vol_up=per_u(0.0, 1.0),
            vol_down=per_u(0.0, 1.0),
            min_vol_up=per_u(0.0, 0.6),
            extended_dampener=per_u(0.0, 1e4) if damped else 0.0,
        )
    if which == "span":
        return span_scenarios(
            u,
            scan_range=np.array(draw(st.lists(_floats(0.02, 0.3), min_size=u, max_size=u))),
            vol_range=draw(_floats(0.0, 0.5)),
            vol_shift=draw(st.sampled_from(["relative", "absolute"])),
            look_ahead_days=draw(st.sampled_from([0.0, 1.0]) | _floats(0.0, 30.0)),
        )
    n_s = draw(st.integers(1, 6))

    def table(strategy: st.SearchStrategy[float]) -> NDArray[np.float64]:
        rows = draw(st.lists(st.lists(strategy, min_size=u, max_size=u), min_size=n_s, max_size=n_s))
        return np.array(rows, dtype=np.float64)

    return ScenarioTable(
        table(_floats(-0.9, 2.0)),
        table(st.sampled_from([-1.0, -0.5, 0.0, 0.5, 1.0]) | _floats(-1.0, 1.0)),
        table(st.sampled_from([0.0, 1.0]) | _floats(0.0, 1.0)),
        vol_up=draw(_floats(0.0, 1.0)),
        vol_down=draw(_floats(0.0, 1.0)),
        power_short=draw(_floats(0.0, 0.5)),
        power_long=draw(_floats(0.0, 0.5)),
        min_vol_up=draw(_floats(0.0, 0.6)),
        # gain offsets (joint aggregation only) are capped losses of netting: drawn with
        # the dampener, as both break the homogeneity the netting invariants rely on
        pnl_offset=per_u(0.0, 1.0) if damped else 1.0,
        max_offsetable_pnl=per_u(0.0, 1e4) if damped and draw(st.booleans()) else np.inf,
        vol_shift=draw(st.sampled_from(["relative", "absolute"])),
        look_ahead=draw(st.sampled_from([0.0, 1 / 365]) | _floats(0.0, 0.1)),
    )


@st.composite
def margin_params(draw: st.DrawFn) -> MarginParams:
    if draw(st.booleans()):
        return MarginParams()
    linear_im = draw(_floats(0.0, 0.3))
    im_factor = draw(_floats(0.5, 2.0))
    return MarginParams(
        linear_im=linear_im,
        linear_mm=linear_im * draw(_floats(0.0, 1.0)),
        option_im_base=draw(_floats(0.0, 0.3)),
        option_im_floor=draw(_floats(0.0, 0.2)),
        option_mm=draw(_floats(0.0, 0.2)),
        im_factor=im_factor,
        mm_factor=im_factor * draw(_floats(0.05, 1.0)),
        annual_move_risk=draw(_floats(0.0, 0.3)),
        min_annual_move=draw(_floats(0.0, 0.05)),
        short_option_min=draw(_floats(0.0, 0.01)),
    )


@st.composite
def books(
    draw: st.DrawFn,
    n_instruments: int,
    max_accounts: int = 6,
    max_rows: int = 6,
    n_assets: int = 2,
) -> tuple[list[int], list[int], list[float], list[list[float]]]:
    """(offsets, instrument, quantity, balances) of a raw CSR book."""
    quantity = st.sampled_from([0.0, 1.0, -1.0]) | _floats(-50.0, 50.0)
    rows_of = st.lists(st.tuples(st.integers(0, n_instruments - 1), quantity), max_size=max_rows)
    accounts = draw(st.lists(rows_of, max_size=max_accounts))
    # repeat an instrument inside an account as two consecutive rows, sometimes netting to zero
    for rows in accounts:
        if rows and draw(st.booleans()):
            i, q = rows[0]
            rows.append((i, draw(st.sampled_from([-q, 2 * q, 0.5]))))
    offsets = [0]
    instrument: list[int] = []
    qty: list[float] = []
    for rows in accounts:
        instrument += [i for i, _ in rows]
        qty += [q for _, q in rows]
        offsets.append(len(instrument))
    balance = _floats(-1e4, 1e5) | st.just(0.0)
    balances = [draw(st.lists(balance, min_size=n_assets, max_size=n_assets)) for _ in accounts]
    return offsets, instrument, qty, balances


@st.composite
def cases(
    draw: st.DrawFn,
    aggregations: tuple[str, ...] = ("sum", "joint", "correlation", "span"),
    max_accounts: int = 6,
    damped: bool = False,
    linked: bool = False,
) -> Case:
    """A random problem; ``damped`` draws Deribit dampeners and ``linked`` collateral
    shocked with an underlying (both break homogeneity and subadditivity in the rows)."""
    n_u = draw(st.integers(1, 3))
    specs = draw(st.lists(instrument_specs(n_u), min_size=1, max_size=8))
    spot = np.array(draw(st.lists(_floats(0.01, 1e5), min_size=n_u, max_size=n_u)))
    und = np.array([s["underlying"] for s in specs])
    fwd = spot[und] * np.array([s["basis"] for s in specs])
    strike = np.array([s["moneyness"] for s in specs]) * fwd
    instruments = Instruments(
        [s["kind"] for s in specs],
        und,
        strike,
        [s["expiry"] for s in specs],
        [s["contract_size"] for s in specs],
        [s["settlement"] for s in specs],
    )
    n_j = draw(st.integers(1, 3))
    market = Market(
        spot=spot,
        vol=[s["vol"] for s in specs],
        asset_price=draw(st.lists(_floats(0.5, 1e5), min_size=n_j, max_size=n_j)),
        haircut=draw(st.lists(st.just(0.0) | _floats(0.0, 0.5), min_size=n_j, max_size=n_j)),
        rate=draw(_floats(-0.02, 0.1)),
        forward=fwd if draw(st.booleans()) else None,
    )
    offsets, instrument, qty, balances = draw(books(len(specs), max_accounts, n_assets=n_j))
    accounts = Accounts(
        np.array(offsets, dtype=np.int64),
        np.array(instrument, dtype=np.int64),
        np.array(qty, dtype=np.float64),
        np.array(balances, dtype=np.float64).reshape(len(offsets) - 1, n_j),
    )
    aggregation = draw(st.sampled_from(aggregations))
    mode = draw(st.sampled_from(["cross", "segregated"])) if aggregation == "sum" else "cross"
    links = np.array(draw(st.lists(st.integers(-1, n_u - 1), min_size=n_j, max_size=n_j)))
    return Case(
        instruments,
        market,
        accounts,
        draw(scenario_tables(n_u, damped)),
        draw(margin_params()),
        aggregation,
        _correlation(draw, n_u) if aggregation == "correlation" else None,
        mode,
        links if linked and draw(st.booleans()) else None,
        draw(span_rules(n_u)) if aggregation == "span" else None,
    )


class Reference:
    """The reference engine's per-instrument numbers and, from them, the magnitudes the
    tolerances are scaled by and each account's per-underlying scenario P&L."""

    def __init__(self, case: Case) -> None:
        eng = case.engine(baseline.MarginEngine)
        self.risk = eng.risk_arrays(case.market)
        self.values = eng.instrument_values(case.market)
        ins, mkt, acc = case.instruments, case.market, case.accounts
        spot = mkt.spot[ins.underlying]
        fwd = spot if mkt.forward is None else mkt.forward
        cs = ins.contract_size
        v = self.values
        # USD size of one contract's values under the largest scenario move (an inverse
        # contract's coin value grows like 1 / (1 + m) as the price falls)
        down = 1.0 / (1.0 + case.scenarios.moves.min())
        self.per_contract = (
            cs * (spot + fwd + spot / fwd + 1.0) * (2.0 + down + case.scenarios.moves.max())
            + np.abs(v.mtm)
            + np.abs(v.delta)
            + np.abs(self.risk).max(axis=1, initial=0.0)
        )
        # option Greeks scale with 1 / (vol sqrt T) (gamma), sqrt T (vega), vol / sqrt T (theta)
        vol_t = mkt.vol * np.sqrt(ins.expiry)
        self.greek_factor = 1.0 + np.where(
            ins.is_option,
            1.0 / np.where(ins.is_option, vol_t, 1.0)
            + np.sqrt(ins.expiry)
            + vol_t / np.where(ins.is_option, ins.expiry, 1.0)
            + abs(mkt.rate),
            0.0,
        )
        per_contract = self.per_contract
        self.acct = np.repeat(np.arange(len(acc)), np.diff(acc.offsets))
        rows_abs = np.abs(acc.quantity)
        coll = np.abs(acc.balances) * mkt.asset_price * (1.0 + mkt.haircut)
        self.money = coll.sum(axis=1) + np.bincount(
            self.acct, weights=rows_abs * per_contract[acc.instrument], minlength=len(acc)
        )
        n_u = case.scenarios.n_underlyings
        key = self.acct * n_u + ins.underlying[acc.instrument]
        self.greek_gross = {
            name: np.bincount(
                key,
                weights=np.abs(acc.quantity * getattr(v, name.removeprefix("net_"))[acc.instrument]),
                minlength=len(acc) * n_u,
            ).reshape(len(acc), n_u)
            for name in GREEK_FIELDS
        }
        # P[g, a, s]: scenario P&L of account a's rows (and linked collateral) in portfolio g
        # (its underlying; U + u for coin-settled instruments under the segregated mode)
        segregated = case.settlement_mode == "segregated"
        group = ins.underlying + np.where(segregated & (ins.settlement == Settlement.INVERSE), n_u, 0)
        n_g = 2 * n_u if segregated else n_u
        sc = case.scenarios
        self.pnl = np.zeros((n_g, len(acc), sc.n_scenarios))
        np.add.at(
            self.pnl,
            (group[acc.instrument], self.acct),
            acc.quantity[:, None] * self.risk[acc.instrument],
        )
        if case.asset_underlying is not None and not segregated:
            h = np.where(acc.balances > 0.0, 1.0 - mkt.haircut, 1.0 + mkt.haircut)
            for j, u in enumerate(case.asset_underlying.tolist()):
                if u >= 0:
                    unit = (sc.weights[:, u] * sc.moves[:, u])[None, :] * mkt.asset_price[j]
                    self.pnl[u] += (acc.balances[:, j] * h[:, j])[:, None] * unit
        g_u = np.arange(n_g) % n_u
        d = sc.dampener[:, g_u].T
        #: d[g, s], each portfolio's dampener per scenario
        self.damp = np.where((np.arange(n_g) >= n_u)[:, None], d / (1.0 + sc.edge[:, g_u].T), d)
