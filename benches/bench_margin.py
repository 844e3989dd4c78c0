"""Side-by-side benchmark of the Rust margin engine against its baselines, in one process
on the same data: the pure-Python reference, the NumPy/SciPy engine, and Python/NumPy
Black-76. Prints a markdown table of what it measured on this machine.

    python benches/bench_margin.py                  # the README workload (100k accounts)

Besides the project's own baselines it times the code a user would write instead (a SciPy
sparse product and a row minimum, checked to give the same numbers), and measures the
machine's floor in the same run: the larger of the book and its results streamed once at
the measured copy bandwidth, and the positions x scenarios multiply-adds at one core's
measured rate for the engine's arithmetic (a separate IEEE multiply and add, widest
vectors, operands in L1: ``zkmargin._core.madd_rate``), per thread. Every engine row says
how far it is from that floor, and from the stricter floor at one core's dgemm rate with
fused multiply-adds (which the engine does not use: they would change the bits between
instruction sets). A second section margins a wide (1,000-scenario Monte-Carlo) table,
where the multiply-adds dominate.
    python benches/bench_margin.py --accounts 20000 --options 100000 --memory-accounts 100000
    python benches/bench_margin.py --wide-scenarios 0     # only the Deribit table
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
from typing import Any, NamedTuple

import numpy as np

import zkmargin
from zkmargin import _core, baseline
from zkmargin.baseline import numpy_engine
from zkmargin.dynamic import joint_table, monte_carlo_scenarios
from zkmargin.scenarios import ScenarioTable
from zkmargin.synthetic import ASSET_UNDERLYING, generate_exchange


def best_of(fn: Callable[[], Any], repeat: int) -> float:
    """Fastest of ``repeat`` runs (the least disturbed by other work on the machine)."""
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def minimal_scipy(engine: zkmargin.MarginEngine, accounts: zkmargin.Accounts, market: zkmargin.Market) -> Any:
    """What a user would write instead of the engine: the book as a sparse (accounts x
    instruments) matrix times the dense risk arrays laid out per underlying, a row minimum
    per underlying (after adding the linked collateral's scenario P&L and the extended rows'
    dampener), and a second sparse product for the per-expiry net delta of the roll
    add-on. Returns a function computing the worst-case loss plus roll add-on per account;
    the risk arrays and per-instrument deltas are computed outside it (in the user's favour)."""
    from scipy import sparse

    ins = engine.instruments
    n_i, n_u, n_s = len(ins), engine.n_underlyings, engine.scenarios.n_scenarios
    risk = engine.risk_arrays(market)
    blocks = np.zeros((n_i, n_u * n_s))
    for u in range(n_u):
        rows = ins.underlying == u
        blocks[rows, u * n_s : (u + 1) * n_s] = risk[rows]
    bucket, expiry = engine.roll_buckets()
    p = engine.params
    rate = np.maximum(p.min_annual_move, np.expm1(p.annual_move_risk * expiry))
    sc = engine.scenarios
    damp = sc.dampener.T[None]  # (1, U, S): the extended rows' dampener per underlying
    # collateral shocked with its underlying: P&L per held and per borrowed unit
    linked = [] if engine.asset_underlying is None else engine.asset_underlying.tolist()
    links = [(j, u) for j, u in enumerate(linked) if u >= 0]
    wm = {u: sc.weights[:, u] * sc.moves[:, u] for _, u in links}
    px, h = market.asset_price, market.haircut
    delta = engine.instrument_values(market).delta
    buckets = sparse.csr_matrix((delta, (np.arange(n_i), bucket)), shape=(n_i, len(expiry)))
    shape = (len(accounts), n_i)

    def run() -> Any:
        q = sparse.csr_matrix((accounts.quantity, accounts.instrument, accounts.offsets), shape=shape)
        pnl = (q @ blocks).reshape(len(accounts), n_u, n_s)
        for j, u in links:
            b = accounts.balances[:, j : j + 1]
            pnl[:, u] += b * np.where(b > 0.0, px[j] * (1.0 - h[j]), px[j] * (1.0 + h[j])) * wm[u]
        loss = np.maximum(0.0, -(pnl + damp).min(axis=2)).sum(axis=1)
        return loss + np.abs((q @ buckets).toarray()) @ rate

    return run


def bandwidth_floor(nbytes: int, repeat: int) -> float:
    """Bytes per second this machine streams through memory (read + write, one thread):
    the best of ``repeat`` copies of an array far larger than the caches."""
    src = np.ones(max(nbytes // 16, 1 << 20))
    dst = np.empty_like(src)
    seconds = best_of(lambda: np.copyto(dst, src), repeat)
    return 2 * src.nbytes / seconds


#: Run in a subprocess pinned to one BLAS thread: prints one core's multiply-adds per second.
_MADD_PROBE = """
import sys, time
import numpy as np
n = 512
a, b = np.random.default_rng(0).random((2, n, n))
c = np.empty((n, n))
best = float("inf")
for _ in range(int(sys.argv[1])):
    start = time.perf_counter()
    np.matmul(a, b, out=c)
    best = min(best, time.perf_counter() - start)
print(n**3 / best)
"""


def fma_rate(repeat: int) -> float:
    """Multiply-adds per second of one core at its best with fused multiply-adds: a 512 x
    512 dense matrix product (OpenBLAS, the widest vectors it uses, operands in cache) on
    one BLAS thread. The engine itself uses no fused multiply-adds, so that every
    instruction set gives the same bits; this rate gives the stricter floor."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    out = subprocess.run(
        [sys.executable, "-c", _MADD_PROBE, str(max(repeat, 3) * 4)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    return float(out.stdout.strip().splitlines()[-1])


class Probe(NamedTuple):
    """The machine's rates, measured once per run: copy bandwidth (bytes/s), one thread's
    multiply-adds per second with the engine's arithmetic, and one core's with fused
    multiply-adds (dgemm)."""

    bandwidth: float
    rate: float
    fma: float


class Floor:
    """The machine's floor for one margin pass: the larger of streaming the book and its
    results through memory once and doing each position's scenario multiply-adds at the
    peak rate, both measured in this run and assumed to scale with threads; ``fma_seconds``
    is the same with the fused-multiply-add rate."""

    def __init__(self, traffic: int, madds: int, probe: Probe, threads: int) -> None:
        self.traffic, self.madds, self.threads, self.probe = traffic, madds, threads, probe
        self.memory = traffic / (probe.bandwidth * threads)
        self.compute = madds / (probe.rate * threads)
        self.seconds = max(self.memory, self.compute)
        self.fma_seconds = max(self.memory, madds / (probe.fma * threads))

    def line(self) -> str:
        p = self.probe
        return (
            f"Floor on {self.threads} thread(s): {self.seconds * 1e3:,.2f} ms = max(memory "
            f"{self.traffic / 2**20:,.0f} MiB of inputs + outputs at {p.bandwidth / 1e9:,.1f} GB/s "
            "per thread "
            f"= {self.memory * 1e3:,.2f} ms, compute {self.madds / 1e6:,.1f}M multiply-adds "
            f"(positions x scenarios) at {p.rate / 1e9:,.1f}G/s per thread, separate multiply and add "
            f"= {self.compute * 1e3:,.2f} ms); with fused multiply-adds at the dgemm rate "
            f"{p.fma / 1e9:,.1f}G/s: {self.fma_seconds * 1e3:,.2f} ms"
        )


def row(label: str, seconds: float, base: float | None = None, floor: Floor | None = None) -> str:
    ratio = f"{base / seconds:,.1f}x" if base is not None else "1.0x"
    cells = [label, f"{seconds * 1e3:,.1f} ms", ratio]
    if floor is not None:
        # each engine at its own thread count: NumPy/SciPy rows run on one thread
        cells += [f"{seconds / floor.seconds:,.1f}x", f"{seconds / floor.fma_seconds:,.1f}x"]
    return "| " + " | ".join(cells) + " |"


def wide_table(n_scenarios: int) -> ScenarioTable:
    """A joint table of ``n_scenarios`` seeded Monte-Carlo moves of BTC and ETH over a day."""
    rho = np.array([[1.0, 0.8], [0.8, 1.0]])
    moves = monte_carlo_scenarios([0.6, 0.8], rho, 1.0 / 365.0, n_scenarios, 11)
    return joint_table(moves)


def bench_portfolio(
    n_accounts: int, repeat: int, probe: Probe, scenarios: ScenarioTable | None = None
) -> list[str]:
    ex = generate_exchange(n_accounts, seed=0)
    # Deribit's table (dampener, edges) unless given, BTC and ETH collateral shocked with it
    kw: dict[str, Any] = {"asset_underlying": ASSET_UNDERLYING, "scenarios": scenarios}
    rust = zkmargin.MarginEngine(ex.instruments, **kw)
    one = zkmargin.MarginEngine(ex.instruments, threads=1, **kw)
    numpy_eng = numpy_engine.MarginEngine(ex.instruments, **kw)
    wide = scenarios is not None
    t_py = None
    if not wide:  # the pure-Python reference takes minutes on a wide table
        python_eng = baseline.MarginEngine(ex.instruments, **kw)
        t_py = best_of(lambda: python_eng.compute(ex.accounts, ex.market, "portfolio"), 1)
    t_np = best_of(lambda: numpy_eng.compute(ex.accounts, ex.market, "portfolio"), max(1, repeat // 2))
    scipy_run = minimal_scipy(rust, ex.accounts, ex.market)
    t_sp = best_of(scipy_run, repeat)
    t_rs = best_of(lambda: rust.compute(ex.accounts, ex.market, "portfolio"), repeat)
    t_rs1 = best_of(lambda: one.compute(ex.accounts, ex.market, "portfolio"), repeat)
    t_risk = best_of(lambda: rust.risk_arrays(ex.market), repeat)
    a = rust.compute(ex.accounts, ex.market, "portfolio")
    b = one.compute(ex.accounts, ex.market, "portfolio")
    identical = all(
        np.array_equal(getattr(a, f), getattr(b, f))
        for f in ("equity", "maintenance_margin", "worst_scenario")
    )
    # the competitor must compute the same numbers for its row to mean anything
    sp_agrees = np.allclose(scipy_run(), a.scenario_loss + a.roll_addon, rtol=1e-9, atol=1e-6)
    acc = ex.accounts
    traffic = sum(x.nbytes for x in (acc.offsets, acc.instrument, acc.quantity, acc.balances)) + sum(
        v.nbytes for v in vars(a).values() if isinstance(v, np.ndarray)
    )
    n_s = rust.scenarios.n_scenarios
    threads = min(rust.threads, os.cpu_count() or 1)
    floors = {n: Floor(traffic, acc.n_rows * n_s, probe, n) for n in (1, threads)}
    table = "Monte-Carlo joint table" if wide else "Deribit table"
    title = (
        f"Portfolio margin incl. risk arrays: {n_accounts:,} accounts, {acc.n_rows:,} positions, "
        f"{len(ex.instruments)} instruments x {n_s:,} scenarios ({table})"
    )
    base = t_py if t_py is not None else t_np
    base_name = "pure Python" if t_py is not None else "NumPy engine"
    lines = [
        f"\n**{title}**\n",
        f"| engine | time | speed-up vs {base_name} | x floor | x FMA floor |",
        "| --- | --- | --- | --- | --- |",
    ]
    if t_py is not None:
        lines.append(row("pure Python reference", t_py, base, floors[1]))
    lines += [
        row("NumPy/SciPy engine (zkmargin.baseline.numpy_engine)", t_np, base, floors[1]),
        row("minimal SciPy: CSR @ risk arrays, row min, roll by a 2nd product", t_sp, base, floors[1]),
        row(f"Rust, 1 thread ({t_sp / t_rs1:,.2f}x minimal SciPy)", t_rs1, base, floors[1]),
        row(f"Rust, {rust.threads} threads ({t_sp / t_rs:,.2f}x minimal SciPy)", t_rs, base, floors[threads]),
        f"\n1-thread and {rust.threads}-thread results bit-identical: {identical}; minimal SciPy "
        f"equals the engine's worst-case loss + roll add-on: {sp_agrees}",
        "\n" + floors[1].line() + ".  \n" + floors[threads].line() + ".",
        f"\nRisk arrays alone ({len(ex.instruments)} instruments x {n_s:,} scenarios, "
        f"{rust.threads} threads): {t_risk * 1e3:,.2f} ms (part of every Rust row above).",
    ]
    return lines


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
    bufs = [np.empty(n_options) for _ in range(5)]
    t_out = best_of(lambda: zkmargin.black76(calls, f, k, t, v, r, out=bufs), repeat)
    return [
        f"\n**Black-76 price + 4 Greeks, {n_options:,} options**\n",
        "| implementation | time | speed-up vs Python loop |",
        "| --- | --- | --- |",
        row("Python loop (math.erfc)", t_loop),
        row("NumPy/SciPy vectorised", t_np, t_loop),
        row(f"Rust ({t_np / t_rs:,.1f}x NumPy)", t_rs, t_loop),
        row(f"Rust, out= into reused caller buffers ({t_np / t_out:,.1f}x NumPy)", t_out, t_loop),
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
    p.add_argument("--wide-scenarios", type=int, default=1_000, help="scenarios of the wide table (0: skip)")
    p.add_argument("--wide-accounts", type=int, default=20_000, help="accounts margined on the wide table")
    p.add_argument("--peak-child", type=int, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.peak_child is not None:
        _peak_child(args.peak_child)
        return 0
    print(
        f"zkmargin {zkmargin.__version__}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
        f"numpy {np.__version__}, default threads {zkmargin.default_threads()}"
    )
    probe = Probe(bandwidth_floor(256 << 20, args.repeat), _core.madd_rate(0.5), fma_rate(args.repeat))
    lines = bench_portfolio(args.accounts, args.repeat, probe)
    if args.wide_scenarios > 0:
        lines += bench_portfolio(args.wide_accounts, args.repeat, probe, wide_table(args.wide_scenarios))
    lines += bench_black76(args.options, args.repeat)
    lines += bench_memory(args.memory_accounts)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
