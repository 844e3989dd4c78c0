"""Pre-trade what-if and a trade stream on a cached MarketState against recomputing the
whole book, in one process on the same data. Prints a markdown table of what it measured.

    python benches/bench_whatif.py                   # 10,000 accounts, 20,000 what-ifs, 1,000 trades
    python benches/bench_whatif.py --accounts 100000 --stream 200
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import zkmargin
from zkmargin import MarginEngine, MarketState
from zkmargin.synthetic import generate_exchange


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accounts", type=int, default=10_000)
    ap.add_argument("--what-ifs", type=int, default=20_000)
    ap.add_argument("--stream", type=int, default=1_000, help="trades applied one by one")
    args = ap.parse_args(argv)
    ex = generate_exchange(args.accounts, seed=0)
    eng = MarginEngine(ex.instruments)  # Deribit preset: 35 scenarios per underlying
    n_s = eng.scenarios.moves.shape[0]
    counts = np.diff(ex.accounts.offsets)
    ten = np.flatnonzero(counts == 10)
    if ten.size == 0:
        raise SystemExit("no 10-position account in this book; use more accounts")
    start = time.perf_counter()
    st = MarketState(eng, ex.accounts, ex.market)
    t_state = time.perf_counter() - start
    rng = np.random.default_rng(0)
    n_i = ex.instruments.kind.shape[0]
    a = int(ten[0])
    trades = [[(int(rng.integers(0, n_i)), float(rng.normal(0, 2)))] for _ in range(args.what_ifs)]
    laps = []
    for tr in trades:
        t0 = time.perf_counter()
        st.what_if(a, tr)
        laps.append(time.perf_counter() - t0)
    median = statistics.median(laps)
    p99 = float(np.quantile(laps, 0.99))

    stream = [
        (int(rng.integers(0, args.accounts)), [(int(rng.integers(0, n_i)), float(rng.normal(0, 2)))])
        for _ in range(args.stream)
    ]
    t0 = time.perf_counter()
    for acc, tr in stream:
        st.apply(acc, tr)
    t_apply = time.perf_counter() - t0
    # The full recompute per trade: rebuild the book with the trade and margin everyone.
    book = ex.accounts
    n_j = book.balances.shape[1]
    t_rebuild = t_compute = 0.0
    for acc, tr in stream:
        rows = np.diff(book.offsets)
        a_ix = np.repeat(np.arange(len(book)), rows)
        t0 = time.perf_counter()
        book = zkmargin.Accounts.from_triples(
            np.append(a_ix, acc),
            np.append(book.instrument, tr[0][0]),
            np.append(book.quantity, tr[0][1]),
            book.balances,
        )
        t1 = time.perf_counter()
        eng.compute(book, ex.market)
        t_rebuild += t1 - t0
        t_compute += time.perf_counter() - t1
    t_full = t_rebuild + t_compute
    final = eng.compute(book, ex.market)
    agree = bool(np.array_equal(st.result().maintenance_margin, final.maintenance_margin))
    assert book.balances.shape[1] == n_j

    print(f"## What-if and trade stream, {args.accounts:,} accounts, {n_s} scenarios per underlying\n")
    print("| operation | time | per call |")
    print("| --- | --- | --- |")
    print(f"| build MarketState (price universe once, margin all) | {t_state * 1e3:,.1f} ms | |")
    print(
        f"| what-if, 10-position account, one trade ({args.what_ifs:,} calls) | "
        f"median {median * 1e6:,.1f} us | p99 {p99 * 1e6:,.1f} us |"
    )
    print(
        f"| {args.stream:,}-trade stream, MarketState.apply | {t_apply * 1e3:,.1f} ms | "
        f"{t_apply / args.stream * 1e6:,.1f} us |"
    )
    print(
        f"| {args.stream:,}-trade stream, full compute per trade (book rebuild not counted) | "
        f"{t_compute * 1e3:,.1f} ms | {t_compute / args.stream * 1e3:,.2f} ms |"
    )
    print(
        f"| {args.stream:,}-trade stream, rebuild book + full compute per trade | "
        f"{t_full * 1e3:,.1f} ms | {t_full / args.stream * 1e3:,.2f} ms |"
    )
    print(
        f"\nspeed-up of the stream over the full compute alone: {t_compute / t_apply:,.0f}x; "
        f"final books margin identically: {agree}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
