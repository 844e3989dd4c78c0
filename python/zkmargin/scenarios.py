"""Scenario tables: Deribit-style and SPAN presets, and custom joint tables
(docs/margin-model.md §6.1)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import _args, _arrays
from .errors import NonFiniteError, ParameterError, ShapeError

DERIBIT_EXTENDED_MOVES = (-0.66, -0.33, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0)
VOL_SHIFTS = ("relative", "absolute")


#: the most underlyings a preset table is built for: the table holds rows x underlyings
#: cells, so an underlying index far beyond any real universe (``Instruments`` with
#: ``underlying=[2**40]``) is refused before terabytes are allocated
MAX_UNDERLYINGS = 1 << 16
#: the most price buckets either side of zero in Deribit's table
MAX_BUCKETS = 1000


def _check_n_underlyings(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise ParameterError(f"n_underlyings must be an int, got {n!r}", "n_underlyings")
    if not 1 <= n <= MAX_UNDERLYINGS:
        raise ParameterError(f"n_underlyings must be in [1, {MAX_UNDERLYINGS}], got {n}", "n_underlyings")


#: the vol-shock parameters, one value per underlying (a scalar applies to all)
VOL_FIELDS = ("vol_up", "vol_down", "power_short", "power_long", "min_vol_up")


@dataclass(frozen=True, eq=False)
class ScenarioTable:
    """``S x U`` price moves, vol-shock levels in [-1, 1] and weights, plus the vol-shock rule
    (per underlying), the move each row's P&L is expressed at (``edge``, the move itself
    unless the row is one of Deribit's extended rows), a USD dampener per cell and optional
    per-underlying roll parameters (docs/margin-model.md §6.1).

    ``vol_shift`` is ``"relative"`` (``vol * (1 + v vol_up mult)``) or ``"absolute"`` (vol
    points, ``vol + v vol_up mult``); ``look_ahead`` is the time decay, in years, the scenarios
    include (options revalued ``look_ahead`` closer to expiry, §6.1-§6.2)."""

    moves: NDArray[np.float64]
    vol_shocks: NDArray[np.float64]
    weights: NDArray[np.float64]
    vol_up: NDArray[np.float64]
    vol_down: NDArray[np.float64]
    power_short: NDArray[np.float64]
    power_long: NDArray[np.float64]
    min_vol_up: NDArray[np.float64]
    edge: NDArray[np.float64]
    dampener: NDArray[np.float64]
    annual_move_risk: NDArray[np.float64] | None
    min_annual_move: NDArray[np.float64] | None
    pnl_offset: NDArray[np.float64]
    max_offsetable_pnl: NDArray[np.float64]
    vol_shift: str
    look_ahead: float

    def __init__(
        self,
        moves: Any,
        vol_shocks: Any,
        weights: Any,
        vol_up: Any = 0.5,
        vol_down: Any = 0.25,
        power_short: Any = 0.30,
        power_long: Any = 0.13,
        min_vol_up: Any = 0.5,
        edge: Any = None,
        dampener: Any = None,
        annual_move_risk: Any = None,
        min_annual_move: Any = None,
        pnl_offset: Any = 1.0,
        max_offsetable_pnl: Any = math.inf,
        vol_shift: str = "relative",
        look_ahead: float = 0.0,
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
        if not isinstance(vol_shift, str) or vol_shift not in VOL_SHIFTS:
            raise ParameterError(f"vol_shift must be one of {VOL_SHIFTS}, got {vol_shift!r}", "vol_shift")
        if not isinstance(look_ahead, (int, float)) or not np.isfinite(look_ahead) or look_ahead < 0:
            raise ParameterError(
                f"look_ahead must be finite and >= 0 (years), got {look_ahead}", "look_ahead"
            )
        object.__setattr__(self, "vol_shift", vol_shift)
        object.__setattr__(self, "look_ahead", float(look_ahead))
        e = m.copy() if edge is None else _arrays.f64("edge", edge, ndim=2)
        d = np.zeros_like(m) if dampener is None else _arrays.f64("dampener", dampener, ndim=2)
        for name, arr in (("edge", e), ("dampener", d)):
            if arr.shape != m.shape:
                raise ShapeError(f"{name} {arr.shape} must have the shape of moves {m.shape}", name)
        cells = (("moves", m), ("vol_shocks", v), ("weights", w), ("edge", e), ("dampener", d))
        for name, arr in cells:
            bad = np.flatnonzero(~np.isfinite(arr.ravel()))
            if bad.size:
                raise NonFiniteError(f"{name} has a non-finite entry", name, int(bad[0]))
        for name, bad_mask, rule in (
            ("moves", m <= -1.0, "> -1"),
            ("vol_shocks", np.abs(v) > 1.0, "in [-1, 1]"),
            ("weights", w < 0.0, ">= 0"),
            ("edge", e <= -1.0, "> -1"),
            ("dampener", d < 0.0, ">= 0"),
        ):
            bad = np.flatnonzero(bad_mask.ravel())
            if bad.size:
                raise ParameterError(f"{name} entries must be {rule}", name, int(bad[0]))
        n_u = m.shape[1]
        values = dict(zip(VOL_FIELDS, (vol_up, vol_down, power_short, power_long, min_vol_up), strict=True))
        for name, value in values.items():
            object.__setattr__(self, name, _nonnegative_per_underlying(name, value, n_u))
        roll = {"annual_move_risk": annual_move_risk, "min_annual_move": min_annual_move}
        if (annual_move_risk is None) != (min_annual_move is None):
            raise ParameterError(
                "per-underlying roll parameters need both annual_move_risk and min_annual_move",
                "annual_move_risk" if annual_move_risk is None else "min_annual_move",
            )
        for name, value in roll.items():
            per_u = None if value is None else _nonnegative_per_underlying(name, value, n_u)
            object.__setattr__(self, name, per_u)
        offset = _nonnegative_per_underlying("pnl_offset", pnl_offset, n_u)
        bad = np.flatnonzero(offset > 1.0)
        if bad.size:
            raise ParameterError("pnl_offset must be in [0, 1]", "pnl_offset", int(bad[0]))
        object.__setattr__(self, "pnl_offset", offset)
        cap = _nonnegative_per_underlying("max_offsetable_pnl", max_offsetable_pnl, n_u, allow_inf=True)
        object.__setattr__(self, "max_offsetable_pnl", cap)
        for name, arr in cells:
            object.__setattr__(self, name, arr)

    @property
    def n_scenarios(self) -> int:
        """Rows ``S`` of the table."""
        return int(self.moves.shape[0])

    @property
    def n_underlyings(self) -> int:
        """Columns ``U`` of the table."""
        return int(self.moves.shape[1])


def _nonnegative_per_underlying(
    name: str, value: Any, n_underlyings: int, allow_inf: bool = False
) -> NDArray[np.float64]:
    """``value`` (a scalar or one entry per underlying) as a ``(U,)`` array of values >= 0,
    finite unless ``allow_inf`` (then ``+inf`` is allowed)."""
    arr = _arrays.f64(name, value, ndim=np.ndim(value))
    if arr.ndim > 1 or (arr.ndim == 1 and arr.shape[0] != n_underlyings):
        raise ShapeError(f"{name} must be a scalar or have one entry per underlying ({n_underlyings})", name)
    out = np.array(np.broadcast_to(arr, (n_underlyings,)), dtype=np.float64)
    ok = (np.isfinite(out) | (allow_inf & (out == math.inf))) & (out >= 0)
    bad = np.flatnonzero(~ok)
    if bad.size:
        raise ParameterError(f"{name} must be finite and >= 0, got {out[bad[0]]!r}", name, int(bad[0]))
    return out


def _per_underlying(name: str, value: Any, n_underlyings: int) -> NDArray[np.float64]:
    arr = _arrays.f64(name, value, ndim=np.ndim(value))
    if arr.ndim > 1 or (arr.ndim == 1 and arr.shape[0] != n_underlyings):
        raise ShapeError(f"{name} must be a scalar or have one entry per underlying ({n_underlyings})", name)
    arr = np.broadcast_to(arr, (n_underlyings,))
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0) or np.any(arr >= 1):
        raise ParameterError(f"{name} must be in (0, 1) for every underlying", name)
    return np.array(arr, dtype=np.float64)


@dataclass(frozen=True)
class DeribitCurrency:
    """One currency's portfolio-margin parameters, named as Deribit's ``private/pme/simulate``
    reports them (``model_params.currency_pair.<ccy>_usd`` and ``model_params.currency.<ccy>``).
    The defaults are Deribit's BTC set of that page's example (docs/margin-model.md §6.1)."""

    price_range: float = 0.16
    volatility_range_up: float = 0.5
    volatility_range_down: float = 0.25
    short_term_vega_power: float = 0.30
    long_term_vega_power: float = 0.13
    min_volatility_for_shock_up: float = 0.5
    extended_table_factor: float = 1.0
    #: USD; the extended rows' losses are reduced by ``(|m| / R - 1) * extended_dampener``
    extended_dampener: float = 100_000.0
    annualised_move_risk: float = 0.075
    min_annualised_move: float = 0.01
    #: share of this currency's scenario gains that offsets other currencies' losses
    #: (joint aggregation), in [0, 1], and its cap in USD (``math.inf``: none)
    pnl_offset: float = 0.0
    max_offsetable_pnl: float = 0.0

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            unbounded = name == "max_offsetable_pnl" and value == math.inf
            if not isinstance(value, (int, float)) or not (math.isfinite(value) or unbounded) or value < 0:
                raise ParameterError(f"{name} must be a finite number >= 0, got {value!r}", name)
        if self.pnl_offset > 1.0:
            raise ParameterError(f"pnl_offset must be in [0, 1], got {self.pnl_offset!r}", "pnl_offset")
        if not 0.0 < self.price_range < 1.0:
            raise ParameterError(f"price_range must be in (0, 1), got {self.price_range!r}", "price_range")


#: Deribit's BTC parameter set (docs.deribit.com, private/pme/simulate, example response)
DERIBIT_BTC = DeribitCurrency()


def deribit_scenarios(
    n_underlyings: int,
    price_range: Any = 0.16,
    buckets: int = 4,
    extended_moves: tuple[float, ...] = DERIBIT_EXTENDED_MOVES,
    extended_factor: Any = 1.0,
    vol_up: Any = 0.5,
    vol_down: Any = 0.25,
    power_short: Any = 0.30,
    power_long: Any = 0.13,
    min_vol_up: Any = 0.5,
    extended_dampener: Any = 100_000.0,
    currencies: Sequence[DeribitCurrency] | None = None,
) -> ScenarioTable:
    """Deribit's portfolio-margin table: (2*buckets+1) moves x vol up/same/down, then the
    extended moves with vol up, each expressed at the edge ``±R`` of the standard range
    with Deribit's fraction and dampener. 35 rows with the defaults.

    Every parameter may be a scalar or one value per underlying; ``currencies`` instead
    gives one :class:`DeribitCurrency` per underlying (then the roll parameters and the
    gain offsets come from the sets too, the roll ones overriding ``MarginParams``)."""
    _check_n_underlyings(n_underlyings)
    buckets = _args.integer("buckets", buckets, 1, MAX_BUCKETS)
    roll: dict[str, Any] = {}
    if currencies is not None:
        sets = list(currencies)
        if len(sets) != n_underlyings:
            raise ParameterError(
                f"currencies has {len(sets)} parameter sets for {n_underlyings} underlyings: "
                f"underlying {min(len(sets), n_underlyings)} is not covered"
                if len(sets) < n_underlyings
                else f"currencies has {len(sets)} parameter sets for {n_underlyings} underlyings",
                "currencies",
                min(len(sets), n_underlyings),
            )
        for k, c in enumerate(sets):
            if not isinstance(c, DeribitCurrency):
                raise ParameterError(f"currencies[{k}] is not a DeribitCurrency", "currencies", k)

        def col(name: str) -> NDArray[np.float64]:
            return np.array([getattr(c, name) for c in sets], dtype=np.float64)

        price_range, extended_factor = col("price_range"), col("extended_table_factor")
        vol_up, vol_down = col("volatility_range_up"), col("volatility_range_down")
        power_short, power_long = col("short_term_vega_power"), col("long_term_vega_power")
        min_vol_up, extended_dampener = col("min_volatility_for_shock_up"), col("extended_dampener")
        roll = {
            "annual_move_risk": col("annualised_move_risk"),
            "min_annual_move": col("min_annualised_move"),
            "pnl_offset": col("pnl_offset"),
            "max_offsetable_pnl": col("max_offsetable_pnl"),
        }
    rng = _per_underlying("price_range", price_range, n_underlyings)
    factor = _nonnegative_per_underlying("extended_factor", extended_factor, n_underlyings)
    damp = _nonnegative_per_underlying("extended_dampener", extended_dampener, n_underlyings)
    fractions = np.linspace(-1.0, 1.0, 2 * buckets + 1)
    moves, shocks, weights, edges, dampeners = [], [], [], [], []
    for f in fractions:
        for v in (1.0, 0.0, -1.0):
            moves.append(f * rng)
            shocks.append(np.full(n_underlyings, v))
            weights.append(np.ones(n_underlyings))
            edges.append(f * rng)
            dampeners.append(np.zeros(n_underlyings))
    for m in extended_moves:
        if not (_args.number("extended_moves", m) > -1.0 and m != 0.0):
            raise ParameterError(
                f"extended moves must be finite, > -1 and non-zero, got {m!r}", "extended_moves"
            )
        moves.append(np.full(n_underlyings, m))
        shocks.append(np.ones(n_underlyings))
        weights.append(np.minimum(1.0, factor * rng / abs(m)))
        edges.append(np.copysign(np.minimum(rng, abs(m)), m))
        dampeners.append(damp * np.maximum(abs(m) / rng - 1.0, 0.0))
    return ScenarioTable(
        np.array(moves),
        np.array(shocks),
        np.array(weights),
        vol_up=vol_up,
        vol_down=vol_down,
        power_short=power_short,
        power_long=power_long,
        min_vol_up=min_vol_up,
        edge=np.array(edges),
        dampener=np.array(dampeners),
        **roll,
    )


def span_scenarios(
    n_underlyings: int,
    scan_range: Any = 0.16,
    vol_range: float = 0.25,
    extreme_multiple: float = 2.0,
    extreme_weight: float = 0.35,
    vol_shift: str = "relative",
    look_ahead_days: float = 0.0,
) -> ScenarioTable:
    """CME SPAN's 16 scenarios in CME's order. Vol shocks are relative (vol * (1 +- vol_range))
    or, with ``vol_shift="absolute"``, in vol points (vol +- vol_range); ``look_ahead_days``
    of time decay (CME: one day) are priced into every scenario."""
    _check_n_underlyings(n_underlyings)
    extreme_multiple = _args.number("extreme_multiple", extreme_multiple)
    extreme_weight = _args.number("extreme_weight", extreme_weight)
    look_ahead_days = _args.number("look_ahead_days", look_ahead_days)
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
        vol_shift=vol_shift,
        look_ahead=look_ahead_days / 365.0 if np.isfinite(look_ahead_days) else look_ahead_days,
    )
