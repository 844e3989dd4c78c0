"""Command line: ``zkmargin demo`` margins a generated exchange book and proves solvency
for a sample of its accounts."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import TypeVar

import numpy as np

from .engine import MarginEngine, default_threads
from .results import MODELS
from .synthetic import Exchange, generate_exchange

T = TypeVar("T")


def _timed(timings: list[tuple[str, float]], label: str, fn: Callable[[], T]) -> T:
    start = time.perf_counter()
    out = fn()
    timings.append((label, time.perf_counter() - start))
    return out


def _usd(x: float) -> str:
    return f"{x / 1e6:,.2f}M"


def _margin_section(ex: Exchange, threads: int, top: int, timings: list[tuple[str, float]]) -> MarginEngine:
    eng = _timed(
        timings,
        "build engine (Deribit 35-scenario table)",
        lambda: MarginEngine(ex.instruments, threads=threads),
    )
    _timed(timings, "risk arrays (instruments x scenarios)", lambda: eng.risk_arrays(ex.market))
    results = {
        model: _timed(
            timings, f"{model} margin, all accounts", partial(eng.compute, ex.accounts, ex.market, model)
        )
        for model in MODELS
    }
    pm = results["portfolio"]
    print(f"\nCapital required across {len(ex.accounts):,} accounts (USD)")
    print(f"  {'model':<10} {'initial':>14} {'maintenance':>14} {'liquidatable':>13} {'vs standard':>12}")
    std_im = float(results["standard"].initial_margin.sum())
    for model, res in results.items():
        im = float(res.initial_margin.sum())
        print(
            f"  {model:<10} {_usd(im):>14} {_usd(float(res.maintenance_margin.sum())):>14} "
            f"{int(res.liquidatable.sum()):>13,} {im / std_im:>11.1%}"
        )
    print(f"  total equity {_usd(float(pm.equity.sum()))}")
    healthy = np.flatnonzero(~pm.liquidatable)
    order = healthy[np.argsort(-pm.margin_ratio[healthy], kind="stable")[:top]]
    print(
        f"\nAccounts closest to liquidation ({int(pm.liquidatable.sum()):,} already below maintenance; "
        "these are the solvent ones with the highest MM / equity)"
    )
    print(f"  {'account':>8} {'equity':>14} {'maint.':>14} {'ratio':>8} {'worst scen.':>11} {'positions':>9}")
    counts = np.diff(ex.accounts.offsets)
    for a in order:
        print(
            f"  {a:>8} {pm.equity[a]:>14,.0f} {pm.maintenance_margin[a]:>14,.0f} "
            f"{pm.margin_ratio[a]:>8.3f} {pm.worst_scenario[a]:>11} {counts[a]:>9}"
        )
    return eng


def _proof_section(
    eng: MarginEngine, ex: Exchange, n: int, mode: str, timings: list[tuple[str, float]]
) -> None:
    from .proof.demo import run_sample

    report = _timed(
        timings,
        f"commit + prove + verify {n} accounts ({mode})",
        lambda: run_sample(eng, ex.accounts, ex.market, n, mode=mode),
    )
    print()
    for line in report.lines():
        print(line)


def demo(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="zkmargin demo", description=__doc__)
    parser.add_argument(
        "--accounts", type=int, default=100_000, help="accounts to generate (default 100,000)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--top", type=int, default=10, help="accounts to list closest to liquidation")
    parser.add_argument("--proofs", type=int, default=4, help="accounts to prove solvent (0 to skip)")
    parser.add_argument("--proof-mode", choices=("subset", "full"), default="subset")
    args = parser.parse_args(argv)
    if args.accounts < 1:
        parser.error("--accounts must be >= 1")
    threads = args.threads if args.threads is not None else default_threads()
    timings: list[tuple[str, float]] = []
    ex = _timed(timings, "generate sample exchange", lambda: generate_exchange(args.accounts, seed=args.seed))
    print(
        f"zkmargin demo: {len(ex.instruments)} instruments on {ex.instruments.n_underlyings} underlyings, "
        f"{len(ex.accounts):,} accounts, {ex.accounts.n_rows:,} positions, {threads} threads"
    )
    eng = _margin_section(ex, threads, args.top, timings)
    if args.proofs > 0:
        _proof_section(eng, ex, args.proofs, args.proof_mode, timings)
    print("\nTimings")
    for label, seconds in timings:
        print(f"  {label:<48} {seconds * 1e3:>10.1f} ms")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print("usage: zkmargin demo [--accounts N] [--seed S] [--threads T] [--top K] [--proofs P]")
        return 0 if args else 2
    from .attest.cli import COMMANDS, run

    if args[0] in COMMANDS:
        return run(args)
    if args[0] != "demo":
        print(f"zkmargin: unknown command {args[0]!r} (try: zkmargin demo)", file=sys.stderr)
        return 2
    return demo(args[1:])


if __name__ == "__main__":
    raise SystemExit(main())
