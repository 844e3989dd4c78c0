"""The attestation commands: ``zkmargin snapshot``, ``audit``, ``attest``, ``verify`` and
``verify-inclusion``. :func:`register` adds them to an ``argparse`` subparsers object;
each sets ``func`` to a handler returning the exit code."""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import ZkMarginError
from ..proof.snapshot import EpochSnapshot

__all__ = ["register"]


def _progress(enabled: bool) -> Callable[[str, int], Callable[[int], None]]:
    """A progress-bar factory: tqdm when installed (the ``progress`` extra), else one line
    per tenth on stderr; silent when disabled."""

    def make(desc: str, total: int) -> Callable[[int], None]:
        if not enabled or total == 0:
            return lambda k: None
        try:
            from tqdm import tqdm
        except ImportError:
            done = [0, 0]

            def line(k: int) -> None:
                done[0] += k
                tenth = done[0] * 10 // total
                if tenth > done[1]:
                    done[1] = tenth
                    print(f"{desc}: {done[0]}/{total}", file=sys.stderr)

            return line
        bar = tqdm(total=total, desc=desc, unit="acct", file=sys.stderr)

        def step(k: int) -> None:
            bar.update(k)
            if bar.n >= total:
                bar.close()

        return step

    return make


def load_snapshot(path: str | Path) -> EpochSnapshot:
    """A snapshot from its JSON (``.json``) or canonical bytes (anything else)."""
    p = Path(path)
    if p.suffix == ".json":
        return EpochSnapshot.from_json(json.loads(p.read_text(encoding="utf-8")))
    return EpochSnapshot.from_bytes(p.read_bytes())


# ------------------------------------------------------------------ snapshot


def _cmd_snapshot(a: argparse.Namespace) -> int:
    from .. import synthetic
    from ..engine import MarginEngine
    from ..proof.table import build_snapshot
    from ..scenarios import deribit_scenarios
    from .ledger import Book, write_book

    ex = synthetic.generate_exchange(a.synthetic, seed=a.seed)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    snaps = []
    for name, table in (
        ("base", None),
        ("stress", deribit_scenarios(ex.instruments.n_underlyings, price_range=a.stress_range)),
    ):
        eng = MarginEngine(ex.instruments, table)
        snap = build_snapshot(
            eng, ex.market, a.epoch, scenario_set=name, instrument_names=ex.names, asset_names=ex.asset_names
        )
        (out / f"snapshot-{name}.json").write_text(json.dumps(snap.to_json()))
        snaps.append((snap, eng))
    ids = tuple(f"acct-{k:06d}" for k in range(len(ex.accounts)))
    base = snaps[0][0]
    write_book(out / "positions.csv", out / "balances.csv", base, Book(ids, ex.accounts))
    # reserves 5% above the net liabilities, the fund 10% above the stress shortfalls
    with (out / "reserves.csv").open("w", encoding="utf-8") as f:
        f.write("asset,amount\n")
        for j, name in enumerate(base.asset_names):
            net = float(ex.accounts.balances[:, j].sum())
            f.write(f"{name},{max(0.0, math.ceil(net * 1.05))}\n")
    gap = 0.0
    for _, eng in snaps:
        res = eng.compute(ex.accounts, ex.market)
        gap = max(gap, float((res.maintenance_margin - res.equity).clip(min=0).sum()))
    (out / "fund.txt").write_text(f"{math.ceil(gap * 1.1) + 1}\n")
    print(
        f"wrote {out}: snapshot-base.json, snapshot-stress.json, positions.csv, balances.csv, "
        "reserves.csv, fund.txt"
    )
    return 0


def _cmd_audit(a: argparse.Namespace) -> int:
    from ..proof.table import audit_snapshot

    engines: dict[str, Any] = {}
    if a.engine == "numpy":
        from ..baseline.numpy_engine import MarginEngine as NumpyEngine

        engines["numpy"] = NumpyEngine
    elif a.engine == "reference":
        from ..baseline import MarginEngine as ReferenceEngine

        engines["reference"] = ReferenceEngine
    rep = audit_snapshot(load_snapshot(a.snapshot), engines.get(a.engine))
    print(rep.summary())
    for name, i in rep.violations:
        print(f"  outside its interval: {name}[{i}]")
    return 0 if rep.ok else 1


# ------------------------------------------------------------------ attest / verify


def _read_reserves(path: str, snap: EpochSnapshot) -> list[int]:
    from .ledger import decimal_units, read_table

    header, rows = read_table(path)
    if header != ["asset", "amount"]:
        raise ZkMarginError(f"{path}: header must be asset,amount")
    names = snap.asset_names or tuple(f"asset{j}" for j in range(snap.n_assets))
    got = {}
    for r, row in enumerate(rows, start=2):
        if len(row) != 2 or row[0] not in names or row[0] in got:
            raise ZkMarginError(f"{path} row {r}: unknown or repeated asset {row[:1]}")
        j = names.index(row[0])
        got[row[0]] = decimal_units(row[1], snap.balance_decimals[j], f"reserves of {row[0]}")
    missing = [n for n in names if n not in got]
    if missing:
        raise ZkMarginError(f"{path}: no reserves for {missing}")
    return [got[n] for n in names]


def _client(a: argparse.Namespace) -> Any:
    if a.scheduler is None and a.workers is None:
        return None
    try:
        dd: Any = importlib.import_module("dask.distributed")
    except ImportError:
        raise ZkMarginError(
            "--workers/--scheduler need dask.distributed (pip install zkmargin[dask])"
        ) from None
    # the cluster's start/stop chatter is not the user's business (-v still shows ours)
    logging.getLogger("distributed").setLevel(logging.WARNING)
    if a.scheduler is not None:
        return dd.Client(a.scheduler)
    return dd.Client(
        dd.LocalCluster(
            n_workers=a.workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.WARNING,
        )
    )


def _cmd_attest(a: argparse.Namespace) -> int:
    from .bundle import attest
    from .ledger import decimal_units, read_book

    snaps = [load_snapshot(p) for p in a.snapshot]
    book = read_book(snaps[0], a.positions, a.balances)
    reserves = _read_reserves(a.reserves, snaps[0])
    fund = decimal_units(a.fund, snaps[0].money_decimals, "fund")
    private = a.private or f"{a.out.rstrip('/')}.private"
    client = _client(a)
    try:
        rep = attest(
            snaps,
            book,
            reserves,
            fund,
            a.out,
            private,
            n=a.bits,
            chunk=a.chunk,
            backend=a.backend,
            client=client,
            threads=a.threads,
            resume=a.resume,
            progress=_progress(not a.quiet),
        )
    finally:
        if client is not None:
            client.close()
    scale = 10 ** snaps[0].money_decimals
    print(
        f"attested {rep.accounts} accounts in {rep.prove_seconds:.1f} s; "
        f"bundle {rep.bundle} ({rep.bundle_bytes:,} bytes)"
    )
    if rep.resumed:
        print(f"  resumed: the proofs of {rep.resumed} account(s) came from the interrupted run's journal")
    print(f"  merkle root {rep.merkle_root.hex()}")
    for name, k in rep.insolvent.items():
        print(
            f"  {name}: {k} accounts with a shortfall, "
            f"{rep.shortfall[name] / scale:,.2f} USD covered by the fund"
        )
    print(f"  private receipts (one per account, hand each to its holder): {rep.private}")
    return 0


def _cmd_verify(a: argparse.Namespace) -> int:
    from .bundle import verify_bundle

    rep = verify_bundle(a.bundle, backend=a.backend, progress=_progress(not a.quiet))
    if rep.ok:
        print(
            f"OK: {rep.accounts} accounts, {rep.proofs} solvency proofs, liabilities, reserves "
            f"and insurance fund verified in {rep.seconds:.1f} s"
        )
        return 0
    print(f"FAILED ({len(rep.failures)} problems):", file=sys.stderr)
    for f in rep.failures:
        print(f"  {f}", file=sys.stderr)
    return 1


def _cmd_verify_inclusion(a: argparse.Namespace) -> int:
    from .bundle import verify_receipt

    problems = verify_receipt(a.bundle, a.account, a.opening, backend=a.backend)
    if not problems:
        print(
            f"OK: account {a.account!r} is included in the bundle's Merkle root "
            "with the commitment your opening opens"
        )
        for line in _committed_book(Path(a.bundle), Path(a.opening)):
            print(f"  {line}")
        return 0
    print("FAILED:", file=sys.stderr)
    for p in problems:
        print(f"  {p}", file=sys.stderr)
    return 1


def _committed_book(bundle: Path, receipt: Path) -> list[str]:
    """What the commitment holds, for the holder to compare with their own book: every
    committed position and balance in the base snapshot's units and names."""
    from ..proof.commitments import AccountOpening

    manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    snap = load_snapshot(bundle / manifest["scenario_sets"][0]["snapshot"])
    rec = json.loads(receipt.read_text(encoding="utf-8"))
    op = AccountOpening.from_json(rec["opening"])
    ins = [int(i) for i in rec["commitment"]["instruments"]]
    names = snap.instrument_names or tuple(str(i) for i in range(snap.n_instruments))
    assets = snap.asset_names or tuple(f"asset{j}" for j in range(snap.n_assets))
    out = ["committed positions:" if ins else "committed positions: none"]
    dq = snap.quantity_decimals
    out += [f"  {names[i]}: {q / 10**dq:g}" for i, q in zip(ins, op.quantities, strict=True) if q]
    out.append("committed balances:")
    out += [
        f"  {assets[j]}: {b / 10**d:g}"
        for j, (b, d) in enumerate(zip(op.balances, snap.balance_decimals, strict=True))
    ]
    return out


def _backend(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--backend",
        choices=("native", "pyecc"),
        default="native",
        help="curve backend: the Rust extension, or pure Python (py_ecc, no extension needed)",
    )


def register(sub: Any) -> None:
    """Add the attestation subcommands to ``sub`` (from ``ArgumentParser.add_subparsers``)."""
    p = sub.add_parser("snapshot", help="write a synthetic exchange's snapshots and book for `attest`")
    p.add_argument("--synthetic", type=int, required=True, metavar="ACCOUNTS", help="accounts to generate")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epoch", type=int, default=1)
    p.add_argument("--stress-range", type=float, default=0.3, help="price range of the stress scenario set")
    p.add_argument("--out", required=True, help="directory to write")
    p.set_defaults(run=_cmd_snapshot)

    p = sub.add_parser("audit", help="recompute a snapshot's coefficient table with an engine")
    p.add_argument("snapshot", help="snapshot file (.json or canonical .bin)")
    p.add_argument("--engine", choices=("rust", "numpy", "reference"), default="rust")
    p.set_defaults(run=_cmd_audit)

    p = sub.add_parser("attest", help="prove a whole book solvent and write an attestation bundle")
    p.add_argument(
        "--snapshot",
        action="append",
        required=True,
        help="snapshot file; the first is the base set, repeat for stress sets",
    )
    p.add_argument("--positions", required=True, help="CSV or Parquet: account,instrument,quantity")
    p.add_argument("--balances", required=True, help="CSV or Parquet: account and one column per asset")
    p.add_argument("--reserves", required=True, help="CSV: asset,amount (in asset units)")
    p.add_argument("--fund", required=True, help="insurance fund in USD (decimal)")
    p.add_argument("--out", required=True, help="bundle directory to write (public)")
    p.add_argument(
        "--private", default=None, help="directory for the per-account receipts (default OUT.private)"
    )
    p.add_argument("--bits", type=int, default=64, choices=(32, 64), help="range-proof bits n")
    p.add_argument("--chunk", type=int, default=64, help="accounts per proving task")
    p.add_argument(
        "--workers", type=int, default=None, help="prove on a local Dask cluster of this many workers"
    )
    p.add_argument("--scheduler", default=None, help="prove on the Dask cluster at this scheduler address")
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="native prover threads per proving task (default: on a Dask cluster the host's cores over its "
        "worker threads, else every core)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="take the proving jobs an interrupted run finished from its journal in the private directory",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    _backend(p)
    p.set_defaults(run=_cmd_attest)

    p = sub.add_parser("verify", help="verify an attestation bundle (exit 0 only if everything holds)")
    p.add_argument("bundle")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    _backend(p)
    p.set_defaults(run=_cmd_verify)

    p = sub.add_parser("verify-inclusion", help="check your account's receipt against a bundle")
    p.add_argument("bundle")
    p.add_argument("--account", required=True, help="your account id")
    p.add_argument("--opening", required=True, help="your private receipt (JSON)")
    _backend(p)
    p.set_defaults(run=_cmd_verify_inclusion)
