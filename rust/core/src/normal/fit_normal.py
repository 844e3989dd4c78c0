#!/usr/bin/env python3
"""Fits the (scaled) Mills-ratio table of the standard normal in mod.rs beside this script and
writes it to coefficients.rs, and the mpmath reference values its unit tests check against to
reference.rs (both generated files, overwritten whole).

    python rust/core/src/normal/fit_normal.py [--check-only]      # needs mpmath

(rustfmt must be on PATH; the files are reformatted after writing.)

R(z) = (1 - Phi(z)) exp(z^2/2) = M(z) / sqrt(2 pi), M the Mills ratio, is approximated for
0 <= z <= Z_MAX piecewise in y = A / (B + z): piece j is |y - j| <= 1/2, with one polynomial
of degree DEG in u = y - j.
The map gives small z-pieces near 0, where R curves most, and wide ones in the tail, where
R ~ 1/z is smooth in y; the piece index is y rounded to an integer, so the evaluation does
not branch. Each polynomial interpolates R at the Chebyshev extrema of its piece in 60-digit
arithmetic (within a small factor of the minimax error), and the coefficients are rounded
to the nearest double. The script then replays the exact double-precision evaluation of
mod.rs (same operations, same order: Rust does not contract a*b + c into an fma) on a
dense grid and reports the worst relative error of R and of N against mpmath.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import mpmath as mp

mp.mp.dps = 60

A = 100.0
B = 2.0
Z_MAX = 40.0  # exp(-z^2/2) underflows to 0 beyond z = 38.6
DEG = 7
FIRST = round(A / (B + Z_MAX))
LAST = round(A / B)
REFS_PER_PIECE = 12



def scaled_mills(z: mp.mpf) -> mp.mpf:
    return mp.exp(z * z / 2) * mp.erfc(z / mp.sqrt(2)) / 2


def upper_tail(z: float) -> mp.mpf:
    """1 - Phi(z) at the double z, to 60 digits."""
    return mp.erfc(mp.mpf(z) / mp.sqrt(2)) / 2


def piece_bounds(j: int) -> tuple[float, float]:
    return max(j - 0.5, A / (B + Z_MAX)), min(j + 0.5, A / B)


def fit_piece(j: int) -> list[float]:
    lo, hi = piece_bounds(j)
    c = j
    # Chebyshev extrema: near-minimax, and they include the piece ends, so neighbours
    # agree where they meet and R(0) = 1/2 is matched exactly (N(0) = 1/2).
    nodes = [mp.mpf(lo + hi) / 2 + mp.mpf(hi - lo) / 2 * mp.cos(mp.pi * i / DEG) for i in range(DEG + 1)]
    vander = mp.matrix([[(y - c) ** p for p in range(DEG + 1)] for y in nodes])
    values = mp.matrix([scaled_mills(mp.mpf(A) / y - B) for y in nodes])
    return [float(a) for a in mp.lu_solve(vander, values)]


# --- replay of normal.rs in doubles (keep in step with the Rust code) ---------------------


def scaled_mills_f64(table: list[list[float]], z: float) -> float:
    y = A / (B + z)
    j = round(y)  # ties to even, as the 1.5 * 2^52 trick in normal.rs
    c = table[min(max(j - FIRST, 0), LAST - FIRST)]
    u = y - j
    u2 = u * u
    u4 = u2 * u2
    p01 = c[0] + c[1] * u
    p23 = c[2] + c[3] * u
    p45 = c[4] + c[5] * u
    p67 = c[6] + c[7] * u
    return (p01 + p23 * u2) + (p45 + p67 * u2) * u4


def gauss_scaled_f64(z: float, scale: float) -> float:
    split = 134217729.0 * z
    hi = split - (split - z)
    lo = z - hi
    p = z * z
    err = ((hi * hi - p) + 2.0 * hi * lo) + lo * lo
    return math.exp((-0.5 * z) * z) * (scale * (1.0 - 0.5 * err))


def norm_cdf_f64(table: list[list[float]], x: float) -> float:
    x = min(max(x, -Z_MAX), Z_MAX)
    z = abs(x)
    tail = gauss_scaled_f64(z, scaled_mills_f64(table, z))
    return tail if x < 0.0 else 1.0 - tail


# ------------------------------------------------------------------------------------------


def rel(got: float, want: mp.mpf) -> float:
    return float(abs((mp.mpf(got) - want) / want))


def check(table: list[list[float]]) -> None:
    worst_m = (0.0, 0.0)
    worst_n = (0.0, 0.0)
    for j in range(FIRST, LAST + 1):
        lo, hi = piece_bounds(j)
        for i in range(401):
            z = A / (lo + (hi - lo) * i / 400) - B
            z = min(max(z, 0.0), Z_MAX)
            worst_m = max(worst_m, (rel(scaled_mills_f64(table, z), scaled_mills(mp.mpf(z))), z))
    worst_sub = 0.0
    for i in range(46001):
        x = -38.0 + i * 0.001
        want = upper_tail(-x) if x <= 0 else 1 - upper_tail(x)
        got = norm_cdf_f64(table, x)
        if want >= sys.float_info.min:
            worst_n = max(worst_n, (rel(got, want), x))
        else:
            # Subnormal results carry fewer bits; judge them in units of the smallest one.
            worst_sub = max(worst_sub, float(abs(mp.mpf(got) - want)) / 2.0**-1074)
    print(f"max relative error of R on [0, {Z_MAX}]: {worst_m[0]:.3g} at z = {worst_m[1]}")
    print(
        f"max relative error of N on [-38, 8] (step 0.001), normal results: "
        f"{worst_n[0]:.3g} at x = {worst_n[1]}"
    )
    print(f"max error of subnormal N (x < -37.52) in units of 2^-1074: {worst_sub:.3g}")


def reference_points() -> list[float]:
    """REFS_PER_PIECE points spread over every piece, as z >= 0."""
    out = []
    for j in range(FIRST, LAST + 1):
        lo, hi = piece_bounds(j)
        for i in range(REFS_PER_PIECE):
            z = A / (lo + (hi - lo) * (i + 0.5) / REFS_PER_PIECE) - B
            if 0.0 <= z <= 38.0:
                out.append(z)
    return sorted(out)


HEADER = "// @generated by rust/core/src/normal/fit_normal.py: do not edit, re-run the script.\n"
HERE = Path(__file__).resolve().parent


def render(table: list[list[float]]) -> tuple[str, str]:
    rows = "\n".join("    [" + ", ".join(repr(a) for a in row) + "]," for row in table)
    coef = (
        "//! Piecewise-polynomial table of the scaled Mills ratio (see `mod.rs`).\n"
        f"{HEADER}\n"
        f"pub(super) const A: f64 = {A!r};\npub(super) const B: f64 = {B!r};\n"
        f"pub(super) const FIRST: usize = {FIRST};\npub(super) const LAST: usize = {LAST};\n"
        f"pub(super) const SCALED_MILLS: [[f64; {DEG + 1}]; {LAST - FIRST + 1}] = [\n{rows}\n];\n"
    )
    pts = reference_points()
    refs = "\n".join(f"    ({z!r}, {float(upper_tail(z))!r})," for z in pts)
    ref = (
        "//! mpmath reference values for the unit tests of `mod.rs`.\n"
        f"{HEADER}\n"
        "/// (z, 1 - Phi(z)): mpmath at 60 digits, rounded to the nearest double.\n"
        f"pub(super) const REFERENCE: [(f64, f64); {len(pts)}] = [\n{refs}\n];\n"
    )
    return coef, ref


def main() -> None:
    table = [fit_piece(j) for j in range(FIRST, LAST + 1)]
    check(table)
    if "--check-only" in sys.argv:
        return
    for name, text in zip(("coefficients.rs", "reference.rs"), render(table), strict=True):
        path = HERE / name
        path.write_text(text)
        subprocess.run(["rustfmt", "--edition", "2024", str(path)], check=True)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
