"""Attestation benchmark: accounts proven per second on a Dask LocalCluster of 1 and 2
workers, and one end-to-end attestation (snapshots, commitments, proofs under the base
and a stress scenario set, Merkle tree, reserves and fund proofs) with its verification.

    python benches/bench_attest.py --accounts 10000 --sample 200

Prints one table; every number is measured in this run (nothing is extrapolated). Needs
the ``dask`` extra.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from zkmargin import MarginEngine, synthetic
from zkmargin.attest import Book, attest, verify_bundle
from zkmargin.attest.work import select_accounts
from zkmargin.proof import build_snapshot
from zkmargin.scenarios import deribit_scenarios


def _cluster(workers: int) -> tuple[object, object]:
    from dask.distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0")
    return cluster, Client(cluster)


def _log(desc: str, total: int) -> Callable[[int], None]:
    """Progress on stderr, about every 2% (a full-size run takes an hour or more)."""
    start, done, every = time.perf_counter(), [0, 0], max(1, total // 50)

    def tick(k: int) -> None:
        done[0] += k
        if done[0] - done[1] >= every or done[0] == total:
            done[1] = done[0]
            dt = time.perf_counter() - start
            line = f"  {desc}: {done[0]}/{total} in {dt:,.0f} s ({done[0] / dt:.2f}/s)"
            print(line, file=sys.stderr, flush=True)

    return tick


def _load() -> str:
    return "load average " + " / ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--accounts", type=int, default=10_000, help="end-to-end attestation size")
    ap.add_argument("--sample", type=int, default=200, help="accounts per throughput run")
    ap.add_argument("--workers", default="1,2", help="worker counts of the throughput runs")
    ap.add_argument("--e2e-workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--chunk", type=int, default=16)
    ap.add_argument("--threads", type=int, default=None, help="prover threads per task (default: attest's)")
    ap.add_argument(
        "--work",
        type=Path,
        default=None,
        help="keep the end-to-end bundle here and resume an interrupted run from its journal "
        "(a full-size run can outlast one sitting); default: a temporary directory",
    )
    a = ap.parse_args()
    load_start = _load()

    ex = synthetic.generate_exchange(a.accounts, seed=a.seed)
    t0 = time.perf_counter()
    snaps = [
        build_snapshot(
            MarginEngine(ex.instruments, table),
            ex.market,
            1,
            scenario_set=name,
            instrument_names=ex.names,
            asset_names=ex.asset_names,
        )
        for name, table in (("base", None), ("stress", deribit_scenarios(ex.instruments.n_underlyings, 0.3)))
    ]
    snap_s = time.perf_counter() - t0
    ids = tuple(f"acct-{k:06d}" for k in range(len(ex.accounts)))
    bal = ex.accounts.balances
    reserves = [
        max(0, math.ceil(float(bal[:, j].sum()) * 1.05 * 10**d))
        for j, d in enumerate(snaps[0].balance_decimals)
    ]
    fund = 10**12 * 10 ** snaps[0].money_decimals
    tmp = Path(tempfile.mkdtemp(prefix="bench_attest_"))
    e2e = (a.work or tmp) / "e2e"
    if a.work is not None and (e2e / "manifest.json").exists():
        shutil.rmtree(e2e)  # a finished bundle from an earlier run: attest afresh
    rows = []
    try:
        sample = Book(ids[: a.sample], select_accounts(ex.accounts, range(min(a.sample, len(ids)))))
        for w in (int(x) for x in a.workers.split(",")):
            cluster, client = _cluster(w)
            try:
                rep = attest(
                    snaps,
                    sample,
                    reserves,
                    fund,
                    tmp / f"s{w}",
                    tmp / f"s{w}.p",
                    chunk=a.chunk,
                    client=client,
                    threads=a.threads,
                )
            finally:
                client.close()  # type: ignore[attr-defined]
                cluster.close()  # type: ignore[attr-defined]
            rows.append(
                (
                    f"prove {len(sample.ids)} accounts x {len(snaps)} sets, {w} worker(s)",
                    f"{rep.prove_seconds:.1f} s",
                    f"{len(sample.ids) / rep.prove_seconds:.2f} accounts/s",
                )
            )
        cluster, client = _cluster(a.e2e_workers)
        try:
            t0 = time.perf_counter()
            rep = attest(
                snaps,
                Book(ids, ex.accounts),
                reserves,
                fund,
                e2e,
                e2e.with_suffix(".p"),
                chunk=a.chunk,
                client=client,
                threads=a.threads,
                resume=a.work is not None,
                progress=_log,
            )
            total = time.perf_counter() - t0
        finally:
            client.close()  # type: ignore[attr-defined]
            cluster.close()  # type: ignore[attr-defined]
        ver = verify_bundle(e2e, progress=_log)
        if not ver.ok:
            raise SystemExit(f"bundle failed to verify: {ver.failures[:5]}")
        n = len(ids)
        proved = n - rep.resumed
        rows += [
            ("end to end: snapshots (2 sets)", f"{snap_s:.1f} s", ""),
            (
                f"end to end: attest {n} accounts, {a.e2e_workers} workers"
                + (f" ({rep.resumed} resumed from an earlier run's journal)" if rep.resumed else ""),
                f"{total:.1f} s",
                f"{proved / rep.prove_seconds:.2f} accounts/s proving",
            ),
            (
                f"end to end: verify_bundle ({2 * n} proofs, batched)",
                f"{ver.seconds:.1f} s",
                f"{2 * n / ver.seconds:.1f} proofs/s",
            ),
            (
                "end to end: bundle size",
                f"{rep.bundle_bytes / 1e6:.1f} MB",
                f"{rep.bundle_bytes / n:,.0f} B/account",
            ),
            (
                "accounts with a shortfall (base / stress)",
                f"{rep.insolvent['base']} / {rep.insolvent['stress']}",
                "",
            ),
        ]
        sizes = np.diff(ex.accounts.offsets)
        rows.append(("positions per account (mean / max)", f"{sizes.mean():.1f} / {sizes.max()}", ""))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rows.append(("machine load (1/5/15 min) at start, at end", load_start, _load()))
    width = max(len(r[0]) for r in rows)
    for r in rows:
        print(f"{r[0]:<{width}}  {r[1]:>12}  {r[2]}")


if __name__ == "__main__":
    main()
