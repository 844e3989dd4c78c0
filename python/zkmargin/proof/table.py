"""The epoch snapshot's published coefficient table: building a snapshot from an engine
(the table rule of docs/proof-spec.md §10.3) and auditing a snapshot by recomputing its
table with any engine (§10.5)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from ..errors import ParameterError
from .coefficients import RealCoefficients, real_coefficients, refuse_unprovable, widened
from .commitments import QUANTITY_DECIMALS, default_balance_decimals
from .snapshot import (
    MARGIN_BITS,
    PARAM_FIELDS,
    SCENARIO_FIELDS,
    EpochSnapshot,
)
from .statement import MONEY_DECIMALS

__all__ = ["AuditReport", "audit_snapshot", "build_snapshot"]


def _table(rc: RealCoefficients, margin_bits: int) -> dict[str, tuple[int, ...]]:
    """The published table from exact real coefficients (§10.3): every interval widened
    by ``mu``; loss rows share the scale ``max_s |loss[i, s]|``."""
    S = rc.n_scenarios
    loss: list[tuple[int, int]] = []
    for i in range(len(rc.roll)):
        row = rc.loss[i * S : (i + 1) * S]
        scale = max((abs(x) for x in row), default=Fraction(0))
        loss.extend(widened(x, scale, margin_bits) for x in row)
    roll = [widened(x, x, margin_bits) for x in rc.roll]
    mtm = [widened(x, x, margin_bits) for x in rc.mtm]
    return {
        "loss_lo": tuple(v[0] for v in loss),
        "loss_hi": tuple(v[1] for v in loss),
        "roll_lo": tuple(v[0] for v in roll),
        "roll_hi": tuple(v[1] for v in roll),
        "mtm_lo": tuple(v[0] for v in mtm),
        "mtm_hi": tuple(v[1] for v in mtm),
        "som_hi": tuple(widened(x, x, margin_bits)[1] if x else 0 for x in rc.som),
        "coll_lo": tuple(max(0, widened(x, x, margin_bits)[0]) for x in rc.coll_lo),
        "coll_hi": tuple(widened(x, x, margin_bits)[1] for x in rc.coll_hi),
        **_collateral_rows(rc, margin_bits),
    }


def _collateral_rows(rc: RealCoefficients, margin_bits: int) -> dict[str, tuple[int, ...]]:
    """``held_lo`` / ``borrowed_hi`` of the shocked assets (empty when none is): one-sided
    ends of intervals widened like a loss row, on the row's scale ``max_s |x|``."""
    if all(g < 0 for g in rc.coll_group):
        return {"held_lo": (), "borrowed_hi": ()}
    S = rc.n_scenarios
    held: list[int] = []
    borrowed: list[int] = []
    for j in range(len(rc.coll_group)):
        h_row, b_row = rc.held[j * S : (j + 1) * S], rc.borrowed[j * S : (j + 1) * S]
        h_scale = max((abs(x) for x in h_row), default=Fraction(0))
        b_scale = max((abs(x) for x in b_row), default=Fraction(0))
        held.extend(widened(x, h_scale, margin_bits)[0] for x in h_row)
        borrowed.extend(widened(x, b_scale, margin_bits)[1] for x in b_row)
    return {"held_lo": tuple(held), "borrowed_hi": tuple(borrowed)}


def _market_curves(market: Any) -> dict[str, Any]:
    """The snapshot fields of the market's vol surfaces and rate curve (§10.1)."""
    out: dict[str, Any] = {}
    surfaces = [(u, sf) for u, sf in enumerate(market.surfaces or ()) if sf is not None]
    out["surface_underlying"] = tuple(u for u, _ in surfaces)
    out["surface_n_expiry"] = tuple(int(sf.expiry.size) for _, sf in surfaces)
    out["surface_n_moneyness"] = tuple(int(sf.log_moneyness.size) for _, sf in surfaces)
    for name, attr in (
        ("surface_expiry", "expiry"),
        ("surface_log_moneyness", "log_moneyness"),
        ("surface_vol", "vol"),
    ):
        out[name] = tuple(x for _, sf in surfaces for x in _floats(getattr(sf, attr)))
    curve = market.rate_curve
    out["rate_curve_expiry"] = None if curve is None else _floats(curve.expiry)
    out["rate_curve_zero_rate"] = None if curve is None else _floats(curve.zero_rate)
    return out


def _floats(a: Any) -> tuple[float, ...]:
    return tuple(float(x) for x in np.asarray(a, dtype=np.float64).ravel().tolist())


def build_snapshot(
    engine: Any,
    market: Any,
    epoch: int,
    *,
    scenario_set: str = "base",
    instrument_names: Sequence[str] | None = None,
    asset_names: Sequence[str] | None = None,
    quantity_decimals: int = QUANTITY_DECIMALS,
    money_decimals: int = MONEY_DECIMALS,
    balance_decimals: Sequence[int] | None = None,
    margin_bits: int = MARGIN_BITS,
) -> EpochSnapshot:
    """The snapshot of ``engine`` (instruments, scenarios, parameters, aggregation) at
    ``market`` for ``epoch``, with its coefficient table computed by ``engine``. Names
    default to the instruments' own (``Instruments.names``, ``underlying_names``); asset
    names are optional."""
    refuse_unprovable(engine)
    if getattr(engine, "correlation", None) is not None:
        raise ParameterError("a correlation matrix is not part of a provable model", "correlation")
    engine.validate_market(market)
    bdec = (
        tuple(int(d) for d in balance_decimals)
        if balance_decimals is not None
        else default_balance_decimals(market.asset_price, money_decimals)
    )
    rc = real_coefficients(engine, market, quantity_decimals, money_decimals, bdec)
    ins = engine.instruments
    sc = engine.scenarios
    p = engine.params
    kw: dict[str, Any] = {k: _floats(getattr(sc, k)) for k in SCENARIO_FIELDS}
    kw["edge"] = _floats(sc.edge)
    kw["dampener"] = _floats(sc.dampener)
    kw["roll_annual_move_risk"] = None if sc.annual_move_risk is None else _floats(sc.annual_move_risk)
    kw["roll_min_annual_move"] = None if sc.min_annual_move is None else _floats(sc.min_annual_move)
    kw["settlement_mode"] = engine.settlement_mode
    kw["vol_shift"] = sc.vol_shift
    kw["look_ahead"] = float(sc.look_ahead)
    # the engine's shocked assets (none under the segregated mode, where nothing is shocked)
    shocked = any(g >= 0 for g in rc.coll_group)
    kw["asset_underlying"] = tuple(int(u) for u in engine.asset_underlying.tolist()) if shocked else ()
    kw.update(_market_curves(market))
    kw.update({k: float(getattr(p, k)) for k in PARAM_FIELDS})
    kw.update(_table(rc, margin_bits))
    return EpochSnapshot(
        scenario_set=scenario_set,
        epoch=int(epoch),
        model="portfolio",
        aggregation=engine.aggregation,
        instrument_names=tuple(
            str(x) for x in (instrument_names if instrument_names is not None else ins.names or ())
        ),
        underlying_names=tuple(str(x) for x in (ins.underlying_names or ())),
        kind=tuple(int(k) for k in ins.kind.tolist()),
        underlying=tuple(int(u) for u in ins.underlying.tolist()),
        strike=_floats(ins.strike),
        expiry=_floats(ins.expiry),
        contract_size=_floats(ins.contract_size),
        settlement=tuple(int(k) for k in ins.settlement.tolist()),
        n_underlyings=sc.n_underlyings,
        moves=_floats(sc.moves),
        vol_shocks=_floats(sc.vol_shocks),
        weights=_floats(sc.weights),
        spot=_floats(market.spot),
        vol=_floats(market.vol),
        forward=None if market.forward is None else _floats(market.forward),
        rate=float(market.rate),
        asset_price=_floats(market.asset_price),
        haircut=_floats(market.haircut),
        asset_names=tuple(str(x) for x in (asset_names or ())),
        quantity_decimals=quantity_decimals,
        money_decimals=money_decimals,
        balance_decimals=bdec,
        margin_bits=margin_bits,
        bucket=rc.bucket,
        **kw,
    )


@dataclass(frozen=True)
class AuditReport:
    """Result of recomputing a snapshot's table with an engine. The verdict ``ok`` holds
    iff every recomputed real coefficient lies inside its published interval (on the
    side the statement uses, for the one-sided ones) and the roll buckets and portfolios
    agree; it
    cannot flip between honest float64 implementations because the intervals are wider
    than their differences by ``mu >= 1`` unit (§10.3). ``largest_deviation`` is the
    largest difference, in units, between a published integer and the one the same rule
    gives on the recomputed coefficients (0 or 1 between honest implementations), at
    ``worst`` = (array, index). ``violations`` lists up to 20 ``(array, index)``
    outside their interval."""

    ok: bool
    engine: str
    largest_deviation: int
    worst: tuple[str, int]
    n_violations: int
    violations: tuple[tuple[str, int], ...]
    buckets_match: bool
    #: the engine's portfolios equal the rule (§10.4) statements derive from the snapshot
    portfolios_match: bool

    def summary(self) -> str:
        verdict = "OK" if self.ok else f"FAILED ({self.n_violations} coefficients outside their interval)"
        where = f" at {self.worst[0]}[{self.worst[1]}]" if self.largest_deviation else ""
        return (
            f"audit with {self.engine}: {verdict}; largest deviation from the recomputed table "
            f"{self.largest_deviation} units{where}"
            + ("" if self.buckets_match else "; roll buckets differ")
            + ("" if self.portfolios_match else "; portfolios differ")
        )


def audit_snapshot(snapshot: EpochSnapshot, engine_class: Any = None) -> AuditReport:
    """Recompute the coefficient table from the snapshot's market data and model with
    ``engine_class`` (``zkmargin.MarginEngine`` by default, or
    ``zkmargin.baseline.numpy_engine.MarginEngine`` / ``zkmargin.baseline.MarginEngine``) and
    compare it with the published one."""
    eng = snapshot.engine(engine_class)
    rc = real_coefficients(
        eng, snapshot.market(), snapshot.quantity_decimals, snapshot.money_decimals, snapshot.balance_decimals
    )
    if rc.n_scenarios != snapshot.n_scenarios:
        raise ParameterError("the engine's scenario count differs from the snapshot's", "scenarios")
    mine = _table(rc, snapshot.margin_bits)
    worst = ("", -1)
    dev = 0
    for name, vals in mine.items():
        for i, (a, b) in enumerate(zip(getattr(snapshot, name), vals, strict=True)):
            if abs(a - b) > dev:
                dev, worst = abs(a - b), (name, i)
    # containment: (array, recomputed values, lower bounds, upper bounds); None marks the
    # side a one-sided coefficient never uses
    none = (None,) * max(snapshot.n_instruments, snapshot.n_assets * snapshot.n_scenarios)
    families: list[tuple[str, Sequence[Fraction], Sequence[int | None], Sequence[int | None]]] = [
        ("loss", rc.loss, snapshot.loss_lo, snapshot.loss_hi),
        ("roll", rc.roll, snapshot.roll_lo, snapshot.roll_hi),
        ("mtm", rc.mtm, snapshot.mtm_lo, snapshot.mtm_hi),
        ("som_hi", rc.som, none, snapshot.som_hi),
        ("coll_lo", rc.coll_lo, snapshot.coll_lo, none),
        ("coll_hi", rc.coll_hi, none, snapshot.coll_hi),
    ]
    if snapshot.held_lo:
        families.append(("held_lo", rc.held, snapshot.held_lo, none))
        families.append(("borrowed_hi", rc.borrowed, none, snapshot.borrowed_hi))
    bad: list[tuple[str, int]] = []
    for name, xs, los, his in families:
        for i, x in enumerate(xs):
            lo, hi = los[i], his[i]
            if (lo is not None and x < lo) or (hi is not None and x > hi):
                bad.append((name, i))
    buckets_ok = rc.bucket == snapshot.bucket
    portfolios_ok = list(rc.portfolio) == snapshot.portfolios()
    return AuditReport(
        ok=not bad and buckets_ok and portfolios_ok,
        engine=f"{type(eng).__module__}.{type(eng).__name__}",
        largest_deviation=dev,
        worst=worst,
        n_violations=len(bad),
        violations=tuple(bad[:20]),
        buckets_match=buckets_ok,
        portfolios_match=portfolios_ok,
    )
