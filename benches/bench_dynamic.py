"""Dynamic-margin benchmarks (issue 4), side by side with ratios.

    python benches/bench_dynamic.py            # full sizes (minutes)
    python benches/bench_dynamic.py --smoke    # tiny sizes, used by the test suite

1. Per-account ES (and VaR) at 99% over S joint Monte Carlo scenarios for A accounts:
   the fused Rust kernel against a chunked NumPy implementation (gather, reduceat,
   partition over blocks of accounts). Peak memory growth of each call is measured with
   ``getrusage`` high-water marks (Rust first, so NumPy's growth is not hidden).
2. Liquidation scan with partial-liquidation sizes (which positions, how much) over A
   accounts: Rust against the pure-Python reference (on the pure-Python engine) run on a
   seeded random subsample and EXTRAPOLATED linearly to A (the table says so). Both margin
   every account (portfolio model) and size the close-outs of the liquidatable ones; the
   reference's list inputs and per-market pricing are built before the clock starts.

Timings are best-of-N wall clock (Rust ES 2, scan 7, reference 2, NumPy 1).
"""

from __future__ import annotations

import argparse
import resource
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

import zkmargin
import zkmargin.baseline
from zkmargin import dynamic as d
from zkmargin.baseline import dynamic as ref


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def _timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any, float]:
    """(best wall time, last result, peak RSS growth in MB during the calls)."""
    before = _peak_mb()
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out, _peak_mb() - before


def numpy_var_es(
    risk: NDArray[np.float64], accounts: zkmargin.Accounts, confidence: float, chunk: int = 64
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Chunked NumPy VaR/ES with the same definition as docs §10.5. Memory per chunk is
    ``rows_in_chunk x S`` floats, independent of the number of accounts."""
    n_acc, s = len(accounts), risk.shape[1]
    k = ref.tail_count(s, confidence)
    var, es = np.empty(n_acc), np.empty(n_acc)
    off = accounts.offsets
    for a0 in range(0, n_acc, chunk):
        a1 = min(a0 + chunk, n_acc)
        lo, hi = off[a0], off[a1]
        pnl = np.zeros((a1 - a0, s))
        if hi > lo:
            rows = risk[accounts.instrument[lo:hi]] * accounts.quantity[lo:hi, None]
            counts = np.diff(off[a0 : a1 + 1])
            nonempty = counts > 0
            starts = (off[a0:a1] - lo)[nonempty]
            pnl[nonempty] = np.add.reduceat(rows, starts, axis=0)
        losses = -pnl
        part = np.partition(losses, s - k, axis=1)[:, s - k :]
        var[a0:a1] = part.min(axis=1)
        es[a0:a1] = part.mean(axis=1)
    return var, es


def reference_inputs(accounts: zkmargin.Accounts, idx: NDArray[np.int64]) -> tuple[Any, ...]:
    """The reference's natural input (Python lists: offsets, instrument, quantity, balances)
    for the accounts ``idx``; built before the clock starts, so the timing is the scan alone."""
    off, ins, qty = accounts.offsets, accounts.instrument, accounts.quantity
    sub_off = [0]
    sub_ins: list[int] = []
    sub_qty: list[float] = []
    for a in idx.tolist():
        sub_ins += ins[off[a] : off[a + 1]].tolist()
        sub_qty += qty[off[a] : off[a + 1]].tolist()
        sub_off.append(len(sub_ins))
    return sub_off, sub_ins, sub_qty, accounts.balances[idx].tolist()


def liquidity_rule(eng: zkmargin.MarginEngine, ex: zkmargin.synthetic.Exchange) -> d.LiquidityRule:
    n = len(ex.instruments)
    rng = np.random.default_rng(8)
    return d.LiquidityRule(
        d.instrument_notional(eng, ex.market),
        rng.uniform(2e-4, 2e-3, n),
        rng.uniform(1e5, 5e6, n),
        0.05,
        share=0.05,
        rate=0.05,
        imf=5e-5,
    )


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="tiny sizes (seconds)")
    ap.add_argument("--es-accounts", type=int, default=100_000)
    ap.add_argument("--scenarios", type=int, default=10_000)
    ap.add_argument("--scan-accounts", type=int, default=1_000_000)
    ap.add_argument("--reference-sample", type=int, default=20_000)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args(argv)
    if args.smoke:
        args.es_accounts, args.scenarios, args.scan_accounts, args.reference_sample = 500, 400, 2_000, 300
    threads = args.threads or zkmargin.default_threads()
    rows: list[dict[str, Any]] = []

    # ---- 1. ES 99% over joint scenarios
    ex = zkmargin.synthetic.generate_exchange(args.es_accounts, seed=1)
    moves = d.monte_carlo_scenarios([0.55, 0.70], [[1.0, 0.8], [0.8, 1.0]], 2 / 365, args.scenarios, seed=7)
    t_risk, risk, _ = _timed(lambda: d.joint_risk_arrays(ex.instruments, ex.market, moves, threads), 1)
    t_rust, (var, es), mem_rust = _timed(lambda: d.var_es(risk, ex.accounts, 0.99, threads), 2)
    t_np, (nvar, nes), mem_np = _timed(lambda: numpy_var_es(risk, ex.accounts, 0.99), 1)
    np.testing.assert_allclose(es, nes, rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(var, nvar, rtol=1e-9, atol=1e-6)
    rows.append(
        {
            "task": f"VaR+ES 99%, {args.es_accounts:,} accounts x {args.scenarios:,} scenarios "
            f"({ex.accounts.n_rows:,} rows)",
            "rust_s": t_rust,
            "baseline": "chunked NumPy",
            "baseline_s": t_np,
            "ratio": t_np / t_rust,
            "note": f"peak RSS growth: rust {mem_rust:.1f} MB, numpy {mem_np:.1f} MB; "
            f"A x S matrix would be {args.es_accounts * args.scenarios * 8 / 1e6:,.0f} MB; "
            f"risk arrays {risk.nbytes / 1e6:.0f} MB built in {t_risk:.2f} s",
        }
    )

    # ---- 2. Liquidation scan with partial sizes (position selection)
    ex = zkmargin.synthetic.generate_exchange(args.scan_accounts, seed=2)
    eng = zkmargin.MarginEngine(ex.instruments, threads=threads)
    rule = liquidity_rule(eng, ex)
    t_scan, scan, _ = _timed(
        lambda: d.scan_margin(eng, ex.accounts, ex.market, rule, penalty=0.02, threads=threads), 7
    )
    rng = np.random.default_rng(3)
    idx = np.sort(
        rng.choice(len(ex.accounts), size=min(args.reference_sample, len(ex.accounts)), replace=False)
    )
    beng = zkmargin.baseline.MarginEngine(ex.instruments)
    prep = beng.prepare(ex.market, "portfolio")  # per market state, not per account: untimed
    scan_rule = ref.ScanRule("portfolio", "initial", 0.0, 0.02, ref.LiquidityParams.from_rule(rule))
    ref_args = reference_inputs(ex.accounts, idx)
    t_ref, got, _ = _timed(lambda: ref.liquidation_scan(beng, prep, scan_rule, *ref_args), 2)
    # The subsample's liquidations must be exactly the Rust scan's, restricted to it.
    pos = {int(a): k for k, a in enumerate(scan.account)}
    for w in got:
        k = pos[int(idx[w.account])]
        lo, hi = scan.row_offsets[k], scan.row_offsets[k + 1]
        assert np.isclose(scan.shortfall[k], w.shortfall, rtol=1e-9)
        assert d.liquidation.METHODS[scan.method[k]] == w.method
        np.testing.assert_allclose(scan.close_fraction[lo:hi], w.fractions, rtol=0, atol=1e-9)
    assert len(got) == int(np.isin(scan.account, idx).sum())
    t_ref_full = t_ref * len(ex.accounts) / len(idx)
    methods = np.bincount(scan.method, minlength=len(d.liquidation.METHODS))
    rows.append(
        {
            "task": f"liquidation scan + partial sizes, {args.scan_accounts:,} accounts "
            f"({len(scan):,} liquidatable)",
            "rust_s": t_scan,
            "baseline": f"pure-Python reference, EXTRAPOLATED from {len(idx):,} sampled accounts",
            "baseline_s": t_ref_full,
            "ratio": t_ref_full / t_scan,
            "note": f"reference measured {t_ref:.2f} s on the sample ({len(got)} liquidatable); both "
            "include the portfolio margin of every account; methods "
            + ", ".join(f"{m} {n:,}" for m, n in zip(d.liquidation.METHODS, methods.tolist(), strict=True)),
        }
    )

    print(f"threads = {threads}")
    print(f"{'task':<72} {'rust s':>9} {'baseline s':>11} {'ratio':>8}  baseline")
    for r in rows:
        times = f"{r['rust_s']:>9.3f} {r['baseline_s']:>11.3f} {r['ratio']:>7.1f}x"
        print(f"{r['task']:<72} {times}  {r['baseline']}")
        print(f"{'':<72} {r['note']}")
    return rows


if __name__ == "__main__":
    main()
