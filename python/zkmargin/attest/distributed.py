"""Proving and margining on a ``dask.distributed`` cluster (the ``dask`` extra).

The snapshots are scattered to every worker once; each task commits and proves one chunk
of accounts (:func:`zkmargin.attest.work.prove_chunk`). Margining a large book splits it
into account chunks and ships the (picklable) engine and market with each task.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..book import Accounts
from ..errors import ParameterError
from ..proof.snapshot import EpochSnapshot
from .work import AccountResult, ProveJob, prove_chunk, select_accounts

__all__ = ["margin_on_dask", "run_jobs", "task_threads"]


def _as_completed() -> Any:
    try:
        from dask.distributed import as_completed
    except ImportError as e:
        raise ParameterError(
            "Dask proving needs dask.distributed (pip install zkmargin[dask])", "client"
        ) from e
    return as_completed


def task_threads(client: Any) -> int:
    """Prover threads per task on ``client``'s cluster: each worker thread runs one task at
    a time, so a task gets its host's cores divided by the worker threads on that host
    (at least 1; the smallest share over hosts, so that no host is oversubscribed)."""
    from dask.distributed import comm

    cores = client.run(os.cpu_count)  # worker address -> cores of its host
    slots: dict[str, int] = client.nthreads()  # worker address -> its threads
    hosts: dict[str, list[str]] = {}
    for addr in slots:
        hosts.setdefault(comm.get_address_host(addr), []).append(addr)
    shares = [max(1, (cores[addrs[0]] or 1) // sum(slots[a] for a in addrs)) for addrs in hosts.values()]
    return min(shares, default=1)


def run_jobs(
    client: Any,
    jobs: Sequence[ProveJob],
    snapshots: Sequence[EpochSnapshot],
    done: Callable[[ProveJob, list[AccountResult]], None],
) -> list[AccountResult]:
    """Run every job on ``client``'s workers; ``done(job, results)`` after each finished
    job, in the order they finish."""
    as_completed = _as_completed()
    snaps = client.scatter(list(snapshots), broadcast=True)
    futures = client.map(prove_chunk, list(jobs), snapshots=snaps, pure=False)
    job_of = {f.key: j for f, j in zip(futures, jobs, strict=True)}
    out: list[AccountResult] = []
    for fut in as_completed(futures):
        part = fut.result()
        out.extend(part)
        done(job_of[fut.key], part)
    return out


def _margin_chunk(engine: Any, accounts: Accounts, market: Any, model: str) -> dict[str, np.ndarray]:
    res = engine.compute(accounts, market, model)
    return {
        "equity": res.equity,
        "maintenance_margin": res.maintenance_margin,
        "initial_margin": res.initial_margin,
    }


def margin_on_dask(
    client: Any, engine: Any, accounts: Accounts, market: Any, model: str = "portfolio", chunk: int = 10_000
) -> dict[str, np.ndarray]:
    """Equity, initial and maintenance margin of every account of ``accounts``, computed
    in chunks of ``chunk`` accounts on ``client``'s workers (in account order)."""
    _as_completed()
    if chunk < 1:
        raise ParameterError("chunk must be >= 1", "chunk")
    eng = client.scatter(engine, broadcast=True)
    mkt = client.scatter(market, broadcast=True)
    parts = [
        client.submit(
            _margin_chunk, eng, select_accounts(accounts, range(i, min(i + chunk, len(accounts)))), mkt, model
        )
        for i in range(0, len(accounts), chunk)
    ]
    got = client.gather(parts)
    keys = ("equity", "maintenance_margin", "initial_margin")
    return {k: np.concatenate([g[k] for g in got]) if got else np.zeros(0) for k in keys}
