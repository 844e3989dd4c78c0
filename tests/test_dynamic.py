"""Dynamic margin (docs §10): Rust core against the pure-Python reference and against
independent hand or SciPy computations; typed errors for bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import zkmargin
from zkmargin import dynamic as d
from zkmargin.dynamic import reference as ref
from zkmargin.errors import (
    NonFiniteError,
    NonPositiveError,
    NotPositiveSemidefiniteError,
    ParameterError,
    ShapeError,
)

RTOL = 1e-12


def close(a: object, b: object, rtol: float = RTOL, atol: float = 1e-12) -> None:
    np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), rtol=rtol, atol=atol)


@pytest.fixture(scope="module")
def history() -> np.ndarray:
    """A seeded two-underlying price path with a volatility regime change halfway."""
    rng = np.random.default_rng(11)
    vol = np.r_[np.full(150, 0.02), np.full(150, 0.06)]
    r = rng.standard_normal((300, 2)) * vol[:, None] * np.array([1.0, 1.3])
    return np.ascontiguousarray(
        np.array([60_000.0, 3_000.0]) * np.exp(np.vstack([np.zeros(2), np.cumsum(r, 0)]))
    )


@pytest.fixture(scope="module")
def exchange() -> zkmargin.synthetic.Exchange:
    return zkmargin.synthetic.generate_exchange(300, seed=5)


# ------------------------------------------------------------------ volatility
def test_ewma_against_hand_computed_series() -> None:
    r = np.array([[0.01], [-0.02], [0.015], [0.0]])
    lam = 0.94
    # Written out by hand from sigma2_0 = r0^2, sigma2_t = lam sigma2_{t-1} + (1 - lam) r_t^2.
    s0 = 0.0001
    s1 = 0.94 * 0.0001 + 0.06 * 0.0004  # 0.000118
    s2 = 0.94 * s1 + 0.06 * 0.000225  # 0.00012442
    s3 = 0.94 * s2  # 0.0001169548
    assert math.isclose(s3, 0.0001169548, rel_tol=1e-12)
    close(d.ewma_volatility(r, lam)[:, 0], np.sqrt([s0, s1, s2, s3]))


def test_volatility_matches_reference(history: np.ndarray) -> None:
    rets = d.log_returns(history)
    close(rets, ref.log_returns(history.tolist()))
    close(d.ewma_volatility(rets, 0.97), ref.ewma_vol(rets.tolist(), 0.97))
    close(d.rolling_volatility(rets, 20), ref.rolling_vol(rets.tolist(), 20))
    np.testing.assert_allclose(d.rolling_volatility(rets, 20)[-1], rets[-20:].std(axis=0, ddof=1), rtol=1e-12)
    close(d.annualise(np.array([0.02, 0.03])), ref.annualise([0.02, 0.03], 365.0))
    # The regime change is visible: EWMA today is about 3x the calm-period estimate.
    ewma = d.ewma_volatility(rets)
    assert np.all(ewma[-1] > 2.0 * ewma[140])


def test_scan_ranges_apc_and_rate_cap() -> None:
    sigma = np.array([0.1, 0.6, 3.0])
    close(
        d.scan_ranges(sigma, 3.5, 2 / 365, 0.05, 0.45),
        ref.scan_ranges(sigma.tolist(), 3.5, 2 / 365, 0.05, 0.45),
    )
    assert d.scan_ranges(sigma)[0] == 0.05 and d.scan_ranges(sigma)[2] == 0.45
    cur, lb, stressed = np.array([0.3, 0.9]), np.array([0.5, 0.5]), np.array([1.5, 1.5])
    close(
        d.apc_volatility(cur, lb, stressed, 0.25),
        ref.apc_vol(cur.tolist(), lb.tolist(), stressed.tolist(), 0.25),
    )
    close(d.apc_volatility(cur, lb, stressed), [0.6, 1.05])
    targets = np.array([[1.0, 5.0], [4.0, 5.0], [4.0, 1.0], [4.0, 2.0]])
    close(d.cap_path(targets, 0.5), ref.cap_path(targets.tolist(), 0.5))
    close(d.cap_path(targets, 0.5)[:, 0], [1.0, 1.5, 2.25, 3.375])
    close(d.cap_path(np.ascontiguousarray(targets[:, 1]), 0.5), [5.0, 5.0, 1.0, 1.5])


def test_doubling_volatility_raises_requirements(exchange: zkmargin.synthetic.Exchange) -> None:
    sigma = np.array([0.3, 0.4])
    res = []
    for s in (sigma, 2 * sigma):
        table = d.dynamic_span_table(s)
        eng = zkmargin.MarginEngine(exchange.instruments, scenarios=table)
        res.append(eng.compute(exchange.accounts, exchange.market, "portfolio").maintenance_margin)
    assert np.all(res[1] >= res[0] - 1e-9)
    assert np.mean(res[1] > res[0] * 1.2) > 0.5
    # Same under Monte Carlo ES. Long-gamma books can lose less when moves grow, so the
    # claim is for the book as a whole and nearly every account, not literally every one.
    rho = np.array([[1.0, 0.8], [0.8, 1.0]])
    es = []
    for s in (sigma, 2 * sigma):
        moves = d.monte_carlo_scenarios(s, rho, 2 / 365, 2000, seed=3)
        risk = d.joint_risk_arrays(exchange.instruments, exchange.market, moves)
        es.append(d.var_es(risk, exchange.accounts, 0.99)[1])
    assert np.mean(es[1] > es[0]) > 0.9
    assert es[1].sum() > 1.5 * es[0].sum()


def test_dynamic_span_table_scales_vol_shocks() -> None:
    t = d.dynamic_span_table(np.array([0.4, 0.8]))
    r = d.scan_ranges(np.array([0.4, 0.8]))
    close(np.abs(t.moves[10]), r)  # row 10: +1 x range
    v = 0.25 * r / 0.16
    close(t.vol_shocks[0] * t.vol_up, v)


# ------------------------------------------------------------------ joint scenarios
def test_joint_scenarios_match_reference(history: np.ndarray) -> None:
    rets = d.log_returns(history)
    close(d.historical_scenarios(rets, 3), ref.historical(rets.tolist(), 3))
    close(
        d.filtered_historical_scenarios(rets, 0.94, 2),
        ref.filtered_historical(rets.tolist(), 0.94, 2),
    )
    # FHS replays the calm half at today's (high) volatility: its spread exceeds plain HS.
    hs, fhs = d.historical_scenarios(rets), d.filtered_historical_scenarios(rets)
    assert np.all(fhs[:140].std(axis=0) > 1.5 * hs[:140].std(axis=0))


def test_monte_carlo_matches_reference_and_is_seeded() -> None:
    sigma = np.array([0.6, 0.8, 1.1])
    rho = np.array([[1.0, 0.7, 0.4], [0.7, 1.0, 0.5], [0.4, 0.5, 1.0]])
    m = d.monte_carlo_scenarios(sigma, rho, 1 / 365, 501, seed=2024)
    close(m, ref.monte_carlo(sigma.tolist(), rho.tolist(), 1 / 365, 501, 2024), rtol=1e-11)
    assert np.array_equal(m, d.monte_carlo_scenarios(sigma, rho, 1 / 365, 501, seed=2024))
    assert not np.array_equal(m, d.monte_carlo_scenarios(sigma, rho, 1 / 365, 501, seed=2025))
    big = np.log1p(d.monte_carlo_scenarios(sigma, rho, 1.0, 100_000, seed=1))
    np.testing.assert_allclose(np.corrcoef(big.T), rho, atol=0.01)
    np.testing.assert_allclose(big.std(axis=0), sigma, rtol=0.01)
    # Martingale drift: E[1 + m] = 1.
    np.testing.assert_allclose(np.expm1(big).mean(axis=0), 0.0, atol=0.02)


def test_splitmix_reference_vector() -> None:
    g = ref.SplitMix64(0)
    assert [g.next_u64() for _ in range(3)] == [
        0xE220A8397B1DCDAF,
        0x6E789E6AA1B965F4,
        0x06C45D188009454F,
    ]


@pytest.mark.parametrize(
    ("rho", "err"),
    [
        ([[1.0, 0.9, -0.9], [0.9, 1.0, 0.9], [-0.9, 0.9, 1.0]], NotPositiveSemidefiniteError),
        ([[1.0, 0.5, 0.0], [0.4, 1.0, 0.0], [0.0, 0.0, 1.0]], NotPositiveSemidefiniteError),
        ([[1.0, 0.5, 0.0], [0.5, 0.9, 0.0], [0.0, 0.0, 1.0]], ParameterError),
        ([[1.0, np.nan, 0.0], [np.nan, 1.0, 0.0], [0.0, 0.0, 1.0]], NonFiniteError),
        ([[1.0, 0.0], [0.0, 1.0]], ShapeError),
    ],
)
def test_bad_correlation_is_typed(rho: list[list[float]], err: type[Exception]) -> None:
    with pytest.raises(err) as info:
        d.monte_carlo_scenarios([0.5, 0.5, 0.5], np.array(rho), 0.01, 10, seed=1)
    assert info.value.field == "correlation"  # type: ignore[attr-defined]


# ------------------------------------------------------------------ VaR / ES
def _csr(accounts: zkmargin.Accounts) -> tuple[list[int], list[int], list[float]]:
    return accounts.offsets.tolist(), accounts.instrument.tolist(), accounts.quantity.tolist()


def test_var_es_matches_reference(exchange: zkmargin.synthetic.Exchange, history: np.ndarray) -> None:
    moves = d.filtered_historical_scenarios(d.log_returns(history))
    risk = d.joint_risk_arrays(exchange.instruments, exchange.market, moves)
    for conf in (0.9, 0.99):
        var, es = d.var_es(risk, exchange.accounts, conf)
        rvar, res_ = ref.var_es(risk.tolist(), *_csr(exchange.accounts), conf)
        close(var, rvar, rtol=1e-9, atol=1e-9)
        close(es, res_, rtol=1e-9, atol=1e-9)
        assert np.all(es >= var)
    # Single thread gives the same numbers (each account is independent).
    close(d.var_es(risk, exchange.accounts, 0.99, threads=1)[1], es, rtol=0, atol=0)


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 60),
    st.floats(0.5, 0.999),
    st.lists(st.floats(-5, 5), min_size=1, max_size=8),
    st.integers(0, 2**32 - 1),
)
def test_var_es_property(n_scen: int, conf: float, qty: list[float], seed: int) -> None:
    rng = np.random.default_rng(seed)
    risk = rng.standard_normal((4, n_scen))
    inst = rng.integers(0, 4, len(qty))
    acc = zkmargin.Accounts(np.array([0, len(qty)]), inst, np.array(qty), np.zeros((1, 1)))
    var, es = d.var_es(risk, acc, conf, threads=1)
    rvar, res_ = ref.var_es(risk.tolist(), [0, len(qty)], inst.tolist(), qty, conf)
    close(var, rvar, rtol=1e-9, atol=1e-9)
    close(es, res_, rtol=1e-9, atol=1e-9)
    assert es[0] >= var[0] - 1e-12
    losses = -(np.array(qty) @ risk[inst])
    k = ref.tail_count(n_scen, conf)
    # VaR is an empirical quantile: at most k - 1 losses strictly exceed it.
    tol = 1e-9 * (1.0 + abs(var[0]))  # the matmul sums in a different order
    assert (losses > var[0] + tol).sum() <= k - 1 and (losses >= var[0] - tol).sum() >= k


def test_tail_count_rounding() -> None:
    assert ref.tail_count(10_000, 0.99) == 100
    assert ref.tail_count(10_000, 0.975) == 250
    assert ref.tail_count(50, 0.999) == 1


@pytest.mark.parametrize("conf", [0.0, 1.0, -0.5, 1.5, float("nan")])
def test_confidence_outside_unit_interval(exchange: zkmargin.synthetic.Exchange, conf: float) -> None:
    risk = np.zeros((len(exchange.instruments), 10))
    with pytest.raises(ParameterError) as info:
        d.var_es(risk, exchange.accounts, conf)
    assert info.value.field == "confidence"


def test_var_es_bad_risk_arrays(exchange: zkmargin.synthetic.Exchange) -> None:
    risk = np.zeros((len(exchange.instruments), 10))
    risk[3, 4] = np.inf
    with pytest.raises(NonFiniteError) as info:
        d.var_es(risk, exchange.accounts)
    assert (info.value.field, info.value.index) == ("risk_arrays", 34)
    with pytest.raises(ShapeError):
        d.var_es(np.zeros((len(exchange.instruments), 0)), exchange.accounts)


def test_span2_and_stress(exchange: zkmargin.synthetic.Exchange) -> None:
    rng = np.random.default_rng(4)
    tail, stress, liq, conc = rng.normal(size=(4, 50))
    liq, conc = np.abs(liq), np.abs(conc)
    got = d.span2_margin(0.7, tail, stress, liq, conc)
    close(got, [ref.span2(0.7, *v) for v in zip(tail, stress, liq, conc, strict=True)])
    with pytest.raises(ParameterError):
        d.span2_margin(1.2, tail, stress, liq, conc)
    # Named stress (-50%, vol x2) through the core's own risk arrays.
    table = zkmargin.ScenarioTable(
        [[-0.5, -0.5]],
        [[1.0, 1.0]],
        [[1.0, 1.0]],
        vol_up=1.0,
        power_short=0.0,
        power_long=0.0,
        min_vol_up=0.0,
    )
    risk = zkmargin.MarginEngine(exchange.instruments, scenarios=table).risk_arrays(exchange.market)
    pnl = d.scenario_pnl(risk, exchange.accounts)
    close(
        pnl[:, 0],
        [
            ref.account_pnl(risk.tolist(), *_csr_rows(exchange.accounts, a))[0]
            for a in range(len(exchange.accounts))
        ],
        rtol=1e-9,
        atol=1e-9,
    )


def _csr_rows(accounts: zkmargin.Accounts, a: int) -> tuple[list[int], list[float]]:
    lo, hi = accounts.offsets[a], accounts.offsets[a + 1]
    return accounts.instrument[lo:hi].tolist(), accounts.quantity[lo:hi].tolist()


# ------------------------------------------------------------------ liquidity and haircuts
def _rule(exchange: zkmargin.synthetic.Exchange, **kw: float) -> d.LiquidityRule:
    eng = zkmargin.MarginEngine(exchange.instruments)
    notional = d.instrument_notional(eng, exchange.market)
    rng = np.random.default_rng(8)
    n = len(exchange.instruments)
    args = {"share": 0.05, "rate": 0.2, "imf": 2e-4} | kw
    return d.LiquidityRule(notional, rng.uniform(0, 0.002, n), rng.uniform(2e4, 2e6, n), 0.05, **args)


def _ref_params(rule: d.LiquidityRule) -> ref.LiquidityParams:
    return ref.LiquidityParams(
        rule.notional.tolist(),
        rule.half_spread.tolist(),
        rule.depth.tolist(),
        rule.base_ratio.tolist(),
        rule.share,
        rule.rate,
        rule.imf,
    )


def test_addons_match_reference(exchange: zkmargin.synthetic.Exchange) -> None:
    rule = _rule(exchange)
    got = d.addons(rule, exchange.accounts)
    p = _ref_params(rule)
    want = np.array([ref.addons(p, *_csr_rows(exchange.accounts, a)) for a in range(len(exchange.accounts))])
    close(np.c_[got.closeout, got.concentration, got.size_premium], want, rtol=1e-10, atol=1e-9)
    assert got.concentration.max() > 0 and got.size_premium.max() > 0
    # Options use the premium, delta-one the USD delta (core valuation).
    vals = zkmargin.MarginEngine(exchange.instruments).instrument_values(exchange.market)
    close(
        rule.notional,
        np.where(exchange.instruments.is_option, np.abs(vals.mtm), np.abs(vals.delta)),
    )


def test_zero_depth_is_typed(exchange: zkmargin.synthetic.Exchange) -> None:
    rule = _rule(exchange)
    depth = rule.depth.copy()
    depth[7] = 0.0
    bad = d.LiquidityRule(rule.notional, rule.half_spread, depth, rule.base_ratio)
    with pytest.raises(NonPositiveError) as info:
        d.addons(bad, exchange.accounts)
    assert (info.value.field, info.value.index) == ("depth", 7)
    with pytest.raises(NonPositiveError) as info:
        d.dynamic_collateral(np.ones((2, 2)), [1.0, 2.0], [0.5, 0.5], [1e6, 0.0], [0.0, 0.0])
    assert (info.value.field, info.value.index) == ("depth", 1)


def test_haircuts_grow_with_vol_and_size() -> None:
    bal = np.array([[1_000.0, 0.1, 2.0], [1e7, 100.0, -50.0], [0.0, -3.0, 20_000.0]])
    price, sigma, depth, base = (
        [1.0, 60_000.0, 3_000.0],
        [0.0, 0.55, 0.7],
        [1e9, 5e8, 2e8],
        [0.0, 0.02, 0.03],
    )
    rule = d.HaircutRule(z=2.33, participation=0.1, min_days=1.0, cap=0.6)
    value, h = d.dynamic_collateral(bal, price, sigma, depth, base, rule)
    for a in range(3):
        hs = [
            ref.haircut(price[j], sigma[j], depth[j], base[j], bal[a, j], 2.33, 0.1, 1.0, 0.6)
            for j in range(3)
        ]
        close(h[a], hs)
        close(value[a], ref.collateral_value(bal[a].tolist(), price, hs))
    assert h[2, 2] > h[0, 2] and h[0, 0] == 0.0  # size raises the haircut; a stablecoin keeps its base
    _, h2 = d.dynamic_collateral(bal, price, 2 * np.array(sigma), depth, base, rule)
    assert np.all(h2[:, 1:] > h[:, 1:])


# ------------------------------------------------------------------ liquidation
def _scan_inputs(
    exchange: zkmargin.synthetic.Exchange,
) -> tuple[zkmargin.MarginResult, d.LiquidityRule]:
    res = zkmargin.MarginEngine(exchange.instruments).compute(exchange.accounts, exchange.market)
    return res, _rule(exchange, rate=0.05, imf=5e-5)


def test_liquidation_scan_matches_reference(exchange: zkmargin.synthetic.Exchange) -> None:
    res, rule = _scan_inputs(exchange)
    scan = d.scan_margin(exchange.accounts, res, rule, penalty=0.02)
    want = ref.liquidation_scan(
        res.equity.tolist(),
        res.maintenance_margin.tolist(),
        res.initial_margin.tolist(),
        0.02,
        _ref_params(rule),
        *_csr(exchange.accounts),
    )
    assert len(scan) == len(want) > 5
    assert scan.account.tolist() == [w[0] for w in want]
    close(scan.shortfall, [w[1] for w in want], rtol=1e-10)
    close(scan.fraction, [w[2] for w in want], rtol=1e-10)
    assert scan.full.tolist() == [w[3] for w in want]
    close(scan.bad_debt, [w[4] for w in want], rtol=1e-10)
    assert np.all(np.diff(scan.shortfall) <= 0)
    addon = d.addons(rule, exchange.accounts).total
    h = d.health(res, addon)
    assert set(scan.account.tolist()) == set(np.flatnonzero(h < 0).tolist())


def _health_after(
    f: float,
    e: float,
    tgt: float,
    pen: float,
    p: ref.LiquidityParams,
    ins: list[int],
    qty: list[float],
) -> float:
    """Independent restatement of §10.8: equity after paying penalty and half spread on the
    closed notional, minus the requirement on the kept quantities (add-ons recomputed
    from the kept positions themselves, not by scaling)."""
    kept = [(1 - f) * q for q in qty]
    closed = sum(f * abs(q) * p.notional[i] for i, q in zip(ins, qty, strict=True))
    spread = sum(f * abs(q) * p.notional[i] * p.half_spread[i] for i, q in zip(ins, qty, strict=True))
    return e - pen * closed - spread - ((1 - f) * tgt + sum(ref.addons(p, ins, kept)))


def test_partial_liquidation_restores_health_and_closes_no_more_than_needed(
    exchange: zkmargin.synthetic.Exchange,
) -> None:
    res, rule = _scan_inputs(exchange)
    scan = d.scan_margin(exchange.accounts, res, rule, penalty=0.02)
    p = _ref_params(rule)
    grid = np.linspace(0.0, 1.0, 2001)
    partial = 0
    for a, f, full in zip(scan.account, scan.fraction, scan.full, strict=True):
        ins, qty = _csr_rows(exchange.accounts, int(a))
        e, tgt = res.equity[a], res.initial_margin[a]
        hs = np.array([_health_after(g, e, tgt, 0.02, p, ins, qty) for g in grid])
        if full:
            assert hs[-1] < 0 or f == 1.0
            assert np.all(hs < 0), "a partial close-out existed but the scan chose full"
            continue
        partial += 1
        assert _health_after(f, e, tgt, 0.02, p, ins, qty) >= -1e-9 * max(1.0, tgt)
        # Brute force: no grid point meaningfully below f restores health.
        below = grid < f - 1e-6
        assert not np.any(hs[below] >= 0)
    assert partial >= 3


def test_closed_quantities(exchange: zkmargin.synthetic.Exchange) -> None:
    res, rule = _scan_inputs(exchange)
    scan = d.scan_margin(exchange.accounts, res, rule)
    rows, ins, q = scan.closed_quantities(exchange.accounts)
    a0 = int(scan.account[0])
    lo, hi = exchange.accounts.offsets[a0], exchange.accounts.offsets[a0 + 1]
    assert rows[: hi - lo].tolist() == list(range(lo, hi))
    close(q[: hi - lo], scan.fraction[0] * exchange.accounts.quantity[lo:hi])
    assert np.all(np.abs(q) <= np.abs(exchange.accounts.quantity[rows]) + 1e-12)
    assert np.array_equal(ins, exchange.accounts.instrument[rows])


def test_liquidation_closed_form() -> None:
    acc = zkmargin.Accounts([0, 1], [0], [2.0], np.zeros((1, 1)))
    rule = d.LiquidityRule([500.0], 0.0, 1e12, 0.0, rate=0.0, imf=0.0)
    scan = d.liquidation_scan(acc, [40.0], [50.0], [100.0], rule, penalty=0.02)
    # f = (IM - E) / (IM - penalty N) = 60 / (100 - 20)
    close(scan.fraction, [0.75])
    assert not scan.full[0] and math.isclose(scan.shortfall[0], 10.0)
    with pytest.raises(ParameterError):
        d.liquidation_scan(acc, [40.0], [50.0], [100.0], rule, penalty=1.5)


# ------------------------------------------------------------------ bad histories
def test_bad_histories_are_typed() -> None:
    with pytest.raises(ShapeError) as info:
        d.log_returns(np.array([[100.0, 5.0]]))
    assert info.value.field == "prices"
    with pytest.raises(ShapeError):
        d.log_returns(np.zeros((0, 2)))
    with pytest.raises(NonFiniteError) as info:
        d.log_returns(np.array([100.0, np.nan, 101.0]))
    assert (info.value.field, info.value.index) == ("prices", 1)
    with pytest.raises(NonPositiveError):
        d.log_returns(np.array([100.0, -1.0]))
    with pytest.raises(ShapeError) as info:
        d.historical_scenarios(np.zeros((3, 1)), horizon=5)
    assert info.value.field == "returns"
    with pytest.raises(ShapeError):
        d.rolling_volatility(np.zeros((3, 1)), 10)
    with pytest.raises(ParameterError) as info:
        d.ewma_volatility(np.zeros((3, 1)), lam=1.0)
    assert info.value.field == "lambda"
    with pytest.raises(NonPositiveError):
        d.filtered_historical_scenarios(np.zeros((10, 1)))  # constant prices: nothing to filter
    with pytest.raises(ParameterError):
        d.cap_path(np.ones(3), max_rise=-0.1)


# ------------------------------------------------------------------ backtest
@pytest.mark.parametrize(("n", "x", "p"), [(250, 5, 0.01), (1000, 3, 0.01), (500, 0, 0.01), (100, 40, 0.05)])
def test_kupiec_against_scipy(n: int, x: int, p: float) -> None:
    lr, pval = d.kupiec(n, x, p)
    phat = x / n
    ll0 = stats.binom.logpmf(x, n, p)
    ll1 = stats.binom.logpmf(x, n, phat) if x else n * math.log1p(-phat)
    assert math.isclose(lr, -2 * (ll0 - ll1), rel_tol=1e-9)
    assert math.isclose(pval, stats.chi2.sf(lr, 1), rel_tol=1e-9)


def test_kupiec_known_value() -> None:
    # 5 breaches in 250 days at 1%: LR = 1.9568..., p = 0.1619... (Jorion's textbook case).
    lr, pval = d.kupiec(250, 5, 0.01)
    assert math.isclose(lr, 1.956, abs_tol=1e-3) and math.isclose(pval, 0.162, abs_tol=1e-3)
    with pytest.raises(ParameterError):
        d.kupiec(10, 11, 0.01)


def test_scan_is_thread_count_independent(exchange: zkmargin.synthetic.Exchange) -> None:
    res, rule = _scan_inputs(exchange)
    one = d.scan_margin(exchange.accounts, res, rule, threads=1)
    two = d.scan_margin(exchange.accounts, res, rule, threads=2)
    for field in ("account", "shortfall", "fraction", "full", "bad_debt"):
        assert np.array_equal(getattr(one, field), getattr(two, field))


def test_scan_bad_book_is_typed(exchange: zkmargin.synthetic.Exchange) -> None:
    from zkmargin.errors import IndexOutOfRangeError, OffsetsError

    res, rule = _scan_inputs(exchange)
    acc = exchange.accounts
    ins = acc.instrument.copy()
    ins[17] = len(exchange.instruments)
    with pytest.raises(IndexOutOfRangeError) as info:
        d.scan_margin(zkmargin.Accounts(acc.offsets, ins, acc.quantity, acc.balances), res, rule)
    assert (info.value.field, info.value.index) == ("instrument", 17)
    qty = acc.quantity.copy()
    qty[5] = np.nan
    with pytest.raises(NonFiniteError) as info:
        d.scan_margin(zkmargin.Accounts(acc.offsets, acc.instrument, qty, acc.balances), res, rule)
    assert (info.value.field, info.value.index) == ("quantity", 5)
    off = acc.offsets.copy()
    off[3], off[4] = off[4], off[3]
    with pytest.raises(OffsetsError):
        d.scan_margin(zkmargin.Accounts(off, acc.instrument, acc.quantity, acc.balances), res, rule)
