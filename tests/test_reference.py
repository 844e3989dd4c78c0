"""The three implementations of docs/margin-model.md agree: the Rust engine, the
pure-Python reference and the NumPy engine, on every model and aggregation.

Agreement is to 1e-9 relative, with an absolute floor of 1e-12 times the account's gross
magnitude (the sum of the absolute values of the terms being added), which is what
different but correct summation orders and libm implementations can differ by when a
result is a near-cancellation of large terms.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from numpy.typing import NDArray

import zkmargin
from helpers.budget import scaled
from helpers.margin_strategies import FLOOR, Case, Reference, cases
from zkmargin import baseline
from zkmargin.baseline import numpy_engine
from zkmargin.errors import IndexOutOfRangeError, NonFiniteError, OffsetsError
from zkmargin.results import GREEK_FIELDS, INSTRUMENT_FIELDS, MODELS, MarginResult
from zkmargin.synthetic import generate_exchange

ENGINES: dict[str, type[Any]] = {
    "rust": zkmargin.MarginEngine,
    "python": baseline.MarginEngine,
    "numpy": numpy_engine.MarginEngine,
}
REL = 1e-9
MONEY_FIELDS = (
    "equity",
    "initial_margin",
    "maintenance_margin",
    "free_collateral",
    "scenario_loss",
    "roll_addon",
    "short_option_addon",
)


#: absolute floor for Greeks: differences in the subnormal range are rounding, not model
TINY = 1e-300


def close(got: NDArray[Any], want: NDArray[Any], atol: NDArray[Any] | float) -> NDArray[np.bool_]:
    return np.asarray(np.abs(got - want) <= REL * np.abs(want) + atol + TINY)


def assert_close(name: str, got: NDArray[Any], want: NDArray[Any], atol: Any) -> None:
    assert got.shape == want.shape, f"{name}: shape {got.shape} != {want.shape}"
    ok = close(got, want, atol)
    assert ok.all(), f"{name}: {got[~ok]} != {want[~ok]} at {np.argwhere(~ok)[:5].tolist()}"


def check_worst_scenario(case: Case, ref: Reference, res: MarginResult) -> None:
    """``worst_scenario`` must attain the worst-case loss (ties within tolerance are
    indistinguishable across implementations, so any of them is accepted)."""
    tol = FLOOR * ref.money + REL * res.scenario_loss
    for a, s in enumerate(res.worst_scenario.tolist()):
        wcl = res.scenario_loss[a]
        if wcl <= tol[a]:
            continue
        assert 0 <= s < case.scenarios.n_scenarios, (a, s)
        pnl, damp = ref.pnl[:, a, :], ref.damp
        if case.aggregation == "joint":
            g_u = np.arange(pnl.shape[0]) % case.scenarios.n_underlyings
            k, cap = case.scenarios.pnl_offset[g_u][:, None], case.scenarios.max_offsetable_pnl[g_u][:, None]
            counted = np.where(pnl > 0.0, k * np.minimum(pnl, cap), pnl)
            assert -np.where(damp > 0.0, np.minimum(0.0, pnl + damp), counted)[:, s].sum() >= wcl - tol[a]
        else:
            loss = -(pnl + damp)
            losses = np.maximum(0.0, loss.max(axis=1))
            top = np.flatnonzero(losses >= losses.max() - tol[a])
            assert np.any(loss[top, s] >= losses[top] - tol[a]), (a, s)


def check_internal_consistency(res: MarginResult, model: str) -> None:
    assert res.model == model
    assert np.array_equal(res.free_collateral, res.equity - res.initial_margin)
    pos = res.equity > 0.0
    with np.errstate(over="ignore"):  # a subnormal equity's ratio is +inf, as documented
        ratio = res.maintenance_margin[pos] / res.equity[pos]
    assert np.array_equal(res.margin_ratio[pos], ratio)
    assert np.all(np.isposinf(res.margin_ratio[~pos]))
    assert res.worst_scenario.dtype == np.int64
    if model != "portfolio":
        assert np.all(res.worst_scenario == -1)
        for name in ("scenario_loss", "roll_addon", "short_option_addon"):
            assert np.all(getattr(res, name) == 0.0), name


def check_case(case: Case, models: tuple[str, ...] = MODELS) -> None:
    ref = Reference(case)
    engines = {name: case.engine(cls) for name, cls in ENGINES.items()}
    for name, eng in engines.items():
        risk = eng.risk_arrays(case.market)
        assert risk.dtype == np.float64 and risk.flags.c_contiguous
        assert_close(f"{name} risk_arrays", risk, ref.risk, FLOOR * ref.per_contract[:, None])
        vals = eng.instrument_values(case.market)
        for field in INSTRUMENT_FIELDS:
            atol = FLOOR * ref.per_contract * ref.greek_factor
            assert_close(f"{name} {field}", getattr(vals, field), getattr(ref.values, field), atol)
    for model in models:
        results = {name: eng.compute(case.accounts, case.market, model) for name, eng in engines.items()}
        want = results["python"]
        for name, res in results.items():
            check_internal_consistency(res, model)
            for field in MONEY_FIELDS:
                assert_close(
                    f"{name} {model} {field}",
                    getattr(res, field),
                    getattr(want, field),
                    FLOOR * ref.money,
                )
            for field in GREEK_FIELDS:
                # a deep out-of-the-money option's Greeks can underflow to 0 in one engine and
                # stay subnormal (~1e-315) in another: below TINY nothing is a difference
                atol = FLOOR * ref.greek_gross[field] + TINY
                assert_close(f"{name} {model} {field}", getattr(res, field), getattr(want, field), atol)
            if model == "portfolio":
                check_worst_scenario(case, ref, res)


@scaled(2)  # the suite's main check of the core against both oracles
@given(cases(damped=True, linked=True))
def test_engines_agree_on_random_books(case: Case) -> None:
    check_case(case)


@pytest.mark.parametrize("aggregation", ["sum", "joint", "correlation"])
def test_engines_agree_on_synthetic_exchange(aggregation: str) -> None:
    ex = generate_exchange(500, seed=7)
    case = Case(
        ex.instruments,
        ex.market,
        ex.accounts,
        zkmargin.deribit_scenarios(2),
        zkmargin.MarginParams(),
        aggregation,
        np.array([[1.0, 0.8], [0.8, 1.0]]) if aggregation == "correlation" else None,
    )
    check_case(case, MODELS if aggregation == "sum" else ("portfolio",))


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    ("mutate", "error", "field"),
    [
        (
            lambda a: (a.offsets, np.array([0, 99]), a.quantity, a.balances),
            IndexOutOfRangeError,
            "instrument",
        ),
        (
            lambda a: (a.offsets, a.instrument, np.array([1.0, np.nan]), a.balances),
            NonFiniteError,
            "quantity",
        ),
        (
            lambda a: (np.array([0, 2, 1, 2]), a.instrument, a.quantity, np.zeros((3, 1))),
            OffsetsError,
            "offsets",
        ),
    ],
    ids=["instrument", "quantity", "offsets"],
)
def test_every_engine_validates_before_computing(
    engine: str, mutate: Any, error: type[Exception], field: str
) -> None:
    ins = zkmargin.Instruments([1], [0], [0.0], [0.0], [1.0], [0])
    mkt = zkmargin.Market([100.0], [0.0], [1.0], [0.0])
    good = zkmargin.Accounts([0, 2], [0, 0], [1.0, 2.0], [[10.0]])
    bad = zkmargin.Accounts(*mutate(good))
    with pytest.raises(error) as info:
        ENGINES[engine](ins).compute(bad, mkt)
    assert info.value.field == field  # type: ignore[attr-defined]


@pytest.mark.parametrize("aggregation", ["sum", "joint", "correlation"])
def test_numpy_engine_results_do_not_depend_on_chunking(aggregation: str) -> None:
    ex = generate_exchange(300, seed=11)
    rho = np.array([[1.0, -0.3], [-0.3, 1.0]]) if aggregation == "correlation" else None
    whole = numpy_engine.MarginEngine(ex.instruments, aggregation=aggregation, correlation=rho)
    chunked = numpy_engine.MarginEngine(ex.instruments, aggregation=aggregation, correlation=rho)
    chunked.chunk_size = 7  # 43 chunks, the last one partial
    for model in MODELS:
        a = whole.compute(ex.accounts, ex.market, model)
        b = chunked.compute(ex.accounts, ex.market, model)
        for field in (*MONEY_FIELDS, "margin_ratio", "worst_scenario", *GREEK_FIELDS):
            assert np.array_equal(getattr(a, field), getattr(b, field)), (model, field)
