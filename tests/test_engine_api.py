"""The public engine API: shapes, immutability of inputs, builders, typed errors, CLI."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

import zkmargin
from zkmargin import errors
from zkmargin.book import Accounts, Instruments
from zkmargin.market import MAX_VOL, Market
from zkmargin.results import ACCOUNT_FIELDS
from zkmargin.synthetic import Exchange, generate_exchange


@pytest.fixture(scope="module")
def ex() -> Exchange:
    return generate_exchange(3_000, seed=7)


@pytest.fixture(scope="module")
def eng(ex: Exchange) -> zkmargin.MarginEngine:
    return zkmargin.MarginEngine(ex.instruments)


def _market(ex: Exchange, **changes: Any) -> Market:
    m = ex.market
    fields = {
        "spot": m.spot,
        "vol": m.vol,
        "asset_price": m.asset_price,
        "haircut": m.haircut,
        "rate": m.rate,
        "forward": m.forward,
    }
    fields.update(changes)
    return Market(**fields)


def _accounts(ex: Exchange, **changes: Any) -> Accounts:
    a = ex.accounts
    fields = {
        "offsets": a.offsets,
        "instrument": a.instrument,
        "quantity": a.quantity,
        "balances": a.balances,
    }
    fields.update(changes)
    return Accounts(**fields)


def _with(arr: np.ndarray, index: int, value: float) -> np.ndarray:
    out = arr.copy()
    out[index] = value
    return out


@pytest.mark.parametrize("model", ["standard", "cross", "portfolio"])
def test_outputs_have_account_shapes_and_no_nan(ex: Exchange, eng: zkmargin.MarginEngine, model: str) -> None:
    res = eng.compute(ex.accounts, ex.market, model)
    n, u = len(ex.accounts), eng.n_underlyings
    for name in ACCOUNT_FIELDS:
        arr = getattr(res, name)
        assert arr.shape == (n,) and arr.dtype == np.float64 and arr.flags.c_contiguous, name
        assert not np.isnan(arr).any(), name
    assert res.worst_scenario.dtype == np.int64
    for name in ("net_delta", "net_gamma", "net_vega", "net_theta"):
        assert getattr(res, name).shape == (n, u)
    np.testing.assert_array_equal(res.free_collateral, res.equity - res.initial_margin)
    assert np.all(res.maintenance_margin <= res.initial_margin)
    if model != "portfolio":
        assert np.all(res.worst_scenario == -1)


def test_inputs_are_not_mutated(ex: Exchange, eng: zkmargin.MarginEngine) -> None:
    before = [
        np.copy(x)
        for x in (
            ex.accounts.offsets,
            ex.accounts.instrument,
            ex.accounts.quantity,
            ex.accounts.balances,
            ex.market.spot,
            ex.market.vol,
        )
    ]
    for model in ("standard", "cross", "portfolio"):
        eng.compute(ex.accounts, ex.market, model)
    after = (
        ex.accounts.offsets,
        ex.accounts.instrument,
        ex.accounts.quantity,
        ex.accounts.balances,
        ex.market.spot,
        ex.market.vol,
    )
    for b, a in zip(before, after, strict=True):
        np.testing.assert_array_equal(a, b)


def test_threads_share_one_engine(ex: Exchange, eng: zkmargin.MarginEngine) -> None:
    expected = eng.compute(ex.accounts, ex.market).maintenance_margin
    results: list[np.ndarray] = []

    def work() -> None:
        results.append(eng.compute(ex.accounts, ex.market).maintenance_margin)

    workers = [threading.Thread(target=work) for _ in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert len(results) == 4
    for r in results:
        np.testing.assert_array_equal(r, expected)


def test_from_triples_merges_and_sorts() -> None:
    acc = Accounts.from_triples(
        [1, 0, 1, 1, 0], [3, 2, 1, 3, 2], [1.0, 2.0, 5.0, -1.0, -2.0], np.zeros((3, 1))
    )
    # Account 0's two rows cancel and account 1's instrument 3 nets to zero: both dropped.
    np.testing.assert_array_equal(acc.offsets, [0, 0, 1, 1])
    np.testing.assert_array_equal(acc.instrument, [1])
    np.testing.assert_array_equal(acc.quantity, [5.0])
    acc = Accounts.from_triples([2, 0, 2], [5, 1, 0], [1.0, 2.0, 3.0], np.zeros((3, 1)))
    np.testing.assert_array_equal(acc.offsets, [0, 1, 1, 3])
    np.testing.assert_array_equal(acc.instrument, [1, 0, 5])
    np.testing.assert_array_equal(acc.quantity, [2.0, 3.0, 1.0])
    with pytest.raises(errors.IndexOutOfRangeError):
        Accounts.from_triples([3], [0], [1.0], np.zeros((3, 1)))


def test_from_table_pandas_and_arrow_match_triples() -> None:
    pd = pytest.importorskip("pandas")
    pa = pytest.importorskip("pyarrow")
    rows = {"account": [0, 2, 2, 0], "instrument": [4, 1, 1, 0], "quantity": [1.5, -2.0, 0.5, 3.0]}
    bal = np.ones((3, 2))
    ref = Accounts.from_triples(rows["account"], rows["instrument"], rows["quantity"], bal)
    for table in (pd.DataFrame(rows), pa.table(rows)):
        got = Accounts.from_table(table, bal)
        np.testing.assert_array_equal(got.offsets, ref.offsets)
        np.testing.assert_array_equal(got.instrument, ref.instrument)
        np.testing.assert_array_equal(got.quantity, ref.quantity)
    with pytest.raises(errors.ShapeError):
        Accounts.from_table(pd.DataFrame({"account": [0]}), bal)


BAD_MARKETS = [
    ({"spot": "nan0"}, errors.NonFiniteError, "spot", 0),
    ({"spot": "zero1"}, errors.NonPositiveError, "spot", 1),
    ({"vol": "neg_option"}, errors.NonPositiveError, "vol", None),
    ({"forward": "inf5"}, errors.NonFiniteError, "forward", 5),
    ({"haircut": "one"}, errors.ParameterError, "haircut", 1),
    ({"asset_price": "zero0"}, errors.NonPositiveError, "asset_price", 0),
    ({"vol": "short", "forward": "none"}, errors.ShapeError, "vol", None),
]


@pytest.mark.parametrize(("change", "exc", "field", "index"), BAD_MARKETS)
def test_bad_market_values(
    ex: Exchange,
    eng: zkmargin.MarginEngine,
    change: dict[str, str],
    exc: type[errors.InputError],
    field: str,
    index: int | None,
) -> None:
    m = ex.market
    opt = int(np.flatnonzero(ex.instruments.is_option)[0])
    make = {
        "none": lambda: None,
        "nan0": lambda: _with(m.spot, 0, np.nan),
        "zero1": lambda: _with(m.spot, 1, 0.0),
        "neg_option": lambda: _with(m.vol, opt, -0.2),
        "inf5": lambda: _with(m.forward, 5, np.inf),
        "one": lambda: _with(m.haircut, 1, 1.0),
        "zero0": lambda: _with(m.asset_price, 0, 0.0),
        "short": lambda: m.vol[:-1].copy(),
    }
    with pytest.raises(exc) as info:
        eng.compute(ex.accounts, _market(ex, **{k: make[v]() for k, v in change.items()}), "portfolio")
    assert isinstance(info.value, ValueError)
    assert info.value.field == field
    if index is not None:
        assert info.value.index == index
    elif change.get("vol") == "neg_option":
        assert info.value.index == opt


def test_bad_accounts(ex: Exchange, eng: zkmargin.MarginEngine) -> None:
    a = ex.accounts
    cases: list[tuple[dict[str, Any], type[errors.InputError], str]] = [
        (
            {"instrument": _with(a.instrument, 3, len(ex.instruments))},
            errors.IndexOutOfRangeError,
            "instrument",
        ),
        ({"instrument": _with(a.instrument, 4, -1)}, errors.IndexOutOfRangeError, "instrument"),
        ({"quantity": _with(a.quantity, 2, np.nan)}, errors.NonFiniteError, "quantity"),
        ({"offsets": _with(a.offsets, 2, a.offsets[3] + 1)}, errors.OffsetsError, "offsets"),
        (
            {"offsets": _with(a.offsets, len(a.offsets) - 1, a.offsets[-1] - 1)},
            errors.OffsetsError,
            "offsets",
        ),
        ({"balances": np.ones((len(a), 2))}, errors.ShapeError, "balances"),
        ({"balances": _with(a.balances, 0, np.inf)}, errors.NonFiniteError, "balances"),
    ]
    for change, exc, field in cases:
        with pytest.raises(exc) as info:
            eng.compute(_accounts(ex, **change), ex.market)
        assert info.value.field == field, change
    np.testing.assert_array_equal(a.offsets, ex.accounts.offsets)


def test_array_types_and_layouts(ex: Exchange) -> None:
    a = ex.accounts
    with pytest.raises(errors.ArrayLayoutError) as info:
        Accounts(a.offsets, a.instrument, np.repeat(a.quantity, 2)[::2], a.balances)
    assert isinstance(info.value, TypeError) and info.value.field == "quantity"
    with pytest.raises(errors.DTypeError):
        Accounts(a.offsets.astype(np.float64), a.instrument, a.quantity, a.balances)
    with pytest.raises(errors.DTypeError):
        Accounts(a.offsets, a.instrument, a.quantity.astype(str), a.balances)
    with pytest.raises(errors.ShapeError):
        Accounts(a.offsets, a.instrument, a.quantity[:-1], a.balances)
    with pytest.raises(errors.ShapeError):
        Accounts(a.offsets, a.instrument, a.quantity, a.balances[:-1])


def test_bad_instruments_and_settings(ex: Exchange) -> None:
    ins = ex.instruments
    opt = int(np.flatnonzero(ins.is_option)[0])

    def build(**changes: Any) -> Instruments:
        cols = {
            k: getattr(ins, k)
            for k in ("kind", "underlying", "strike", "expiry", "contract_size", "settlement")
        }
        cols.update(changes)
        return Instruments(**cols)

    cases: list[tuple[Instruments, type[errors.InputError], str]] = [
        (build(expiry=_with(ins.expiry, opt, 0.0)), errors.ExpiredError, "expiry"),
        (build(expiry=_with(ins.expiry, 0, -1.0)), errors.ExpiredError, "expiry"),
        (build(strike=_with(ins.strike, opt, -5.0)), errors.NonPositiveError, "strike"),
        (build(contract_size=_with(ins.contract_size, 1, 0.0)), errors.NonPositiveError, "contract_size"),
        (build(kind=_with(ins.kind, 2, 9)), errors.ParameterError, "kind"),
        (build(underlying=_with(ins.underlying, 2, 5)), errors.IndexOutOfRangeError, "underlying"),
    ]
    scen = zkmargin.deribit_scenarios(2)
    for bad, exc, field in cases:
        with pytest.raises(exc) as info:
            zkmargin.MarginEngine(bad, scenarios=scen)
        assert info.value.field == field
    eng = zkmargin.MarginEngine(ins)
    with pytest.raises(errors.ParameterError):
        eng.compute(ex.accounts, ex.market, "isolated-ish")
    with pytest.raises(errors.ParameterError):
        zkmargin.MarginEngine(ins, threads=-1)
    with pytest.raises(errors.ParameterError):
        zkmargin.MarginEngine(ins, aggregation="max")
    with pytest.raises(errors.NotPositiveSemidefiniteError):
        zkmargin.MarginEngine(ins, aggregation="correlation", correlation=[[1.0, 0.5], [0.4, 1.0]])
    with pytest.raises(errors.ParameterError):
        zkmargin.MarginEngine(ins, aggregation="correlation", correlation=[[1.0, 1.5], [1.5, 1.0]])
    with pytest.raises(errors.ParameterError):
        zkmargin.MarginParams(mm_factor=1.5)
    with pytest.raises(errors.ParameterError):
        replace(zkmargin.MarginParams(), linear_im=float("nan"))


def test_correlation_never_exceeds_the_sum(ex: Exchange) -> None:
    total = zkmargin.MarginEngine(ex.instruments).compute(ex.accounts, ex.market).scenario_loss
    for rho in (np.eye(2), np.ones((2, 2)), np.array([[1.0, -0.5], [-0.5, 1.0]])):
        eng = zkmargin.MarginEngine(ex.instruments, aggregation="correlation", correlation=rho)
        loss = eng.compute(ex.accounts, ex.market).scenario_loss
        # signed directional losses: |sqrt(e' rho e)| <= sum |e_u| (docs §6.3)
        assert np.all(loss <= total * (1 + 1e-12))
        assert np.all(loss >= 0.0)


def test_demo_cli_runs(capsys: pytest.CaptureFixture[str]) -> None:
    from zkmargin.cli import main

    assert main(["demo", "--accounts", "1500", "--top", "3", "--proofs", "1"]) == 0
    out = capsys.readouterr().out
    for text in ("Capital required", "portfolio", "closest to liquidation", "Timings", "solvency proofs"):
        assert text in out
    assert main(["nonsense"]) == 2


def test_extension_is_a_release_build() -> None:
    from zkmargin import _core

    assert _core.debug_build() is False


def _child_margin(conn: Any, ex: Exchange) -> None:
    conn.send(zkmargin.MarginEngine(ex.instruments, threads=2).compute(ex.accounts, ex.market).equity)
    conn.close()


def test_engine_works_in_a_forked_child(ex: Exchange) -> None:
    """Worker pools are per process: a child forked after the parent used them must not
    wait on threads that do not exist in it."""
    import multiprocessing
    import warnings

    expected = zkmargin.MarginEngine(ex.instruments, threads=2).compute(ex.accounts, ex.market).equity
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (Python >= 3.12)
        proc = ctx.Process(target=_child_margin, args=(child, ex))
        proc.start()
    assert parent.poll(120), "child did not answer: deadlock in a forked process"
    np.testing.assert_array_equal(parent.recv(), expected)
    proc.join(30)
    assert proc.exitcode == 0


def test_percent_vols_raise_unless_declared() -> None:
    """The README book with Deribit-style percent vols: rejected as fractions (it would
    cut maintenance margin ~10x), equal to the fraction market when declared."""
    fraction = Market([60_000.0], [0.0, 0.55, 0.60], [1.0], [0.0])
    with pytest.raises(errors.VolUnitError) as exc:
        Market([60_000.0], [0.0, 55.0, 60.0], [1.0], [0.0])
    assert (exc.value.field, exc.value.index) == ("vol", 1)
    assert isinstance(exc.value, errors.ParameterError)
    pct_in = np.array([0.0, 55.0, 60.0])
    percent = Market([60_000.0], pct_in, [1.0], [0.0], vol_unit="percent")
    np.testing.assert_array_equal(percent.vol, fraction.vol)
    np.testing.assert_array_equal(pct_in, [0.0, 55.0, 60.0])  # the caller's array is untouched
    Market([60_000.0], [MAX_VOL], [1.0], [0.0])  # the bound itself is a valid fraction
    with pytest.raises(errors.ParameterError, match="vol_unit"):
        Market([60_000.0], [0.5], [1.0], [0.0], vol_unit="bp")
