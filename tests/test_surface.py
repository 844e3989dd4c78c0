"""Vol surfaces (docs/margin-model.md §2.5): the Rust engine, the NumPy engine and the
pure-Python reference agree on a book valued off smiles; a flat surface is the per-option
vol market; scenario moves read the smile at the moved forward; coverage and arbitrage
errors are typed."""

from __future__ import annotations

import dataclasses
import math
from datetime import datetime, timezone

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import zkmargin
from helpers.budget import scaled
from zkmargin import MarginEngine, MarketState, baseline, errors
from zkmargin.baseline import numpy_engine
from zkmargin.baseline.curves import surface_vol, surface_vols
from zkmargin.results import ACCOUNT_FIELDS, MODELS
from zkmargin.surface import VolSurface
from zkmargin.synthetic import generate_exchange

EX = generate_exchange(40, seed=5)
INS = EX.instruments
K_GRID = np.array([-1.2, -0.5, -0.1, 0.0, 0.15, 0.6, 1.3])
EXPIRIES = np.array([0.01, 0.1, 0.5, 1.2])


def smile(base: float, skew: float, t: np.ndarray) -> np.ndarray:
    """Vols with a skew and wings, total variance rising in expiry."""
    k = K_GRID[None, :]
    return base * (1.0 + skew * k + 0.4 * k * k) * (1.0 + 0.05 * np.sqrt(t))[:, None]


SURFACES = [
    VolSurface(EXPIRIES, K_GRID, smile(0.55, -0.25, EXPIRIES)),
    VolSurface(EXPIRIES, K_GRID, smile(0.75, -0.15, EXPIRIES)),
]
MARKET = dataclasses.replace(EX.market, surfaces=SURFACES)


def engines() -> list[object]:
    return [MarginEngine(INS), numpy_engine.MarginEngine(INS), baseline.MarginEngine(INS)]


def test_three_engines_agree_on_a_surface_market() -> None:
    rust, npe, ref = engines()
    want = ref.risk_arrays(MARKET)  # type: ignore[attr-defined]
    for eng in (rust, npe):
        np.testing.assert_allclose(eng.risk_arrays(MARKET), want, rtol=1e-9, atol=1e-9)  # type: ignore[attr-defined]
    r_vals, n_vals = rust.instrument_values(MARKET), ref.instrument_values(MARKET)  # type: ignore[attr-defined]
    for f in ("mark_price", "mtm", "delta", "vega"):
        np.testing.assert_allclose(getattr(r_vals, f), getattr(n_vals, f), rtol=1e-9, atol=1e-9)
    for model in MODELS:
        a = rust.compute(EX.accounts, MARKET, model)  # type: ignore[attr-defined]
        for other in (npe, ref):
            b = other.compute(EX.accounts, MARKET, model)  # type: ignore[attr-defined]
            for f in ("equity", "initial_margin", "maintenance_margin", "scenario_loss"):
                np.testing.assert_allclose(getattr(a, f), getattr(b, f), rtol=1e-9, atol=1e-6)
    # the surface really is used: it changes the margin against the per-option vols
    flat = rust.compute(EX.accounts, EX.market)  # type: ignore[attr-defined]
    assert not np.allclose(flat.initial_margin, rust.compute(EX.accounts, MARKET).initial_margin)  # type: ignore[attr-defined]


def test_a_flat_surface_is_the_per_option_vol_market() -> None:
    opt = INS.is_option
    vol = np.where(opt, 0.6, EX.market.vol)
    per_option = dataclasses.replace(EX.market, vol=vol)
    flat = VolSurface(EXPIRIES, [0.0], np.full((EXPIRIES.size, 1), 0.6))
    surfaced = dataclasses.replace(EX.market, vol=np.where(opt, 0.0, EX.market.vol), surfaces=[flat, flat])
    eng = MarginEngine(INS)
    # sqrt(0.6^2 T / T) may differ from 0.6 in the last bit
    np.testing.assert_allclose(eng.risk_arrays(surfaced), eng.risk_arrays(per_option), rtol=1e-12, atol=1e-10)
    a, b = eng.compute(EX.accounts, surfaced), eng.compute(EX.accounts, per_option)
    np.testing.assert_allclose(a.maintenance_margin, b.maintenance_margin, rtol=1e-12)


def test_a_scenario_move_reads_the_smile_at_the_moved_forward() -> None:
    """One linear call by hand: a down move without vol shock prices at the smile's vol
    at ln(K / (F (1 + m))), not at today's vol."""
    eng = MarginEngine(INS)
    risk = eng.risk_arrays(MARKET)
    sc = eng.scenarios
    linear = INS.settlement == zkmargin.Settlement.LINEAR
    i = int(np.flatnonzero((INS.kind == zkmargin.Kind.CALL) & linear)[3])
    u = int(INS.underlying[i])
    s = int(np.flatnonzero((sc.moves[:, u] < 0) & (sc.vol_shocks[:, u] == 0.0))[0])
    f = MARKET.spot[u] if MARKET.forward is None else MARKET.forward[i]
    k, t, m = INS.strike[i], INS.expiry[i], sc.moves[s, u]
    surf = SURFACES[u]
    today = surface_vol(surf, t, math.log(k / f))
    moved = surface_vol(surf, t, math.log(k / (f * (1.0 + m))))
    assert moved != pytest.approx(today, rel=1e-6)  # the point moved along the smile
    vals = eng.instrument_values(MARKET)
    w0 = vals.mtm[i]
    price = zkmargin.black76(True, f * (1.0 + m), k, t, moved, MARKET.rate).price.item()
    w1 = INS.contract_size[i] * price
    assert risk[i, s] == pytest.approx(sc.weights[s, u] * (w1 - w0), rel=1e-12, abs=1e-9)


@scaled(3.3)  # two scalar evaluations an example
@given(t=st.floats(0.01, 1.2), x=st.floats(-2.0, 2.0))
def test_numpy_and_python_evaluations_agree_and_variance_rises(t: float, x: float) -> None:
    s = SURFACES[0]
    one = surface_vol(s, t, x)
    assert surface_vols(s, t, x).item() == pytest.approx(one, rel=1e-14)
    later = min(t * 1.1, 1.2)
    assert surface_vol(s, later, x) ** 2 * later >= one**2 * t * (1 - 1e-14)


def test_surface_errors_are_typed() -> None:
    with pytest.raises(errors.ParameterError, match="calendar"):
        VolSurface([0.5, 1.0], [0.0], [[0.8], [0.5]])
    with pytest.raises(errors.VolUnitError):
        VolSurface([0.5], [0.0], [[55.0]])
    pct = VolSurface([0.5], [0.0], [[55.0]], vol_unit="percent")
    assert pct.vol[0, 0] == pytest.approx(0.55)
    with pytest.raises(errors.ShapeError):
        VolSurface([0.5, 1.0], [0.0, 0.1], [[0.5, 0.5]])
    with pytest.raises(errors.ParameterError):
        VolSurface([1.0, 0.5], [0.0], [[0.5], [0.5]])
    with pytest.raises(errors.ShapeError):
        dataclasses.replace(EX.market, surfaces=SURFACES[:1])
    with pytest.raises(errors.ParameterError):
        dataclasses.replace(EX.market, surfaces=[SURFACES[0], "flat"])


@pytest.mark.parametrize("engine", [MarginEngine, numpy_engine.MarginEngine, baseline.MarginEngine])
def test_a_surface_that_does_not_cover_an_expiry_names_the_instrument(engine: type) -> None:
    names = ["BTC-PERPETUAL", "BTC-27MAR26-60000-C", "BTC-25DEC26-70000-C"]
    ins = zkmargin.Instruments.from_names(names, datetime(2026, 1, 15, 8, tzinfo=timezone.utc))
    short = VolSurface([0.1, 0.3], [0.0], [[0.5], [0.5]])
    market = zkmargin.Market([60_000.0], [0.0, 0.0, 0.0], [1.0], [0.0], surfaces=[short])
    with pytest.raises(errors.SurfaceCoverageError) as exc:
        engine(ins).risk_arrays(market)
    assert exc.value.index == 2 and "BTC-25DEC26-70000-C" in str(exc.value)


def test_market_state_with_surfaces_matches_compute() -> None:
    eng = MarginEngine(INS)
    st_ = MarketState(eng, EX.accounts, MARKET)
    full = eng.compute(EX.accounts, MARKET)
    np.testing.assert_array_equal(st_.result().maintenance_margin, full.maintenance_margin)
    bumped = [VolSurface(s.expiry, s.log_moneyness, s.vol * 1.2) for s in SURFACES]
    tick = dataclasses.replace(MARKET, spot=MARKET.spot * 0.97, surfaces=bumped)
    got = st_.tick(tick)
    want = eng.compute(EX.accounts, tick)
    for f in ACCOUNT_FIELDS:
        np.testing.assert_array_equal(getattr(got, f), getattr(want, f))


def test_stress_shift_scales_the_surfaces() -> None:
    from zkmargin.dynamic.shift import shocked_market

    moved = shocked_market(MARKET, INS, [0.0, 0.0], [-1] * MARKET.asset_price.size, vol_multiplier=1.5)
    assert moved.surfaces is not None and moved.surfaces[0] is not None
    np.testing.assert_allclose(moved.surfaces[0].vol, SURFACES[0].vol * 1.5)


def test_snapshots_encode_surfaces_and_rate_curves() -> None:
    """A snapshot (version 2) carries the market's vol surfaces and rate curve, so its
    coefficient table is recomputed from its own contents."""
    from zkmargin.proof import audit_snapshot, build_snapshot
    from zkmargin.proof.snapshot import EpochSnapshot
    from zkmargin.rates import RateCurve

    curve = dataclasses.replace(EX.market, rate=0.0, rate_curve=RateCurve([0.1, 1.0], [0.02, 0.03]))
    for eng, market in ((MarginEngine(INS), MARKET), (MarginEngine(EX.instruments), curve)):
        snap = EpochSnapshot.from_bytes(build_snapshot(eng, market, 1).to_bytes())
        assert snap.version == 2
        assert audit_snapshot(snap).ok
        np.testing.assert_array_equal(snap.engine().risk_arrays(snap.market()), eng.risk_arrays(market))
