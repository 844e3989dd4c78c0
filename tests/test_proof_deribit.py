"""The solvency statement under the Deribit features (docs/margin-model.md §6; proof-spec
§9): every accepted engine keeps "proven requirement >= engine MM", and what the statement
cannot express is refused with a typed error."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from zkmargin import (
    Accounts,
    Instruments,
    MarginEngine,
    MarginParams,
    Market,
    ScenarioTable,
    baseline,
)
from zkmargin.baseline import numpy_engine
from zkmargin.errors import ParameterError
from zkmargin.proof import (
    build_statement,
    commit_account,
    default_balance_decimals,
    prove_solvency,
    proven_requirement,
    verify_solvency,
)
from zkmargin.proof.coefficients import portfolio_ids
from zkmargin.proof.snapshot import EpochSnapshot
from zkmargin.proof.table import audit_snapshot, build_snapshot
from zkmargin.scenarios import DeribitCurrency, deribit_scenarios

# a linear and an inverse BTC perpetual, a short-dated BTC call; an ETH future
INS = Instruments(
    [1, 1, 3, 2],
    [0, 0, 0, 1],
    [0.0, 0.0, 90_000.0, 0.0],
    [0.0, 0.0, 0.05, 0.5],
    [1.0, 1.0, 1.0, 1.0],
    [0, 1, 0, 0],
)
MARKET = Market(
    [60_000.0, 3_000.0],
    [0.0, 0.0, 0.6, 0.0],
    [1.0, 60_000.0],
    [0.0, 0.1],
    forward=[60_100.0, 60_200.0, 60_000.0, 3_050.0],
)
BD = default_balance_decimals(MARKET.asset_price)
NO_SOM = MarginParams(short_option_min=0.0)
UNDAMPENED = DeribitCurrency(extended_dampener=0.0)


def _prove(eng: Any, rows: dict[int, float], usdc: float = 1e6) -> tuple[float, float, float]:
    """(engine MM, proven requirement, rounding slack) for a one-account book, and the proof verifies."""
    ins = sorted(rows)
    acc = Accounts([0, len(ins)], ins, [rows[i] for i in ins], [[usdc, 0.0]])
    mm = float(eng.compute(acc, MARKET).maintenance_margin[0])
    com, op = commit_account(acc, 0, n_instruments=len(INS), balance_decimals=BD)
    stm = build_statement(eng, MARKET, com, "acct", 1)
    _, preq = proven_requirement(stm, op)
    pr = prove_solvency(stm, com, op)
    assert verify_solvency(stm, com, pr)
    slack = 4 * sum(abs(q) for q in op.quantities) * 10.0**-stm.money_decimals + 1e-7
    return mm, preq * 10.0**-stm.money_decimals, slack


def test_segregated_portfolios_are_separate_groups_in_the_statement() -> None:
    """Long linear + short inverse BTC perpetuals: one hedged portfolio under the cross
    mode, two under the segregated mode; the statement proves each mode's requirement (a
    statement grouping by underlying alone would prove about 0 for the segregated book)."""
    table = ScenarioTable([[-0.16, -0.16], [0.16, 0.16]], np.zeros((2, 2)), np.ones((2, 2)))
    book = {0: 1.0, 1: -60_200.0}
    mms = []
    for mode in ("cross", "segregated"):
        eng = MarginEngine(INS, table, NO_SOM, settlement_mode=mode)
        mm, proven, slack = _prove(eng, book)
        assert mm - slack <= proven <= mm + slack
        mms.append(mm)
    assert mms[1] > 0.8 * 0.16 * 60_100.0 > mms[0]


def test_per_currency_roll_parameters_reach_the_statement() -> None:
    eth = DeribitCurrency(
        price_range=0.18, annualised_move_risk=0.5, min_annualised_move=0.05, extended_dampener=0.0
    )
    btc = DeribitCurrency(extended_dampener=0.0)
    eng = MarginEngine(INS, deribit_scenarios(2, currencies=[btc, eth]), NO_SOM)
    mm, proven, slack = _prove(eng, {3: 2.0})
    assert mm - slack <= proven <= mm + slack
    assert mm >= 0.8 * np.expm1(0.25) * 2 * 3_050.0  # the ETH set's roll shock


def test_dampener_is_left_out_so_the_proven_requirement_is_never_lower() -> None:
    """A short call whose worst loss is an extended row: the engine dampens it, the
    statement does not, so the proof claims more than the engine requires."""
    damped = MarginEngine(INS, deribit_scenarios(2, extended_dampener=20.0), NO_SOM)
    plain = MarginEngine(INS, deribit_scenarios(2, extended_dampener=0.0), NO_SOM)
    book = {2: -5.0}
    mm, proven, slack = _prove(damped, book)
    acc = Accounts([0, 1], [2], [-5.0], [[1e6, 0.0]])
    mm0 = float(plain.compute(acc, MARKET).maintenance_margin[0])
    assert mm < mm0
    assert proven >= mm0 - slack and proven >= mm


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"aggregation": "joint"}, "dampener"),
        (
            {"aggregation": "joint", "scenarios": deribit_scenarios(2, currencies=[UNDAMPENED, UNDAMPENED])},
            "pnl_offset",
        ),
    ],
)
def test_what_the_statement_cannot_express_is_refused(kw: dict[str, Any], field: str) -> None:
    kw = {"scenarios": deribit_scenarios(2), **kw}
    eng = MarginEngine(INS, params=NO_SOM, **kw)
    acc = Accounts([0, 1], [0], [1.0], [[1e6, 1.0]])
    com, _ = commit_account(acc, 0, n_instruments=len(INS), balance_decimals=BD)
    with pytest.raises(ParameterError) as e:
        build_statement(eng, MARKET, com, "acct", 1)
    assert e.value.field == field
    # without the feature the same book is provable
    ok = MarginEngine(
        INS, deribit_scenarios(2, extended_dampener=0.0), NO_SOM, aggregation=kw.get("aggregation", "sum")
    )
    build_statement(ok, MARKET, com, "acct", 1)


@pytest.mark.parametrize("engine_class", [MarginEngine, numpy_engine.MarginEngine, baseline.MarginEngine])
def test_snapshot_of_a_segregated_per_currency_engine_audits(engine_class: Any) -> None:
    """An epoch snapshot carries the settlement mode, edges, dampener and per-currency
    parameters: decoded from its bytes, it rebuilds an engine whose coefficient table is the
    published one, and its statements group coin-settled instruments on their own."""
    eth = DeribitCurrency(price_range=0.18, volatility_range_up=0.4, annualised_move_risk=0.05)
    table = deribit_scenarios(2, currencies=[DeribitCurrency(), eth])
    eng = MarginEngine(INS, table, NO_SOM, settlement_mode="segregated")
    snap = EpochSnapshot.from_bytes(build_snapshot(eng, MARKET, 3).to_bytes())
    assert snap.settlement_mode == "segregated"
    assert portfolio_ids(snap.underlying, snap.settlement, snap.n_underlyings, True) == [0, 2, 0, 1]
    assert audit_snapshot(snap, engine_class).ok
    rebuilt = snap.engine()
    np.testing.assert_array_equal(rebuilt.risk_arrays(MARKET), eng.risk_arrays(MARKET))
    assert rebuilt.roll_buckets()[0].tolist() == eng.roll_buckets()[0].tolist()
