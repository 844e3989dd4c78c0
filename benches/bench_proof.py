"""Proof-layer benchmarks, side by side in one run (issue 3).

    python benches/bench_proof.py            # full run (several minutes: pyecc is slow)
    python benches/bench_proof.py --quick    # seconds; what the test suite runs

Measures:
1. a 64-bit, m = 16 aggregated range proof: native vs pyecc prove and verify;
2. a 10-position subset-mode solvency proof under the 35-scenario Deribit preset on the
   synthetic exchange: native vs pyecc prove and verify;
3. batch verification of 64 solvency proofs vs verifying them one by one (native);
4. sizes and times of 64-bit range proofs for m = 1..64, and of solvency proofs in
   subset and full mode (native).
Every number is measured in this run; nothing is estimated.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np

import zkmargin
from zkmargin.proof import (
    batch_verify_solvency,
    build_statement,
    commit_account,
    default_balance_decimals,
    prove_range,
    prove_solvency,
    verify_range,
    verify_solvency,
)

T = TypeVar("T")


def timed(fn: Callable[[], T], repeat: int = 1) -> tuple[T, float]:
    """(last result, best wall time over ``repeat`` runs)."""
    best = float("inf")
    out: Any = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return out, best


def fmt_s(x: float) -> str:
    return f"{x * 1e3:10.1f} ms" if x < 10 else f"{x:10.2f} s "


class Table:
    def __init__(self, title: str, cols: Sequence[str]) -> None:
        self.title = title
        self.cols = list(cols)
        self.rows: list[list[str]] = []

    def add(self, *cells: Any) -> None:
        self.rows.append([str(c) for c in cells])

    def render(self) -> str:
        widths = [
            max(len(c), *(len(r[i]) for r in self.rows)) if self.rows else len(c)
            for i, c in enumerate(self.cols)
        ]
        line = "| " + " | ".join(c.ljust(w) for c, w in zip(self.cols, widths, strict=True)) + " |"
        sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
        body = [
            "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in self.rows
        ]
        return "\n".join([f"\n### {self.title}", line, sep, *body])

    def add_speedup(self, times: dict[str, tuple[float, float]]) -> None:
        """A row of pyecc / native ratios of (prove, verify), when pyecc was run."""
        if "pyecc" in times:
            (py_p, py_v), (nat_p, nat_v) = times["pyecc"], times["native"]
            self.add("speed-up", f"{py_p / nat_p:.0f}x", f"{py_v / nat_v:.0f}x", "")


def pick_accounts(ex: Any, res: Any, positions: int | tuple[int, int], count: int) -> list[int]:
    rows = np.diff(ex.accounts.offsets)
    lo, hi = (positions, positions) if isinstance(positions, int) else positions
    ok = (rows >= lo) & (rows <= hi) & (res.equity > 1.02 * res.maintenance_margin)
    return [int(a) for a in np.nonzero(ok)[0][:count]]


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    ap.add_argument("--no-pyecc", action="store_true", help="skip the pure-Python baseline")
    args = ap.parse_args(argv)
    quick = args.quick
    out: list[str] = []

    def emit(s: str) -> None:
        print(s, flush=True)
        out.append(s)

    emit(
        f"zkmargin proof benchmarks ({'quick' if quick else 'full'} run), "
        f"threads={zkmargin.default_threads()}"
    )

    # 1. aggregated range proof, native vs pyecc ---------------------------------------
    n, m = (8, 2) if quick else (64, 16)
    vals = [(7919 * (j + 1)) % (1 << n) for j in range(m)]
    t1 = Table(f"Range proof n={n}, m={m}: native vs pyecc", ["backend", "prove", "verify", "size"])
    res_rp: dict[str, tuple[float, float]] = {}
    backends = ["native"] if args.no_pyecc else ["native", "pyecc"]
    for be in backends:
        (coms, pr), tp = timed(lambda be=be: prove_range(vals, n=n, backend=be), 1 if be == "pyecc" else 7)
        ok, tv = timed(
            lambda be=be, coms=coms, pr=pr: verify_range(coms, pr, n, backend=be), 1 if be == "pyecc" else 5
        )
        assert ok
        res_rp[be] = (tp, tv)
        t1.add(be, fmt_s(tp), fmt_s(tv), f"{len(pr.body_bytes())} B ({pr.size_elements} elements)")
    t1.add_speedup(res_rp)
    emit(t1.render())

    # 2. solvency proof under the Deribit preset, native vs pyecc ----------------------
    ex = zkmargin.synthetic.generate_exchange(400 if quick else 3000, seed=11)
    if quick:  # three joint scenarios keep the smoke run to seconds
        mv = [[-0.1, -0.1], [0.0, 0.0], [0.1, 0.1]]
        scen = zkmargin.ScenarioTable(mv, [[1.0, 1.0], [0.0, 0.0], [-1.0, -1.0]], [[1.0, 1.0]] * 3)
        eng = zkmargin.MarginEngine(ex.instruments, scen)
    else:
        eng = zkmargin.MarginEngine(ex.instruments)  # the Deribit 35-scenario preset
    mres = eng.compute(ex.accounts, ex.market, "portfolio")
    bd = default_balance_decimals(ex.market.asset_price)
    n_ins = len(ex.instruments)
    npos = 3 if quick else 10
    acct = pick_accounts(ex, mres, npos, 1)[0]
    com, op = commit_account(ex.accounts, acct, n_instruments=n_ins, balance_decimals=bd, mode="subset")
    st = build_statement(eng, ex.market, com, f"account-{acct}", 1)
    t2 = Table(
        f"Solvency proof, {npos} positions, subset mode, {st.n_scenarios} scenarios "
        f"({st.n_values} range values -> m={st.m}, n={st.n}): native vs pyecc",
        ["backend", "prove", "verify", "size"],
    )
    res_sv: dict[str, tuple[float, float]] = {}
    sv_backends = ["native"] if (args.no_pyecc or quick) else ["native", "pyecc"]
    for be in sv_backends:
        pr, tp = timed(lambda be=be: prove_solvency(st, com, op, backend=be), 1 if be == "pyecc" else 5)
        ok, tv = timed(
            lambda be=be, pr=pr: verify_solvency(st, com, pr, backend=be), 1 if be == "pyecc" else 3
        )
        assert ok
        res_sv[be] = (tp, tv)
        t2.add(be, fmt_s(tp), fmt_s(tv), f"{pr.size_bytes} B")
    t2.add_speedup(res_sv)
    emit(t2.render())

    # 3. batch verification ----------------------------------------------------------------
    nb = 4 if quick else 64
    accts = pick_accounts(ex, mres, (1, 12), nb)
    items = []
    t0 = time.perf_counter()
    for a in accts:
        c, o = commit_account(ex.accounts, a, n_instruments=n_ins, balance_decimals=bd, mode="subset")
        s = build_statement(eng, ex.market, c, f"account-{a}", 1)
        items.append((s, c, prove_solvency(s, c, o)))
    t_prove_all = time.perf_counter() - t0
    _, t_single = timed(lambda: all(verify_solvency(s, c, p) for s, c, p in items), 1)
    ok, t_batch = timed(lambda: batch_verify_solvency(items), 2)
    assert ok
    ms = sorted({p.range_proof.m for _, _, p in items})
    t3 = Table(
        f"Batch verification of {len(items)} solvency proofs "
        f"(m in {ms}; proving them took {t_prove_all:.1f} s)",
        ["method", "total", "per proof"],
    )
    t3.add("one by one", fmt_s(t_single), fmt_s(t_single / len(items)))
    t3.add("batched (one MSM)", fmt_s(t_batch), fmt_s(t_batch / len(items)))
    t3.add("speed-up", f"{t_single / t_batch:.1f}x", "")
    emit(t3.render())

    # 4a. range proofs m = 1..64 ----------------------------------------------------------
    t4 = Table("64-bit range proofs by aggregation size (native)", ["m", "n*m", "prove", "verify", "size"])
    for mm in [1, 2] if quick else [1, 2, 4, 8, 16, 32, 64]:
        v = [(104729 * (j + 3)) % (1 << 64) for j in range(mm)]
        (coms, pr), tp = timed(lambda v=v: prove_range(v, n=64), 1 if mm >= 32 else 2)
        ok, tv = timed(lambda coms=coms, pr=pr: verify_range(coms, pr, 64), 3)
        assert ok
        t4.add(mm, 64 * mm, fmt_s(tp), fmt_s(tv), f"{len(pr.body_bytes())} B ({pr.size_elements})")
    emit(t4.render())

    # 4b. solvency proofs: subset vs full mode --------------------------------------------
    t5 = Table(
        f"Solvency proofs by hiding mode "
        f"(native, universe of {n_ins} instruments, {st.n_scenarios} scenarios)",
        ["mode", "positions", "values", "m", "prove", "verify", "size"],
    )
    full_positions = 2 if quick else npos
    a_full = pick_accounts(ex, mres, full_positions, 1)[0]
    for mode, a in (("subset", acct), ("full", a_full)):
        if quick and mode == "full":
            # the full universe is ~400 instruments: shrink to a 12-instrument sub-universe
            sub = ex.instruments
            und = sub.underlying
            keep = np.concatenate([np.nonzero(und == 0)[0][:6], np.nonzero(und == 1)[0][:6]])
            small = zkmargin.Instruments(
                sub.kind[keep],
                sub.underlying[keep],
                sub.strike[keep],
                sub.expiry[keep],
                sub.contract_size[keep],
                sub.settlement[keep],
            )
            mk = ex.market
            fwd = None if mk.forward is None else mk.forward[keep]
            mkt = zkmargin.Market(mk.spot, mk.vol[keep], mk.asset_price, mk.haircut, mk.rate, fwd)
            e2 = zkmargin.MarginEngine(small, eng.scenarios)
            acc2 = zkmargin.Accounts([0, 1], [3], [1.0], [[1e6, 0.0, 0.0]])
            c, o = commit_account(acc2, 0, n_instruments=12, balance_decimals=bd, mode="full")
            s = build_statement(e2, mkt, c, "q", 1)
        else:
            c, o = commit_account(ex.accounts, a, n_instruments=n_ins, balance_decimals=bd, mode=mode)
            s = build_statement(eng, ex.market, c, f"account-{a}", 1)
        pr, tp = timed(lambda s=s, c=c, o=o: prove_solvency(s, c, o), 1)
        ok, tv = timed(lambda s=s, c=c, pr=pr: verify_solvency(s, c, pr), 2)
        assert ok
        t5.add(
            mode,
            len(o.quantities)
            if mode == "subset"
            else f"{int(np.count_nonzero(o.quantities))} of {len(o.quantities)}",
            s.n_values,
            s.m,
            fmt_s(tp),
            fmt_s(tv),
            f"{pr.size_bytes} B",
        )
    emit(t5.render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
