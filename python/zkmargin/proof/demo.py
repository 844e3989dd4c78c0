"""Commit, prove and verify solvency for a sample of accounts (used by ``zkmargin demo``)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InsolventError, ParameterError
from .coefficients import build_statement
from .commitments import commit_account, default_balance_decimals
from .group import Group, get_group
from .solvency import SolvencyProof, batch_verify_solvency, prove_solvency, verify_solvency
from .statement import MONEY_DECIMALS

__all__ = ["DemoReport", "run_sample"]


@dataclass(frozen=True)
class DemoReport:
    """What ``run_sample`` did; times in seconds, sizes in bytes."""

    backend: str
    mode: str
    bits: int
    sampled: int
    proven: int
    insolvent: int
    refused: int
    all_valid: bool
    batch_valid: bool
    mean_proof_bytes: float
    max_m: int
    mean_commit_s: float
    mean_prove_s: float
    mean_verify_s: float
    batch_verify_s: float
    accounts: tuple[int, ...] = field(default_factory=tuple)

    def lines(self) -> list[str]:
        return [
            f"solvency proofs ({self.backend}, {self.mode} mode, {self.bits}-bit ranges): "
            f"{self.proven} proven, {self.insolvent} refused as insolvent, "
            f"{self.refused} refused (out of range) of {self.sampled} sampled",
            f"  proof size {self.mean_proof_bytes:.0f} B (mean), aggregation up to m = {self.max_m}",
            f"  commit {self.mean_commit_s * 1e3:.1f} ms, prove {self.mean_prove_s * 1e3:.1f} ms, "
            f"verify {self.mean_verify_s * 1e3:.1f} ms (means); batch verify of all "
            f"{self.batch_verify_s * 1e3:.1f} ms; every proof valid: {self.all_valid and self.batch_valid}",
        ]


def run_sample(
    engine: Any,
    accounts: Any,
    market: Any,
    n: int = 8,
    *,
    mode: str = "subset",
    backend: str | Group = "native",
    bits: int = 64,
    epoch: int = 0,
    seed: int = 0,
    max_positions: int = 12,
) -> DemoReport:
    """Commit, prove and verify solvency for ``n`` accounts drawn (deterministically by
    ``seed``) among those holding 1..``max_positions`` positions. Insolvent accounts are
    counted, and the prover must refuse them."""
    group = get_group(backend)
    rows = np.diff(np.asarray(accounts.offsets))
    eligible = np.nonzero((rows >= 1) & (rows <= max_positions))[0]
    rng = np.random.default_rng(seed)
    pick = rng.choice(eligible, size=min(n, eligible.size), replace=False) if eligible.size else eligible
    bd = default_balance_decimals(market.asset_price, MONEY_DECIMALS)
    n_ins = len(engine.instruments)
    items: list[tuple[Any, Any, SolvencyProof]] = []
    t_commit: list[float] = []
    t_prove: list[float] = []
    t_verify: list[float] = []
    sizes: list[int] = []
    ms: list[int] = []
    insolvent = refused = 0
    all_valid = True
    for a in sorted(int(x) for x in pick):
        t0 = time.perf_counter()
        com, op = commit_account(
            accounts, a, n_instruments=n_ins, balance_decimals=bd, mode=mode, backend=group
        )
        t_commit.append(time.perf_counter() - t0)
        st = build_statement(engine, market, com, f"account-{a}", epoch, mode=mode, n=bits)
        try:
            t0 = time.perf_counter()
            pr = prove_solvency(st, com, op, backend=group)
            t_prove.append(time.perf_counter() - t0)
        except InsolventError:
            insolvent += 1
            continue
        except ParameterError:
            refused += 1
            continue
        t0 = time.perf_counter()
        ok = verify_solvency(st, com, pr, backend=group)
        t_verify.append(time.perf_counter() - t0)
        all_valid &= ok
        sizes.append(pr.size_bytes)
        ms.append(pr.range_proof.m)
        items.append((st, com, pr))
    t0 = time.perf_counter()
    batch_ok = batch_verify_solvency(items, backend=group) if items else True
    t_batch = time.perf_counter() - t0

    def mean(xs: list[float]) -> float:
        return float(np.mean(xs)) if xs else 0.0

    return DemoReport(
        backend=group.name,
        mode=mode,
        bits=bits,
        sampled=len(pick),
        proven=len(items),
        insolvent=insolvent,
        refused=refused,
        all_valid=bool(all_valid),
        batch_valid=bool(batch_ok),
        mean_proof_bytes=mean([float(s) for s in sizes]),
        max_m=max(ms) if ms else 0,
        mean_commit_s=mean(t_commit),
        mean_prove_s=mean(t_prove),
        mean_verify_s=mean(t_verify),
        batch_verify_s=t_batch,
        accounts=tuple(sorted(int(x) for x in pick)),
    )
