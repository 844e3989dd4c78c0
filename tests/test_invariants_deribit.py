"""Invariants of the Deribit features (docs/margin-model.md §6.1-§6.7) on random books:
the dampener, collateral shocked in the scenarios, settlement modes and open orders."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import zkmargin
from helpers.margin_strategies import FLOOR, Case, Reference, cases
from zkmargin import Accounts, Orders, ScenarioTable

REL = 1e-9


def _undamped(table: ScenarioTable) -> ScenarioTable:
    return ScenarioTable(
        table.moves,
        table.vol_shocks,
        table.weights,
        table.vol_up,
        table.vol_down,
        table.power_short,
        table.power_long,
        table.min_vol_up,
        edge=table.edge,
        annual_move_risk=table.annual_move_risk,
        min_annual_move=table.min_annual_move,
        vol_shift=table.vol_shift,
        look_ahead=table.look_ahead,
    )


@given(cases(aggregations=("sum",), damped=True, linked=True))
def test_dampener_never_raises_the_loss(case: Case) -> None:
    """Per portfolio the dampener only subtracts (§6.3), so under the sum aggregation a
    dampened table never needs more (under joint a dampened row also drops gains, and under
    the signed correlation a smaller loss on a hedge leg offsets less, so both can)."""
    damped = case.engine(zkmargin.MarginEngine).compute(case.accounts, case.market)
    plain = case.engine(zkmargin.MarginEngine, scenarios=_undamped(case.scenarios))
    base = plain.compute(case.accounts, case.market)
    tol = FLOOR * Reference(case).money
    assert np.all(damped.scenario_loss <= base.scenario_loss * (1 + REL) + tol)


@given(cases(linked=True), st.sampled_from([0.25, 0.5, 2.0, 4.0]))
def test_margin_is_homogeneous_in_positions_and_collateral(case: Case, k: float) -> None:
    """With collateral in the scenarios the loss is homogeneous in (positions, balances)
    together: scaling both by k (a power of two, exact) scales it by k bit for bit."""
    case = replace(case, scenarios=_undamped(case.scenarios))
    eng = case.engine(zkmargin.MarginEngine)
    acc = case.accounts
    big = Accounts(acc.offsets, acc.instrument, k * acc.quantity, k * acc.balances)
    a = eng.compute(acc, case.market)
    b = eng.compute(big, case.market)
    for field in ("scenario_loss", "roll_addon", "initial_margin", "maintenance_margin", "equity"):
        assert np.array_equal(getattr(b, field), k * getattr(a, field)), field


@given(cases(), st.data())
def test_open_orders_only_raise_initial_margin(case: Case, data: st.DataObject) -> None:
    """Resting orders raise IM to the worst fill and leave every other output alone
    (§6.7), for every model."""
    n_a, n_i = len(case.accounts), len(case.instruments)
    order = st.tuples(st.integers(0, n_i - 1), st.floats(-20, 20))
    per = data.draw(st.lists(st.lists(order, max_size=3), min_size=n_a, max_size=n_a))
    offsets = np.cumsum([0] + [len(p) for p in per], dtype=np.int64)
    ins = np.array([i for p in per for i, _ in p], dtype=np.int64)
    orders = Orders(offsets, ins, np.array([q for p in per for _, q in p], dtype=np.float64))
    eng = case.engine(zkmargin.MarginEngine)
    for model in zkmargin.results.MODELS:
        base = eng.compute(case.accounts, case.market, model)
        res = eng.compute(case.accounts, case.market, model, orders=orders)
        assert np.all(res.initial_margin >= base.initial_margin)
        for field in ("equity", "maintenance_margin", "scenario_loss", "roll_addon"):
            assert np.array_equal(getattr(res, field), getattr(base, field)), field
        empty = Orders(np.zeros(n_a + 1, np.int64), np.zeros(0, np.int64), np.zeros(0))
        none = eng.compute(case.accounts, case.market, model, orders=empty)
        assert np.array_equal(none.initial_margin, base.initial_margin)


def test_liquidation_scan_keeps_shocked_collateral_and_segregated_portfolios() -> None:
    """The Rust liquidation search margins kept books from sums that include the linked
    collateral's scenario P&L (and, segregated, per-currency portfolios): its accounts and
    close-outs are the pure-Python scan's on the pure-Python engine."""
    from zkmargin import dynamic as d
    from zkmargin.baseline import dynamic as ref
    from zkmargin.synthetic import ASSET_UNDERLYING, generate_exchange

    ex = generate_exchange(200, seed=5)
    a = ex.accounts
    acc = Accounts(a.offsets, a.instrument, a.quantity, 0.6 * a.balances)
    n = len(ex.instruments)
    rng = np.random.default_rng(8)
    for kw in ({"asset_underlying": ASSET_UNDERLYING}, {"settlement_mode": "segregated"}):
        eng = zkmargin.MarginEngine(ex.instruments, **kw)  # type: ignore[arg-type]
        notional = d.instrument_notional(eng, ex.market)
        rule = d.LiquidityRule(notional, rng.uniform(0, 0.002, n), rng.uniform(2e4, 2e6, n), 0.05, rate=0.05)
        scan = d.scan_margin(eng, acc, ex.market, rule, "portfolio", penalty=0.02)
        beng = zkmargin.baseline.MarginEngine(ex.instruments, **kw)  # type: ignore[arg-type]
        want = ref.liquidation_scan(
            beng,
            beng.prepare(ex.market, "portfolio"),
            ref.ScanRule("portfolio", "initial", 0.0, 0.02, ref.LiquidityParams.from_rule(rule)),
            acc.offsets.tolist(),
            acc.instrument.tolist(),
            acc.quantity.tolist(),
            acc.balances.tolist(),
        )
        assert len(scan) == len(want) > 3
        assert scan.account.tolist() == [w.account for w in want]
        np.testing.assert_allclose(scan.shortfall, [w.shortfall for w in want], rtol=1e-9, atol=1e-9)
        frac = np.concatenate([w.fractions for w in want])
        np.testing.assert_allclose(scan.close_fraction, frac, rtol=0, atol=1e-9)


def test_market_state_margins_shocked_collateral_like_compute() -> None:
    """The cached MarketState prepares the linked collateral's scenario rows too: its
    results, after a tick as well, are the engine's."""
    from zkmargin.state import MarketState
    from zkmargin.synthetic import ASSET_UNDERLYING, generate_exchange

    ex = generate_exchange(300, seed=4)
    eng = zkmargin.MarginEngine(ex.instruments, asset_underlying=ASSET_UNDERLYING)
    state = MarketState(eng, ex.accounts, ex.market)
    want = eng.compute(ex.accounts, ex.market)
    np.testing.assert_array_equal(state.result().maintenance_margin, want.maintenance_margin)
    m = ex.market
    moved = zkmargin.Market(1.05 * m.spot, m.vol, m.asset_price, m.haircut, m.rate, m.forward)
    after = eng.compute(ex.accounts, moved).scenario_loss
    np.testing.assert_array_equal(state.tick(moved).scenario_loss, after)
