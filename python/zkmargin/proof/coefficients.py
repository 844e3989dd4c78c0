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

from .. import _args
from ..book import Kind
from ..errors import ArgumentTypeError, EncodingError, ParameterError
from ..market import Market
from .commitments import AccountCommitment
from .statement import (
    AGGREGATIONS,
    MODES,
    MONEY_DECIMALS,
    SOM_CALL,
    SOM_NONE,
    SOM_PUT,
    SolvencyStatement,
    assemble_statement,
)

__all__ = [
    "RealCoefficients",
    "build_statement",
    "checked_assemble",
    "floor_ceil",
    "portfolio_ids",
    "real_coefficients",
    "refuse_unprovable",
    "som_sides",
    "widened",
]


#: Why the other aggregation of docs/margin-model.md §6.3 cannot be proven as linear
#: constraints (docs/proof-spec.md §1).
_UNPROVABLE = {"correlation": "the signed correlation's square root is not piecewise linear"}


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
    #: the engine portfolio (loss group key) of each instrument
    portfolio: tuple[int, ...]
    #: SOM_CALL / SOM_PUT / SOM_NONE per instrument (the SPAN floor's sides)
    som_side: tuple[int, ...]
    #: per asset, the engine portfolio its balance is shocked with (-1 for none), and
    #: (asset-major, ``J x S``) its scenario P&L per held and per borrowed unit, times f
    coll_group: tuple[int, ...]
    held: tuple[Fraction, ...]
    borrowed: tuple[Fraction, ...]


def som_sides(kind: Sequence[int]) -> tuple[int, ...]:
    """The SPAN floor's side of each instrument kind: SOM_CALL, SOM_PUT or SOM_NONE."""
    side = {int(Kind.CALL): SOM_CALL, int(Kind.PUT): SOM_PUT}
    return tuple(side.get(int(k), SOM_NONE) for k in kind)


def refuse_unprovable(engine: Any) -> None:
    """Raise ``ParameterError`` for engine features the statement cannot express
    (docs/margin-model.md §6.8-§6.9): the correlation aggregation; under SPAN the calendar
    charge and inter-commodity credits (neither is convex in the positions); and under
    the joint aggregation a dampened table or limited gain offsets (each drops or scales a
    portfolio's gains, which the statement's single joint group counts in full)."""
    agg = engine.aggregation
    if agg not in AGGREGATIONS:
        raise ParameterError(
            f"aggregation {agg!r} is not provable: the proof covers {AGGREGATIONS} "
            f"({_UNPROVABLE.get(agg, 'not a convex piecewise-linear requirement')})",
            "aggregation",
        )
    if agg == "span":
        rules = engine.span
        if bool(np.any(np.asarray(rules.intra_rate, dtype=np.float64) != 0.0)):
            raise ParameterError(
                "SPAN's calendar spread charge intra_rate * min(pos, neg) is not convex in the "
                "positions, so it is not provable; the statement covers the scan risk and the "
                "short-option-minimum floor (intra_rate = 0)",
                "span_intra_rate",
            )
        if tuple(rules.inter_spreads):
            raise ParameterError(
                "SPAN's inter-commodity spread credits are not convex in the positions, so "
                "they are not provable; the statement covers the scan risk and the "
                "short-option-minimum floor (no inter_spreads)",
                "span_legs",
            )
    if agg != "joint":
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
    """The portfolio of each instrument by the rule of docs/margin-model.md §6.3 (the loss
    groups' keys), as a verifier derives it from a snapshot: its underlying, or under the
    segregated settlement mode its underlying plus ``n_underlyings`` for a coin-settled
    instrument (a portfolio of its own). The audit checks it against the engine's."""
    coin = np.asarray(settlement) == 1
    und = np.asarray(underlying, dtype=np.int64)
    return (und + np.where(segregated & coin, n_underlyings, 0)).tolist()  # type: ignore[no-any-return]


def real_coefficients(
    engine: Any,
    market: Any,
    quantity_decimals: int,
    money_decimals: int,
    balance_decimals: Sequence[int],
) -> RealCoefficients:
    """Every coefficient of §2.3 for the whole universe of ``engine`` at ``market``, from
    the engine's own outputs: risk arrays, instrument values and
    :meth:`~zkmargin.MarginEngine.statement_terms`."""
    ins = engine.instruments
    n_ins = len(ins)
    f = _exact(engine.params.mm_factor, "mm_factor")
    sq = _scale(money_decimals - quantity_decimals)
    risk = np.asarray(engine.risk_arrays(market), dtype=np.float64)
    S = int(risk.shape[1]) if risk.ndim == 2 else 0
    if risk.shape != (n_ins, S):
        raise ParameterError(f"risk arrays have shape {risk.shape}, expected ({n_ins}, S)", "engine")
    vals = engine.instrument_values(market)
    terms = engine.statement_terms(market)
    fs = f * sq
    loss = tuple(fs * _exact(v, "risk_arrays") for v in risk.ravel().tolist())
    # one ulp up on the engine's rate: the margin the spec has always given the roll rate
    # against exp implementations that differ by one ulp (docs/proof-spec.md §2.3)
    rates = [_exact(math.nextafter(r, math.inf), "roll rate") for r in terms.roll_rate.tolist()]
    buckets = tuple(int(b) for b in terms.bucket.tolist())
    delta = np.asarray(vals.delta, dtype=np.float64).tolist()
    roll = tuple(fs * rates[b] * _exact(d, "delta") for b, d in zip(buckets, delta, strict=True))
    mtm = tuple(sq * _exact(v, "mtm") for v in np.asarray(vals.mtm, dtype=np.float64).tolist())
    # k cs F exactly on the engine's forward (the engines round the product in float64)
    k = _exact(engine.params.short_option_min, "short_option_min")
    options = np.asarray(ins.is_option).tolist()
    som = tuple(
        fs * k * _exact(cs, "contract_size") * _exact(F, "forward") if opt else Fraction(0)
        for opt, cs, F in zip(options, ins.contract_size.tolist(), terms.forward.tolist(), strict=True)
    )
    som_side = som_sides(ins.kind.tolist())
    J = int(np.asarray(market.asset_price).shape[0])
    if len(balance_decimals) != J:
        raise ParameterError("balance_decimals must have one entry per asset", "balance_decimals")
    # collateral: the model's value b p (1 -+ h) on the market's own price and haircut,
    # exactly; the engines evaluate this product in float64 (no engine-specific rule)
    coll_lo: list[Fraction] = []
    coll_hi: list[Fraction] = []
    for p, h, d in zip(market.asset_price.tolist(), market.haircut.tolist(), balance_decimals, strict=True):
        base = _exact(p, "asset_price") * _scale(money_decimals - int(d))
        hc = _exact(h, "haircut")
        coll_lo.append(base * (1 - hc))
        coll_hi.append(base * (1 + hc))
    held: list[Fraction] = []
    borrowed: list[Fraction] = []
    per_unit = zip(terms.collateral_held.tolist(), terms.collateral_borrowed.tolist(), strict=True)
    for (held_j, borrowed_j), d in zip(per_unit, balance_decimals, strict=True):
        fb = f * _scale(money_decimals - int(d))
        held.extend(fb * _exact(v, "collateral_held") for v in held_j)
        borrowed.extend(fb * _exact(v, "collateral_borrowed") for v in borrowed_j)
    return RealCoefficients(
        n_scenarios=S,
        loss=loss,
        roll=roll,
        mtm=mtm,
        som=som,
        coll_lo=tuple(coll_lo),
        coll_hi=tuple(coll_hi),
        bucket=buckets,
        portfolio=tuple(int(g) for g in terms.portfolio.tolist()),
        som_side=som_side,
        coll_group=tuple(int(g) for g in terms.collateral_group.tolist()),
        held=tuple(held),
        borrowed=tuple(borrowed),
    )


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
    risk arrays, instrument values, statement terms and parameters. Everything here is
    public, so a verifier rebuilds it and compares (docs/proof-spec.md §9)."""
    _args.instance("market", market, Market)
    _args.instance("commitment", commitment, AccountCommitment)
    _args.instance("account_id", account_id, str)
    epoch = _args.integer("epoch", epoch, 0, (1 << 64) - 1)
    n = _args.integer("n", n, 1, 64)
    money_decimals = _args.integer("money_decimals", money_decimals, 0, 36)
    if not hasattr(engine, "aggregation") or not hasattr(engine, "instruments"):
        raise ArgumentTypeError("engine must be a zkmargin margin engine", "engine")
    agg = engine.aggregation
    refuse_unprovable(engine)
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
    loss = [floor_ceil(rc.loss[i * S + s]) for i in idx for s in range(S)]
    roll = [floor_ceil(rc.roll[i]) for i in idx]
    mtm = [floor_ceil(rc.mtm[i]) for i in idx]
    return checked_assemble(
        account_id=account_id,
        epoch=epoch,
        mode=mode,
        aggregation=agg,
        n=n,
        universe_size=n_ins,
        instruments=ins,
        underlying=[rc.portfolio[i] for i in idx],
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
        som_side=[rc.som_side[i] for i in idx],
        asset_portfolio=rc.coll_group,
        held_lo=[floor_ceil(x)[0] for x in rc.held],
        borrowed_hi=[floor_ceil(x)[1] for x in rc.borrowed],
    )


def checked_assemble(**kw: Any) -> SolvencyStatement:
    """:func:`~zkmargin.proof.statement.assemble_statement`, with the one refusal a
    caller's model (not a malformed table) can cause reported as a ``ParameterError``:
    shocked collateral whose scenario P&L would reward splitting a balance
    (``mm_factor * weight * |move| > 1`` on a fall, docs/proof-spec.md §2.4)."""
    try:
        return assemble_statement(**kw)
    except EncodingError as e:
        if e.field != "held_lo":
            raise
        raise ParameterError(
            f"collateral shocked in the scenarios is not provable here: {e} (a scenario "
            "whose mm_factor * weight * |move| exceeds 1 on a fall)",
            "asset_underlying",
        ) from None
