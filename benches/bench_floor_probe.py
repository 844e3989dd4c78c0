"""How close hand-written code gets to the floor on the README's 35-scenario book.

Issue 11 asks for the portfolio pass within 3x of the machine's floor (see
``bench_margin.py``). This benchmark asks what that takes: it compiles
``benches/floor_probe.c`` with the system C compiler (``cc``; AVX-512, no fused
multiply-adds) and times, in one run on one thread and on the same book:

- the engine's portfolio pass (``MarginEngine.compute``, which also prices the risk arrays
  and checks the book),
- ``bare``: only each account's worst-case loss, the current portfolio's P&L in registers,
- ``masked``: the same with both portfolios' P&L in registers and no branch between them,
- ``full``: the per-account work of the portfolio model written as tight C,

next to the floor measured the same way as ``bench_margin.py``. The ``bare`` and ``masked``
losses are checked against a SciPy computation of the same quantity (undamped, without
collateral), so a wrong loop cannot report a time. The ``full`` loop uses the book, the
risk arrays, the marks, Greeks, dampener and roll buckets of the engine; its short-option
minima, roll rates and collateral rows are stand-ins of the right shape (the time does not
depend on their values), so its outputs are not the engine's.

    python benches/bench_floor_probe.py
    python benches/bench_floor_probe.py --accounts 20000 --repeat 5
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import scipy.sparse as sp

import zkmargin
from zkmargin import _core
from zkmargin.synthetic import ASSET_UNDERLYING, Exchange, generate_exchange

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_margin import Floor, Probe, bandwidth_floor, best_of, fma_rate

WIDTH = 40  # the probe's padded scenario row (floor_probe.c)
UNIT = np.dtype([("mtm", "f8"), ("greeks", "f8", 4), ("som", "f8"), ("group", "i8"), ("bucket", "i8")])


def export(directory: Path, engine: zkmargin.MarginEngine, ex: Exchange) -> np.ndarray:
    """Writes what floor_probe.c reads; returns the padded risk rows."""
    acc, market = ex.accounts, ex.market
    n_s, n_u = engine.scenarios.n_scenarios, engine.n_underlyings
    if n_s > WIDTH or n_u != 2:
        raise SystemExit(f"the probe is written for <= {WIDTH} scenarios and 2 underlyings")
    risk = np.zeros((len(engine.instruments), WIDTH))
    risk[:, :n_s] = engine.risk_arrays(market)
    values = engine.instrument_values(market)
    bucket, expiry = engine.roll_buckets()
    units = np.zeros(len(engine.instruments), UNIT)
    units["mtm"] = values.mtm
    units["greeks"] = np.stack([values.delta, values.gamma, values.vega, values.theta], axis=1)
    units["som"] = engine.params.short_option_min * np.abs(values.mark_price)
    units["group"] = engine.instruments.underlying
    units["bucket"] = bucket
    table = engine.scenarios
    damp = np.zeros((n_u, WIDTH))
    damp[:, :n_s] = np.asarray(table.dampener, dtype=np.float64).reshape(n_s, n_u).T
    link = np.asarray(ASSET_UNDERLYING, dtype=np.int64)
    n_j = acc.balances.shape[1]
    moves = np.asarray(table.moves, dtype=np.float64).reshape(n_s, n_u)
    held = np.zeros((n_j, WIDTH))
    for j, u in enumerate(link):
        if u >= 0:
            held[j, :n_s] = moves[:, u]
    price = np.ones(n_j)
    haircut = np.full(n_j, 0.02)
    arrays = {
        "offsets": np.asarray(acc.offsets, np.int64),
        "instrument": np.asarray(acc.instrument, np.int64),
        "quantity": np.asarray(acc.quantity, np.float64),
        "balances": np.ascontiguousarray(acc.balances, np.float64),
        "risk": risk,
        "units": units,
        "damp": damp,
        "link": link,
        "held": held,
        "borrowed": 1.1 * held,
        "value": np.concatenate([price, haircut]),
        "rate": engine.params.annual_move_risk * np.sqrt(np.maximum(np.asarray(expiry), 0.0)),
    }
    for name, a in arrays.items():
        np.ascontiguousarray(a).tofile(directory / f"{name}.bin")
    return risk


def undamped_loss(ex: Exchange, risk: np.ndarray, group: np.ndarray) -> float:
    """Sum over accounts of the worst-case loss without dampener or collateral (SciPy)."""
    acc = ex.accounts
    total = 0.0
    for g in (0, 1):
        q = np.where(group[acc.instrument] == g, acc.quantity, 0.0)
        m = sp.csr_matrix((q, acc.instrument, acc.offsets), shape=(len(acc.offsets) - 1, risk.shape[0]))
        pnl = m @ risk
        total += float(np.maximum(0.0, -np.minimum(pnl.min(axis=1), 0.0)).sum())
    return total


def has_avx512() -> bool:
    """Whether this CPU runs AVX-512 F, which floor_probe.c is written in (Linux only)."""
    try:
        return "avx512f" in Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False


def positive(text: str) -> int:
    """An argument that must be a whole number >= 1."""
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 1")
    return n


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--accounts", type=positive, default=100_000)
    p.add_argument("--repeat", type=positive, default=15)
    args = p.parse_args(argv)
    cc = shutil.which("cc")
    if cc is None or not has_avx512():
        print("the probe needs a C compiler (cc) and a CPU with AVX-512 F: nothing to compare against")
        return 1
    ex = generate_exchange(args.accounts, seed=0)
    engine = zkmargin.MarginEngine(ex.instruments, threads=1, asset_underlying=ASSET_UNDERLYING)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        exe = d / "floor_probe"
        src = Path(__file__).resolve().parent / "floor_probe.c"
        flags = ["-O3", "-march=native", "-ffp-contract=off", "-std=gnu11"]
        subprocess.run([cc, *flags, "-o", str(exe), str(src), "-lm"], check=True)
        risk = export(d, engine, ex)
        probe = Probe(bandwidth_floor(256 << 20, args.repeat), _core.madd_rate(0.5), fma_rate(args.repeat))
        t_engine = best_of(lambda: engine.compute(ex.accounts, ex.market, "portfolio"), args.repeat)
        want = undamped_loss(ex, risk, np.asarray(engine.instruments.underlying))
        times: dict[str, float] = {}
        for variant in ("bare", "masked", "full"):
            out = subprocess.run(
                [str(exe), str(d), variant, str(args.repeat)], check=True, capture_output=True, text=True
            ).stdout.split()
            seconds, total, finite = float(out[0]), float(out[1]), out[2] == "1"
            if variant != "full" and not np.isclose(total, want, rtol=1e-9):
                raise SystemExit(f"{variant}: worst-case losses sum to {total}, SciPy says {want}")
            if variant == "full" and not finite:
                raise SystemExit("full: an output is not finite")
            times[variant] = seconds
    acc = ex.accounts
    r = engine.compute(acc, ex.market, "portfolio")
    traffic = sum(x.nbytes for x in (acc.offsets, acc.instrument, acc.quantity, acc.balances)) + sum(
        v.nbytes for v in vars(r).values() if isinstance(v, np.ndarray)
    )
    floor = Floor(traffic, acc.n_rows * engine.scenarios.n_scenarios, probe, 1)
    print(
        f"zkmargin {zkmargin.__version__}, {os.cpu_count()} CPUs, {cc} {' '.join(flags)}\n\n"
        f"**One thread, {args.accounts:,} accounts, {acc.n_rows:,} positions, "
        f"{engine.scenarios.n_scenarios} scenarios**\n\n| loop | time | x floor |\n| --- | --- | --- |"
    )
    rows = [
        ("C bare: worst-case loss only, current portfolio in registers", times["bare"]),
        ("C masked: worst-case loss only, both portfolios in registers", times["masked"]),
        ("C full: the portfolio model's per-account work, no input checks or risk arrays", times["full"]),
        ("engine: MarginEngine.compute, portfolio (incl. risk arrays and checks)", t_engine),
    ]
    for label, seconds in rows:
        print(f"| {label} | {seconds * 1e3:,.2f} ms | {seconds / floor.seconds:,.1f}x |")
    print(f"\n{floor.line()}.\nChecked: the bare and masked worst-case losses equal SciPy's to 1e-9.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
