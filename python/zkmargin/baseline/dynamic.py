"""Pure-Python reference of the dynamic-margin layer (docs §10): the same formulas as the
Rust core, written with lists and ``math`` only, for cross-checks and for readers. Slow by
design; use :mod:`zkmargin.dynamic` for real work.

Matrices are lists of rows (time-major histories, ``I x S`` risk arrays). Accounts are CSR
triples ``(offsets, instrument, quantity)`` as lists. The liquidation scan runs on the
pure-Python margin engine :mod:`zkmargin.baseline` (one account at a time).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

from ..dynamic.joint import PSD_JITTER
from ..dynamic.liquidation import FRACTION_TOLERANCE, MAX_ITERATIONS, MAX_PASSES, TIE
from ..dynamic.risk import LiquidityRule
from .engine import AccountMargin, Prepared
from .engine import MarginEngine as BaselineEngine

Matrix = list[list[float]]

SPLITMIX_GAMMA = 0x9E3779B97F4A7C15
MASK64 = (1 << 64) - 1


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

    @classmethod
    def from_rule(cls, rule: LiquidityRule) -> LiquidityParams:
        """The lists of a :class:`zkmargin.dynamic.LiquidityRule`."""
        return cls(
            rule.notional.tolist(),
            rule.half_spread.tolist(),
            rule.depth.tolist(),
            rule.base_ratio.tolist(),
            rule.share,
            rule.rate,
            rule.imf,
        )


def nonlinear(p: LiquidityParams, x: float, threshold: float, base_ratio: float) -> tuple[float, float]:
    """(concentration add-on, size premium) of one row of USD notional ``x``."""
    return p.rate * max(x - threshold, 0.0), max(p.imf * math.sqrt(x) - 0.2 * base_ratio, 0.0) * x


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
METHODS = ("none", "greedy", "pro_rata", "full")  # the core's liquidation::Method


class ScanRule(NamedTuple):
    """Model, target, buffer, penalty and liquidity add-ons of a scan (as the core's
    ``liquidation::LiquidationRule``)."""

    model: str
    target: str
    buffer: float
    penalty: float
    liquidity: LiquidityParams


class Liquidation(NamedTuple):
    account: int
    shortfall: float
    full: bool
    bad_debt: float
    closed_notional: float
    method: str
    #: fraction closed per row of the account, in book order
    fractions: list[float]


class _Account:
    """One account and everything its health ``H(c)`` depends on."""

    def __init__(
        self,
        engine: BaselineEngine,
        prep: Prepared,
        rule: ScanRule,
        instrument: Sequence[int],
        quantity: Sequence[float],
        balances: Sequence[float],
    ) -> None:
        self.engine, self.prep, self.model, self.balances = engine, prep, rule.model, balances
        self.target, self.buffer, self.p = rule.target, rule.buffer, rule.liquidity
        p, penalty = rule.liquidity, rule.penalty
        self.instrument, self.quantity = list(instrument), list(quantity)
        # per row: (x, hs x, (penalty + hs) x, threshold, base ratio)
        self.rows = []
        for i, q in zip(instrument, quantity, strict=True):
            x = abs(q) * p.notional[i]
            hs = p.half_spread[i]
            self.rows.append((x, hs * x, (penalty + hs) * x, p.share * p.depth[i], p.base_ratio[i]))
        self.equity = 0.0

    def margin(self, kept: Sequence[float]) -> float:
        """The target of the book with quantities ``kept``."""
        return self.target_of(
            self.engine.account_margin(
                self.prep, list(zip(self.instrument, kept, strict=True)), self.balances, self.model
            )
        )

    def target_of(self, m: AccountMargin) -> float:
        return m.initial_margin if self.target == "initial" else (1.0 + self.buffer) * m.maintenance_margin

    def health(self, c: Sequence[float]) -> float:
        kept, costs, addons = [], 0.0, 0.0
        for cj, (x, spread, cost, thr, mr), q in zip(c, self.rows, self.quantity, strict=True):
            keep = 1.0 - cj
            kept.append(keep * q)
            costs += cj * cost
            conc, premium = nonlinear(self.p, keep * x, thr, mr)
            addons += keep * spread + conc + premium
        return self.equity - costs - (self.margin(kept) + addons)

    def notional(self, c: Sequence[float]) -> float:
        return sum(cj * r[0] for cj, r in zip(c, self.rows, strict=True))

    def along(self, c: list[float], j: int) -> Callable[[float], float]:
        """``t -> H(c with c_j = t)``."""
        return lambda t: self.health([*c[:j], t, *c[j + 1 :]])

    def greedy(self, h0: float) -> list[float] | None:
        c = [0.0] * len(self.rows)
        h_cur = h0
        while True:
            best: tuple[int, float, float] | None = None
            for j in range(len(c)):
                if c[j] != 0.0:
                    continue
                h_j = self.along(c, j)(1.0)
                gain = h_j - h_cur
                if not gain > 0.0:
                    continue
                x = self.rows[j][0]
                score = gain / x if x > 0.0 else math.inf
                if best is None or score > best[1] + TIE * max(abs(best[1]), abs(score)):
                    best = (j, score, h_j)
            if best is None:
                return None
            j, _, h_j = best
            if h_j >= 0.0:
                c[j] = smallest_root(self.along(c, j), (0.0, h_cur), (1.0, h_j))
                return c
            c[j], h_cur = 1.0, h_j

    def minimise(self, c: list[float]) -> None:
        last_step = math.inf
        for _ in range(MAX_PASSES):
            before = list(c)
            changed = False
            for j in range(len(c)):
                if c[j] <= 0.0:
                    continue
                h = self.along(c, j)
                h_zero = h(0.0)
                if h_zero >= 0.0:
                    c[j], changed = 0.0, True
                    continue
                below = c[j] - 2.0 * FRACTION_TOLERANCE
                if below <= 0.0:
                    continue
                h_below = h(below)
                if h_below < 0.0:
                    continue
                c[j], changed = smallest_root(h, (0.0, h_zero), (below, h_below)), True
            if not changed:
                return
            # the limit of a geometric zig-zag, taken when feasible (the core's try_jump)
            step = sum(b - cj for cj, b in zip(c, before, strict=True))
            rho, last_step = step / last_step, step
            if rho < 1.0:
                lam = rho / (1.0 - rho)
                jump = [max(0.0, cj + lam * (cj - b)) for cj, b in zip(c, before, strict=True)]
                if self.health(jump) >= 0.0:
                    c[:] = jump


def liquidate(
    engine: BaselineEngine,
    prep: Prepared,
    rule: ScanRule,
    instrument: Sequence[int],
    quantity: Sequence[float],
    balances: Sequence[float],
    extra_equity: float = 0.0,
) -> tuple[float, bool, float, float, str, list[float]] | None:
    """(shortfall, full, bad_debt, closed_notional, method, fractions) or ``None`` for a
    healthy account: greedy vs pro rata, then coordinate minimisation (docs §10.8)."""
    acc = _Account(engine, prep, rule, instrument, quantity, balances)
    p, model = rule.liquidity, rule.model
    n = len(acc.rows)
    total = spread = addons = 0.0
    for x, sp, _, thr, mr in acc.rows:
        conc, premium = nonlinear(p, x, thr, mr)
        total += x
        spread += sp
        addons += sp + conc + premium
    m0 = engine.account_margin(prep, list(zip(acc.instrument, acc.quantity, strict=True)), balances, model)
    acc.equity = equity = m0.equity + extra_equity
    requirement = m0.maintenance_margin + addons
    if equity >= requirement:
        return None
    shortfall = requirement - equity
    h0 = equity - (acc.target_of(m0) + addons)
    if h0 >= 0.0:
        return shortfall, False, 0.0, 0.0, "none", [0.0] * n
    greedy = acc.greedy(h0)
    h_full = acc.health([1.0] * n)
    pro_rata = (
        smallest_root(lambda f: acc.health([f] * n), (0.0, h0), (1.0, h_full)) if h_full >= 0.0 else None
    )
    if pro_rata is not None and (greedy is None or pro_rata * total < acc.notional(greedy) - TIE * total):
        c, method = [pro_rata] * n, "pro_rata"
    elif greedy is not None:
        c, method = greedy, "greedy"
    else:
        return shortfall, True, max(spread - equity, 0.0), total, "full", [1.0] * n
    acc.minimise(c)
    return shortfall, all(f >= 1.0 for f in c), 0.0, acc.notional(c), method, c


def smallest_root(h: Callable[[float], float], lo: tuple[float, float], hi: tuple[float, float]) -> float:
    """Smallest ``t`` with ``h(t) >= 0`` for a concave ``h`` with ``h(lo) < 0 <= h(hi)``:
    a Newton-like step from ``lo`` with the slope of the chord through the last two left
    ends, a secant step, half-tolerance probes when rounding puts a step on the wrong side,
    bisection when a round fails to halve the bracket; stops at width
    ``FRACTION_TOLERANCE`` and returns the right end."""
    half = 0.5 * FRACTION_TOLERANCE
    b = {"lo": lo[0], "h_lo": lo[1], "hi": hi[0], "h_hi": hi[1]}
    left: list[tuple[float, float]] = []

    def probe(t: float) -> bool:
        t = 0.5 * (b["lo"] + b["hi"]) if math.isnan(t) else min(max(t, b["lo"] + half), b["hi"] - half)
        v = h(t)
        if v >= 0.0:
            b["hi"], b["h_hi"] = t, v
            return True
        left[:] = [(b["lo"], b["h_lo"])]
        b["lo"], b["h_lo"] = t, v
        return False

    def width() -> float:
        return b["hi"] - b["lo"]

    for _ in range(MAX_ITERATIONS):
        start = width()
        if start <= FRACTION_TOLERANCE:
            break
        if left:
            p, h_p = left[0]
            slope = (b["h_lo"] - h_p) / (b["lo"] - p)
            if slope > 0.0 and probe(b["lo"] - b["h_lo"] / slope) and width() > FRACTION_TOLERANCE:
                probe(b["hi"] - half)
        if width() <= FRACTION_TOLERANCE:
            break
        secant = b["lo"] - b["h_lo"] * (b["hi"] - b["lo"]) / (b["h_hi"] - b["h_lo"])
        if not probe(secant) and width() > FRACTION_TOLERANCE:
            probe(b["lo"] + half)
        if width() > 0.5 * start and width() > FRACTION_TOLERANCE:
            probe(math.nan)
    return b["hi"]


def liquidation_scan(
    engine: BaselineEngine,
    prep: Prepared,
    rule: ScanRule,
    offsets: Sequence[int],
    instrument: Sequence[int],
    quantity: Sequence[float],
    balances: Sequence[Sequence[float]],
) -> list[Liquidation]:
    """Every liquidatable account, largest shortfall first (ties by account index)."""
    out = []
    for a in range(len(offsets) - 1):
        lo, hi = offsets[a], offsets[a + 1]
        r = liquidate(engine, prep, rule, instrument[lo:hi], quantity[lo:hi], balances[a])
        if r is not None:
            out.append(Liquidation(a, *r))
    out.sort(key=lambda t: (-t.shortfall, t.account))
    return out


# ---------------------------------------------------------------- backtests (§10.10)
def kupiec(n: int, breaches: int, p: float) -> tuple[float, float]:
    """Kupiec proportion-of-failures LR statistic and its chi-square(1) p-value, written as
    ``2 n KL(x/n || p)`` (the engine writes it as a difference of log-likelihoods)."""
    x, q = breaches, breaches / n

    def term(count: int, observed: float, expected: float) -> float:
        return count * math.log(observed / expected) if count else 0.0  # 0 ln 0 = 0

    lr = 2.0 * (term(x, q, p) + term(n - x, 1.0 - q, 1.0 - p))
    return lr, math.erfc(math.sqrt(max(lr, 0.0) / 2.0))
