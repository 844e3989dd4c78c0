"""Cross-underlying netting (docs/margin-model.md §6.3): the signed correlation aggregation
and SPAN's per-commodity requirement, on every engine, against hand-computed numbers and
as properties."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import zkmargin
from helpers.budget import scaled
from helpers.margin_strategies import FLOOR, Case, Reference, cases
from zkmargin import baseline, errors
from zkmargin.baseline import numpy_engine
from zkmargin.span import InterSpread, SpanRules

ENGINES: dict[str, type[Any]] = {
    "rust": zkmargin.MarginEngine,
    "python": baseline.MarginEngine,
    "numpy": numpy_engine.MarginEngine,
}
ALL = pytest.mark.parametrize("engine", list(ENGINES))

# BTC and ETH linear perpetuals (cs 1), plus BTC futures and options for the SPAN cases
BTC, ETH = 100_000.0, 5_000.0
PERPS = zkmargin.Instruments([1, 1], [0, 1], [0.0, 0.0], [0.0, 0.0], [1.0, 1.0], [0, 0])
PERP_MARKET = zkmargin.Market([BTC, ETH], [0.0, 0.0], [1.0], [0.0])


def book(*rows: tuple[int, float]) -> zkmargin.Accounts:
    return zkmargin.Accounts([0, len(rows)], [i for i, _ in rows], [q for _, q in rows], [[0.0]])


def rho2(r: float) -> list[list[float]]:
    return [[1.0, r], [r, 1.0]]


def corr_loss(engine: str, accounts: zkmargin.Accounts, r: float, **kw: Any) -> float:
    eng = ENGINES[engine](PERPS, aggregation="correlation", correlation=rho2(r), **kw)
    return float(eng.compute(accounts, PERP_MARKET).scenario_loss[0])


@ALL
def test_cross_hedge_is_charged_far_less_than_the_same_direction_book(engine: str) -> None:
    # long 1 BTC against short 20 ETH (USD 100k each) at rho 0.95, Deribit's 16% range:
    # each leg loses 16,000 in its own direction, e = (16000, -16000), so
    # WCL = sqrt(2 * 16000^2 * (1 - 0.95)) = 16000 sqrt(0.1); both long: 16000 sqrt(3.9)
    hedge = corr_loss(engine, book((0, 1.0), (1, -20.0)), 0.95)
    same = corr_loss(engine, book((0, 1.0), (1, 20.0)), 0.95)
    assert hedge == pytest.approx(5059.644256269407, rel=1e-12)
    assert same == pytest.approx(31597.468253017385, rel=1e-12)
    # the same-direction book gets almost no credit against the 32,000 sum
    assert same / 32_000.0 > 0.98 and hedge / 32_000.0 < 0.16
    # maintenance margin: 0.8 (WCL + roll), roll 1% of each perpetual bucket's |delta|
    eng = ENGINES[engine](PERPS, aggregation="correlation", correlation=rho2(0.95))
    mm = eng.compute(book((0, 1.0), (1, -20.0)), PERP_MARKET).maintenance_margin[0]
    assert mm == pytest.approx(0.8 * (5059.644256269407 + 2000.0), rel=1e-12)


@ALL
def test_a_loss_on_both_sides_is_never_netted(engine: str) -> None:
    # a short BTC straddle loses whichever way BTC moves; against a short ETH perp at
    # rho 1 only the directional remainder nets, min(down, up) is added as is
    ins = zkmargin.Instruments(
        [3, 4, 1], [0, 0, 1], [BTC, BTC, 0.0], [0.1, 0.1, 0.0], [1.0, 1.0, 1.0], [0, 0, 0]
    )
    mkt = zkmargin.Market([BTC, ETH], [0.6, 0.6, 0.0], [1.0], [0.0])
    acc = book((0, -1.0), (1, -1.0), (2, -2.0))
    table = zkmargin.span_scenarios(2, 0.16)
    eng = ENGINES[engine](ins, table, aggregation="correlation", correlation=rho2(1.0))
    res = eng.compute(acc, mkt)
    ref = baseline.MarginEngine(ins, table)
    pnl = ref.risk_arrays(mkt)
    moves = ref.scenarios.moves
    straddle = pnl[0] * -1.0 + pnl[1] * -1.0
    down = max(0.0, float((-straddle[moves[:, 0] <= 0]).max()))
    up = max(0.0, float((-straddle[moves[:, 0] >= 0]).max()))
    eth_up = 2.0 * ETH * 0.16  # the short ETH perp loses only on the way up
    want = min(down, up) + abs((down - up) - eth_up)
    assert res.scenario_loss[0] == pytest.approx(want, rel=1e-9)
    assert res.scenario_loss[0] >= min(down, up)


@st.composite
def linear_pair(draw: st.DrawFn) -> tuple[zkmargin.ScenarioTable, float, float]:
    table = draw(
        st.sampled_from(["deribit", "span"]).map(
            lambda k: (
                zkmargin.deribit_scenarios(2, [0.16, 0.2])
                if k == "deribit"
                else zkmargin.span_scenarios(2, [0.1, 0.15])
            )
        )
    )
    qa = draw(st.floats(0.01, 50.0))
    qb = draw(st.floats(0.01, 50.0))
    return table, qa, qb


def leg_losses(table: zkmargin.ScenarioTable, qa: float, qb: float) -> tuple[float, float]:
    """Each long leg's worst loss: |q| S times the table's largest weighted down move."""
    down = (table.weights * np.maximum(-table.moves, 0.0)).max(axis=0)
    return qa * BTC * float(down[0]), qb * ETH * float(down[1])


@ALL
@scaled(0.25)  # eight engine builds an example, and run once per engine (the pure-Python one too)
@given(linear_pair(), st.floats(0.01, 1.0))
def test_signed_correlation_properties(engine: str, pair: Any, r: float) -> None:
    table, qa, qb = pair
    la, lb = leg_losses(table, qa, qb)

    def loss(sa: float, sb: float, rho: float) -> float:
        return corr_loss(engine, book((0, sa * qa), (1, sb * qb)), rho, scenarios=table)

    tol = 1e-9 * (la + lb)
    # rho = 1, same direction: the sum
    assert abs(loss(1, 1, 1.0) - (la + lb)) <= tol
    # rho = 1, opposite: the difference
    assert abs(loss(1, -1, 1.0) - abs(la - lb)) <= tol
    # rho = 0: root-sum-square
    assert abs(loss(1, -1, 0.0) - math.hypot(la, lb)) <= tol
    assert abs(loss(1, 1, 0.0) - math.hypot(la, lb)) <= tol
    # a cross-hedge is charged less than the book with one leg flipped to compound
    if r > 0.0:
        assert loss(1, -1, r) < loss(1, 1, r)
        assert loss(-1, 1, r) < loss(-1, -1, r)


@ALL
def test_opposite_equal_legs_at_rho_one_need_nothing(engine: str) -> None:
    assert corr_loss(engine, book((0, 1.0), (1, -20.0)), 1.0) == pytest.approx(0.0, abs=1e-9)


@given(cases(aggregations=("correlation",)))
def test_correlation_stays_within_its_documented_bounds(case: Case) -> None:
    """sum_u min(down_u, up_u) <= WCL <= sum_u L_u, and one underlying gives exactly L_u."""
    ref = Reference(case)
    res = case.engine(zkmargin.MarginEngine).compute(case.accounts, case.market)
    moves = case.scenarios.moves.T[:, None, :]
    down = np.maximum(0.0, np.where(moves <= 0.0, -ref.pnl, 0.0).max(axis=2)).sum(axis=0)
    up = np.maximum(0.0, np.where(moves >= 0.0, -ref.pnl, 0.0).max(axis=2)).sum(axis=0)
    losses = np.maximum(0.0, (-ref.pnl).max(axis=2))
    tol = 1e-9 * res.scenario_loss + FLOOR * ref.money
    assert np.all(res.scenario_loss <= losses.sum(axis=0) + tol)
    both = np.minimum(
        np.maximum(0.0, np.where(moves <= 0.0, -ref.pnl, 0.0).max(axis=2)),
        np.maximum(0.0, np.where(moves >= 0.0, -ref.pnl, 0.0).max(axis=2)),
    ).sum(axis=0)
    assert np.all(res.scenario_loss >= both - tol)
    assert np.all(down >= 0.0) and np.all(up >= 0.0)
    single = (np.abs(ref.pnl).max(axis=2) > 0.0).sum(axis=0) <= 1
    assert np.all(np.abs(res.scenario_loss - losses.sum(axis=0))[single] <= tol[single])


# ------------------------------------------------------------------ SPAN

#: BTC: perpetual, futures at 0.25 and 0.5 years, far out-of-the-money call and put;
#: ETH: perpetual. Flat forwards (every BTC future at the index).
SPAN_INS = zkmargin.Instruments(
    [1, 2, 2, 3, 4, 1],
    [0, 0, 0, 0, 0, 1],
    [0.0, 0.0, 0.0, 10 * BTC, BTC / 10, 0.0],
    [0.0, 0.25, 0.5, 0.05, 0.05, 0.0],
    [1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
    [0, 0, 0, 0, 0, 0],
)
SPAN_MARKET = zkmargin.Market([BTC, ETH], [0.0, 0.0, 0.0, 0.3, 0.3, 0.0], [1.0], [0.0])


def span_engine(engine: str, rules: SpanRules | None = None, **params: float) -> Any:
    return ENGINES[engine](
        SPAN_INS,
        zkmargin.span_scenarios(2, 0.16),
        zkmargin.MarginParams(**params),
        aggregation="span",
        span=rules,
    )


@ALL
def test_short_option_minimum_is_a_floor_not_an_add_on(engine: str) -> None:
    # 5 short calls and 3 short puts so far out of the money that no scenario moves
    # them: scan risk ~0, SOM = 0.003 * max(5, 3) * 100,000 = 1,500 (not 0.003 * 8 * 1e5)
    res = span_engine(engine).compute(book((3, -5.0), (4, -3.0)), SPAN_MARKET)
    assert res.scenario_loss[0] < 1e-6
    assert res.scenario_loss[0] + res.short_option_addon[0] == pytest.approx(1500.0, rel=1e-12)
    assert res.maintenance_margin[0] == pytest.approx(0.8 * 1500.0, rel=1e-9)
    # with a short future the scan risk 16,000 exceeds the SOM: nothing is added
    res = span_engine(engine).compute(book((1, -1.0), (3, -5.0)), SPAN_MARKET)
    assert res.short_option_addon[0] == 0.0
    assert res.maintenance_margin[0] == pytest.approx(0.8 * 16_000.0, rel=1e-9)
    # the additive (Deribit-style) rule adds 0.003 * 5 * 1e5 = 1,500 on top
    add = ENGINES[engine](SPAN_INS, zkmargin.span_scenarios(2, 0.16))
    res = add.compute(book((1, -1.0), (3, -5.0)), SPAN_MARKET)
    assert res.short_option_addon[0] == pytest.approx(1500.0, rel=1e-12)


@ALL
def test_calendar_spread_charge_only_on_offsetting_expiries(engine: str) -> None:
    rules = SpanRules(intra_rate=0.02)
    eng = span_engine(engine, rules)
    # long 0.25y against short 0.5y at one forward: scan risk 0, 2% of the 100,000 spread
    res = eng.compute(book((1, 1.0), (2, -1.0)), SPAN_MARKET)
    assert res.scenario_loss[0] == pytest.approx(0.0, abs=1e-9)
    assert res.roll_addon[0] == pytest.approx(2000.0, rel=1e-12)
    assert res.maintenance_margin[0] == pytest.approx(1600.0, rel=1e-12)
    # an outright future has nothing to offset: no calendar charge
    res = eng.compute(
        book(
            (2, 1.0),
        ),
        SPAN_MARKET,
    )
    assert res.roll_addon[0] == 0.0
    # 2 long near, 1 short far: one spread (100,000 of delta) charged, one future scanned
    res = eng.compute(book((1, 2.0), (2, -1.0)), SPAN_MARKET)
    assert res.roll_addon[0] == pytest.approx(2000.0, rel=1e-12)
    assert res.scenario_loss[0] == pytest.approx(16_000.0, rel=1e-12)
    # perpetual (T = 0 bucket) against a future spreads too
    res = eng.compute(book((0, -1.0), (2, 1.0)), SPAN_MARKET)
    assert res.roll_addon[0] == pytest.approx(2000.0, rel=1e-12)


@ALL
def test_inter_commodity_credit_by_tier(engine: str) -> None:
    # long 1 BTC perp (+100,000 delta) against short 20 ETH perps (-100,000): scan 16,000
    # each, weighted price risk 16,000 / 100,000 = 0.16 per USD of delta
    hedge = book((0, 1.0), (5, -20.0))
    one = span_engine(engine, SpanRules(inter_spreads=[InterSpread(0, 1, 1.0, -1.0, 0.7)]))
    res = one.compute(hedge, SPAN_MARKET)
    # 100,000 spreads: credit 0.7 * 100,000 * 0.16 = 11,200 per leg
    assert res.scenario_loss[0] == pytest.approx(2 * (16_000.0 - 11_200.0), rel=1e-12)
    # ratio 1 : -0.5 uses all BTC delta but half the ETH delta
    half = span_engine(engine, SpanRules(inter_spreads=[InterSpread(0, 1, 1.0, -0.5, 0.7)]))
    res = half.compute(hedge, SPAN_MARKET)
    assert res.scenario_loss[0] == pytest.approx((16_000.0 - 11_200.0) + (16_000.0 - 5_600.0), rel=1e-12)
    # a lower-priority tier gets only the delta left over: ETH -50,000 but BTC 0
    two = span_engine(
        engine,
        SpanRules(inter_spreads=[InterSpread(0, 1, 1.0, -0.5, 0.7), InterSpread(0, 1, 1.0, -1.0, 0.3)]),
    )
    assert two.compute(hedge, SPAN_MARKET).scenario_loss[0] == pytest.approx(15_200.0, rel=1e-12)
    # both legs long: not a spread on this tier, no credit
    res = one.compute(book((0, 1.0), (5, 20.0)), SPAN_MARKET)
    assert res.scenario_loss[0] == pytest.approx(32_000.0, rel=1e-12)


@ALL
def test_inter_commodity_credit_never_exceeds_price_risk_of_the_delta(engine: str) -> None:
    # a delta-neutral short straddle (big scan risk, ~0 delta) gets no credit from a tiny
    # ETH hedge: the credit is at most rate * delta used * price range
    eng = span_engine(engine, SpanRules(inter_spreads=[InterSpread(0, 1, 1.0, -1.0, 1.0)]))
    ins = zkmargin.Instruments(
        [3, 4, 1], [0, 0, 1], [BTC, BTC, 0.0], [0.1, 0.1, 0.0], [1.0, 1.0, 1.0], [0, 0, 0]
    )
    mkt = zkmargin.Market([BTC, ETH], [0.6, 0.6, 0.0], [1.0], [0.0])
    eng = ENGINES[engine](
        ins,
        zkmargin.span_scenarios(2, 0.16),
        aggregation="span",
        span=SpanRules(inter_spreads=[InterSpread(0, 1, 1.0, -1.0, 1.0)]),
    )
    plain = ENGINES[engine](ins, zkmargin.span_scenarios(2, 0.16), aggregation="span")
    acc = book((0, -1.0), (1, -1.0), (2, -0.01))
    got = eng.compute(acc, mkt).scenario_loss[0]
    want = plain.compute(acc, mkt).scenario_loss[0]
    delta = abs(float(eng.instrument_values(mkt).delta[:2] @ [-1.0, -1.0]))
    assert want - got <= 2 * 0.16 * min(delta, 0.01 * ETH) + 1e-9


@pytest.mark.parametrize(
    ("rules", "error", "field"),
    [
        (SpanRules(inter_spreads=[InterSpread(0, 0)]), errors.ParameterError, "span_legs"),
        (SpanRules(inter_spreads=[InterSpread(0, 2)]), errors.IndexOutOfRangeError, "span_legs"),
        (SpanRules(inter_spreads=[InterSpread(0, 1, rate=1.5)]), errors.ParameterError, "span_rates"),
        (SpanRules(inter_spreads=[InterSpread(0, 1, ratio_b=0.0)]), errors.ParameterError, "span_ratios"),
        (
            SpanRules(inter_spreads=[InterSpread(0, 1, ratio_a=math.nan)]),
            errors.NonFiniteError,
            "span_ratios",
        ),
        (SpanRules(intra_rate=[0.01, -0.01]), errors.ParameterError, "span_intra_rate"),
        (SpanRules(intra_rate=[0.01, 0.0, 0.0]), errors.ParameterError, "span_intra_rate"),
    ],
)
def test_bad_span_rules_are_typed(rules: SpanRules, error: type[Exception], field: str) -> None:
    with pytest.raises(error) as info:
        zkmargin.MarginEngine(PERPS, zkmargin.span_scenarios(2), aggregation="span", span=rules)
    assert info.value.field == field  # type: ignore[attr-defined]


def test_span_rules_need_the_span_aggregation() -> None:
    with pytest.raises(errors.ParameterError) as info:
        zkmargin.MarginEngine(PERPS, span=SpanRules())
    assert info.value.field == "span"
    with pytest.raises(errors.ParameterError):
        zkmargin.MarginEngine(PERPS, span=object())  # type: ignore[arg-type]


# ------------------------------------------------------------------ proof coverage


def _statement_inputs(eng: Any) -> tuple[Any, Any]:
    from zkmargin.proof.commitments import commit_account, default_balance_decimals

    com, _ = commit_account(
        book((0, 1.0), (1, -20.0)),
        0,
        n_instruments=len(PERPS),
        balance_decimals=default_balance_decimals(PERP_MARKET.asset_price),
    )
    return eng, com


@pytest.mark.parametrize(
    ("kwargs", "reason", "field"),
    [
        ({"aggregation": "correlation", "correlation": rho2(0.9)}, "square root", "aggregation"),
        ({"aggregation": "span", "span": SpanRules(0.01)}, "not convex", "span_intra_rate"),
        (
            {"aggregation": "span", "span": SpanRules(inter_spreads=[InterSpread(0, 1)])},
            "not convex",
            "span_legs",
        ),
    ],
)
def test_prover_refuses_what_is_not_convex_piecewise_linear(
    kwargs: dict[str, Any], reason: str, field: str
) -> None:
    from zkmargin.proof import build_statement

    eng, com = _statement_inputs(zkmargin.MarginEngine(PERPS, **kwargs))
    with pytest.raises(errors.ParameterError, match=reason) as info:
        build_statement(eng, PERP_MARKET, com, "acct", 0)
    assert info.value.field == field


def test_snapshot_encodes_look_ahead_and_absolute_vol_shocks() -> None:
    from zkmargin.proof import audit_snapshot, build_snapshot
    from zkmargin.proof.snapshot import EpochSnapshot

    for table in (
        zkmargin.span_scenarios(2, look_ahead_days=1.0),
        zkmargin.span_scenarios(2, vol_shift="absolute"),
    ):
        snap = build_snapshot(zkmargin.MarginEngine(PERPS, table), PERP_MARKET, 0)
        assert snap.version == 2
        back = EpochSnapshot.from_bytes(snap.to_bytes())
        assert (back.vol_shift, back.look_ahead) == (table.vol_shift, table.look_ahead)
        assert audit_snapshot(back).ok
