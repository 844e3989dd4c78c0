"""The real coefficients of the solvency statement, computed exactly from an engine's
float64 outputs (docs/proof-spec.md §2.3), the two integer roundings of them (the plain
floor/ceiling of a standalone statement, §2.1, and the widened interval of an epoch
snapshot's published table, §10.3), and the standalone statement built from them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from ..errors import ParameterError
from .commitments import AccountCommitment
from .statement import AGGREGATIONS, MODES, MONEY_DECIMALS, SolvencyStatement, assemble_statement

__all__ = [
    "RealCoefficients",
    "build_statement",
    "floor_ceil",
    "portfolio_ids",
    "real_coefficients",
    "refuse_unprovable",
    "roll_buckets",
    "widened",
]


#: Why the other aggregations of docs/margin-model.md §6.3 cannot be proven as linear
#: constraints (docs/proof-spec.md §1).
_UNPROVABLE = {
    "correlation": "the signed correlation's square root is not piecewise linear",
    "span": "SPAN's calendar charge min(pos, neg) and inter-commodity credits are not convex, "
    "and its short-option-minimum floor is not encoded in the statement",
}


def _exact(x: Any, what: str) -> Fraction:
    xf = float(x)
    if not math.isfinite(xf):
        raise ParameterError(f"non-finite engine output {x!r} in {what}", what)
    return Fraction(xf)


def _scale(k: int) -> Fraction:
    return Fraction(10) ** k


@dataclass(frozen=True)
class RealCoefficients:
    """Exact rationals, per universe instrument (``loss`` instrument-major, ``I x S``)
    and per asset, in money units per quantity or balance unit."""

    n_scenarios: int
    loss: tuple[Fraction, ...]
    roll: tuple[Fraction, ...]
    mtm: tuple[Fraction, ...]
    som: tuple[Fraction, ...]
    coll_lo: tuple[Fraction, ...]
    coll_hi: tuple[Fraction, ...]
    bucket: tuple[int, ...]


def roll_rate(annual_move_risk: float, min_annual_move: float, T: float) -> float:
    """``max(min_annual_move, exp(annual_move_risk T) - 1)`` in float64 (``math.exp``,
    not ``expm1``), then raised by one ulp towards +inf, in that order."""
    r = max(float(min_annual_move), math.exp(float(annual_move_risk) * float(T)) - 1.0)
    return math.nextafter(r, math.inf)


def refuse_unprovable(engine: Any) -> None:
    """Raise ``ParameterError`` for engine features the statement cannot express
    (docs/margin-model.md §6.8): collateral shocked in the scenarios, and under the joint
    aggregation a dampened table or limited gain offsets (each drops or scales a
    portfolio's gains, which the statement's single joint group counts in full)."""
    links = getattr(engine, "asset_underlying", None)
    if engine.settlement_mode == "cross" and links is not None and bool(np.any(np.asarray(links) >= 0)):
        raise ParameterError(
            "collateral shocked in the scenarios is not provable: the statement's scenario "
            "losses have no balance terms (docs/margin-model.md §6.2)",
            "asset_underlying",
        )
    if engine.aggregation != "joint":
        return
    sc = engine.scenarios
    if bool(np.any(np.asarray(sc.dampener) > 0.0)):
        raise ParameterError(
            "a dampened table is not provable under the joint aggregation: a dampened row "
            "drops each portfolio's gains, which the statement cannot express",
            "dampener",
        )
    if bool(np.any(np.asarray(sc.pnl_offset) < 1.0) or np.any(np.asarray(sc.max_offsetable_pnl) < math.inf)):
        raise ParameterError(
            "gain offsets below 1 (or capped) are not provable under the joint aggregation: "
            "the statement counts every portfolio's gains in full",
            "pnl_offset",
        )


def portfolio_ids(underlying: Any, settlement: Any, n_underlyings: int, segregated: bool) -> list[int]:
    """The engine's portfolio of each instrument (docs/margin-model.md §6.3), the loss
    groups' keys: its underlying, or under the segregated settlement mode its underlying
    plus ``n_underlyings`` for a coin-settled instrument (a portfolio of its own). The
    dampener is left out of the statement, so each proven loss is at least the engine's."""
    coin = np.asarray(settlement) == 1
    und = np.asarray(underlying, dtype=np.int64)
    return (und + np.where(segregated & coin, n_underlyings, 0)).tolist()  # type: ignore[no-any-return]


def roll_buckets(instruments: Any, portfolio: Sequence[int]) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """(bucket id per instrument, expiry of each bucket): one bucket per distinct
    ``(portfolio, T)`` (:func:`portfolio_ids`) with ``T = 0`` for spot and perpetuals and
    the expiry otherwise, numbered in order of first appearance in the universe
    (docs/margin-model.md §6.4; the Rust engine's numbering)."""
    from ..book import Kind

    keys = [
        (int(u), 0.0 if int(k) in (Kind.SPOT, Kind.PERPETUAL) else float(t))
        for u, k, t in zip(
            portfolio,
            instruments.kind.tolist(),
            instruments.expiry.tolist(),
            strict=True,
        )
    ]
    ids: dict[tuple[int, float], int] = {}
    for key in keys:
        ids.setdefault(key, len(ids))
    order = list(ids)
    return tuple(ids[key] for key in keys), tuple(t for _, t in order)


def real_coefficients(
    engine: Any,
    market: Any,
    quantity_decimals: int,
    money_decimals: int,
    balance_decimals: Sequence[int],
) -> RealCoefficients:
    """Every coefficient of §2.3 for the whole universe of ``engine`` at ``market``."""
    ins = engine.instruments
    params = engine.params
    n_ins = len(ins)
    f = _exact(params.mm_factor, "mm_factor")
    sq = _scale(money_decimals - quantity_decimals)
    risk = np.asarray(engine.risk_arrays(market), dtype=np.float64)
    S = int(risk.shape[1]) if risk.ndim == 2 else 0
    if risk.shape != (n_ins, S):
        raise ParameterError(f"risk arrays have shape {risk.shape}, expected ({n_ins}, S)", "engine")
    vals = engine.instrument_values(market)
    n_u = int(engine.n_underlyings)
    portfolio = portfolio_ids(ins.underlying, ins.settlement, n_u, engine.settlement_mode == "segregated")
    buckets, bucket_T = roll_buckets(ins, portfolio)
    fs = f * sq
    loss = tuple(fs * _exact(v, "risk_arrays") for v in risk.ravel().tolist())
    # each bucket's roll parameters: its underlying's from the scenario table where the
    # table has per-underlying ones (Deribit's per-currency sets), the global ones otherwise
    bucket_u = [0] * len(bucket_T)
    for b, g in zip(buckets, portfolio, strict=True):
        bucket_u[b] = g % n_u
    table = engine.scenarios
    per_u = table.annual_move_risk is not None and table.min_annual_move is not None
    rates = [
        _exact(
            roll_rate(
                table.annual_move_risk[u] if per_u else params.annual_move_risk,
                table.min_annual_move[u] if per_u else params.min_annual_move,
                T,
            ),
            "roll rate",
        )
        for T, u in zip(bucket_T, bucket_u, strict=True)
    ]
    delta = np.asarray(vals.delta, dtype=np.float64).tolist()
    roll = tuple(fs * rates[b] * _exact(d, "delta") for b, d in zip(buckets, delta, strict=True))
    mtm = tuple(sq * _exact(v, "mtm") for v in np.asarray(vals.mtm, dtype=np.float64).tolist())
    fwd = (
        np.asarray(market.forward, dtype=np.float64)
        if market.forward is not None
        else np.asarray(market.spot, dtype=np.float64)[ins.underlying]
    )
    k = _exact(params.short_option_min, "short_option_min")
    som = tuple(
        fs * k * _exact(cs, "contract_size") * _exact(F, "forward") if opt else Fraction(0)
        for opt, cs, F in zip(
            np.asarray(ins.is_option).tolist(), ins.contract_size.tolist(), fwd.tolist(), strict=True
        )
    )
    J = int(np.asarray(market.asset_price).shape[0])
    if len(balance_decimals) != J:
        raise ParameterError("balance_decimals must have one entry per asset", "balance_decimals")
    coll_lo: list[Fraction] = []
    coll_hi: list[Fraction] = []
    for p, h, d in zip(market.asset_price.tolist(), market.haircut.tolist(), balance_decimals, strict=True):
        base = _exact(p, "asset_price") * _scale(money_decimals - int(d))
        hc = _exact(h, "haircut")
        coll_lo.append(base * (1 - hc))
        coll_hi.append(base * (1 + hc))
    return RealCoefficients(S, loss, roll, mtm, som, tuple(coll_lo), tuple(coll_hi), buckets)


def floor_ceil(x: Fraction) -> tuple[int, int]:
    return math.floor(x), math.ceil(x)


def widened(x: Fraction, scale: Fraction, margin_bits: int) -> tuple[int, int]:
    """``(floor(x) - mu, ceil(x) + mu)`` with ``mu = floor(|scale| / 2^margin_bits) + 1``:
    the published interval of §10.3, wider than any honest float64 difference."""
    mu = math.floor(abs(scale) / (1 << margin_bits)) + 1
    return math.floor(x) - mu, math.ceil(x) + mu


# ------------------------------------------------------------------ the standalone statement


def build_statement(
    engine: Any,
    market: Any,
    commitment: AccountCommitment,
    account_id: str,
    epoch: int,
    *,
    mode: str | None = None,
    n: int = 64,
    money_decimals: int = MONEY_DECIMALS,
) -> SolvencyStatement:
    """The public statement for ``commitment`` from the engine's outputs at ``market``:
    risk arrays, instrument values, roll buckets and parameters. Everything here is
    public, so a verifier rebuilds it and compares (docs/proof-spec.md §9)."""
    agg = engine.aggregation
    if agg not in AGGREGATIONS:
        raise ParameterError(
            f"aggregation {agg!r} is not provable: the proof covers 'sum' and 'joint' "
            f"({_UNPROVABLE.get(agg, 'not a convex piecewise-linear requirement')})",
            "aggregation",
        )
    refuse_unprovable(engine)
    segregated = engine.settlement_mode == "segregated"
    ins_all = engine.instruments
    n_ins = len(ins_all)
    ins = commitment.instruments
    if mode is None:
        mode = "full" if ins == tuple(range(n_ins)) else "subset"
    if mode not in MODES:
        raise ParameterError(f"mode must be one of {MODES}", "mode")
    if ins and ins[-1] >= n_ins:
        raise ParameterError("commitment names an instrument outside the engine's universe", "instruments")
    J = int(np.asarray(market.asset_price).shape[0])
    if len(commitment.balance_decimals) != J:
        raise ParameterError("commitment has a different number of assets than the market", "balances")
    rc = real_coefficients(
        engine, market, commitment.quantity_decimals, money_decimals, commitment.balance_decimals
    )
    S = rc.n_scenarios
    idx = list(ins)
    portfolio = portfolio_ids(ins_all.underlying, ins_all.settlement, engine.n_underlyings, segregated)
    loss = [floor_ceil(rc.loss[i * S + s]) for i in idx for s in range(S)]
    roll = [floor_ceil(rc.roll[i]) for i in idx]
    mtm = [floor_ceil(rc.mtm[i]) for i in idx]
    return assemble_statement(
        account_id=account_id,
        epoch=epoch,
        mode=mode,
        aggregation=agg,
        n=n,
        universe_size=n_ins,
        instruments=ins,
        underlying=[portfolio[i] for i in idx],
        bucket=[rc.bucket[i] for i in idx],
        quantity_decimals=commitment.quantity_decimals,
        money_decimals=money_decimals,
        balance_decimals=commitment.balance_decimals,
        n_scenarios=S,
        loss=loss,
        roll=roll,
        mtm=mtm,
        som_hi=[floor_ceil(rc.som[i])[1] for i in idx],
        coll_lo=[floor_ceil(x)[0] for x in rc.coll_lo],
        coll_hi=[floor_ceil(x)[1] for x in rc.coll_hi],
    )
