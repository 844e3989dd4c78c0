"""Scenario tables: Deribit-style and SPAN presets, and custom joint tables
(docs/margin-model.md §6.1)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import _arrays
from .errors import NonFiniteError, ParameterError, ShapeError

DERIBIT_EXTENDED_MOVES = (-0.66, -0.33, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0)


@dataclass(frozen=True, eq=False)
class ScenarioTable:
    """``S x U`` price moves, vol-shock levels in [-1, 1] and weights, plus the vol-shock rule."""

    moves: NDArray[np.float64]
    vol_shocks: NDArray[np.float64]
    weights: NDArray[np.float64]
    vol_up: float = 0.5
    vol_down: float = 0.25
    power_short: float = 0.30
    power_long: float = 0.13
    min_vol_up: float = 0.5

    def __init__(
        self,
        moves: Any,
        vol_shocks: Any,
        weights: Any,
        vol_up: float = 0.5,
        vol_down: float = 0.25,
        power_short: float = 0.30,
        power_long: float = 0.13,
        min_vol_up: float = 0.5,
    ) -> None:
        m = _arrays.f64("moves", moves, ndim=2)
        v = _arrays.f64("vol_shocks", vol_shocks, ndim=2)
        w = _arrays.f64("weights", weights, ndim=2)
        if v.shape != m.shape or w.shape != m.shape:
            raise ShapeError(
                f"moves {m.shape}, vol_shocks {v.shape} and weights {w.shape} must have one shape",
                "vol_shocks" if v.shape != m.shape else "weights",
            )
        if m.shape[0] == 0:
            raise ShapeError("a scenario table needs at least one scenario", "moves")
        for name, arr in (("moves", m), ("vol_shocks", v), ("weights", w)):
            bad = np.flatnonzero(~np.isfinite(arr.ravel()))
            if bad.size:
                raise NonFiniteError(f"{name} has a non-finite entry", name, int(bad[0]))
        for name, bad_mask, rule in (
            ("moves", m <= -1.0, "> -1"),
            ("vol_shocks", np.abs(v) > 1.0, "in [-1, 1]"),
            ("weights", w < 0.0, ">= 0"),
        ):
            bad = np.flatnonzero(bad_mask.ravel())
            if bad.size:
                raise ParameterError(f"{name} entries must be {rule}", name, int(bad[0]))
        for name, value in (
            ("vol_up", vol_up),
            ("vol_down", vol_down),
            ("power_short", power_short),
            ("power_long", power_long),
            ("min_vol_up", min_vol_up),
        ):
            if not np.isfinite(value) or value < 0:
                raise ParameterError(f"{name} must be finite and >= 0, got {value!r}", name)
        for name, arr in (("moves", m), ("vol_shocks", v), ("weights", w)):
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "vol_up", float(vol_up))
        object.__setattr__(self, "vol_down", float(vol_down))
        object.__setattr__(self, "power_short", float(power_short))
        object.__setattr__(self, "power_long", float(power_long))
        object.__setattr__(self, "min_vol_up", float(min_vol_up))

    @property
    def n_scenarios(self) -> int:
        """Rows ``S`` of the table."""
        return int(self.moves.shape[0])

    @property
    def n_underlyings(self) -> int:
        """Columns ``U`` of the table."""
        return int(self.moves.shape[1])


def _per_underlying(name: str, value: Any, n_underlyings: int) -> NDArray[np.float64]:
    arr = np.broadcast_to(_arrays.f64(name, value, ndim=np.ndim(value)), (n_underlyings,))
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0) or np.any(arr >= 1):
        raise ParameterError(f"{name} must be in (0, 1) for every underlying", name)
    return np.array(arr, dtype=np.float64)


def deribit_scenarios(
    n_underlyings: int,
    price_range: Any = 0.16,
    buckets: int = 4,
    extended_moves: tuple[float, ...] = DERIBIT_EXTENDED_MOVES,
    extended_factor: float = 1.0,
    vol_up: float = 0.5,
    vol_down: float = 0.25,
    power_short: float = 0.30,
    power_long: float = 0.13,
    min_vol_up: float = 0.5,
) -> ScenarioTable:
    """Deribit's portfolio-margin table: (2*buckets+1) moves x vol up/same/down, then the
    weighted extended moves with vol up. 35 rows with the defaults."""
    if n_underlyings < 1:
        raise ParameterError("n_underlyings must be >= 1", "n_underlyings")
    if buckets < 1:
        raise ParameterError("buckets must be >= 1", "buckets")
    if not np.isfinite(extended_factor) or extended_factor < 0:
        raise ParameterError("extended_factor must be finite and >= 0", "extended_factor")
    rng = _per_underlying("price_range", price_range, n_underlyings)
    fractions = np.linspace(-1.0, 1.0, 2 * buckets + 1)
    moves, shocks, weights = [], [], []
    for f in fractions:
        for v in (1.0, 0.0, -1.0):
            moves.append(f * rng)
            shocks.append(np.full(n_underlyings, v))
            weights.append(np.ones(n_underlyings))
    for m in extended_moves:
        moves.append(np.full(n_underlyings, m))
        shocks.append(np.ones(n_underlyings))
        weights.append(np.minimum(1.0, extended_factor * rng / abs(m)))
    return ScenarioTable(
        np.array(moves),
        np.array(shocks),
        np.array(weights),
        vol_up=vol_up,
        vol_down=vol_down,
        power_short=power_short,
        power_long=power_long,
        min_vol_up=min_vol_up,
    )


def span_scenarios(
    n_underlyings: int,
    scan_range: Any = 0.16,
    vol_range: float = 0.25,
    extreme_multiple: float = 2.0,
    extreme_weight: float = 0.35,
) -> ScenarioTable:
    """CME SPAN's 16 scenarios in CME's order; vol shocks are relative (vol * (1 +- vol_range))."""
    if n_underlyings < 1:
        raise ParameterError("n_underlyings must be >= 1", "n_underlyings")
    rng = _per_underlying("scan_range", scan_range, n_underlyings)
    if not (np.isfinite(extreme_multiple) and extreme_multiple > 0 and rng.max() * extreme_multiple < 1):
        raise ParameterError("extreme_multiple * scan_range must be in (0, 1)", "extreme_multiple")
    rows = []
    for frac in (0.0, 1 / 3, -1 / 3, 2 / 3, -2 / 3, 1.0, -1.0):
        rows.append((frac, 1.0, 1.0))
        rows.append((frac, -1.0, 1.0))
    rows.append((extreme_multiple, 0.0, extreme_weight))
    rows.append((-extreme_multiple, 0.0, extreme_weight))
    moves = np.array([f * rng for f, _, _ in rows])
    shocks = np.array([np.full(n_underlyings, v) for _, v, _ in rows])
    weights = np.array([np.full(n_underlyings, w) for _, _, w in rows])
    return ScenarioTable(
        moves,
        shocks,
        weights,
        vol_up=vol_range,
        vol_down=vol_range,
        power_short=0.0,
        power_long=0.0,
        min_vol_up=0.0,
    )
