"""Deribit portfolio margin against Deribit's own published numbers (tests/fixtures/, each
fixture naming its source page), and the Deribit-specific rules of docs/margin-model.md §6."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import zkmargin
from zkmargin import baseline, errors
from zkmargin.baseline import numpy_engine
from zkmargin.scenarios import DERIBIT_EXTENDED_MOVES, DeribitCurrency, deribit_scenarios

FIXTURES = Path(__file__).parent / "fixtures"
ENGINES = (zkmargin.MarginEngine, baseline.MarginEngine, numpy_engine.MarginEngine)
YEAR_MS = 365 * 24 * 3600 * 1000


def _fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    assert data["source"].startswith("https://docs.deribit.com/")
    return data


def _currency(fx: dict[str, Any], pair: str, ccy: str) -> DeribitCurrency:
    p, c = fx["model_params"]["currency_pair"][pair], fx["model_params"]["currency"][ccy]
    return DeribitCurrency(
        price_range=p["price_range"],
        volatility_range_up=p["volatility_range_up"],
        volatility_range_down=p["volatility_range_down"],
        short_term_vega_power=p["short_term_vega_power"],
        long_term_vega_power=p["long_term_vega_power"],
        min_volatility_for_shock_up=p["min_volatility_for_shock_up"],
        extended_table_factor=p["extended_table_factor"],
        extended_dampener=c["extended_dampener"],
        annualised_move_risk=c["annualised_move_risk"],
        min_annualised_move=c["min_annualised_move"],
    )


def _book(fx: dict[str, Any]) -> tuple[zkmargin.Instruments, zkmargin.Market, zkmargin.Accounts, list[str]]:
    """Inverse contracts of 1 USD face; a position of ``p`` BTC at mark ``F`` is ``p F``
    contracts, so its coin delta ``q cs / F`` is Deribit's ``p``."""
    names = list(fx["position"])
    now = fx["model_params"]["general"]["timestamp"]
    kinds, expiry = [], []
    for n in names:
        spec = fx["instruments"][n]
        kinds.append(zkmargin.Kind.PERPETUAL if spec["kind"] == "perpetual" else zkmargin.Kind.FUTURE)
        expiry.append(0.0 if spec["expiry_ms"] is None else (spec["expiry_ms"] - now) / YEAR_MS)
    n = len(names)
    zeros = [0.0] * n
    ins = zkmargin.Instruments(kinds, [0] * n, zeros, expiry, [1.0] * n, [1] * n, underlying_names=["BTC"])
    mark = [fx["mark_price"][n] for n in names]
    mkt = zkmargin.Market(
        [fx["index_price"]["btc_usd"]], [0.0] * len(names), [1.0], [0.0], rate=0.0, forward=mark
    )
    qty = [fx["position"][n] * f for n, f in zip(names, mark, strict=True)]
    acc = zkmargin.Accounts([0, len(names)], list(range(len(names))), qty, [[0.0]])
    return ins, mkt, acc, names


def _engine(cls: type[Any], fx: dict[str, Any], ins: zkmargin.Instruments) -> Any:
    table = deribit_scenarios(1, currencies=[_currency(fx, "btc_usd", "btc")])
    params = zkmargin.MarginParams(mm_factor=fx["model_params"]["general"]["mm_factor"], short_option_min=0.0)
    return cls(ins, table, params, settlement_mode="segregated")


def _close(got: float, want: float, rel: float = 1e-6) -> None:
    assert abs(got - want) <= rel * abs(want), (got, want)


@pytest.mark.parametrize("cls", ENGINES)
def test_pme_simulate_example_risk_vectors(cls: type[Any]) -> None:
    """Every published per-instrument entry, standard and extended, to 1e-9 relative: the
    extended entries of an inverse perpetual or future are its P&L at the edge +-R."""
    fx = _fixture("deribit_pme_simulate_btc.json")
    ins, mkt, acc, names = _book(fx)
    eng = _engine(cls, fx, ins)
    spot = fx["index_price"]["btc_usd"]
    risk = eng.risk_arrays(mkt) * acc.quantity[:, None] / spot  # BTC per scenario
    n_std = 27
    for k, n in enumerate(names):
        want = fx["initial_risk_vectors"][n]
        np.testing.assert_allclose(risk[k, :n_std], want["standard"], rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose(risk[k, n_std:], want["extended"], rtol=1e-9, atol=1e-15)
    agg = fx["aggregated_risk_vectors"]["btc_btc"]
    total = risk.sum(axis=0)
    # Deribit's aggregated vector drops the gains (pnl_offset 0) and dampens the extended rows
    np.testing.assert_allclose(np.minimum(total[:n_std], 0.0), agg["standard"], rtol=1e-9, atol=1e-15)
    damp = eng.scenarios.dampener[n_std:, 0] / (1.0 + eng.scenarios.edge[n_std:, 0]) / spot
    np.testing.assert_allclose(np.minimum(total[n_std:] + damp, 0.0), agg["extended"], atol=0.0)


@pytest.mark.parametrize("cls", ENGINES)
def test_pme_simulate_example_margins(cls: type[Any]) -> None:
    """Worst case, roll shock, the risk-matrix part of IM and MM to 1e-6 relative (BTC)."""
    fx = _fixture("deribit_pme_simulate_btc.json")
    ins, mkt, acc, _ = _book(fx)
    res = _engine(cls, fx, ins).compute(acc, mkt, "portfolio")
    spot = fx["index_price"]["btc_usd"]
    m = fx["margins"]["btc"]
    details = m["initial_margin_details"]["risk_matrix_margin_details"]
    _close(res.scenario_loss[0] / spot, details["worst_case"])
    _close(res.roll_addon[0] / spot, details["roll_shock"])
    _close(res.initial_margin[0] / spot, m["initial_margin_details"]["risk_matrix_margin"])
    _close(res.maintenance_margin[0] / spot, m["maintenance_margin"])
    # the segregated requirement in BTC, Deribit's own unit
    per = zkmargin.currency_requirements(_engine(cls, fx, ins), acc, mkt)
    assert per.currency == ("USD", "BTC") and per.underlying.tolist() == [0, 0]
    _close(per.maintenance_margin[0, 1], m["maintenance_margin"])
    _close(per.initial_margin[0, 1], m["initial_margin_details"]["risk_matrix_margin"])
    assert per.maintenance_margin[0, 0] == 0.0


def test_old_extended_weighting_would_miss_the_example() -> None:
    """The check can fail: weighting the full extended move's P&L (no edge) overstates the
    long perpetual's extended loss 2.47x and MM comes out far above Deribit's."""
    fx = _fixture("deribit_pme_simulate_btc.json")
    ins, mkt, acc, _ = _book(fx)
    good = deribit_scenarios(1, currencies=[_currency(fx, "btc_usd", "btc")])
    naive = zkmargin.ScenarioTable(good.moves, good.vol_shocks, good.weights)  # edge = move, no dampener
    params = zkmargin.MarginParams(short_option_min=0.0)
    res = zkmargin.MarginEngine(ins, naive, params, settlement_mode="segregated").compute(acc, mkt)
    assert res.maintenance_margin[0] / mkt.spot[0] > 2.0 * fx["margins"]["btc"]["maintenance_margin"]


def test_perpetual_is_marked_at_its_mark_price() -> None:
    ins = zkmargin.Instruments([1, 0], [0, 0], [0.0, 0.0], [0.0, 0.0], [10.0, 1.0], [1, 0])
    mkt = zkmargin.Market([100.0], [0.0, 0.0], [1.0], [0.0], forward=[104.0, 999.0])
    v = zkmargin.MarginEngine(ins).instrument_values(mkt)
    assert v.mark_price[0] == 104.0 and v.mark_price[1] == 100.0  # spot ignores forward
    assert v.delta[0] == pytest.approx(100.0 * 10.0 / 104.0, rel=1e-15)
    no_mark = zkmargin.Market([100.0], [0.0, 0.0], [1.0], [0.0])
    assert zkmargin.MarginEngine(ins).instrument_values(no_mark).mark_price[0] == 100.0


def test_extended_rows_follow_deribit_per_instrument_type() -> None:
    """Inverse delta-one: the extended entry is exactly the P&L at +-R (segregated, coins);
    a linear future: the fraction R / |m| of its (linear) P&L, which is the same; an option:
    the fraction of its P&L at the full move with vol up, expressed at the edge."""
    ins = zkmargin.Instruments([1, 2, 3], [0] * 3, [0.0, 0.0, 150.0], [0.0, 0.5, 0.25], [1.0] * 3, [1, 0, 1])
    mkt = zkmargin.Market([100.0], [0.0, 0.0, 0.8], [1.0], [0.0])
    table = deribit_scenarios(1, extended_dampener=0.0)
    r = zkmargin.MarginEngine(ins, table, settlement_mode="segregated").risk_arrays(mkt)
    ext = r[:, 27:]
    for k, m in enumerate(DERIBIT_EXTENDED_MOVES):
        e = np.copysign(0.16, m)
        assert ext[0, k] == pytest.approx(100.0 / 100.0 * (1.0 - 1.0 / (1.0 + e)), rel=1e-12)
        assert ext[1, k] == pytest.approx(100.0 * e, rel=1e-12)
        # the option: w (1 + m) / (1 + e) S dV, with w = min(1, R / |m|)
        c = zkmargin.black76(True, 100.0 * (1.0 + m), 150.0, 0.25, table_vol_up(0.8, 0.25), 0.0).price
        c0 = zkmargin.black76(True, 100.0, 150.0, 0.25, 0.8, 0.0).price
        dv = c / (100.0 * (1.0 + m)) - c0 / 100.0
        want = min(1.0, 0.16 / abs(m)) * (1.0 + m) / (1.0 + e) * 100.0 * dv
        assert ext[2, k] == pytest.approx(want, rel=1e-9)


def table_vol_up(vol: float, t: float) -> float:
    """Deribit's vol-up shock with its BTC defaults (§6.1)."""
    dte = 365.0 * t
    return max(vol * (1.0 + 0.5 * (30.0 / dte) ** (0.30 if dte < 30 else 0.13)), 0.5)


def test_dampener_reduces_extended_losses_by_the_documented_amount() -> None:
    """A short deep OTM call loses most at +500%; the dampener removes (|m|/R - 1) D of it."""
    ins = zkmargin.Instruments([3], [0], [300.0], [0.1], [1.0], [0])
    mkt = zkmargin.Market([100.0], [0.6], [1.0], [0.0])
    acc = zkmargin.Accounts([0, 1], [0], [-10.0], [[0.0]])
    params = zkmargin.MarginParams(short_option_min=0.0)
    loose = zkmargin.MarginEngine(ins, deribit_scenarios(1, extended_dampener=0.0), params)
    r = loose.risk_arrays(mkt)[0]
    loss = 10.0 * r  # the short's loss per scenario
    worst = int(np.argmax(loss))
    for d in (0.0, 50.0, 200.0):
        eng = zkmargin.MarginEngine(ins, deribit_scenarios(1, extended_dampener=d), params)
        table = eng.scenarios
        want = max(0.0, float(np.max(loss - table.dampener[:, 0])))
        for cls in ENGINES:
            got = cls(ins, table, params).compute(acc, mkt).scenario_loss[0]
            assert got == pytest.approx(want, rel=1e-9)
    assert worst >= 27  # the extended table drives this book


def test_two_currency_sets_in_one_book() -> None:
    """A BTC and an ETH set: each underlying's range, vol shocks and roll parameters apply
    to its own instruments only, in all three engines."""
    btc = DeribitCurrency()
    eth = DeribitCurrency(
        price_range=0.18,
        volatility_range_up=0.4,
        extended_dampener=200_000.0,
        annualised_move_risk=0.05,
        min_annualised_move=0.005,
    )
    table = deribit_scenarios(2, currencies=[btc, eth])
    assert table.moves[0].tolist() == [-0.16, -0.18]
    assert table.vol_up.tolist() == [0.5, 0.4]
    strike = [0, 0, 60_000.0, 3_000.0]
    ins = zkmargin.Instruments([2, 2, 3, 3], [0, 1, 0, 1], strike, [0.5, 0.5, 0.1, 0.1], [1.0] * 4, [0] * 4)
    mkt = zkmargin.Market([60_000.0, 3_000.0], [0.0, 0.0, 0.6, 0.7], [1.0], [0.0])
    acc = zkmargin.Accounts([0, 1, 2, 4], [0, 1, 2, 3], [1.0, 1.0, -1.0, -1.0], np.zeros((3, 1)))
    params = zkmargin.MarginParams(short_option_min=0.0)
    results = [cls(ins, table, params).compute(acc, mkt) for cls in ENGINES]
    for r in results[1:]:
        np.testing.assert_allclose(r.initial_margin, results[0].initial_margin, rtol=1e-9)
    # roll: BTC future exp(0.075 * 0.5) - 1 on 60000, ETH exp(0.05 * 0.5) - 1 on 3000
    assert results[0].roll_addon[0] == pytest.approx(np.expm1(0.0375) * 60_000.0, rel=1e-12)
    assert results[0].roll_addon[1] == pytest.approx(np.expm1(0.025) * 3_000.0, rel=1e-12)
    # the ETH future's worst standard loss is its -18% move
    assert results[0].scenario_loss[1] == pytest.approx(0.18 * 3_000.0, rel=1e-12)


def test_bad_deribit_parameters_are_typed_errors() -> None:
    with pytest.raises(errors.ParameterError) as e:
        deribit_scenarios(2, currencies=[DeribitCurrency()])
    assert e.value.field == "currencies" and e.value.index == 1
    with pytest.raises(errors.ParameterError) as e:
        deribit_scenarios(1, extended_dampener=-1.0)
    assert e.value.field == "extended_dampener"
    with pytest.raises(errors.ParameterError) as e:
        deribit_scenarios(2, extended_dampener=[1.0, float("nan")])
    assert e.value.field == "extended_dampener" and e.value.index == 1
    with pytest.raises(errors.ParameterError) as e:
        DeribitCurrency(extended_dampener=float("inf"))
    assert e.value.field == "extended_dampener"
    with pytest.raises(errors.ShapeError) as e:
        deribit_scenarios(2, vol_up=[0.5, 0.5, 0.5])
    assert e.value.field == "vol_up"
    with pytest.raises(errors.ParameterError) as e:
        DeribitCurrency(price_range=1.5)
    assert e.value.field == "price_range"


def _pm_engine(cls: type[Any], ins: zkmargin.Instruments, **kw: Any) -> Any:
    """+-16% with vol unchanged and no add-ons: the requirement is the worst loss."""
    table = zkmargin.ScenarioTable([[-0.16], [0.16]], [[0.0], [0.0]], [[1.0], [1.0]])
    params = zkmargin.MarginParams(annual_move_risk=0.0, min_annual_move=0.0, short_option_min=0.0)
    return cls(ins, table, params, **kw)


@pytest.mark.parametrize("cls", ENGINES)
def test_coin_pnl_is_valued_at_the_scenario_price_under_cross(cls: type[Any]) -> None:
    """A 1000 USD inverse perpetual at S = F = 50000: under the cross mode its coin P&L is
    worth S (1 + m) at the scenario, so it loses 0.16 x 1000 = 160 USD short at +16% and long
    at -16%; the segregated mode counts coins at today's index: 1000 x 0.16 / 1.16 = 137.93
    (short) and 1000 x 0.16 / 0.84 = 190.48 (long)."""
    ins = zkmargin.Instruments([1], [0], [0.0], [0.0], [1.0], [1])
    mkt = zkmargin.Market([50_000.0], [0.0], [1.0], [0.0])
    acc = zkmargin.Accounts([0, 1, 2], [0, 0], [-1000.0, 1000.0], np.zeros((2, 1)))
    cross = _pm_engine(cls, ins).compute(acc, mkt).scenario_loss
    seg = _pm_engine(cls, ins, settlement_mode="segregated").compute(acc, mkt).scenario_loss
    np.testing.assert_allclose(cross, [160.0, 160.0], rtol=1e-12)
    np.testing.assert_allclose(seg, [1000 * 0.16 / 1.16, 1000 * 0.16 / 0.84], rtol=1e-12)


@pytest.mark.parametrize("cls", ENGINES)
def test_segregated_margins_each_settlement_currency_on_its_own(cls: type[Any]) -> None:
    """Long a linear BTC perpetual (0.02 BTC = 1000 USD) and short a 1000 USD inverse one:
    one USD portfolio under the cross mode, where the legs cancel in every scenario (WCL 0);
    two portfolios under the segregated mode, the USD one losing 160 at -16% and the BTC one
    137.93 (0.0027586 BTC) at +16%, summed."""
    ins = zkmargin.Instruments([1, 1], [0, 0], [0.0, 0.0], [0.0, 0.0], [0.02, 1.0], [0, 1])
    mkt = zkmargin.Market([50_000.0], [0.0, 0.0], [1.0], [0.0])
    acc = zkmargin.Accounts([0, 2], [0, 1], [1.0, -1000.0], np.zeros((1, 1)))
    cross = _pm_engine(cls, ins).compute(acc, mkt)
    seg_engine = _pm_engine(cls, ins, settlement_mode="segregated")
    seg = seg_engine.compute(acc, mkt)
    assert cross.scenario_loss[0] == pytest.approx(0.0, abs=1e-9)
    assert seg.scenario_loss[0] == pytest.approx(160.0 + 1000 * 0.16 / 1.16, rel=1e-12)
    # per currency: 0.8 x 160 USD, and 0.8 x 0.0027586 BTC
    per = zkmargin.currency_requirements(seg_engine, acc, mkt)
    np.testing.assert_allclose(per.maintenance_margin[0], [0.8 * 160.0, 0.8 * 0.02 * 0.16 / 1.16], rtol=1e-12)
    with pytest.raises(errors.ParameterError):
        zkmargin.currency_requirements(_pm_engine(cls, ins), acc, mkt)


@pytest.mark.parametrize("cls", ENGINES)
def test_wrong_way_collateral_needs_more_margin(cls: type[Any]) -> None:
    """Long 1 BTC (linear perpetual at 50000). Backed by 20000 USD the worst loss is
    0.16 x 50000 = 8000. Backed by 0.4 BTC at a 10% haircut, the collateral falls with the
    book: 8000 + 0.4 x 50000 x 0.9 x 0.16 = 10880. A 0.4 BTC loan is a short hedge:
    8000 - 0.4 x 50000 x 1.1 x 0.16 = 4480. Segregated collateral is not shocked."""
    ins = zkmargin.Instruments([1], [0], [0.0], [0.0], [1.0], [0])
    mkt = zkmargin.Market([50_000.0], [0.0], [1.0, 50_000.0], [0.0, 0.1])
    bal = [[20_000.0, 0.0], [0.0, 0.4], [30_000.0, -0.4]]
    acc = zkmargin.Accounts([0, 1, 2, 3], [0, 0, 0], [1.0, 1.0, 1.0], bal)
    res = _pm_engine(cls, ins, asset_underlying=[-1, 0]).compute(acc, mkt)
    np.testing.assert_allclose(res.scenario_loss, [8000.0, 10_880.0, 4480.0], rtol=1e-12)
    assert res.maintenance_margin[1] > res.maintenance_margin[0]
    off = _pm_engine(cls, ins).compute(acc, mkt)
    np.testing.assert_allclose(off.scenario_loss, [8000.0] * 3, rtol=1e-12)
    seg = _pm_engine(cls, ins, asset_underlying=[-1, 0], settlement_mode="segregated").compute(acc, mkt)
    np.testing.assert_allclose(seg.scenario_loss, [8000.0] * 3, rtol=1e-12)


def test_bad_settlement_settings_are_typed_errors() -> None:
    ins = zkmargin.Instruments([1], [0], [0.0], [0.0], [1.0], [0])
    mkt = zkmargin.Market([50_000.0], [0.0], [1.0, 50_000.0], [0.0, 0.1])
    acc = zkmargin.Accounts([0, 1], [0], [1.0], [[1.0, 1.0]])
    with pytest.raises(errors.ParameterError) as e:
        zkmargin.MarginEngine(ins, settlement_mode="coin")
    assert e.value.field == "settlement_mode"
    with pytest.raises(errors.ParameterError) as e:
        zkmargin.MarginEngine(ins, aggregation="joint", settlement_mode="segregated")
    assert e.value.field == "aggregation"
    with pytest.raises(errors.IndexOutOfRangeError) as e:
        zkmargin.MarginEngine(ins, asset_underlying=[-1, 1])
    assert e.value.field == "asset_underlying" and e.value.index == 1
    with pytest.raises(errors.ShapeError) as e:
        zkmargin.MarginEngine(ins, asset_underlying=[-1]).compute(acc, mkt)
    assert e.value.field == "asset_underlying"


@pytest.mark.parametrize("cls", ENGINES)
def test_open_orders_raise_im_to_the_worst_fill(cls: type[Any]) -> None:
    """Long 1 linear perpetual at 100 (+-16%, no add-ons): IM 16. A resting sell of 3 would
    leave it short 2 (IM 32) and a buy of 0.5 long 1.5 (IM 24): IM is 32, MM stays 0.8 x 16.
    An account whose orders only reduce its risk keeps its IM."""
    ins = zkmargin.Instruments([1], [0], [0.0], [0.0], [1.0], [0])
    mkt = zkmargin.Market([100.0], [0.0], [1.0], [0.0])
    acc = zkmargin.Accounts([0, 1, 2], [0, 0], [1.0, 1.0], [[1000.0], [1000.0]])
    orders = zkmargin.Orders([0, 2, 3], [0, 0, 0], [-3.0, 0.5, -1.0])
    eng = _pm_engine(cls, ins)
    res = eng.compute(acc, mkt, "portfolio", orders=orders)
    np.testing.assert_allclose(res.initial_margin, [32.0, 16.0], rtol=1e-12)
    np.testing.assert_allclose(res.maintenance_margin, [0.8 * 16.0] * 2, rtol=1e-12)
    np.testing.assert_array_equal(res.free_collateral, res.equity - res.initial_margin)
    std = eng.compute(acc, mkt, "standard", orders=orders)
    np.testing.assert_allclose(std.initial_margin, [0.1 * 2 * 100.0, 0.1 * 100.0], rtol=1e-12)


def test_bad_orders_are_typed_errors() -> None:
    ins = zkmargin.Instruments([1], [0], [0.0], [0.0], [1.0], [0])
    mkt = zkmargin.Market([100.0], [0.0], [1.0], [0.0])
    acc = zkmargin.Accounts([0, 1], [0], [1.0], [[1000.0]])
    eng = zkmargin.MarginEngine(ins)
    with pytest.raises(errors.NonFiniteError) as e:
        zkmargin.Orders([0, 2], [0, 0], [1.0, float("nan")])
    assert (e.value.field, e.value.index) == ("order_quantity", 1)
    with pytest.raises(errors.OffsetsError) as e:
        zkmargin.Orders([0, 2, 1], [0, 0], [1.0, 1.0])
    assert e.value.field == "order_offsets"
    with pytest.raises(errors.IndexOutOfRangeError) as e:
        eng.compute(acc, mkt, orders=zkmargin.Orders([0, 2], [0, 5], [1.0, 1.0]))
    assert (e.value.field, e.value.index) == ("order_instrument", 1)
    with pytest.raises(errors.ShapeError) as e:
        eng.compute(acc, mkt, orders=zkmargin.Orders([0, 0, 0], [], []))
    assert e.value.field == "order_offsets"


@pytest.mark.parametrize("cls", ENGINES)
def test_gain_offsets_limit_cross_currency_netting_under_joint(cls: type[Any]) -> None:
    """Long BTC and short ETH (linear perpetuals at 100), joint rows moving both by -10% and
    +10%: the ETH gain of 10 offsets the BTC loss of 10 in full (loss 0), half of it with
    pnl_offset 0.5 (loss 5), and at most 2 of it with a cap of 2 (loss 10 - 0.5 x 2 = 9)."""
    ins = zkmargin.Instruments([1, 1], [0, 1], [0.0, 0.0], [0.0, 0.0], [1.0, 1.0], [0, 0])
    mkt = zkmargin.Market([100.0, 100.0], [0.0, 0.0], [1.0], [0.0])
    acc = zkmargin.Accounts([0, 2], [0, 1], [1.0, -1.0], [[0.0]])
    moves = [[-0.1, -0.1], [0.1, 0.1]]
    params = zkmargin.MarginParams(annual_move_risk=0.0, min_annual_move=0.0, short_option_min=0.0)
    capped = {"pnl_offset": 0.5, "max_offsetable_pnl": [1e9, 2.0]}
    for kw, want in (({}, 0.0), ({"pnl_offset": 0.5}, 5.0), (capped, 9.0)):
        table = zkmargin.ScenarioTable(moves, np.zeros((2, 2)), np.ones((2, 2)), **kw)
        res = cls(ins, table, params, aggregation="joint").compute(acc, mkt)
        assert res.scenario_loss[0] == pytest.approx(want, abs=1e-12)
    with pytest.raises(errors.ParameterError) as e:
        zkmargin.ScenarioTable(moves, np.zeros((2, 2)), np.ones((2, 2)), pnl_offset=[0.5, 1.5])
    assert (e.value.field, e.value.index) == ("pnl_offset", 1)
    with pytest.raises(errors.ParameterError) as e:
        DeribitCurrency(pnl_offset=-0.1)
    assert e.value.field == "pnl_offset"
    # Deribit's BTC set offsets no gains at all
    assert deribit_scenarios(2, currencies=[DeribitCurrency()] * 2).pnl_offset.tolist() == [0.0, 0.0]
