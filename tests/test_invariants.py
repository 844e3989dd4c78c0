"""Properties the margin model must have whatever the numbers (Rust engine): netting never
raises margin, hedges carry no scenario or roll risk, margin is homogeneous of degree one in
position size, results do not depend on the thread count, a wider scan never lowers the
worst-case loss, equity does not depend on the model; and the synthetic exchange is
deterministic and has the promised shape."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.typing import NDArray

import zkmargin
from helpers.margin_strategies import FLOOR, Case, Reference, cases, scenario_tables
from zkmargin import Accounts, Instruments, Kind, Market, Settlement, baseline
from zkmargin.results import ACCOUNT_FIELDS, GREEK_FIELDS, MODELS, MarginResult
from zkmargin.synthetic import generate_exchange

REL = 1e-9


def rows_alone(acc: Accounts) -> tuple[Accounts, NDArray[np.int64]]:
    """Every row as its own account with no collateral, and the account each came from."""
    n = acc.n_rows
    alone = Accounts(np.arange(n + 1), acc.instrument, acc.quantity, np.zeros((n, acc.balances.shape[1])))
    return alone, np.repeat(np.arange(len(acc)), np.diff(acc.offsets))


def per_account(values: NDArray[np.float64], owner: NDArray[np.int64], n: int) -> NDArray[np.float64]:
    return np.bincount(owner, weights=values, minlength=n)


def results_equal(a: MarginResult, b: MarginResult) -> bool:
    fields = (*ACCOUNT_FIELDS, *GREEK_FIELDS, "worst_scenario")
    return all(np.array_equal(getattr(a, f), getattr(b, f)) for f in fields)


@given(cases())
def test_netting_never_raises_margin(case: Case) -> None:
    """A book needs no more margin than its rows margined one by one (every model and
    aggregation: worst-case loss, roll and short-option add-ons are all subadditive).
    SPAN's calendar spread charge is not: a spread pays ``intra_rate`` on offsetting deltas
    its legs alone never have (docs §6.4a), so it is switched off here."""
    if case.span is not None:
        case = replace(case, span=replace(case.span, intra_rate=0.0))
    eng = case.engine(zkmargin.MarginEngine)
    alone, owner = rows_alone(case.accounts)
    tol = FLOOR * Reference(case).money
    for model in MODELS:
        book = eng.compute(case.accounts, case.market, model)
        rows = eng.compute(alone, case.market, model)
        for field in ("initial_margin", "maintenance_margin"):
            bound = per_account(getattr(rows, field), owner, len(case.accounts))
            assert np.all(getattr(book, field) <= bound * (1 + REL) + tol), (model, field)


@given(cases())
def test_cross_never_exceeds_standard_in_contango(case: Case) -> None:
    """Cross margin nets delta-one exposure at its USD delta, which equals the standard
    notional for linear contracts and is ``cs * S / F <= cs`` for inverse ones when the
    forward is at or above the index (see the backwardation test below)."""
    mkt = case.market
    spot = mkt.spot[case.instruments.underlying]
    fwd = None if mkt.forward is None else np.maximum(mkt.forward, spot)
    contango = Market(mkt.spot, mkt.vol, mkt.asset_price, mkt.haircut, mkt.rate, fwd)
    eng = case.engine(zkmargin.MarginEngine)
    cross = eng.compute(case.accounts, contango, "cross")
    standard = eng.compute(case.accounts, contango, "standard")
    tol = FLOOR * Reference(case).money
    for field in ("initial_margin", "maintenance_margin"):
        assert np.all(getattr(cross, field) <= getattr(standard, field) * (1 + REL) + tol), field


def test_cross_can_exceed_standard_for_inverse_future_in_backwardation() -> None:
    """docs §5 says cross never exceeds standard; for an inverse future with F < S its USD
    delta ``S cs / F`` exceeds its standard notional ``cs``, so it does (spec as written)."""
    ins = Instruments([Kind.FUTURE], [0], [0.0], [0.5], [10.0], [Settlement.INVERSE])
    mkt = Market([100.0], [0.0], [1.0], [0.0], forward=[80.0])
    acc = Accounts([0, 1], [0], [-3.0], [[0.0]])
    eng = zkmargin.MarginEngine(ins)
    p = zkmargin.MarginParams()
    cross = eng.compute(acc, mkt, "cross").initial_margin[0]
    standard = eng.compute(acc, mkt, "standard").initial_margin[0]
    assert cross == pytest.approx(p.linear_im * 3 * 100.0 * 10.0 / 80.0, rel=1e-12)
    assert standard == pytest.approx(p.linear_im * 3 * 10.0, rel=1e-12)
    assert cross > standard


@given(cases(), st.data())
def test_hedged_rows_carry_no_scenario_or_roll_risk(case: Case, data: st.DataObject) -> None:
    """Long and short the same instrument as two rows of one account: the scenario P&L and
    the per-bucket delta cancel row by row, exactly."""
    i = data.draw(st.integers(0, len(case.instruments) - 1))
    q = data.draw(st.floats(0.001, 1e3) | st.just(1.0))
    n_j = case.accounts.balances.shape[1]
    acc = Accounts([0, 2], [i, i], [q, -q], np.zeros((1, n_j)))
    res = case.engine(zkmargin.MarginEngine).compute(acc, case.market, "portfolio")
    assert res.scenario_loss[0] == 0.0
    assert res.roll_addon[0] == 0.0
    assert res.worst_scenario[0] == -1
    for g in GREEK_FIELDS:
        assert np.all(getattr(res, g) == 0.0), g


def scaled(acc: Accounts, k: float) -> Accounts:
    return Accounts(acc.offsets, acc.instrument, acc.quantity * k, acc.balances)


LINEAR_IN_SIZE = ("initial_margin", "maintenance_margin", "scenario_loss", "roll_addon", "short_option_addon")


@given(cases(), st.integers(-4, 4))
def test_scaling_by_a_power_of_two_is_exact(case: Case, e: int) -> None:
    """Multiplying every quantity by 2^e multiplies margin, add-ons and Greeks by 2^e
    bit for bit (no rounding happens in a power-of-two scaling)."""
    k = 2.0**e
    eng = case.engine(zkmargin.MarginEngine)
    for model in MODELS:
        base = eng.compute(case.accounts, case.market, model)
        big = eng.compute(scaled(case.accounts, k), case.market, model)
        for field in (*LINEAR_IN_SIZE, *GREEK_FIELDS):
            assert np.array_equal(getattr(big, field), k * getattr(base, field)), (model, field)
        if model == "portfolio":
            assert np.array_equal(big.worst_scenario, base.worst_scenario)


@given(cases(), st.floats(0.01, 100.0))
def test_margin_is_homogeneous_in_size(case: Case, k: float) -> None:
    eng = case.engine(zkmargin.MarginEngine)
    tol = FLOOR * k * Reference(case).money
    for model in MODELS:
        base = eng.compute(case.accounts, case.market, model)
        big = eng.compute(scaled(case.accounts, k), case.market, model)
        for field in LINEAR_IN_SIZE:
            want = k * getattr(base, field)
            assert np.all(np.abs(getattr(big, field) - want) <= REL * np.abs(want) + tol), (model, field)


@given(cases())
def test_equity_and_greeks_do_not_depend_on_the_model(case: Case) -> None:
    eng = case.engine(zkmargin.MarginEngine)
    results = [eng.compute(case.accounts, case.market, m) for m in MODELS]
    for res in results:
        assert np.array_equal(res.free_collateral, res.equity - res.initial_margin)
        for field in ("equity", *GREEK_FIELDS):
            assert np.array_equal(getattr(res, field), getattr(results[0], field)), field


@given(cases(max_accounts=12))
def test_thread_count_does_not_change_results(case: Case) -> None:
    one = case.engine(zkmargin.MarginEngine, threads=1)
    two = case.engine(zkmargin.MarginEngine, threads=2)
    for model in MODELS:
        assert results_equal(
            one.compute(case.accounts, case.market, model), two.compute(case.accounts, case.market, model)
        )
    assert np.array_equal(one.risk_arrays(case.market), two.risk_arrays(case.market))


@pytest.mark.parametrize("aggregation", ["sum", "joint", "correlation"])
def test_thread_count_does_not_change_results_on_an_exchange(aggregation: str) -> None:
    ex = generate_exchange(30_000, seed=3)
    rho = np.array([[1.0, 0.6], [0.6, 1.0]]) if aggregation == "correlation" else None
    engines = [
        zkmargin.MarginEngine(ex.instruments, aggregation=aggregation, correlation=rho, threads=t)
        for t in (1, 2)
    ]
    for model in MODELS if aggregation == "sum" else ("portfolio",):
        a, b = (e.compute(ex.accounts, ex.market, model) for e in engines)
        assert results_equal(a, b), model


def _with_scenarios(case: Case, table: zkmargin.ScenarioTable) -> zkmargin.MarginEngine:
    return case.engine(zkmargin.MarginEngine, scenarios=table, aggregation="sum", correlation=None, span=None)


@given(cases(), st.integers(2, 3), st.data())
def test_wider_nested_deribit_grid_never_lowers_the_loss(case: Case, k: int, data: st.DataObject) -> None:
    """Scaling the price range by k with k times the buckets keeps every old move on the
    grid and raises the extended moves' weights, so each underlying's loss cannot fall.
    (With the same bucket count it can: the grid points move and the P&L of an option
    book need not be monotone between them.)"""
    n_u = case.scenarios.n_underlyings
    ranges = np.array(data.draw(st.lists(st.floats(0.02, 0.3), min_size=n_u, max_size=n_u)))
    buckets = data.draw(st.integers(1, 3))
    ext = data.draw(st.sampled_from([0.0, 0.5, 1.0]))
    narrow = zkmargin.deribit_scenarios(n_u, ranges, buckets, extended_factor=ext)
    wide = zkmargin.deribit_scenarios(n_u, k * ranges, k * buckets, extended_factor=ext)
    a = _with_scenarios(case, narrow).compute(case.accounts, case.market).scenario_loss
    b = _with_scenarios(case, wide).compute(case.accounts, case.market).scenario_loss
    assert np.all(b >= a * (1 - REL) - FLOOR * Reference(case).money)


@pytest.mark.parametrize("engine", [zkmargin.MarginEngine, baseline.MarginEngine])
def test_same_bucket_count_is_not_monotone_for_option_books(engine: type[Any]) -> None:
    """Why the test above nests the grids: with 4 buckets, widening the range from 0.20 to
    0.24 moves the grid off this call fly's worst point, and its loss falls."""
    strikes = [80.0, 90.0, 100.0, 110.0, 120.0]
    ins = Instruments([Kind.CALL] * 5, [0] * 5, strikes, [0.05] * 5, [1.0] * 5, [0] * 5)
    mkt = Market([100.0], [0.5] * 5, [1.0], [0.0], forward=[100.0] * 5)
    acc = Accounts([0, 5], np.arange(5), [-3.0, 1.0, 3.0, 0.5, 1.0], [[0.0]])
    narrow, wide = (
        engine(ins, scenarios=zkmargin.deribit_scenarios(1, r, 4, extended_moves=()))
        .compute(acc, mkt)
        .scenario_loss[0]
        for r in (0.20, 0.24)
    )
    assert wide < narrow * (1 - 1e-3)


@given(cases(), st.floats(1.0, 3.0), st.data())
def test_wider_scan_never_lowers_the_loss_of_linear_delta_one_books(
    case: Case, k: float, data: st.DataObject
) -> None:
    """A linear delta-one book's P&L is linear in the move, so its worst loss sits at the
    edge of the scan and grows with the range, for the Deribit and SPAN presets alike."""
    ins = case.instruments
    linear = Instruments(
        np.where(ins.is_option, int(Kind.FUTURE), ins.kind),
        ins.underlying,
        ins.strike,
        ins.expiry,
        ins.contract_size,
        np.zeros(len(ins), dtype=np.int64),
    )
    case = Case(linear, case.market, case.accounts, case.scenarios, case.params, "sum", None)
    n_u = case.scenarios.n_underlyings
    ranges = np.array(data.draw(st.lists(st.floats(0.02, 0.3), min_size=n_u, max_size=n_u)))
    if data.draw(st.booleans()):
        buckets = data.draw(st.integers(1, 4))
        tables = [zkmargin.deribit_scenarios(n_u, r, buckets) for r in (ranges, np.minimum(k * ranges, 0.9))]
    else:
        tables = [zkmargin.span_scenarios(n_u, r) for r in (ranges, np.minimum(k * ranges, 0.49))]
    a, b = (_with_scenarios(case, t).compute(case.accounts, case.market).scenario_loss for t in tables)
    assert np.all(b >= a * (1 - REL) - FLOOR * Reference(case).money)


@given(cases(), st.data())
def test_any_scenario_table_gives_valid_results(case: Case, data: st.DataObject) -> None:
    """Loss, add-ons and margins are non-negative and IM >= MM (im_factor >= mm_factor),
    for any table a user can build."""
    n_u = case.scenarios.n_underlyings
    table = data.draw(scenario_tables(n_u))
    res = case.engine(zkmargin.MarginEngine, scenarios=table).compute(case.accounts, case.market)
    for field in LINEAR_IN_SIZE:
        assert np.all(getattr(res, field) >= 0.0), field
    assert np.all(res.initial_margin >= res.maintenance_margin)


# -- synthetic exchange ------------------------------------------------------------------


def _arrays(ex: Any) -> list[NDArray[Any]]:
    ins, mkt, acc = ex.instruments, ex.market, ex.accounts
    cols = [
        getattr(ins, f) for f in ("kind", "underlying", "strike", "expiry", "contract_size", "settlement")
    ]
    cols += [mkt.spot, mkt.vol, mkt.asset_price, mkt.haircut, mkt.forward, np.array([mkt.rate])]
    cols += [acc.offsets, acc.instrument, acc.quantity, acc.balances]
    return cols


def test_synthetic_exchange_is_deterministic() -> None:
    a, b, c = (
        generate_exchange(2_000, seed=5),
        generate_exchange(2_000, seed=5),
        generate_exchange(2_000, seed=6),
    )
    assert a.names == b.names
    assert all(np.array_equal(x, y) for x, y in zip(_arrays(a), _arrays(b), strict=True))
    assert not np.array_equal(a.accounts.quantity[:100], c.accounts.quantity[:100])


def test_synthetic_exchange_shape() -> None:
    ex = generate_exchange(20_000, seed=0)
    ins, mkt, acc = ex.instruments, ex.market, ex.accounts
    assert 350 <= len(ins) <= 450 and len(ex.names) == len(ins) == len(set(ex.names))
    assert ins.n_underlyings == 2
    np.testing.assert_array_equal(mkt.spot, [60_000.0, 3_000.0])
    assert set(ins.kind.tolist()) == {int(k) for k in Kind}
    for u in (0, 1):
        mine = ins.underlying == u
        assert set(ins.settlement[mine & (ins.kind == Kind.PERPETUAL)].tolist()) == {0, 1}
        assert (ins.is_option & mine).sum() >= 150
    assert np.all(ins.settlement[ins.is_option & (ins.underlying == 0)] == Settlement.INVERSE)
    assert np.all(ins.settlement[ins.is_option & (ins.underlying == 1)] == Settlement.LINEAR)
    dated = ins.expiry[ins.kind >= Kind.FUTURE]
    assert dated.min() <= 8 / 365 and dated.max() >= 0.9
    counts = np.diff(acc.offsets)
    assert counts.min() >= 1 and counts.max() <= 40 and 8.0 <= counts.mean() <= 12.0
    # rows are what Accounts.from_triples builds: sorted, distinct, non-zero
    rebuilt = Accounts.from_triples(
        np.repeat(np.arange(len(acc)), counts), acc.instrument, acc.quantity, acc.balances
    )
    np.testing.assert_array_equal(rebuilt.offsets, acc.offsets)
    np.testing.assert_array_equal(rebuilt.instrument, acc.instrument)
    np.testing.assert_array_equal(rebuilt.quantity, acc.quantity)
    assert (acc.balances[:, 0] < 0).any() and (acc.balances[:, 1:] > 0).any()
    res = zkmargin.MarginEngine(ins).compute(acc, mkt, "portfolio")
    below = res.liquidatable.mean()
    near = ((res.equity >= res.maintenance_margin) & (res.equity < 1.5 * res.maintenance_margin)).mean()
    assert 0.005 <= below <= 0.08 and 0.005 <= near <= 0.1
