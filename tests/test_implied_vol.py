"""The implied-vol solver (docs/margin-model.md §2.4) against independent implementations:
Jaeckel's "Let's be rational" (py_lets_be_rational) prices the grid and its own solver is
compared vol for vol; QuantLib's Black implied std-dev too; plus bounds and argument errors."""

from __future__ import annotations

import math

import numpy as np
import py_lets_be_rational as lbr
import pytest
import QuantLib as ql
from hypothesis import given
from hypothesis import strategies as st

import zkmargin
from helpers.budget import scaled
from zkmargin.errors import ArbitrageBoundsError, ExpiredError, NonPositiveError, ShapeError

F = 100.0
RATE = 0.03
EXPIRIES = (1.0 / 8760.0, 1.0 / 365.0, 0.05, 0.5, 2.0, 10.0)
VOLS = (0.01, 0.05, 0.2, 0.8, 3.0)
#: K/F from e^-4 (deep ITM calls, deep OTM puts) to e^4
LOG_MONEYNESS = np.linspace(-4.0, 4.0, 33)


def lbr_price(call: bool, f: float, k: float, t: float, vol: float, rate: float) -> float:
    return math.exp(-rate * t) * lbr.black(f, k, vol, t, 1.0 if call else -1.0)


def grid() -> list[tuple[bool, float, float, float]]:
    """(call, strike, t, vol) of every grid option whose price carries its time value
    (out-of-the-money twin above 1e-280 F, time value and distance to the upper bound
    above 1e-13 of the price): below that no double-precision vol is identifiable."""
    cases = []
    for t in EXPIRIES:
        for vol in VOLS:
            for x in LOG_MONEYNESS:
                k = F * math.exp(x)
                for call in (True, False):
                    p = lbr_price(call, F, k, t, vol, RATE)
                    twin = lbr_price(k > F, F, k, t, vol, RATE)
                    upper = math.exp(-RATE * t) * (F if call else k)
                    if twin > 1e-280 * F and min(twin, upper - p) > 1e-13 * p:
                        cases.append((call, k, t, vol))
    return cases


CASES = grid()


def allowance(call: bool, k: float, t: float, vol: float, p: float) -> float:
    """1e-12 of the price, or the price change of 4 ulps of vol where that is larger
    (only for prices below ~1e-250: rounding the returned vol sets that floor)."""
    vega = zkmargin.black76(call, F, k, t, vol, RATE).vega.item()
    return 1e-12 * p + 4.0 * np.finfo(float).eps * vol * vega


def test_grid_covers_deep_otm_to_deep_itm_and_short_to_long() -> None:
    assert len(CASES) > 800
    xs = [math.log(k / F) * (1 if call else -1) for call, k, _, _ in CASES]
    assert min(xs) < -3.5 and max(xs) > 3.5  # deep ITM and deep OTM, both option types
    assert {t for _, _, t, _ in CASES} == set(EXPIRIES)


def test_round_trip_through_lets_be_rational_prices_to_1e12() -> None:
    call, k, t, _ = (np.array(c) for c in zip(*CASES, strict=True))
    prices = np.array([lbr_price(*c[:1], F, *c[1:], RATE) for c in CASES])
    ivs = zkmargin.implied_vol(prices, call.astype(bool), F, k, t, RATE)
    worst = 0.0
    for (c, kk, tt, v), p, iv in zip(CASES, prices, ivs, strict=True):
        back = lbr_price(c, F, kk, tt, iv, RATE)
        worst = max(worst, abs(back - p) / allowance(c, kk, tt, v, p))
    assert worst < 1.0


def test_round_trip_through_the_engine_black76_to_1e12() -> None:
    call, k, t, vol = (np.array(c) for c in zip(*CASES, strict=True))
    g = zkmargin.black76(call.astype(bool), F, k, t, vol, RATE)
    ivs = zkmargin.implied_vol(g.price, call.astype(bool), F, k, t, RATE)
    back = zkmargin.black76(call.astype(bool), F, k, t, ivs, RATE).price
    # black76 forms in- and at-the-money prices as differences of terms of size F or K:
    # its own rounding, 4 ulps of those, joins the allowance here.
    floor = 1e-12 * g.price + 4.0 * np.finfo(float).eps * (vol * g.vega + np.maximum(F, k))
    assert np.all(np.abs(back - g.price) <= floor)


def test_vols_agree_with_lets_be_rational_solver() -> None:
    """Vol for vol where the price determines the vol well (vega * vol above 1e-6 of the
    price): there both solvers must land within 1e-9 relative of each other."""
    checked = 0
    for c, k, t, vol in CASES:
        p = lbr_price(c, F, k, t, vol, RATE)
        g = zkmargin.black76(c, F, k, t, vol, RATE)
        if g.vega.item() * vol < 1e-6 * p:
            continue
        theirs = lbr.implied_volatility_from_a_transformed_rational_guess(
            p * math.exp(RATE * t), F, k, t, 1.0 if c else -1.0
        )
        ours = zkmargin.implied_vol(p, c, F, k, t, RATE).item()
        assert ours == pytest.approx(theirs, rel=1e-9), (c, k, t, vol)
        checked += 1
    assert checked > 500


def test_vols_agree_with_quantlib() -> None:
    """QuantLib's solver works to an absolute price accuracy, so it is compared where the
    price is above 1e-6 F (deeper out of the money it returns 0)."""
    checked = 0
    for c, k, t, vol in CASES[::3]:
        g = zkmargin.black76(c, F, k, t, vol, RATE)
        if g.vega.item() * vol < 1e-4 * g.price.item() or g.price.item() < 1e-6 * F:
            continue
        checked += 1
        disc = math.exp(-RATE * t)
        kind = ql.Option.Call if c else ql.Option.Put
        guess = vol * math.sqrt(t)
        std = ql.blackFormulaImpliedStdDev(kind, k, F, g.price.item(), disc, 0.0, guess, 1e-14, 200)
        ours = zkmargin.implied_vol(g.price, c, F, k, t, RATE).item()
        assert ours == pytest.approx(std / math.sqrt(t), rel=1e-8)
    assert checked > 100


@scaled(3.3)  # one scalar solve an example, over the whole (moneyness, vol) plane
@given(
    call=st.booleans(),
    log_f=st.floats(-3.0, 6.0),
    x=st.floats(-2.0, 2.0),
    t=st.floats(0.001, 5.0),
    vol=st.floats(0.02, 4.0),
    rate=st.floats(-0.02, 0.1),
)
def test_round_trip_property(call: bool, log_f: float, x: float, t: float, vol: float, rate: float) -> None:
    f = 10.0**log_f
    k = f * math.exp(x)
    g = zkmargin.black76(call, f, k, t, vol, rate)
    p = g.price.item()
    twin = zkmargin.black76(f < k, f, k, t, vol, rate).price.item()
    upper = math.exp(-rate * t) * (f if call else k)
    if not (twin > 1e-280 * f and min(twin, upper - p) > 1e-13 * p):
        return
    iv = zkmargin.implied_vol(p, call, f, k, t, rate).item()
    back = zkmargin.black76(call, f, k, t, iv, rate).price.item()
    assert abs(back - p) <= 1e-12 * p + 4.0 * np.finfo(float).eps * (vol * g.vega.item() + max(f, k))


def test_broadcasting_shape_and_threads() -> None:
    k = np.array([[80.0, 100.0, 120.0], [90.0, 110.0, 130.0]])
    p = zkmargin.black76(True, F, k, 0.5, 0.6).price
    for threads in (1, 2):
        iv = zkmargin.implied_vol(p, True, F, k, 0.5, threads=threads)
        assert iv.shape == (2, 3)
        np.testing.assert_allclose(iv, 0.6, rtol=1e-13)


@pytest.mark.parametrize(
    ("call", "price", "what"),
    [
        (True, 10.0, "intrinsic"),  # call intrinsic F - K = 10
        (True, 5.0, "intrinsic"),
        (True, 100.0, "upper bound"),  # call upper bound F
        (False, 90.0, "upper bound"),  # put upper bound K
        (False, 0.0, "intrinsic"),
    ],
)
def test_prices_outside_the_no_arbitrage_bounds(call: bool, price: float, what: str) -> None:
    prices = np.array([zkmargin.black76(call, F, 90.0, 1.0, 0.3).price.item(), price])
    with pytest.raises(ArbitrageBoundsError, match=what) as exc:
        zkmargin.implied_vol(prices, call, F, 90.0, 1.0)
    assert (exc.value.field, exc.value.index) == ("price", 1)


def test_discounting_enters_the_bounds() -> None:
    # With r = 10% over 1y the call's upper bound is e^-0.1 F, below F.
    with pytest.raises(ArbitrageBoundsError):
        zkmargin.implied_vol(95.0, True, F, 90.0, 1.0, 0.1)


def test_argument_errors() -> None:
    with pytest.raises(NonPositiveError) as exc:
        zkmargin.implied_vol([1.0, -1.0], True, F, 100.0, 1.0)
    assert (exc.value.field, exc.value.index) == ("price", 1)
    with pytest.raises(NonPositiveError, match="forward"):
        zkmargin.implied_vol(1.0, True, [1.0, 0.0], 100.0, 1.0)
    with pytest.raises(ExpiredError):
        zkmargin.implied_vol(1.0, True, F, 100.0, 0.0)
    with pytest.raises(ShapeError):
        zkmargin.implied_vol([1.0, 2.0], True, F, [1.0, 2.0, 3.0], 1.0)
    assert zkmargin.implied_vol(np.empty(0), True, F, 100.0, 1.0).shape == (0,)
