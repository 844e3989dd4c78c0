"""Stress scenarios, liquidation cascades and margin backtests (docs §10.9-§10.10)."""

from __future__ import annotations

import numpy as np
import pytest

import zkmargin
from zkmargin import dynamic as d
from zkmargin.dynamic import backtesting as bt
from zkmargin.dynamic import stress as st
from zkmargin.errors import ParameterError, ShapeError

#: synthetic exchange collateral: USDC (stable), BTC (underlying 0), ETH (underlying 1)
ASSET_UNDERLYING = [-1, 0, 1]


@pytest.fixture(scope="module")
def exchange() -> zkmargin.synthetic.Exchange:
    return zkmargin.synthetic.generate_exchange(400, seed=9)


def test_stress_table_reproduces_vol_multipliers(exchange: zkmargin.synthetic.Exchange) -> None:
    stresses = [st.StressScenario("a", -0.5, 2.0), st.StressScenario("b", (0.1, -0.2), 0.5)]
    table = st.stress_table(stresses, 2)
    eng = zkmargin.MarginEngine(exchange.instruments, scenarios=table)
    risk = eng.risk_arrays(exchange.market)
    # Independent check: reprice through the core at the shocked market (no vol rule involved).
    vals0 = eng.instrument_values(exchange.market)
    for k, s in enumerate(stresses):
        shocked = st.shocked_market(
            exchange.market, exchange.instruments, table.moves[k], ASSET_UNDERLYING, s.vol_multiplier
        )
        vals = eng.instrument_values(shocked)
        opt = exchange.instruments.is_option & (exchange.instruments.settlement == 0)
        np.testing.assert_allclose(risk[opt, k], (vals.mtm - vals0.mtm)[opt], rtol=1e-9, atol=1e-9)
    with pytest.raises(ParameterError):
        st.stress_table([st.StressScenario("bad", -1.0, 1.0)], 2)


def test_stress_test_counts_underwater(exchange: zkmargin.synthetic.Exchange) -> None:
    rep = st.stress_test(exchange.instruments, exchange.accounts, exchange.market, ASSET_UNDERLYING)
    assert rep.equity_after.shape == (len(exchange.accounts), len(st.DEFAULT_STRESSES))
    np.testing.assert_array_equal(rep.underwater, (rep.equity_after < 0).sum(axis=0))
    np.testing.assert_allclose(rep.shortfall, np.maximum(-rep.equity_after, 0).sum(axis=0))
    # The -50% crash hurts more accounts than the -30% one.
    assert rep.underwater[0] > rep.underwater[1] > 0
    # A do-nothing scenario leaves equity unchanged.
    calm = st.stress_test(
        exchange.instruments,
        exchange.accounts,
        exchange.market,
        ASSET_UNDERLYING,
        [st.StressScenario("flat", 0.0, 1.0)],
    )
    eq = (
        zkmargin.MarginEngine(exchange.instruments)
        .compute(exchange.accounts, exchange.market, "cross")
        .equity
    )
    np.testing.assert_allclose(calm.equity_after[:, 0], eq, rtol=1e-12, atol=1e-6)


def _rule(exchange: zkmargin.synthetic.Exchange) -> d.LiquidityRule:
    eng = zkmargin.MarginEngine(exchange.instruments)
    return d.LiquidityRule(d.instrument_notional(eng, exchange.market), 5e-4, 1e8, 0.05, share=0.1, rate=0.0)


@pytest.mark.parametrize("mode", ["partial", "full"])
def test_cascade_conserves_positions_and_settles(exchange: zkmargin.synthetic.Exchange, mode: str) -> None:
    res = st.cascade(
        exchange.instruments,
        exchange.accounts,
        exchange.market,
        ASSET_UNDERLYING,
        _rule(exchange),
        underlying=0,
        shock=-0.2,
        depth=5e9,
        impact=0.5,
        mode=mode,
    )
    total0 = np.bincount(
        exchange.accounts.instrument, exchange.accounts.quantity, minlength=len(exchange.instruments)
    )
    total1 = (
        np.bincount(exchange.accounts.instrument, res.quantity_after, minlength=len(exchange.instruments))
        + res.liquidator_position
    )
    np.testing.assert_allclose(total1, total0, rtol=1e-12, atol=1e-9)
    assert res.liquidations[0] > 0 and res.liquidations[-1] == 0 and res.rounds < 50
    assert res.moves[0] == pytest.approx(-0.2)
    assert all(m <= -0.2 + 1e-12 for m in res.moves)  # liquidations of longs keep pushing down
    assert res.liquidated_notional > 0
    # Positions only shrink toward zero, never flip.
    q0, q1 = exchange.accounts.quantity, res.quantity_after
    assert np.all(q0 * q1 >= 0) and np.all(np.abs(q1) <= np.abs(q0) + 1e-12)


def test_partial_cascade_closes_less_than_full(exchange: zkmargin.synthetic.Exchange) -> None:
    kw = dict(underlying=0, shock=-0.2, depth=5e9, impact=0.5)
    part = st.cascade(
        exchange.instruments,
        exchange.accounts,
        exchange.market,
        ASSET_UNDERLYING,
        _rule(exchange),
        mode="partial",
        **kw,
    )
    full = st.cascade(
        exchange.instruments,
        exchange.accounts,
        exchange.market,
        ASSET_UNDERLYING,
        _rule(exchange),
        mode="full",
        **kw,
    )
    assert part.liquidated_notional < full.liquidated_notional
    assert part.moves[-1] >= full.moves[-1]  # less forced selling, less price impact
    with pytest.raises(ParameterError):
        st.cascade(
            exchange.instruments,
            exchange.accounts,
            exchange.market,
            ASSET_UNDERLYING,
            _rule(exchange),
            mode="all",
            **kw,
        )


def test_backtest_static_vs_dynamic(exchange: zkmargin.synthetic.Exchange) -> None:
    rng = np.random.default_rng(0)
    n_days = 260
    vol = np.r_[np.full(120, 0.015), np.full(60, 0.07), np.full(80, 0.025)]
    r = rng.standard_normal((n_days - 1, 2)) * vol[: n_days - 1, None]
    px = exchange.market.spot * np.exp(np.vstack([np.zeros(2), np.cumsum(r, 0)]))
    small = zkmargin.Accounts(
        exchange.accounts.offsets[:61],
        exchange.accounts.instrument[: exchange.accounts.offsets[60]],
        exchange.accounts.quantity[: exchange.accounts.offsets[60]],
        exchange.accounts.balances[:60],
    )
    out = bt.backtest(
        exchange.instruments,
        small,
        exchange.market,
        np.ascontiguousarray(px),
        ASSET_UNDERLYING,
        horizon=2,
        warmup=40,
    )
    s, dyn = out["static"], out["dynamic"]
    assert s.observations == dyn.observations == (n_days - 2 - 40) * 60
    np.testing.assert_array_equal(s.loss, dyn.loss)
    # Dynamic margin releases capital in calm days and raises it in the storm.
    calm, storm = slice(0, 60), slice(100, 140)
    assert dyn.requirement[calm].sum() < s.requirement[calm].sum()
    assert dyn.requirement[storm].sum() > s.requirement[storm].sum()
    storm_breaches = lambda p: int((p.loss[storm] > p.requirement[storm]).sum())  # noqa: E731
    assert storm_breaches(dyn) <= storm_breaches(s)
    lr, pval = dyn.kupiec()
    assert lr >= 0 and 0 <= pval <= 1
    with pytest.raises(ShapeError):
        bt.backtest(
            exchange.instruments, small, exchange.market, np.ascontiguousarray(px[:30]), ASSET_UNDERLYING
        )


# ------------------------------------------------------------------ liquidation price
def _small_universe() -> tuple[zkmargin.Instruments, zkmargin.Market]:
    ins = zkmargin.Instruments(
        kind=[1, 3, 4, 1],
        underlying=[0, 0, 0, 1],
        strike=[0.0, 62_000.0, 55_000.0, 0.0],
        expiry=[0.0, 0.1, 0.2, 0.0],
        contract_size=[1.0, 1.0, 1.0, 1.0],
        settlement=[0, 0, 0, 0],
    )
    mkt = zkmargin.Market(
        spot=[60_000.0, 3_000.0],
        vol=[0.0, 0.6, 0.65, 0.0],
        asset_price=[1.0, 60_000.0, 3_000.0],
        haircut=[0.0, 0.05, 0.07],
        rate=0.0,
    )
    return ins, mkt


def test_liquidation_price_closed_form_cross() -> None:
    ins, mkt = _small_universe()
    mm = zkmargin.MarginParams().linear_mm
    for q, cash in ((2.0, 20_000.0), (-1.5, 15_000.0)):
        down, up = d.liquidation_price(ins, [0], [q], [cash, 0.0, 0.0], mkt, ASSET_UNDERLYING, model="cross")
        v = q * 60_000.0
        # cash + v m = mm |v| (1 + m)  =>  m = (mm |v| - cash) / (v - mm |v|)
        m = (mm * abs(v) - cash) / (v - mm * abs(v))
        got = down if q > 0 else up
        assert got == pytest.approx(60_000.0 * (1 + m), rel=1e-9)
        assert np.isnan(up if q > 0 else down)


def test_liquidation_price_rust_equals_reference_engine() -> None:
    from zkmargin.baseline import MarginEngine as ReferenceEngine

    ins, mkt = _small_universe()
    # Short strangle plus a long perp hedge, part of the collateral in BTC: both sides bind.
    args = (ins, [0, 1, 2], [0.3, -2.0, -2.0], [40_000.0, 0.1, 0.0], mkt, ASSET_UNDERLYING)
    fast = d.liquidation_price(*args, steps=40)
    slow = d.liquidation_price(*args, steps=40, engine_cls=ReferenceEngine)
    assert np.all(np.isfinite(fast)) and fast[0] < 60_000.0 < fast[1]
    np.testing.assert_allclose(fast, slow, rtol=1e-9)
    # At the liquidation price equity equals maintenance margin (the gap changes sign there).
    acc = zkmargin.Accounts([0, 3], [0, 1, 2], [0.3, -2.0, -2.0], [[40_000.0, 0.1, 0.0]])
    eng = zkmargin.MarginEngine(ins)
    for price, eps in ((fast[0], -1e-4), (fast[1], 1e-4)):
        gaps = []
        for p in (price * (1 - eps), price * (1 + eps)):
            shocked = d.shocked_market(mkt, ins, [p / 60_000.0 - 1, 0.0], ASSET_UNDERLYING)
            risk = d.joint_risk_arrays(ins, mkt, [[p / 60_000.0 - 1, 0.0]])
            pnl = np.array([0.3, -2.0, -2.0]) @ risk[[0, 1, 2], 0]
            coll = d.collateral_value(eng, [[40_000.0, 0.1, 0.0]], shocked)[0]
            coll0 = d.collateral_value(eng, [[40_000.0, 0.1, 0.0]], mkt)[0]
            eq = eng.compute(acc, mkt, "cross").equity[0] + pnl + coll - coll0
            gaps.append(eq - eng.compute(acc, shocked, "portfolio").maintenance_margin[0])
        assert gaps[0] > 0 > gaps[1]


def test_liquidation_price_needs_one_underlying() -> None:
    ins, mkt = _small_universe()
    with pytest.raises(ParameterError):
        d.liquidation_price(ins, [0, 3], [1.0, 1.0], [1e4, 0.0, 0.0], mkt, ASSET_UNDERLYING)
    down, up = d.liquidation_price(ins, [0], [5.0], [100.0, 0.0, 0.0], mkt, ASSET_UNDERLYING)
    assert down == up == 60_000.0  # already below maintenance


def test_cascade_reports_when_cut_short(exchange: zkmargin.synthetic.Exchange) -> None:
    kw = dict(underlying=0, shock=-0.2, depth=5e9, impact=0.5)
    args = (exchange.instruments, exchange.accounts, exchange.market, ASSET_UNDERLYING, _rule(exchange))
    settled = st.cascade(*args, **kw)
    assert settled.converged and settled.rounds >= 2
    with pytest.warns(zkmargin.errors.ConvergenceWarning, match="max_rounds=1 while still liquidating"):
        cut = st.cascade(*args, max_rounds=1, **kw)
    assert not cut.converged and cut.rounds == 1 and cut.liquidations == settled.liquidations[:1]
    with pytest.raises(ParameterError, match="max_rounds"):
        st.cascade(*args, max_rounds=0, **kw)
