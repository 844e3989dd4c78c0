"""Side-by-side benchmark of the Rust margin engine against its baselines, in one process
on the same data: the pure-Python reference, the NumPy/SciPy engine, and Python/NumPy
Black-76. Prints a markdown table of what it measured on this machine.

    python benches/bench_margin.py                  # the README workload (100k accounts)
    python benches/bench_margin.py --accounts 20000 --options 100000 --memory-accounts 100000
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import zkmargin
from zkmargin import baseline, numpy_engine
from zkmargin.synthetic import generate_exchange


def best_of(fn: Callable[[], Any], repeat: int) -> float:
    """Fastest of ``repeat`` runs (the least disturbed by other work on the machine)."""
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def row(label: str, seconds: float, base: float | None = None) -> str:
    ratio = f"{base / seconds:,.1f}x" if base is not None else "1.0x"
    return f"| {label} | {seconds * 1e3:,.1f} ms | {ratio} |"


def bench_portfolio(n_accounts: int, repeat: int) -> list[str]:
    ex = generate_exchange(n_accounts, seed=0)
    rust = zkmargin.MarginEngine(ex.instruments)
    numpy_eng = numpy_engine.MarginEngine(ex.instruments)
    python_eng = baseline.MarginEngine(ex.instruments)
    t_py = best_of(lambda: python_eng.compute(ex.accounts, ex.market, "portfolio"), 1)
    t_np = best_of(lambda: numpy_eng.compute(ex.accounts, ex.market, "portfolio"), max(1, repeat // 2))
    t_rs = best_of(lambda: rust.compute(ex.accounts, ex.market, "portfolio"), repeat)
    one = zkmargin.MarginEngine(ex.instruments, threads=1)
    t_rs1 = best_of(lambda: one.compute(ex.accounts, ex.market, "portfolio"), repeat)
    a = rust.compute(ex.accounts, ex.market, "portfolio")
    b = one.compute(ex.accounts, ex.market, "portfolio")
    identical = all(
        np.array_equal(getattr(a, f), getattr(b, f))
        for f in ("equity", "maintenance_margin", "worst_scenario")
    )
    title = (
        f"Portfolio margin incl. risk arrays: {n_accounts:,} accounts, {ex.accounts.n_rows:,} positions, "
        f"{len(ex.instruments)} instruments x {rust.scenarios.n_scenarios} scenarios"
    )
    return [
        f"\n**{title}**\n",
        "| engine | time | speed-up vs this row's baseline |",
        "| --- | --- | --- |",
        row("pure Python reference", t_py),
        row("NumPy/SciPy engine", t_np, t_py),
        row(f"Rust, 1 thread ({t_py / t_rs1:,.0f}x Python, {t_np / t_rs1:,.1f}x NumPy)", t_rs1, t_py),
        row(
            f"Rust, {rust.threads} threads ({t_py / t_rs:,.0f}x Python, {t_np / t_rs:,.1f}x NumPy)",
            t_rs,
            t_py,
        ),
        f"\n1-thread and {rust.threads}-thread results bit-identical: {identical}",
    ]


def bench_black76(n_options: int, repeat: int) -> list[str]:
    rng = np.random.default_rng(1)
    calls = rng.random(n_options) < 0.5
    f = rng.uniform(50, 150, n_options)
    k = rng.uniform(50, 150, n_options)
    t = rng.uniform(0.01, 2.0, n_options)
    v = rng.uniform(0.1, 1.5, n_options)
    r = 0.03
    t_loop = best_of(lambda: baseline.black76(calls, f, k, t, v, r), 1)
    t_np = best_of(lambda: numpy_engine.black76(calls, f, k, t, v, r), repeat)
    t_rs = best_of(lambda: zkmargin.black76(calls, f, k, t, v, r), repeat)
    return [
        f"\n**Black-76 price + 4 Greeks, {n_options:,} options**\n",
        "| implementation | time | speed-up vs Python loop |",
        "| --- | --- | --- |",
        row("Python loop (math.erfc)", t_loop),
        row("NumPy/SciPy vectorised", t_np, t_loop),
        row(f"Rust ({t_np / t_rs:,.1f}x NumPy)", t_rs, t_loop),
    ]


def _peak_child(n_accounts: int) -> None:
    """Runs in a subprocess: prints the call's peak memory next to its inputs and outputs."""
    ex = generate_exchange(n_accounts, seed=3)
    eng = zkmargin.MarginEngine(ex.instruments)
    gc.collect()
    acc = ex.accounts
    inputs = sum(x.nbytes for x in (acc.offsets, acc.instrument, acc.quantity, acc.balances))
    rss_before = _status_kib("VmRSS")
    with open("/proc/self/clear_refs", "w") as fh:  # resets VmHWM (peak RSS) to the current RSS
        fh.write("5")
    start = time.perf_counter()
    res = eng.compute(ex.accounts, ex.market, "portfolio")
    seconds = time.perf_counter() - start
    peak = _status_kib("VmHWM")
    outputs = sum(v.nbytes for k, v in vars(res).items() if isinstance(v, np.ndarray) and k != "model")
    print(
        json.dumps(
            {
                "accounts": n_accounts,
                "rows": acc.n_rows,
                "inputs": inputs,
                "outputs": outputs,
                "extra": (peak - rss_before) * 1024,
                "seconds": seconds,
            }
        )
    )


def _status_kib(key: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{key} not in /proc/self/status")


def bench_memory(n_accounts: int) -> list[str]:
    out = subprocess.run(
        [sys.executable, __file__, "--peak-child", str(n_accounts)],
        check=True,
        capture_output=True,
        text=True,
        env=os.environ.copy(),
    )
    m = json.loads(out.stdout.strip().splitlines()[-1])
    mib = 1024 * 1024
    # The call's own peak: the inputs it reads plus everything it allocated (outputs included).
    ratio = (m["inputs"] + m["extra"]) / (m["inputs"] + m["outputs"])
    return [
        f"\n**One call on {m['accounts']:,} accounts ({m['rows']:,} positions)**: "
        f"{m['seconds'] * 1e3:,.0f} ms; inputs {m['inputs'] / mib:,.0f} MiB, outputs "
        f"{m['outputs'] / mib:,.0f} MiB, memory the call added at its peak {m['extra'] / mib:,.0f} MiB "
        f"-> peak (inputs + added) = {ratio:.2f} x (inputs + outputs)",
    ]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--accounts", type=int, default=100_000)
    p.add_argument("--options", type=int, default=1_000_000)
    p.add_argument("--memory-accounts", type=int, default=1_000_000)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--peak-child", type=int, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.peak_child is not None:
        _peak_child(args.peak_child)
        return 0
    print(
        f"zkmargin {zkmargin.__version__}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
        f"numpy {np.__version__}, default threads {zkmargin.default_threads()}"
    )
    lines = bench_portfolio(args.accounts, args.repeat)
    lines += bench_black76(args.options, args.repeat)
    lines += bench_memory(args.memory_accounts)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
