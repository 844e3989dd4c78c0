"""The aggregated range prover's witness side (docs/proof-spec.md §6) in pure Python: the
reference the ``pyecc`` backend runs, step for step what ``zkmargin._core.curve.RangeProver``
computes in Rust for the ``native`` backend, so both emit identical proofs.

The caller owns the transcript: each step returns the points to absorb and the next step
takes the challenge squeezed from them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from ..errors import ParameterError
from ._field import R
from ._scalars import inner, powers

__all__ = ["PyRangeProver"]

#: Opaque backend points and point vectors (as in ``group``).
Point = Any
PointVec = Any


class GroupOps(Protocol):
    """The group operations the prover uses (``group.Group`` has them); a protocol so that
    this module does not import the backends that import it."""

    def sub(self, a: Point, b: Point) -> Point: ...
    def mul(self, a: Point, s: int) -> Point: ...
    def vec(self, points: Sequence[Point]) -> PointVec: ...
    def concat(self, parts: Sequence[PointVec]) -> PointVec: ...
    def slice(self, v: PointVec, start: int, stop: int) -> PointVec: ...
    def msm(self, points: PointVec, scalars: Sequence[int]) -> Point: ...
    def fold(self, lo: PointVec, hi: PointVec, a: int, b: int) -> PointVec: ...


def _fold_scalars(lo: Sequence[int], hi: Sequence[int], x: int, y: int) -> list[int]:
    return [(p * x + q * y) % R for p, q in zip(lo, hi, strict=True)]


class PyRangeProver:
    """``values``/``gammas``: m each (m a power of two); ``randomness``: ``alpha,
    s_L[0..nm), s_R[0..nm), rho, tau1, tau2``. The low n bits of each value are the
    witness (an out-of-range value gives a proof that fails)."""

    def __init__(
        self,
        group: GroupOps,
        g_vec: PointVec,
        h_vec: PointVec,
        G: Point,
        H: Point,
        values: Sequence[int],
        gammas: Sequence[int],
        n: int,
        randomness: Sequence[int],
    ) -> None:
        m = len(values)
        N = n * m
        if len(gammas) != m or len(randomness) != 2 * N + 4:
            raise ParameterError("range prover inputs differ in length", "randomness")
        self.group = group
        self.G, self.H = G, H
        self.n, self.m, self.N = n, m, N
        self.g_vec = group.slice(g_vec, 0, N)
        self.h_vec = group.slice(h_vec, 0, N)
        self.gammas = list(gammas)
        self.a_L = [(v >> i) & 1 for v in values for i in range(n)]
        self.alpha = randomness[0]
        self.s_L = list(randomness[1 : N + 1])
        self.s_R = list(randomness[N + 1 : 2 * N + 1])
        self.rho, self.tau1, self.tau2 = randomness[2 * N + 1 :]

    def commit(self) -> tuple[Point, Point]:
        group, N = self.group, self.N
        gh = group.concat([self.g_vec, self.h_vec, group.vec([self.H])])
        # a_R has entries 0 or r - 1; A = sum_{bit=1} g_i - sum_{bit=0} h_i + alpha H computed
        # as one MSM with 0/1 scalars and a negation, which keeps the scalars one bit wide.
        A = group.sub(
            group.msm(gh, [*self.a_L, *[0] * N, self.alpha]),
            group.msm(self.h_vec, [1 - x for x in self.a_L]),
        )
        S = group.msm(gh, [*self.s_L, *self.s_R, self.rho])
        return A, S

    def poly(self, y: int, z: int) -> tuple[Point, Point]:
        n, m, N = self.n, self.m, self.N
        self.y, self.z = y, z
        yp = powers(y, N)
        zz = powers(z, m + 2)  # z^0 .. z^{m+1}
        two = powers(2, n)
        d = [zz[2 + j] * two[b] % R for j in range(m) for b in range(n)]
        self.l0 = [(x - z) % R for x in self.a_L]
        self.r0 = [(yp[i] * (self.a_L[i] - 1 + z) + d[i]) % R for i in range(N)]
        self.r1 = [yp[i] * self.s_R[i] % R for i in range(N)]
        t1 = (inner(self.l0, self.r1) + inner(self.s_L, self.r0)) % R
        t2 = inner(self.s_L, self.r1)
        GH = self.group.vec([self.G, self.H])
        return self.group.msm(GH, [t1, self.tau1]), self.group.msm(GH, [t2, self.tau2])

    def evaluate(self, x: int) -> tuple[int, int, int]:
        """(t_hat, tau_x, mu); l(x), r(x) become the inner-product vectors."""
        zz = powers(self.z, self.m + 2)
        tau_x = (
            self.tau2 * x * x + self.tau1 * x + sum(zz[2 + j] * g for j, g in enumerate(self.gammas))
        ) % R
        mu = (self.alpha + self.rho * x) % R
        self.a = [(p + q * x) % R for p, q in zip(self.l0, self.s_L, strict=True)]
        self.b = [(p + q * x) % R for p, q in zip(self.r0, self.r1, strict=True)]
        return inner(self.a, self.b), tau_x, mu

    def ipa_begin(self, w: int) -> None:
        """Inner-product argument on P = <l, g> + <r, h'> + t_hat Q with Q = w G and
        h'_i = y^-i h_i. The true generators are kept as (stored points, weights):
        g_true_i = fg * g_i and h_true_i = hw_i * h_i. Both weight vectors stay geometric
        (fg uniform, hw_i = C y^-i), so hi_i / lo_i is one constant per round and each fold
        is lo_i + c * hi_i: one scalar multiplication per element."""
        self.Qv = self.group.vec([self.group.mul(self.G, w)])
        self.hw = powers(pow(self.y, -1, R), self.N)
        self.fg = 1
        self.gv, self.hv = self.g_vec, self.h_vec

    def ipa_round(self) -> tuple[Point, Point]:
        group, fg, hw = self.group, self.fg, self.hw
        half = len(self.a) // 2
        a_lo, a_hi, b_lo, b_hi = self.a[:half], self.a[half:], self.b[:half], self.b[half:]
        g_lo, g_hi = group.slice(self.gv, 0, half), group.slice(self.gv, half, 2 * half)
        h_lo, h_hi = group.slice(self.hv, 0, half), group.slice(self.hv, half, 2 * half)
        bh = [p * q % R for p, q in zip(b_hi, hw[:half], strict=True)]
        bl = [p * q % R for p, q in zip(b_lo, hw[half:], strict=True)]
        Lp = group.msm(
            group.concat([g_hi, h_lo, self.Qv]), [*(v * fg % R for v in a_lo), *bh, inner(a_lo, b_hi)]
        )
        Rp = group.msm(
            group.concat([g_lo, h_hi, self.Qv]), [*(v * fg % R for v in a_hi), *bl, inner(a_hi, b_lo)]
        )
        return Lp, Rp

    def ipa_fold(self, u: int) -> None:
        group, hw = self.group, self.hw
        half = len(self.a) // 2
        ui = pow(u, -1, R)
        self.a = _fold_scalars(self.a[:half], self.a[half:], u, ui)
        self.b = _fold_scalars(self.b[:half], self.b[half:], ui, u)
        # g' = u^-1 g_lo + u g_hi = (fg u^-1) * (g_lo + u^2 g_hi)
        self.gv = group.fold(
            group.slice(self.gv, 0, half), group.slice(self.gv, half, 2 * half), 1, u * u % R
        )
        self.fg = self.fg * ui % R
        # h' = u hw_lo h_lo + u^-1 hw_hi h_hi = (u hw_lo) * (h_lo + u^-2 kappa h_hi)
        kappa = hw[half] * pow(hw[0], -1, R) % R
        self.hv = group.fold(
            group.slice(self.hv, 0, half), group.slice(self.hv, half, 2 * half), 1, ui * ui % R * kappa % R
        )
        self.hw = [u * q % R for q in hw[:half]]

    def result(self) -> tuple[int, int]:
        return self.a[0], self.b[0]
