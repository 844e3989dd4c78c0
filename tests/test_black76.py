"""Black-76 (docs/margin-model.md §2.1): the Rust kernel against QuantLib's analytic Black
formulas, the identities any Black-76 must satisfy, argument handling, and agreement of
the two Python baselines with the Rust kernel."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import QuantLib as ql
from hypothesis import given
from hypothesis import strategies as st
from numpy.typing import NDArray

import zkmargin
from helpers.budget import scaled
from zkmargin import baseline
from zkmargin.baseline import numpy_engine
from zkmargin.errors import (
    ArrayLayoutError,
    DTypeError,
    ExpiredError,
    NonFiniteError,
    NonPositiveError,
    ParameterError,
    ShapeError,
)

FIELDS = ("price", "delta", "gamma", "vega", "theta")
IMPLEMENTATIONS: dict[str, Callable[..., Any]] = {
    "rust": zkmargin.black76,
    "python": baseline.black76,
    "numpy": numpy_engine.black76,
}
REL = 1e-10
#: absolute floor as a fraction of each Greek's natural size (see ``natural_scale``)
FLOOR = 1e-12


def option_inputs(max_size: int = 12) -> st.SearchStrategy[dict[str, NDArray[Any]]]:
    """Columns of options: moneyness K/F in [0.5, 2], vol 0.05-2, T 0.01-3, rate -2%..10%,
    forwards over eight orders of magnitude (prices are quoted in anything from cents to
    satoshi-denominated indices)."""
    row = st.tuples(
        st.booleans(),
        st.floats(-2.0, 6.0),
        st.floats(0.5, 2.0),
        st.floats(0.01, 3.0),
        st.floats(0.05, 2.0),
        st.floats(-0.02, 0.1),
    )

    def columns(
        rows: list[tuple[bool, float, float, float, float, float]],
    ) -> dict[str, NDArray[Any]]:
        c, log_f, m, t, v, r = (np.array(col) for col in zip(*rows, strict=True))
        f = 10.0**log_f
        return {
            "is_call": c.astype(bool),
            "forward": f,
            "strike": f * m,
            "t": t,
            "vol": v,
            "rate": r,
        }

    return st.lists(row, min_size=1, max_size=max_size).map(columns)


def natural_scale(x: dict[str, NDArray[Any]]) -> list[NDArray[np.float64]]:
    """The size each Greek reaches at the money: errors are judged relative to it where
    the value itself is tiny (deep out of the money both sides are ~0)."""
    f, t, v, r = x["forward"], x["t"], x["vol"], x["rate"]
    sqrt_t = np.sqrt(t)
    return [f, np.ones_like(f), 1.0 / (f * v * sqrt_t), f * sqrt_t, f * (v / sqrt_t + np.abs(r))]


def assert_greeks_close(got: Any, want: Any, x: dict[str, NDArray[Any]]) -> None:
    for name, g, w, scale in zip(FIELDS, got, want, natural_scale(x), strict=True):
        bad = np.abs(g - w) > np.maximum(REL * np.abs(w), FLOOR * scale)
        assert not bad.any(), f"{name}: {g[bad]} != {w[bad]} at {np.flatnonzero(bad)}"


def quantlib(x: dict[str, NDArray[Any]]) -> list[NDArray[np.float64]]:
    out = []
    for c, f, k, t, v, r in zip(
        *(x[n].tolist() for n in ("is_call", "forward", "strike", "t", "vol", "rate")), strict=True
    ):
        kind = ql.Option.Call if c else ql.Option.Put
        calc = ql.BlackCalculator(ql.PlainVanillaPayoff(kind, k), f, v * math.sqrt(t), math.exp(-r * t))
        # QuantLib's theta(spot, T) is -(ln(D) V + ln(F/S) S delta_S + var/2 S^2 gamma_S) / T,
        # the calendar-time derivative with the forward fixed once spot = forward: our theta.
        out.append((calc.value(), calc.deltaForward(), calc.gammaForward(), calc.vega(t), calc.theta(f, t)))
    return [np.array(col) for col in zip(*out, strict=True)]


def call(fn: Callable[..., Any], x: dict[str, NDArray[Any]]) -> Any:
    return fn(x["is_call"], x["forward"], x["strike"], x["t"], x["vol"], x["rate"])


@scaled(2.5)  # cheap scalar pricing over a tail-heavy input space (deep ITM/OTM, tiny t)
@given(option_inputs())
def test_rust_matches_quantlib(x: dict[str, NDArray[Any]]) -> None:
    assert_greeks_close(call(zkmargin.black76, x), quantlib(x), x)


@given(option_inputs(max_size=4))
def test_quantlib_theta_is_calendar_derivative_at_fixed_forward(x: dict[str, NDArray[Any]]) -> None:
    """Pins the theta convention independently of QuantLib's own theta: a central finite
    difference of QuantLib's price in calendar time (T shrinking, F fixed)."""
    h = 1e-5 * x["t"]
    up = dict(x, t=x["t"] + h)
    down = dict(x, t=x["t"] - h)
    fd = (quantlib(down)[0] - quantlib(up)[0]) / (2.0 * h)
    theta = call(zkmargin.black76, x).theta
    scale = natural_scale(x)[4]
    assert np.all(np.abs(theta - fd) <= 1e-6 * scale)


@scaled(1.7)  # cheap scalar pricing
@given(option_inputs())
def test_put_call_parity(x: dict[str, NDArray[Any]]) -> None:
    c = call(zkmargin.black76, dict(x, is_call=np.ones_like(x["is_call"])))
    p = call(zkmargin.black76, dict(x, is_call=np.zeros_like(x["is_call"])))
    f, k, t, r = x["forward"], x["strike"], x["t"], x["rate"]
    disc = np.exp(-r * t)
    scale = np.maximum(f, k)
    assert np.all(np.abs((c.price - p.price) - disc * (f - k)) <= 1e-13 * scale)
    assert np.all(np.abs((c.delta - p.delta) - disc) <= 1e-14)
    assert np.array_equal(c.gamma, p.gamma)
    assert np.array_equal(c.vega, p.vega)
    assert np.all(np.abs((c.theta - p.theta) - r * disc * (f - k)) <= 1e-13 * scale)


@pytest.mark.parametrize("impl", ["python", "numpy"])
@given(x=option_inputs())
def test_baselines_agree_with_rust(impl: str, x: dict[str, NDArray[Any]]) -> None:
    assert_greeks_close(call(IMPLEMENTATIONS[impl], x), call(zkmargin.black76, x), x)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_scalars_broadcast(impl: str) -> None:
    fn = IMPLEMENTATIONS[impl]
    strikes = np.array([50.0, 90.0, 100.0, 130.0])
    vec = fn(True, 100.0, strikes, 0.5, 0.6, 0.02)
    for j, k in enumerate(strikes.tolist()):
        one = fn(
            np.array([True]),
            np.array([100.0]),
            np.array([k]),
            np.array([0.5]),
            np.array([0.6]),
            np.array([0.02]),
        )
        for name, a, b in zip(FIELDS, vec, one, strict=True):
            assert a.dtype == np.float64 and a.shape == strikes.shape, name
            assert a[j] == b[0], name
    scalar = fn(False, 100.0, 90.0, 0.5, 0.6)
    array = fn(np.array([False]), np.array([100.0]), 90.0, 0.5, 0.6)
    for name, a, b in zip(FIELDS, scalar, array, strict=True):
        assert np.shape(a) == () and a == b[0], name
    assert isinstance(scalar, zkmargin.Greeks) and isinstance(vec, zkmargin.Greeks)


GOOD = {"forward": 100.0, "strike": 95.0, "t": 0.25, "vol": 0.5, "rate": 0.01}


def args_with(field: str, bad: float, n: int = 3, at: int = 1) -> dict[str, Any]:
    cols: dict[str, Any] = {k: np.full(n, v) for k, v in GOOD.items()}
    cols[field][at] = bad
    return {"is_call": np.ones(n, dtype=bool), **cols}


BAD_VALUES = [
    *[(f, math.nan, NonFiniteError) for f in GOOD],
    *[(f, math.inf, NonFiniteError) for f in GOOD],
    *[(f, -math.inf, NonFiniteError) for f in GOOD],
    *[(f, v, NonPositiveError) for f in ("forward", "strike", "vol") for v in (0.0, -1.0)],
    ("t", 0.0, ExpiredError),
    ("t", -0.1, ExpiredError),
]


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@pytest.mark.parametrize(("field", "value", "error"), BAD_VALUES)
def test_bad_values_raise_typed_errors(impl: str, field: str, value: float, error: type[Exception]) -> None:
    args = args_with(field, value)
    before = {k: np.copy(v) for k, v in args.items()}
    with pytest.raises(error) as info:
        IMPLEMENTATIONS[impl](**args)
    assert info.value.field == field  # type: ignore[attr-defined]
    assert info.value.index == 1  # type: ignore[attr-defined]
    assert isinstance(info.value, ValueError)
    for k, v in args.items():
        assert np.array_equal(v, before[k], equal_nan=True), f"{k} was modified"


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_shape_mismatch(impl: str) -> None:
    with pytest.raises(ShapeError):
        IMPLEMENTATIONS[impl](True, np.full(3, 100.0), np.full(4, 90.0), 0.5, 0.5)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_non_contiguous_array(impl: str) -> None:
    strided = np.full(8, 100.0)[::2]
    with pytest.raises(ArrayLayoutError) as info:
        IMPLEMENTATIONS[impl](True, strided, 90.0, 0.5, 0.5)
    assert info.value.field == "forward"  # type: ignore[attr-defined]
    assert isinstance(info.value, TypeError)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@pytest.mark.parametrize(
    "bad",
    [np.array([100.0, 90.0], dtype=object), np.array(["100", "90"]), ["a", "b"]],
    ids=["object", "str-array", "str-list"],
)
def test_non_numeric_dtype(impl: str, bad: Any) -> None:
    with pytest.raises(DTypeError):
        IMPLEMENTATIONS[impl](True, bad, 90.0, 0.5, 0.5)


def test_inputs_unchanged_after_success() -> None:
    x = {
        "is_call": np.array([True, False, True]),
        "forward": np.array([100.0, 3000.0, 60000.0]),
        "strike": np.array([90.0, 3100.0, 65000.0]),
        "t": np.array([0.1, 0.5, 1.0]),
        "vol": np.array([0.3, 0.7, 0.55]),
        "rate": np.array([0.0, 0.03, 0.05]),
    }
    before = {k: v.copy() for k, v in x.items()}
    for fn in IMPLEMENTATIONS.values():
        call(fn, x)
        for k, v in x.items():
            assert np.array_equal(v, before[k])


def _out_case(n: int = 3001) -> tuple[tuple[Any, ...], list[NDArray[np.float64]]]:
    rng = np.random.default_rng(4)
    args = (
        rng.random(n) < 0.5,
        rng.uniform(50, 150, n),
        rng.uniform(50, 150, n),
        rng.uniform(0.01, 2.0, n),
        rng.uniform(0.1, 1.5, n),
        0.03,
    )
    return args, [np.full(n, np.nan) for _ in FIELDS]


def test_out_writes_the_same_bits_into_caller_buffers() -> None:
    args, out = _out_case()
    want = zkmargin.black76(*args)
    ids = [id(x) for x in out]
    got = zkmargin.black76(*args, out=out)
    assert [id(x) for x in got] == ids  # the caller's arrays, returned as Greeks
    for field, row in zip(FIELDS, want, strict=True):
        assert np.array_equal(getattr(got, field).view(np.int64), row.view(np.int64)), field
    # a previous result is a valid out; scalars broadcast into 2-D outputs
    grid = zkmargin.black76(True, np.full((3, 4), 100.0), 90.0, 0.5, 0.4)
    again = zkmargin.black76(True, np.full((3, 4), 101.0), 90.0, 0.5, 0.4, out=grid)
    assert again.price is grid.price and again.price.shape == (3, 4)
    assert np.array_equal(again.price, zkmargin.black76(True, np.full((3, 4), 101.0), 90.0, 0.5, 0.4).price)


def _raises(error: type[Exception], index: int | None, *args: Any, out: Any) -> None:
    with pytest.raises(error) as info:
        zkmargin.black76(*args, out=out)
    assert getattr(info.value, "field", None) == "out" and getattr(info.value, "index", None) == index


def test_out_is_checked() -> None:
    args, out = _out_case(10)
    _raises(ParameterError, None, *args, out=out[:4])
    _raises(ParameterError, None, *args, out=np.zeros((5, 10)))
    _raises(DTypeError, 2, *args, out=[*out[:2], out[2].astype(np.float32), *out[3:]])
    _raises(DTypeError, 0, *args, out=[list(out[0]), *out[1:]])
    _raises(ShapeError, 4, *args, out=[*out[:4], np.zeros(11)])
    _raises(ArrayLayoutError, 1, *args, out=[out[0], np.zeros(20)[::2], *out[2:]])
    frozen = np.zeros(10)
    frozen.flags.writeable = False
    _raises(ArrayLayoutError, 3, *args, out=[*out[:3], frozen, out[4]])
    # aliasing an input (here the forward) or another output
    _raises(ArrayLayoutError, 0, *args, out=[args[1], *out[1:]])
    _raises(ArrayLayoutError, 1, *args, out=[out[0], out[0], *out[2:]])
    f_before = args[1].copy()
    with pytest.raises(NonPositiveError):
        zkmargin.black76(args[0], -args[1], *args[2:], out=out)
    assert np.array_equal(args[1], f_before)
