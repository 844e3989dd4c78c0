"""The unit of proving work: commit and prove a chunk of accounts under every scenario
set. Jobs and results are plain picklable values, so they run in-process, in a pool or on
Dask workers alike."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..book import Accounts
from ..errors import ParameterError, ProofError
from ..proof.commitments import AccountOpening, commit_account
from ..proof.group import Group, NativeGroup, get_group
from ..proof.snapshot import EpochSnapshot
from ..proof.solvency import Shortfall, prove_account
from .ledger import Book

__all__ = ["AccountResult", "ProveJob", "chunk_jobs", "prove_chunk", "select_accounts"]


@dataclass(frozen=True)
class ProveJob:
    """Accounts ``ids`` (their book rows in ``accounts``) to commit and prove; the
    snapshots travel separately (Dask ships them to each worker once). ``threads``: the
    native prover's thread count for this job (``None``: the core's default rule, every
    core unless ``ZKMARGIN_THREADS`` says otherwise)."""

    ids: tuple[str, ...]
    accounts: Accounts
    n: int
    backend: str
    threads: int | None = None


@dataclass(frozen=True)
class AccountResult:
    account_id: str
    commitment: bytes
    opening: AccountOpening
    proofs: tuple[bytes, ...]  # one per scenario set
    shortfalls: tuple[Shortfall, ...]


def select_accounts(accounts: Accounts, rows: Sequence[int]) -> Accounts:
    """The book of accounts ``rows`` of ``accounts`` (in that order): their CSR rows and
    balances, without the caller's ids (attestations carry ids separately)."""
    off = accounts.offsets
    spans = [np.arange(off[k], off[k + 1]) for k in rows]
    sel = np.concatenate(spans) if spans else np.zeros(0, dtype=np.int64)
    counts = np.array([off[k + 1] - off[k] for k in rows], dtype=np.int64)
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return Accounts(
        offsets,
        np.ascontiguousarray(accounts.instrument[sel]),
        np.ascontiguousarray(accounts.quantity[sel]),
        np.ascontiguousarray(accounts.balances[list(rows)]),
    )


def chunk_jobs(
    book: Book, order: Sequence[int], *, n: int, chunk: int, backend: str, threads: int | None = None
) -> list[ProveJob]:
    """Jobs of ``chunk`` accounts each, in ``order`` (indices into the book)."""
    if chunk < 1:
        raise ParameterError("chunk must be >= 1", "chunk")
    if threads is not None and (type(threads) is not int or not 1 <= threads <= 1024):
        raise ParameterError(f"threads must be None or an int in [1, 1024], got {threads!r}", "threads")
    return [
        ProveJob(tuple(book.ids[k] for k in part), select_accounts(book.accounts, part), n, backend, threads)
        for part in (order[i : i + chunk] for i in range(0, len(order), chunk))
    ]


_NATIVE: dict[int, NativeGroup] = {}


def _group(job: ProveJob) -> str | Group:
    """The backend a job proves with: the shared one, or for a native job with its own
    thread count a cached native backend of that many threads (cached so that its
    generator vectors are derived once per process)."""
    if job.threads is None:
        return job.backend
    if get_group(job.backend).name != "native":
        raise ParameterError(f"threads applies to the native backend, not {job.backend!r}", "threads")
    g = _NATIVE.get(job.threads)
    if g is None:
        g = _NATIVE.setdefault(job.threads, NativeGroup(job.threads))
    return g


def prove_chunk(job: ProveJob, snapshots: Sequence[EpochSnapshot]) -> list[AccountResult]:
    """Commit every account of the job (subset mode, fresh OS randomness) and prove its
    shortfall statement under every snapshot."""
    base = snapshots[0]
    backend = _group(job)
    digests = [s.digest(backend) for s in snapshots]
    out = []
    for k, aid in enumerate(job.ids):
        com, op = commit_account(
            job.accounts,
            k,
            n_instruments=base.n_instruments,
            balance_decimals=base.balance_decimals,
            quantity_decimals=base.quantity_decimals,
            backend=backend,
        )
        proofs = []
        shorts = []
        for snap, d in zip(snapshots, digests, strict=True):
            pr, short = prove_account(snap, aid, com, op, n=job.n, backend=backend, digest=d)
            if short is None:
                raise ProofError("a shortfall statement returned no shortfall")
            proofs.append(pr.to_bytes())
            shorts.append(short)
        out.append(AccountResult(aid, com.to_bytes(), op, tuple(proofs), tuple(shorts)))
    return out
