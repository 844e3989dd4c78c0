"""Dynamic margin (docs §10): Rust core against the pure-Python reference and against
independent hand or SciPy computations; typed errors for bad input."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st
from scipy import stats

import zkmargin
import zkmargin.baseline
from zkmargin import dynamic as d
from zkmargin.baseline import dynamic as ref
from zkmargin.errors import (
    NonFiniteError,
    NonPositiveError,
    NotPositiveSemidefiniteError,
    ParameterError,
    ShapeError,
)
from zkmargin.span import InterSpread, SpanRules

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


def test_addons_match_reference(exchange: zkmargin.synthetic.Exchange) -> None:
    rule = _rule(exchange)
    got = d.addons(rule, exchange.accounts)
    p = ref.LiquidityParams.from_rule(rule)
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
PENALTY = 0.02


def test_the_reference_reads_the_cores_tolerances() -> None:
    from zkmargin._core import dynamic as core

    for name in ("PSD_JITTER", "FRACTION_TOLERANCE", "MAX_ITERATIONS", "TIE", "MAX_PASSES"):
        assert getattr(ref, name) is getattr(core, name), name
    assert (ref.PSD_JITTER, ref.FRACTION_TOLERANCE, ref.TIE) == (1e-10, 1e-12, 1e-9)  # docs §10.4, §10.8


def _scan_rule(exchange: zkmargin.synthetic.Exchange) -> d.LiquidityRule:
    return _rule(exchange, rate=0.05, imf=5e-5)


def _scan(exchange: zkmargin.synthetic.Exchange, model: str = "portfolio", **kw: object) -> d.LiquidationScan:
    eng = zkmargin.MarginEngine(exchange.instruments)
    return d.scan_margin(
        eng, exchange.accounts, exchange.market, _scan_rule(exchange), model, penalty=PENALTY, **kw
    )  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("model", "aggregation"),
    [
        ("portfolio", "sum"),
        ("portfolio", "joint"),
        ("portfolio", "correlation"),
        ("portfolio", "span"),
        ("cross", "sum"),
        ("standard", "sum"),
    ],
)
def test_liquidation_scan_matches_reference(
    exchange: zkmargin.synthetic.Exchange, model: str, aggregation: str
) -> None:
    """Rust scan == pure-Python scan on the pure-Python engine: same accounts, order,
    methods and per-row fractions, under every aggregation of scenario losses (the search
    margins moved rows from cached per-underlying losses, or re-adds them for joint)."""
    kw: dict[str, Any] = {"aggregation": aggregation}
    if aggregation == "correlation":
        kw["correlation"] = [[1.0, 0.4], [0.4, 1.0]]
    if aggregation == "span":
        kw["span"] = SpanRules(0.01, [InterSpread(0, 1, 1.0, -1.0, 0.5)])
    eng = zkmargin.MarginEngine(exchange.instruments, **kw)
    rule = _scan_rule(exchange)
    # thinly capitalised, so that every model has several accounts below maintenance
    a = exchange.accounts
    acc = zkmargin.Accounts(a.offsets, a.instrument, a.quantity, 0.6 * a.balances)
    scan = d.scan_margin(eng, acc, exchange.market, rule, model, penalty=PENALTY)
    beng = zkmargin.baseline.MarginEngine(exchange.instruments, **kw)
    want = ref.liquidation_scan(
        beng,
        beng.prepare(exchange.market, model),
        ref.ScanRule(model, "initial", 0.0, PENALTY, ref.LiquidityParams.from_rule(rule)),
        *_csr(acc),
        acc.balances.tolist(),
    )
    assert len(scan) == len(want) > 5
    assert scan.account.tolist() == [w.account for w in want]
    assert scan.method_names() == [w.method for w in want]
    assert scan.full.tolist() == [w.full for w in want]
    close(scan.shortfall, [w.shortfall for w in want], rtol=1e-9, atol=1e-9)
    close(scan.bad_debt, [w.bad_debt for w in want], rtol=1e-9, atol=1e-9)
    close(scan.closed_notional, [w.closed_notional for w in want], rtol=1e-9, atol=1e-9)
    close(scan.close_fraction, np.concatenate([w.fractions for w in want]), rtol=0, atol=1e-9)
    assert np.all(np.diff(scan.shortfall) <= 0)
    res = eng.compute(acc, exchange.market, model)
    h = d.health(res, d.addons(rule, acc).total)
    assert set(scan.account.tolist()) == set(np.flatnonzero(h < 0).tolist())
    for k, a in enumerate(scan.account.tolist()):
        lo, hi = scan.row_offsets[k], scan.row_offsets[k + 1]
        assert scan.rows[lo:hi].tolist() == list(range(acc.offsets[a], acc.offsets[a + 1]))


class SmallBook:
    """One account of 1-3 rows and an independent restatement of §10.8's health: the
    engine's target and the add-ons recomputed on each kept book, many close-outs per call
    (one account per close-out vector)."""

    def __init__(self, ex: zkmargin.synthetic.Exchange, rule: d.LiquidityRule, model: str, seed: int) -> None:
        rng = np.random.default_rng(seed)
        k = int(rng.integers(1, 4))
        self.ex, self.rule, self.model = ex, rule, model
        self.eng = zkmargin.MarginEngine(ex.instruments)
        self.ins = rng.choice(len(ex.instruments), size=k, replace=False)
        self.qty = rng.choice([-1.0, 1.0], size=k) * rng.uniform(0.5, 30.0, size=k)
        self.x = np.abs(self.qty) * rule.notional[self.ins]
        equity, requirement, _ = (float(v[0]) for v in self._margin(np.ones((1, k)), np.zeros((1, 3))))
        self.requirement = requirement  # MM + add-ons
        # Cash that leaves the equity a random share of the requirement below it.
        self.cash = requirement - equity - rng.uniform(0.02, 0.9) * requirement
        # Equity with cash; closing at mark leaves it unchanged.
        self.equity = float(self._margin(np.ones((1, k)), self._balances(1))[0][0])

    def _balances(self, n: int) -> np.ndarray:
        bal = np.zeros((n, 3))
        bal[:, 0] = self.cash
        return bal

    def _margin(self, keep: np.ndarray, bal: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(equity, MM + add-ons, IM + add-ons) of the books with quantities ``keep * qty``."""
        n, k = keep.shape
        acc = zkmargin.Accounts(np.arange(n + 1) * k, np.tile(self.ins, n), (keep * self.qty).ravel(), bal)
        res = self.eng.compute(acc, self.ex.market, self.model)
        add = d.addons(self.rule, acc).total
        return res.equity, res.maintenance_margin + add, res.initial_margin + add

    def health(self, c: np.ndarray) -> np.ndarray:
        """H for each row of ``c`` (``G x k`` close-out fractions)."""
        c = np.atleast_2d(c)
        costs = c @ ((PENALTY + self.rule.half_spread[self.ins]) * self.x)
        _, _, target = self._margin(1.0 - c, self._balances(c.shape[0]))
        return self.equity - costs - target

    def scan(self) -> d.LiquidationScan:
        acc = zkmargin.Accounts([0, len(self.ins)], self.ins, self.qty, self._balances(1))
        return d.scan_margin(self.eng, acc, self.ex.market, self.rule, self.model, penalty=PENALTY)


def _pro_rata_notional(book: SmallBook) -> float:
    """Smallest pro-rata close-out by bisection on the independent health (inf if none)."""
    k = len(book.ins)
    if book.health(np.ones((1, k)))[0] < 0:
        return math.inf
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if book.health(np.full((1, k), mid))[0] >= 0 else (mid, hi)
    return hi * float(book.x.sum())


@given(st.sampled_from(["portfolio", "cross", "standard"]), st.integers(0, 2**32 - 1))
@example("portfolio", 23078)  # two rows zig-zag towards a corner: 42 minimisation passes
def test_partial_liquidation_restores_health_minimally(
    exchange: zkmargin.synthetic.Exchange, model: str, seed: int
) -> None:
    book = SmallBook(exchange, _scan_rule(exchange), model, seed)
    assume(book.requirement > 0)
    scan = book.scan()
    assert len(scan) == 1  # equity below MM by construction
    c = scan.close_fraction
    close(scan.closed_notional[0], c @ book.x, rtol=1e-12, atol=1e-9)
    if scan.method[0] == d.liquidation.METHODS.index("full"):
        # No greedy or pro-rata close-out restores health; pro rata cannot, by brute force.
        assert np.all(c == 1.0) and _pro_rata_notional(book) == math.inf
        return
    scale = 1e-9 * max(1.0, abs(book.equity))
    assert book.health(c)[0] >= -scale, "the close-out does not restore health"
    # Never more than pro rata (up to the 1e-9 x notional tie of §10.8 and the bisection).
    assert scan.closed_notional[0] <= _pro_rata_notional(book) + 2e-9 * book.x.sum()
    # Coordinate-minimal: less of any closed row breaks health (a grid down to 0).
    for j in np.flatnonzero(c > 0):
        grid = np.repeat(c[None, :], 50, axis=0)
        grid[:, j] = np.linspace(0.0, c[j] - 1e-7, 50).clip(0.0)
        assert np.all(book.health(grid) < scale), f"row {j} could close less"


@given(st.integers(0, 2**32 - 1))
def test_separable_books_are_optimal(exchange: zkmargin.synthetic.Exchange, seed: int) -> None:
    """Standard model, linear add-ons: H is affine in c, so the cheapest close-out is the LP
    min x.c s.t. H(0) + g.c >= 0, 0 <= c <= 1. The scan must find its optimum."""
    from scipy.optimize import linprog

    rule = _rule(exchange, rate=0.0, imf=0.0)
    book = SmallBook(exchange, rule, "standard", seed)
    assume(book.requirement > 0)
    k = len(book.ins)
    h = book.health(np.vstack([np.zeros(k), np.eye(k)]))
    g = h[1:] - h[0]
    probe = np.random.default_rng(seed).uniform(size=k)
    close(book.health(probe)[0], h[0] + g @ probe, rtol=1e-9, atol=1e-6)  # affine indeed
    scan = book.scan()
    lp = linprog(book.x, A_ub=-g[None, :], b_ub=[h[0]], bounds=[(0, 1)] * k, method="highs")
    if lp.status == 2:  # infeasible: only the whole-account fallback remains
        assert scan.full[0] and scan.method[0] == d.liquidation.METHODS.index("full")
        return
    assert not scan.full[0] or np.all(scan.close_fraction == 1.0)
    close(scan.closed_notional[0], lp.fun, rtol=1e-7, atol=1e-6)
    # And by brute force on a grid over c: no restoring close-out is cheaper.
    pts = np.stack(np.meshgrid(*[np.linspace(0, 1, 21)] * k), -1).reshape(-1, k)
    ok = book.health(pts) >= 0
    assert ok.any()
    assert (pts[ok] @ book.x).min() >= scan.closed_notional[0] * (1 - 1e-9) - 1e-6


def test_closed_quantities(exchange: zkmargin.synthetic.Exchange) -> None:
    scan = _scan(exchange)
    rows, ins, q = scan.closed_quantities(exchange.accounts)
    a0 = int(scan.account[0])
    lo, hi = exchange.accounts.offsets[a0], exchange.accounts.offsets[a0 + 1]
    assert rows[: hi - lo].tolist() == list(range(lo, hi))
    close(q[: hi - lo], scan.close_fraction[: hi - lo] * exchange.accounts.quantity[lo:hi])
    assert np.all(np.abs(q) <= np.abs(exchange.accounts.quantity[rows]) + 1e-12)
    assert np.all(q * exchange.accounts.quantity[rows] >= 0)
    assert np.array_equal(ins, exchange.accounts.instrument[rows])
    # Position selection: some accounts keep some rows untouched.
    assert np.any(scan.close_fraction == 0.0)


def test_liquidation_closed_form(exchange: zkmargin.synthetic.Exchange) -> None:
    # One linear perpetual (delta = notional = 500 per contract at spot 500), standard model:
    # IM 100, MM 50 on 2 contracts, equity 40 cash: c = (IM - E) / (IM - penalty N) = 60 / 80.
    ins = zkmargin.Instruments([1], [0], [0.0], [0.0], [1.0], [0])
    market = zkmargin.Market([500.0], [0.5], [1.0], [0.0])
    eng = zkmargin.MarginEngine(ins)
    acc = zkmargin.Accounts([0, 1], [0], [2.0], [[40.0]])
    rule = d.LiquidityRule([500.0], 0.0, 1e12, 0.0, rate=0.0, imf=0.0)
    scan = d.scan_margin(eng, acc, market, rule, "standard", penalty=0.02)
    close(scan.close_fraction, [0.75])
    assert not scan.full[0] and math.isclose(scan.shortfall[0], 10.0)
    inputs = (acc.quantity.copy(), acc.balances.copy())
    with pytest.raises(ParameterError) as info:
        d.scan_margin(eng, acc, market, rule, "standard", penalty=1.5)
    assert info.value.field == "penalty"
    with pytest.raises(ParameterError) as info:
        d.scan_margin(eng, acc, market, rule, "standard", target="mid")
    assert info.value.field == "target"
    with pytest.raises(ShapeError) as info:
        d.scan_margin(eng, acc, market, rule, extra_equity=[1.0, 2.0])
    assert info.value.field == "extra_equity"
    with pytest.raises(NonFiniteError) as info:
        d.scan_margin(eng, acc, market, rule, extra_equity=[np.nan])
    assert (info.value.field, info.value.index) == ("extra_equity", 0)
    assert np.array_equal(inputs[0], acc.quantity) and np.array_equal(inputs[1], acc.balances)
    # Extra equity (cash outside the book) can make the account healthy.
    assert len(d.scan_margin(eng, acc, market, rule, "standard", extra_equity=[20.0])) == 0


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


@given(st.integers(1, 5000), st.data(), st.floats(1e-6, 1 - 1e-6))
def test_kupiec_matches_the_reference(n: int, data: st.DataObject, p: float) -> None:
    x = data.draw(st.integers(0, n))
    lr, pval = d.kupiec(n, x, p)
    want_lr, want_p = ref.kupiec(n, x, p)
    # Near x/n == p the engine's LR is a difference of two nearly equal log-likelihoods
    # (absolute error ~ n eps |ln p|), and the p-value's slope in LR is unbounded at 0.
    assert math.isclose(lr, want_lr, rel_tol=1e-9, abs_tol=1e-12 * n)
    assert math.isclose(pval, want_p, rel_tol=1e-9, abs_tol=1e-6)


def test_kupiec_known_value() -> None:
    # 5 breaches in 250 days at 1%: LR = 1.9568..., p = 0.1619... (Jorion's textbook case).
    lr, pval = d.kupiec(250, 5, 0.01)
    assert math.isclose(lr, 1.956, abs_tol=1e-3) and math.isclose(pval, 0.162, abs_tol=1e-3)
    with pytest.raises(ParameterError):
        d.kupiec(10, 11, 0.01)


def test_scan_is_thread_count_independent(exchange: zkmargin.synthetic.Exchange) -> None:
    one, two = _scan(exchange, threads=1), _scan(exchange, threads=2)
    for field in (f.name for f in dataclasses.fields(d.LiquidationScan)):
        assert np.array_equal(getattr(one, field), getattr(two, field))


def test_scan_bad_book_is_typed(exchange: zkmargin.synthetic.Exchange) -> None:
    from zkmargin.errors import IndexOutOfRangeError, OffsetsError

    eng, rule, acc, mk = (
        zkmargin.MarginEngine(exchange.instruments),
        _scan_rule(exchange),
        exchange.accounts,
        exchange.market,
    )
    ins = acc.instrument.copy()
    ins[17] = len(exchange.instruments)
    with pytest.raises(IndexOutOfRangeError) as info:
        d.scan_margin(eng, zkmargin.Accounts(acc.offsets, ins, acc.quantity, acc.balances), mk, rule)
    assert (info.value.field, info.value.index) == ("instrument", 17)
    qty = acc.quantity.copy()
    qty[5] = np.nan
    with pytest.raises(NonFiniteError) as info:
        d.scan_margin(eng, zkmargin.Accounts(acc.offsets, acc.instrument, qty, acc.balances), mk, rule)
    assert (info.value.field, info.value.index) == ("quantity", 5)
    off = acc.offsets.copy()
    off[3], off[4] = off[4], off[3]
    with pytest.raises(OffsetsError):
        d.scan_margin(eng, zkmargin.Accounts(off, acc.instrument, acc.quantity, acc.balances), mk, rule)
    with pytest.raises(ParameterError) as info:
        d.scan_margin(zkmargin.baseline.MarginEngine(exchange.instruments), acc, mk, rule)  # type: ignore[arg-type]
    assert info.value.field == "engine"
