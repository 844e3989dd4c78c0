"""Zero-rate curves by expiry (docs/margin-model.md §1.5): interpolation by hand, each
option discounted at its expiry's rate, the three engines agree, typed errors."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import zkmargin
from helpers.budget import scaled
from zkmargin import MarginEngine, MarketState, baseline, errors
from zkmargin.baseline import numpy_engine
from zkmargin.baseline.curves import curve_rate
from zkmargin.rates import RateCurve
from zkmargin.results import MODELS
from zkmargin.synthetic import generate_exchange

EX = generate_exchange(40, seed=9)
INS = EX.instruments
CURVE = RateCurve([0.05, 0.25, 1.0], [0.02, 0.035, 0.05])
MARKET = dataclasses.replace(EX.market, rate=0.0, rate_curve=CURVE)


def test_interpolation_by_hand() -> None:
    c = CURVE
    assert curve_rate(c, 0.01) == 0.02 and curve_rate(c, 3.0) == 0.05
    assert curve_rate(c, 0.25) == pytest.approx(0.035, rel=1e-15)
    t = 0.5  # r(T) T linear between (0.25, 0.035 * 0.25) and (1, 0.05)
    want = (0.035 * 0.25 + (0.05 - 0.035 * 0.25) * (t - 0.25) / 0.75) / t
    assert curve_rate(c, t) == pytest.approx(want, rel=1e-15)
    grid = np.linspace(0.0, 2.0, 41)
    np.testing.assert_allclose(c.rate(grid), [curve_rate(c, x) for x in grid], rtol=1e-15)


@scaled(1.7)  # closed form, cheap
@given(t0=st.floats(0.25, 0.9), dt=st.floats(0.01, 0.09))
def test_forward_rate_is_constant_between_nodes(t0: float, dt: float) -> None:
    def log_disc(t: float) -> float:
        return curve_rate(CURVE, t) * t

    fwd = (log_disc(t0 + dt) - log_disc(t0)) / dt
    assert fwd == pytest.approx((0.05 - 0.035 * 0.25) / 0.75, rel=1e-9)


def test_each_option_is_discounted_at_its_expirys_rate() -> None:
    vals = MarginEngine(INS).instrument_values(MARKET)
    i = int(np.flatnonzero(INS.is_option & (INS.settlement == zkmargin.Settlement.LINEAR))[0])
    f = MARKET.spot[INS.underlying[i]] if MARKET.forward is None else MARKET.forward[i]
    call = INS.kind[i] == zkmargin.Kind.CALL
    r = curve_rate(CURVE, INS.expiry[i])
    want = zkmargin.black76(bool(call), f, INS.strike[i], INS.expiry[i], MARKET.vol[i], r)
    assert vals.mark_price[i] == pytest.approx(want.price.item(), rel=1e-13)
    assert vals.theta[i] == pytest.approx(INS.contract_size[i] * want.theta.item(), rel=1e-12)


def test_three_engines_agree_under_a_rate_curve() -> None:
    rust, npe, ref = MarginEngine(INS), numpy_engine.MarginEngine(INS), baseline.MarginEngine(INS)
    want = ref.risk_arrays(MARKET)
    for eng in (rust, npe):
        np.testing.assert_allclose(eng.risk_arrays(MARKET), want, rtol=1e-9, atol=1e-9)
    for model in MODELS:
        a = rust.compute(EX.accounts, MARKET, model)
        for other in (npe, ref):
            b = other.compute(EX.accounts, MARKET, model)
            for f in ("equity", "initial_margin", "maintenance_margin"):
                np.testing.assert_allclose(getattr(a, f), getattr(b, f), rtol=1e-9, atol=1e-6)
    # the curve matters: against the scalar rate 0 it moves the option marks
    assert not np.allclose(rust.instrument_values(MARKET).mtm, rust.instrument_values(EX.market).mtm)


def test_a_flat_curve_is_the_scalar_rate_to_the_bit() -> None:
    flat = dataclasses.replace(EX.market, rate=0.0, rate_curve=RateCurve([1.0], [0.04]))
    scalar = dataclasses.replace(EX.market, rate=0.04)
    eng = MarginEngine(INS)
    np.testing.assert_array_equal(eng.risk_arrays(flat), eng.risk_arrays(scalar))
    st_ = MarketState(eng, EX.accounts, flat)
    np.testing.assert_array_equal(
        st_.result().maintenance_margin, eng.compute(EX.accounts, scalar).maintenance_margin
    )


def test_rate_curve_errors_are_typed() -> None:
    with pytest.raises(errors.ParameterError, match="not both"):
        dataclasses.replace(EX.market, rate=0.01, rate_curve=CURVE)
    with pytest.raises(errors.ParameterError):
        RateCurve([1.0, 0.5], [0.01, 0.02])
    with pytest.raises(errors.ExpiredError):
        RateCurve([0.0, 1.0], [0.01, 0.02])
    with pytest.raises(errors.NonFiniteError) as exc:
        RateCurve([0.5, 1.0], [0.01, math.nan])
    assert exc.value.index == 1
    with pytest.raises(errors.ShapeError):
        RateCurve([0.5, 1.0], [0.01])
    with pytest.raises(errors.ParameterError):
        dataclasses.replace(EX.market, rate_curve="flat")  # type: ignore[arg-type]
    eng = MarginEngine(INS)
    d = zkmargin.dynamic
    rule = d.LiquidityRule(d.instrument_notional(eng, MARKET), 5e-4, 1e8, 0.05)
    with pytest.raises(errors.ParameterError, match="rate curve"):
        d.liquidation.scan_margin(eng, EX.accounts, MARKET, rule)
