"""Pure-Python reference of the dynamic-margin layer (docs §10): the same formulas as the
Rust core, written with lists and ``math`` only, for cross-checks and for readers. Slow by
design; use :mod:`zkmargin.dynamic` for real work.

Matrices are lists of rows (time-major histories, ``I x S`` risk arrays). Accounts are CSR
triples ``(offsets, instrument, quantity)`` as lists.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

Matrix = list[list[float]]

SPLITMIX_GAMMA = 0x9E3779B97F4A7C15
MASK64 = (1 << 64) - 1
PSD_JITTER = 1e-10  # the core's linalg::PSD_JITTER
FRACTION_TOLERANCE = 1e-12  # the core's liquidation::FRACTION_TOLERANCE
MAX_ITERATIONS = 200


# ---------------------------------------------------------------- volatility (§10.1)
def log_returns(prices: Sequence[Sequence[float]]) -> Matrix:
    pairs = itertools.pairwise(prices)
    return [[math.log(b / a) for a, b in zip(p0, p1, strict=True)] for p0, p1 in pairs]


def ewma_vol(returns: Sequence[Sequence[float]], lam: float) -> Matrix:
    var = [r * r for r in returns[0]]
    out = [[math.sqrt(v) for v in var]]
    for row in returns[1:]:
        var = [lam * v + (1.0 - lam) * r * r for v, r in zip(var, row, strict=True)]
        out.append([math.sqrt(v) for v in var])
    return out


def rolling_vol(returns: Sequence[Sequence[float]], window: int) -> Matrix:
    out = []
    for k in range(len(returns) - window + 1):
        row = []
        for u in range(len(returns[0])):
            col = [returns[t][u] for t in range(k, k + window)]
            mean = sum(col) / window
            row.append(math.sqrt(sum((r - mean) * (r - mean) for r in col) / (window - 1)))
        out.append(row)
    return out


def annualise(vol: Sequence[float], periods_per_year: float) -> list[float]:
    k = math.sqrt(periods_per_year)
    return [v * k for v in vol]


# ---------------------------------------------------------------- scan ranges (§10.2-10.3)
def scan_ranges(sigma: Sequence[float], k: float, horizon: float, floor: float, cap: float) -> list[float]:
    return [min(max(k * s * math.sqrt(horizon), floor), cap) for s in sigma]


def apc_vol(
    current: Sequence[float], lookback: Sequence[float], stressed: Sequence[float], w: float
) -> list[float]:
    return [max(lb, (1.0 - w) * c + w * s) for c, lb, s in zip(current, lookback, stressed, strict=True)]


def cap_path(targets: Sequence[Sequence[float]], max_rise: float) -> Matrix:
    out = [list(targets[0])]
    for row in targets[1:]:
        out.append([min(t, p * (1.0 + max_rise)) for t, p in zip(row, out[-1], strict=True)])
    return out


# ---------------------------------------------------------------- joint scenarios (§10.4)
def historical(returns: Sequence[Sequence[float]], horizon: int) -> Matrix:
    n_und = len(returns[0])
    return [
        [math.expm1(sum(returns[t][u] for t in range(s, s + horizon))) for u in range(n_und)]
        for s in range(len(returns) - horizon + 1)
    ]


def filtered_historical(returns: Sequence[Sequence[float]], lam: float, horizon: int) -> Matrix:
    sig = ewma_vol(returns, lam)
    now = sig[-1]
    scaled = [
        [r * n / s for r, n, s in zip(returns[t], now, sig[t - 1], strict=True)]
        for t in range(1, len(returns))
    ]
    return historical(scaled, horizon)


class SplitMix64:
    """Same generator as the core (docs §10.4.3)."""

    def __init__(self, seed: int) -> None:
        self.state = seed & MASK64

    def next_u64(self) -> int:
        self.state = (self.state + SPLITMIX_GAMMA) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def next_open(self) -> float:
        return ((self.next_u64() >> 11) + 1) * (1.0 / 9007199254740992.0)

    def normals(self, n: int) -> list[float]:
        out: list[float] = []
        while len(out) < n:
            u1, u2 = self.next_open(), self.next_open()
            rad = math.sqrt(-2.0 * math.log(u1))
            ang = 2.0 * math.pi * u2
            out += [rad * math.cos(ang), rad * math.sin(ang)]
        return out[:n]


def cholesky(rho: Sequence[Sequence[float]]) -> Matrix:
    """Cholesky factor of ``rho + PSD_JITTER I``; ``ValueError`` when a pivot is not > 0."""
    n = len(rho)
    a = [[rho[i][j] + (PSD_JITTER if i == j else 0.0) for j in range(n)] for i in range(n)]
    low = [[0.0] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1):
            dot = sum(low[i][k] * low[j][k] for k in range(j))
            if i == j:
                d = a[i][i] - dot
                if d <= 0.0:
                    raise ValueError("correlation matrix is not positive semi-definite")
                low[i][i] = math.sqrt(d)
            else:
                low[i][j] = (a[i][j] - dot) / low[j][j]
    return low


def monte_carlo(
    sigma: Sequence[float], rho: Sequence[Sequence[float]], horizon: float, n: int, seed: int
) -> Matrix:
    n_und = len(sigma)
    low = cholesky(rho)
    eps = SplitMix64(seed).normals(n * n_und)
    sd = [s * math.sqrt(horizon) for s in sigma]
    out = []
    for s in range(n):
        e = eps[s * n_und : (s + 1) * n_und]
        row = []
        for u in range(n_und):
            z = sum(low[u][k] * e[k] for k in range(u + 1))
            row.append(math.expm1(sd[u] * z - 0.5 * sd[u] * sd[u]))
        out.append(row)
    return out


# ---------------------------------------------------------------- VaR / ES (§10.5)
def tail_count(n_scen: int, confidence: float) -> int:
    return min(max(1, math.ceil((1.0 - confidence) * n_scen - 1e-9)), n_scen)


def account_pnl(
    risk: Sequence[Sequence[float]], instrument: Sequence[int], quantity: Sequence[float]
) -> list[float]:
    acc = [0.0] * len(risk[0])
    for i, q in zip(instrument, quantity, strict=True):
        acc = [a + q * x for a, x in zip(acc, risk[i], strict=True)]
    return acc


def var_es(
    risk: Sequence[Sequence[float]],
    offsets: Sequence[int],
    instrument: Sequence[int],
    quantity: Sequence[float],
    confidence: float,
) -> tuple[list[float], list[float]]:
    k = tail_count(len(risk[0]), confidence)
    var, es = [], []
    for a in range(len(offsets) - 1):
        lo, hi = offsets[a], offsets[a + 1]
        losses = sorted((-p for p in account_pnl(risk, instrument[lo:hi], quantity[lo:hi])), reverse=True)
        var.append(losses[k - 1])
        es.append(sum(losses[:k]) / k)
    return var, es


def span2(x: float, tail: float, stress: float, liquidity: float, concentration: float) -> float:
    return x * max(0.0, tail) + (1.0 - x) * max(0.0, stress) + liquidity + concentration


# ---------------------------------------------------------------- add-ons and haircuts (§10.6-10.7)
class LiquidityParams:
    """Per-instrument lists and scalars of the add-on rule (same meaning as
    :class:`zkmargin.dynamic.LiquidityRule`)."""

    def __init__(
        self,
        notional: Sequence[float],
        half_spread: Sequence[float],
        depth: Sequence[float],
        base_ratio: Sequence[float],
        share: float,
        rate: float,
        imf: float,
    ) -> None:
        self.notional, self.half_spread, self.depth, self.base_ratio = (
            notional,
            half_spread,
            depth,
            base_ratio,
        )
        self.share, self.rate, self.imf = share, rate, imf


def nonlinear(p: LiquidityParams, x: float, threshold: float, base_ratio: float) -> tuple[float, float]:
    """(concentration add-on, size premium) of one row of USD notional ``x``."""
    return p.rate * max(x - threshold, 0.0), max(p.imf * math.sqrt(x) - 0.2 * base_ratio, 0.0) * x


def nonlinear_with_slope(
    p: LiquidityParams, x: float, threshold: float, base_ratio: float
) -> tuple[float, float]:
    """Sum of :func:`nonlinear` and its derivative in ``x`` (right derivative at kinks)."""
    root = p.imf * math.sqrt(x)
    value = slope = 0.0
    if x > threshold:
        value += p.rate * (x - threshold)
        slope += p.rate
    if root > 0.2 * base_ratio:
        value += (root - 0.2 * base_ratio) * x
        slope += 1.5 * root - 0.2 * base_ratio
    return value, slope


def addons(
    p: LiquidityParams, instrument: Sequence[int], quantity: Sequence[float], scale: float = 1.0
) -> tuple[float, float, float]:
    closeout = concentration = premium = 0.0
    for i, q in zip(instrument, quantity, strict=True):
        x = scale * abs(q) * p.notional[i]
        closeout += p.half_spread[i] * x
        c, s = nonlinear(p, x, p.share * p.depth[i], p.base_ratio[i])
        concentration += c
        premium += s
    return closeout, concentration, premium


def haircut(
    price: float,
    sigma: float,
    depth: float,
    base: float,
    balance: float,
    z: float,
    participation: float,
    min_days: float,
    cap: float,
) -> float:
    days = max(abs(balance) * price / (participation * depth), min_days)
    return min(base + z * sigma * math.sqrt(days / 365.0), cap)


def collateral_value(balances: Sequence[float], price: Sequence[float], haircuts: Sequence[float]) -> float:
    total = 0.0
    for b, p, h in zip(balances, price, haircuts, strict=True):
        total += b * p * (1.0 - h) if b >= 0.0 else b * p * (1.0 + h)
    return total


# ---------------------------------------------------------------- liquidation (§10.8)
def liquidate(
    equity: float,
    maintenance: float,
    target: float,
    penalty: float,
    p: LiquidityParams,
    instrument: Sequence[int],
    quantity: Sequence[float],
) -> tuple[float, float, bool, float] | None:
    """(shortfall, fraction, full, bad_debt) or ``None`` for a healthy account.

    Close-out costs are linear in size; only rows whose concentration or size add-on is
    non-zero at full size ("active") are re-evaluated at the kept size."""
    notional = spread = nonlin = 0.0
    active = []
    for i, q in zip(instrument, quantity, strict=True):
        x = abs(q) * p.notional[i]
        notional += x
        spread += p.half_spread[i] * x
        row = (x, p.share * p.depth[i], p.base_ratio[i])
        g = sum(nonlinear(p, *row))
        if g > 0.0:
            nonlin += g
            active.append(row)
    requirement = maintenance + spread + nonlin
    if equity >= requirement:
        return None
    shortfall = requirement - equity
    pen = penalty * notional

    def h(f: float) -> tuple[float, float]:
        keep = 1.0 - f
        g = dg = 0.0
        for x, thr, mr in active:
            v, slope = nonlinear_with_slope(p, keep * x, thr, mr)
            g += v
            dg += x * slope
        return equity - f * (pen + spread) - (keep * target + keep * spread + g), target - pen + dg

    h_one = h(1.0)[0]
    if h_one < 0.0:
        return shortfall, 1.0, True, max(spread - equity, 0.0)
    h_zero, d_zero = h(0.0)
    if h_zero >= 0.0:
        return shortfall, 0.0, False, 0.0
    f = smallest_root(h, (0.0, h_zero, d_zero), (1.0, h_one))
    return shortfall, f, f >= 1.0, 0.0


def smallest_root(
    h: Callable[[float], tuple[float, float]], lo0: tuple[float, float, float], hi0: tuple[float, float]
) -> float:
    """Newton from the left, secant from the right (each followed by a half-tolerance probe
    to the other side when rounding put it on the wrong side), bisection when a round
    fails to halve the bracket; stops at width ``FRACTION_TOLERANCE``, returns the right end."""
    half_tol = 0.5 * FRACTION_TOLERANCE
    br = [lo0[0], lo0[1], lo0[2], hi0[0], hi0[1]]  # lo, h_lo, d_lo, hi, h_hi

    def step(c: float) -> bool:
        lo, hi = br[0], br[3]
        c = 0.5 * (lo + hi) if math.isnan(c) else min(max(c, lo + half_tol), hi - half_tol)
        hc, dc = h(c)
        if hc >= 0.0:
            br[3], br[4] = c, hc
            return True
        br[0], br[1], br[2] = c, hc, dc
        return False

    for _ in range(MAX_ITERATIONS):
        width = br[3] - br[0]
        if width <= FRACTION_TOLERANCE:
            break
        newton = br[0] - br[1] / br[2] if br[2] > 0.0 else math.nan
        if step(newton) and br[3] - br[0] > FRACTION_TOLERANCE:
            step(br[3] - half_tol)
        if br[3] - br[0] <= FRACTION_TOLERANCE:
            break
        secant = br[0] - br[1] * (br[3] - br[0]) / (br[4] - br[1])
        if not step(secant) and br[3] - br[0] > FRACTION_TOLERANCE:
            step(br[0] + half_tol)
        if br[3] - br[0] > 0.5 * width and br[3] - br[0] > FRACTION_TOLERANCE:
            step(0.5 * (br[0] + br[3]))
    return br[3]


def liquidation_scan(
    equity: Sequence[float],
    maintenance: Sequence[float],
    target: Sequence[float],
    penalty: float,
    p: LiquidityParams,
    offsets: Sequence[int],
    instrument: Sequence[int],
    quantity: Sequence[float],
) -> list[tuple[int, float, float, bool, float]]:
    rows = []
    for a in range(len(offsets) - 1):
        lo, hi = offsets[a], offsets[a + 1]
        r = liquidate(equity[a], maintenance[a], target[a], penalty, p, instrument[lo:hi], quantity[lo:hi])
        if r is not None:
            rows.append((a, *r))
    rows.sort(key=lambda t: (-t[1], t[0]))
    return rows


# ---------------------------------------------------------------- backtests (§10.10)
def kupiec(n: int, breaches: int, p: float) -> tuple[float, float]:
    """Kupiec proportion-of-failures LR statistic and its chi-square(1) p-value."""
    x = breaches

    def loglik(prob: float) -> float:
        # 0 * log(0) = 0: a breach-free (or all-breach) sample has a finite likelihood.
        a = (n - x) * math.log1p(-prob) if n - x else 0.0
        b = x * math.log(prob) if x else 0.0
        return a + b

    lr = -2.0 * (loglik(p) - loglik(x / n)) if 0 < x < n else -2.0 * loglik(p)
    return lr, math.erfc(math.sqrt(max(lr, 0.0) / 2.0))
