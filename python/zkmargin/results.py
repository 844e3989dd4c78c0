"""Result containers shared by every engine."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

#: Row order of the per-account float outputs the native engine returns as one (K, A) block.
ACCOUNT_FIELDS = (
    "equity",
    "initial_margin",
    "maintenance_margin",
    "free_collateral",
    "margin_ratio",
    "scenario_loss",
    "roll_addon",
    "short_option_addon",
)
#: Order of the per-account, per-underlying Greeks (4, A, U).
GREEK_FIELDS = ("net_delta", "net_gamma", "net_vega", "net_theta")
#: Row order of the per-instrument values (6, I).
INSTRUMENT_FIELDS = ("mark_price", "mtm", "delta", "gamma", "vega", "theta")

MODELS = ("standard", "cross", "portfolio")
AGGREGATIONS = ("sum", "joint", "correlation")
#: how coin-settled P&L is margined (docs/margin-model.md §6.2)
SETTLEMENT_MODES = ("cross", "segregated")


@dataclass(frozen=True, eq=False)
class MarginResult:
    """Per-account outputs (docs/margin-model.md §7); arrays of length A, Greeks A x U."""

    model: str
    equity: NDArray[np.float64]
    initial_margin: NDArray[np.float64]
    maintenance_margin: NDArray[np.float64]
    free_collateral: NDArray[np.float64]
    margin_ratio: NDArray[np.float64]
    worst_scenario: NDArray[np.int64]
    scenario_loss: NDArray[np.float64]
    roll_addon: NDArray[np.float64]
    short_option_addon: NDArray[np.float64]
    net_delta: NDArray[np.float64]
    net_gamma: NDArray[np.float64]
    net_vega: NDArray[np.float64]
    net_theta: NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.equity.shape[0])

    @property
    def liquidatable(self) -> NDArray[np.bool_]:
        """Accounts whose equity is below maintenance margin."""
        return self.equity < self.maintenance_margin


@dataclass(frozen=True, eq=False)
class InstrumentValues:
    """Per-instrument values at today's market (docs/margin-model.md §2.3)."""

    mark_price: NDArray[np.float64]
    mtm: NDArray[np.float64]
    delta: NDArray[np.float64]
    gamma: NDArray[np.float64]
    vega: NDArray[np.float64]
    theta: NDArray[np.float64]
