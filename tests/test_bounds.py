"""Input bounds, output checks and typed errors (docs/margin-model.md §9, "Bounds"): the
cases the public-API fuzzer found (issue 10), each pinned to the typed error it now raises,
and the largest book inside the bounds margined to finite numbers."""

from __future__ import annotations

import numpy as np
import pytest

import zkmargin
from zkmargin import Accounts, Instruments, MarginEngine, Market, black76, errors, proof
from zkmargin.dynamic import LiquidityRule


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ((True, 5e-324, 39138.5, 0.35, 0.66), "forward"),  # delta was NaN
        ((False, 59847.8, 38599.1, 5e-324, 0.44), "t"),  # gamma was NaN
        ((False, 59847.8, 38599.1, 0.5, 1e300), "vol"),  # theta was NaN
        ((False, 59847.8, 38599.1, 0.5, 0.44, -800.0), "rate"),  # price was inf
        ((False, 59847.8, 38599.1, 0.5, 0.44, -1e300), "rate"),
        ((True, 1.7e308, 1.0, 0.5, 0.44), "forward"),
        ((True, 1.0, 1.0, 1e300, 0.44), "t"),
    ],
)
def test_black76_refuses_values_outside_the_bounds(args: tuple[float, ...], field: str) -> None:
    with pytest.raises(errors.ParameterError, match="supported") as info:
        black76(*args)
    assert (info.value.field, info.value.index) == (field, 0)


def _book(**over: object) -> tuple[Instruments, Market, Accounts]:
    cols = {"strike": [0.0, 60000.0], "expiry": [0.0, 0.25], "contract_size": [1.0, 1.0]}
    mkt = {"spot": [60000.0], "asset_price": [1.0], "rate": 0.0}
    book = {"quantity": [1.0, -2.0], "balances": [[1e5]]}
    for k, v in over.items():
        for d in (cols, mkt, book):
            if k in d:
                d[k] = v
    ins = Instruments([1, 3], [0, 0], cols["strike"], cols["expiry"], cols["contract_size"], [0, 0])
    m = Market(mkt["spot"], [0.0, 0.6], mkt["asset_price"], [0.0], rate=mkt["rate"])
    acc = Accounts([0, 2], [0, 1], book["quantity"], book["balances"])
    return ins, m, acc


@pytest.mark.parametrize(
    ("over", "field", "index"),
    [
        ({"spot": [5e-324]}, "spot", 0),  # NaN in the risk arrays
        ({"rate": -1e300}, "rate", None),
        ({"rate": -800.0}, "rate", None),
        ({"asset_price": [1.7e308]}, "asset_price", 0),
        ({"balances": [[1.7e308]]}, "balances", 0),
        ({"quantity": [1e300, -2.0]}, "quantity", 0),
        ({"expiry": [0.0, 1e300]}, "expiry", 1),
        ({"contract_size": [1e300, 1.0]}, "contract_size", 0),
        ({"strike": [0.0, 1e300]}, "strike", 1),
    ],
)
def test_engine_refuses_values_outside_the_bounds(
    over: dict[str, object], field: str, index: int | None
) -> None:
    ins, m, acc = _book(**over)
    if field in ("expiry", "contract_size", "strike"):  # the engine validates its universe
        with pytest.raises(errors.ParameterError, match="supported") as info:
            MarginEngine(ins)
        assert (info.value.field, info.value.index) == (field, index)
        return
    eng = MarginEngine(ins)
    calls = [lambda: eng.compute(acc, m, "portfolio")]
    if field not in ("balances", "quantity", "asset_price"):  # what the risk arrays read
        calls.append(lambda: eng.risk_arrays(m))
    for call in calls:
        with pytest.raises(errors.ParameterError, match="supported") as info:
            call()
        assert (info.value.field, info.value.index) == (field, index)


def test_the_largest_book_inside_the_bounds_margins_to_finite_numbers() -> None:
    """Every bound at once: prices 1e12, a century to expiry at |rate| = 1, the vol floor
    and cap, 1e12 contracts of size 1e9, balances of 1e15 -- every output finite."""
    k = [1e-12, 1e12, 1e-12, 1e12]
    ins = Instruments(
        [1, 3, 4, 2],
        [0, 0, 0, 0],
        [0.0, 1e12, 1e-12, 0.0],
        [0.0, 100.0, 1e-12, 100.0],
        [1e9] * 4,
        [1, 0, 1, 1],
    )
    for rate in (-1.0, 1.0):
        for vol in (1e-6, 10.0):
            m = Market([1e12], [0.0, vol, vol, 0.0], [1e12, 1e-12], [0.0, 0.5], rate=rate, forward=k)
            acc = Accounts(
                [0, 4, 8],
                [0, 1, 2, 3] * 2,
                [1e12, -1e12, 1e12, -1e12, -1e12, 1e12, -1e12, 1e12],
                [[1e15, -1e15], [-1e15, 1e15]],
            )
            eng = MarginEngine(ins)
            for model in ("standard", "cross", "portfolio"):
                res = eng.compute(acc, m, model)
                for name in (
                    "equity",
                    "initial_margin",
                    "maintenance_margin",
                    "net_delta",
                    "net_gamma",
                    "net_theta",
                ):
                    assert np.all(np.isfinite(getattr(res, name))), (rate, vol, model, name)
            assert np.all(np.isfinite(eng.risk_arrays(m)))


def test_an_absurd_underlying_index_is_refused_before_allocating() -> None:
    with pytest.raises(errors.ParameterError) as info:
        MarginEngine(Instruments([0], [2**40], [0.0], [0.0], [1.0], [0]))
    assert (info.value.field, info.value.index) == ("underlying", 0)


def test_liquidity_rule_columns_of_another_length_are_a_shape_error() -> None:
    with pytest.raises(errors.ShapeError) as info:
        LiquidityRule([1.0, 2.0], [0.01, 0.02, 0.03], 1e6)
    assert info.value.field == "half_spread"


def test_wrong_python_types_in_the_proof_layer_are_typed() -> None:
    with pytest.raises(errors.ArgumentTypeError) as info:
        proof.prove_range([1.5])  # type: ignore[list-item]
    assert (info.value.field, info.value.index) == ("values", 0)
    with pytest.raises(errors.ArgumentTypeError):
        proof.commit(1.5, 3)  # type: ignore[arg-type]
    with pytest.raises(errors.OutOfBoundsError):
        proof.quantity_to_units(1.0, decimals=2**63)  # huge ints were a hang (10 ** 2**63)
    coms, pr = proof.prove_range([3], n=8)
    with pytest.raises(errors.ArgumentTypeError):
        proof.verify_solvency(None, None, None)  # type: ignore[arg-type]
    with pytest.raises(errors.ArgumentTypeError):
        proof.RangeProof.from_bytes(None)  # type: ignore[arg-type]
    with pytest.raises(errors.ArgumentTypeError):
        proof.verify_range(coms[0], pr, n=8)  # type: ignore[arg-type]  (bytes, not a list)
    assert proof.verify_range(coms, pr, n=8)
    # the new classes are TypeErrors and InputErrors at once, inside the one hierarchy
    assert issubclass(errors.ArgumentTypeError, TypeError)
    assert issubclass(errors.ArgumentTypeError, errors.InputError)
    assert issubclass(errors.NonFiniteResultError, errors.NonFiniteError)
    assert zkmargin.errors.OutOfBoundsError.__mro__[1] is errors.ParameterError


def test_an_overflowing_result_names_the_output() -> None:
    """Inputs the bounds do not cover (returns of 1e300) overflow; the output check turns
    the infinity into a typed error naming the output and its index."""
    with pytest.raises(errors.NonFiniteResultError) as info:
        zkmargin.dynamic.historical_scenarios(np.array([[1e300], [1.0]]), 1)
    assert info.value.field == "historical" and info.value.index == 0


def test_the_engines_output_error_names_the_account() -> None:
    """The engine checks its outputs in its own pass (rust/core margin.rs tests feed it the
    NaNs no input within the bounds can produce); its error, about output row k, reaches
    the caller naming the account id of row k, and an output error about a Greek (flat
    over accounts x underlyings) keeps its flat index."""
    pd = pytest.importorskip("pandas")
    bal = pd.DataFrame({"USD": [0.0, 0.0]}, index=pd.Index(["b", "a"], name="account"))
    book = Accounts.from_triples(["b", "a"], [0, 0], [1.0, 1.0], bal)
    exc = errors.NonFiniteResultError("margin_ratio[1]: the result nan is not finite", "margin_ratio", 1)
    named = book.relabel(exc)
    assert type(named) is errors.NonFiniteResultError
    assert (named.field, named.index, named.key) == ("margin_ratio", 1, "a")
    assert str(named).startswith("margin_ratio of account 'a': the result nan")
    greek = errors.NonFiniteResultError("net_vega[1]: nan", "net_vega", 1)
    assert book.relabel(greek) is greek
    # the engine names its outputs as the results do
    from zkmargin._core import margin as native
    from zkmargin.results import ACCOUNT_FIELDS, GREEK_FIELDS

    assert (native.ACCOUNT_FIELDS, native.GREEK_FIELDS) == (ACCOUNT_FIELDS, GREEK_FIELDS)
