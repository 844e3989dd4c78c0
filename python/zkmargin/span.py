"""CME SPAN's per-commodity rules for the ``"span"`` aggregation (docs/margin-model.md §6.3):
calendar (intra-commodity) spread charge rates and inter-commodity spread tiers.

The engine's native core validates the numbers again (the same rules, typed errors naming
``span_intra_rate``, ``span_legs``, ``span_ratios`` or ``span_rates`` and the index); this
module only gives them names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from . import _arrays
from .errors import ParameterError


class NativeSpan(NamedTuple):
    """SPAN rules as the native engine reads them (``zkmargin._core.margin.Engine``)."""

    intra_rate: NDArray[np.float64]  # (U,)
    legs: NDArray[np.int64]  # (K, 2)
    ratios: NDArray[np.float64]  # (K, 2)
    rates: NDArray[np.float64]  # (K,)


@dataclass(frozen=True)
class InterSpread:
    """One inter-commodity spread tier: ``ratio_a`` USD of net delta of underlying ``leg_a``
    against ``ratio_b`` of ``leg_b`` per spread (signed: opposite signs pair a long with a
    short), credited at ``rate`` (in [0, 1]) of each leg's weighted price risk."""

    leg_a: int
    leg_b: int
    ratio_a: float = 1.0
    ratio_b: float = -1.0
    rate: float = 0.5


@dataclass(frozen=True)
class SpanRules:
    """``intra_rate``: calendar spread charge per USD of offsetting delta across expiries,
    one number or one per underlying; ``inter_spreads``: the tiers in priority order."""

    intra_rate: Any = 0.0
    inter_spreads: Sequence[InterSpread] = field(default_factory=tuple)

    def native(self, n_underlyings: int) -> NativeSpan:
        """The rules as the native engine reads them, for ``n_underlyings`` underlyings."""
        rate = _arrays.f64("span_intra_rate", self.intra_rate, ndim=np.ndim(self.intra_rate))
        if rate.ndim > 1 or (rate.ndim == 1 and rate.shape[0] != n_underlyings):
            raise ParameterError(
                f"span_intra_rate: one number or one per underlying ({n_underlyings})", "span_intra_rate"
            )
        intra = np.ascontiguousarray(np.broadcast_to(rate, (n_underlyings,)), dtype=np.float64)
        spreads = tuple(self.inter_spreads)
        for k, sp in enumerate(spreads):
            if not isinstance(sp, InterSpread):
                raise ParameterError(
                    "inter_spreads entries must be zkmargin.span.InterSpread", "span_legs", k
                )
        legs = np.array([[sp.leg_a, sp.leg_b] for sp in spreads], dtype=np.int64).reshape(-1, 2)
        ratios = np.array([[sp.ratio_a, sp.ratio_b] for sp in spreads], dtype=np.float64).reshape(-1, 2)
        rates = np.array([sp.rate for sp in spreads], dtype=np.float64)
        return NativeSpan(intra, legs, ratios, rates)
