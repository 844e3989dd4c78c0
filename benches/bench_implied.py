"""Implied-vol solver speed on 1M options against Jaeckel's "Let's be rational"
(py_lets_be_rational, the independent implementation the tests check against), in one
process on the same prices. Prints a markdown table of what it measured on this machine.

    python benches/bench_implied.py                      # 1M options, LBR on 20k of them
    python benches/bench_implied.py --lbr-options 1000000   # LBR on all of them (minutes)
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import py_lets_be_rational as lbr

import zkmargin


def book(n: int, seed: int) -> dict[str, np.ndarray]:
    """``n`` options from deep OTM to deep ITM (|ln K/F| up to 1.5), 1 day to 5 years,
    vols 10%-200%, calls and puts, priced by the engine's Black-76; drawn until ``n`` carry
    their time value (out-of-the-money twin above 1e-13 of the price and 1e-280 F), the
    options that have an implied vol in double precision."""
    rng = np.random.default_rng(seed)
    m = 2 * n
    f = 60_000.0 * np.exp(rng.normal(0.0, 0.5, m))
    k = f * np.exp(rng.uniform(-1.5, 1.5, m))
    t = np.exp(rng.uniform(math.log(1 / 365), math.log(5.0), m))
    vol = rng.uniform(0.1, 2.0, m)
    call = rng.random(m) < 0.5
    rate = np.full(m, 0.03)
    price = zkmargin.black76(call, f, k, t, vol, rate).price
    twin = zkmargin.black76(f < k, f, k, t, vol, rate).price
    keep = np.flatnonzero((twin > 1e-13 * price) & (twin > 1e-280 * f))[:n]
    cols = {"price": price, "call": call, "f": f, "k": k, "t": t, "vol": vol, "rate": rate}
    return {name: np.ascontiguousarray(c[keep]) for name, c in cols.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--options", type=int, default=1_000_000)
    ap.add_argument("--lbr-options", type=int, default=20_000, help="options LBR solves (a prefix)")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    b = book(args.options, seed=7)
    solve = lambda threads: zkmargin.implied_vol(  # noqa: E731
        b["price"], b["call"], b["f"], b["k"], b["t"], b["rate"], threads=threads
    )
    times = {}
    for threads in (1, zkmargin.default_threads()):
        best = math.inf
        for _ in range(args.repeat):
            start = time.perf_counter()
            ivs = solve(threads)
            best = min(best, time.perf_counter() - start)
        times[threads] = best
    g = zkmargin.black76(b["call"], b["f"], b["k"], b["t"], b["vol"], b["rate"])
    back = zkmargin.black76(b["call"], b["f"], b["k"], b["t"], ivs, b["rate"]).price
    err = np.abs(back - b["price"])
    worst = float(np.max(err / b["price"]))
    # The tests' allowance: 1e-12 of the price, 4 ulps of vol, 4 ulps of max(F, K).
    allowed = 1e-12 * b["price"] + 4 * np.finfo(float).eps * (b["vol"] * g.vega + np.maximum(b["f"], b["k"]))
    within = float(np.max(err / allowed))
    m = min(args.lbr_options, args.options)
    start = time.perf_counter()
    theirs = np.array(
        [
            lbr.implied_volatility_from_a_transformed_rational_guess(
                b["price"][i] * math.exp(b["rate"][i] * b["t"][i]),
                b["f"][i],
                b["k"][i],
                b["t"][i],
                1.0 if b["call"][i] else -1.0,
            )
            for i in range(m)
        ]
    )
    t_lbr = time.perf_counter() - start
    # Vol for vol where the price determines the vol (vega * vol above 1e-6 of the price).
    sharp = g.vega[:m] * b["vol"][:m] > 1e-6 * b["price"][:m]
    agree = float(np.max(np.abs(theirs - ivs[:m])[sharp] / ivs[:m][sharp]))
    n = args.options
    per_lbr = t_lbr / m
    print(f"## Implied vol, {n:,} Black-76 options (calls and puts, |ln K/F| <= 1.5, 1d-5y)\n")
    print("| solver | time for all | per option | vs LBR |")
    print("| --- | --- | --- | --- |")
    lbr_all = "measured" if m == n else f"{per_lbr * n:,.1f} s (from {m:,})"
    print(f"| py_lets_be_rational (pure Python) | {lbr_all} | {per_lbr * 1e6:,.2f} us | 1.0x |")
    for threads, t in times.items():
        label = f"zkmargin Rust, {threads} thread{'s' if threads > 1 else ''}"
        print(f"| {label} | {t * 1e3:,.1f} ms | {t / n * 1e9:,.1f} ns | {per_lbr * n / t:,.0f}x |")
    print(f"\nround trip over all {n:,}: max |black76(iv) - p| / p = {worst:.2e},", end=" ")
    print(f"max error / allowance = {within:.2f}")
    print(f"max relative difference from LBR's vols over {int(sharp.sum()):,} well-determined", end=" ")
    print(f"of {m:,}: {agree:.2e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
