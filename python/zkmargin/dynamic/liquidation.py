"""Health, partial liquidation and the batch liquidation scan (docs §10.8)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .. import _arrays, _core
from ..book import Accounts
from ..errors import ParameterError
from ..results import MarginResult
from .risk import LiquidityRule, _threads

TARGETS = ("initial", "maintenance")


@dataclass(frozen=True, eq=False)
class LiquidationScan:
    """Liquidatable accounts, largest shortfall first. ``fraction`` of every position of the
    account is closed (pro rata); ``full`` marks the whole-account fallback; ``bad_debt`` is
    what a full close-out leaves uncovered."""

    account: NDArray[np.int64]
    shortfall: NDArray[np.float64]
    fraction: NDArray[np.float64]
    full: NDArray[np.bool_]
    bad_debt: NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.account.shape[0])

    def closed_quantities(
        self, accounts: Accounts
    ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
        """(row index into ``accounts``, instrument, signed quantity to close) for every
        position of every liquidated account, in scan order."""
        starts, ends = accounts.offsets[self.account], accounts.offsets[self.account + 1]
        counts = ends - starts
        first_out = np.cumsum(counts) - counts  # where each account's rows start in the output
        rows = np.repeat(starts - first_out, counts) + np.arange(int(counts.sum()))
        frac = np.repeat(self.fraction, counts)
        return rows, accounts.instrument[rows], frac * accounts.quantity[rows]


def health(margin: MarginResult, extra_requirement: Any = 0.0) -> NDArray[np.float64]:
    """``equity - (maintenance margin + add-ons)``; liquidatable where negative."""
    return margin.equity - (margin.maintenance_margin + np.asarray(extra_requirement, dtype=np.float64))


def liquidation_targets(
    margin: MarginResult, target: str = "initial", buffer: float = 0.0
) -> NDArray[np.float64]:
    """Base requirement a partial liquidation must restore: IM, or ``(1 + buffer) MM``."""
    if target not in TARGETS:
        raise ParameterError(f"target must be one of {TARGETS}, got {target!r}", "target")
    if not (np.isfinite(buffer) and buffer >= 0):
        raise ParameterError("buffer must be finite and >= 0", "buffer")
    if target == "initial":
        return np.ascontiguousarray(margin.initial_margin)
    return np.ascontiguousarray(margin.maintenance_margin * (1.0 + buffer))


def liquidation_scan(
    accounts: Accounts,
    equity: Any,
    maintenance: Any,
    target: Any,
    rule: LiquidityRule,
    penalty: float = 0.025,
    threads: int | None = None,
) -> LiquidationScan:
    """Every account with ``equity < maintenance + add-ons``, ordered by shortfall, with the
    smallest pro-rata close-out fraction ``f`` after which
    ``equity - f (penalty + half spread) notional >= (1 - f) target + add-ons((1 - f) q)``;
    ``f = 1`` (full) when no partial close-out restores it."""
    out = _core.dyn_liquidation_scan(
        _arrays.f64("equity", equity),
        _arrays.f64("maintenance", maintenance),
        _arrays.f64("target", target),
        float(penalty),
        *rule.args(),
        accounts.offsets,
        accounts.instrument,
        accounts.quantity,
        _threads(threads),
    )
    return LiquidationScan(*out)


def scan_margin(
    accounts: Accounts,
    margin: MarginResult,
    rule: LiquidityRule,
    penalty: float = 0.025,
    target: str = "initial",
    buffer: float = 0.0,
    threads: int | None = None,
) -> LiquidationScan:
    """:func:`liquidation_scan` fed from an engine result."""
    tgt = liquidation_targets(margin, target, buffer)
    return liquidation_scan(accounts, margin.equity, margin.maintenance_margin, tgt, rule, penalty, threads)
