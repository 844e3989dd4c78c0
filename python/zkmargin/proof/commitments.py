"""Pedersen commitments to an account's positions and collateral balances.

``C = v G + r H`` with ``G = (1, 2)`` and ``H`` from hash-to-curve (generators.py). The
exchange (the issuer) commits every position quantity and balance of an account as
integers at public decimal scales and hands the account holder the opening. Commitments
are additively homomorphic: a trade of ``dq`` adds ``dq G + dr H`` to the position
commitment and ``(dq, dr)`` to the opening, so a committed ledger stays current without
re-committing (docs/proof-spec.md §8).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

import numpy as np

from .. import _args
from ..book import Accounts
from ..errors import (
    ArgumentTypeError,
    DTypeError,
    EncodingError,
    IndexOutOfRangeError,
    ParameterError,
    ShapeError,
)
from ._codec import Reader, j_hexes, j_int, j_ints, json_object, u32
from ._scalars import Rng, random_scalar, system_rng
from .generators import generators
from .group import Group, R, get_group

__all__ = [
    "MAX_UNITS",
    "QUANTITY_DECIMALS",
    "AccountCommitment",
    "AccountOpening",
    "LedgerUpdate",
    "balance_to_units",
    "commit",
    "commit_account",
    "default_balance_decimals",
    "quantity_to_units",
]

#: Public quantity scale: committed quantities are integers in units of 1e-6 contracts.
QUANTITY_DECIMALS = 6
#: Largest |committed integer| accepted at commit time (the proof itself bounds
#: positions and balances by 2^n through the range proofs, docs/proof-spec.md §2.4).
MAX_UNITS = (1 << 62) - 1
_MAX_DECIMALS = 18
#: Largest instrument universe :func:`commit_account` takes (2^20; a full-mode commitment
#: holds one point per instrument, so a larger one is refused before any work).
MAX_UNIVERSE = 1 << 20
#: Bound on |value| and |blinding| passed to :func:`commit` (both are taken mod r < 2^254).
_ANY_SCALAR = 1 << 512
COMMITMENT_VERSION = 1
OPENING_VERSION = 1
_MAGIC = b"ZKMC"


def commit(value: int, blinding: int, backend: str | Group = "native") -> bytes:
    """Compressed ``value G + blinding H`` (value taken mod r, so negatives are fine)."""
    value = _args.integer("value", value, -_ANY_SCALAR, _ANY_SCALAR)
    blinding = _args.integer("blinding", blinding, -_ANY_SCALAR, _ANY_SCALAR)
    group = get_group(backend)
    gens = generators(group)
    return group.encode_compressed(group.msm(group.vec([gens.G, gens.H]), [value % R, blinding % R]))


def quantity_to_units(q: float, decimals: int = QUANTITY_DECIMALS, field: str = "quantity") -> int:
    """``q * 10^decimals`` as an exact integer. Refuses (``ParameterError``) a quantity
    that is not (to within 16 ulps of float noise) a multiple of ``10^-decimals``, or
    that exceeds ``MAX_UNITS``."""
    qf = _number(field, q)
    scale: int = 10 ** _args.integer("decimals", decimals, 0, _MAX_DECIMALS)
    k = round(qf * scale)
    # The committed integer k is the exact decimal position; the engine's double may carry
    # float noise from arithmetic such as 48 * 0.1 = 4.800000000000001. Accept the double
    # if it is within 16 ulps of k 10^-d (int / int is correctly rounded), refuse otherwise.
    if abs(k / scale - qf) > 16 * math.ulp(qf):
        raise ParameterError(
            f"{field}: {q!r} is not a multiple of the public quantity scale 1e-{decimals}", field
        )
    if abs(k) > MAX_UNITS:
        raise ParameterError(f"{field}: {q!r} exceeds the bound {MAX_UNITS} units", field)
    return k


def _number(field: str, x: Any) -> float:
    """A finite float (``ParameterError`` otherwise, as these always raised)."""
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, float, np.integer, np.floating)):
        raise ArgumentTypeError(f"{field}: expected a number, got {type(x).__name__} {x!r}", field)
    try:
        v = float(x)
    except OverflowError:
        v = math.inf
    if not math.isfinite(v):
        raise ParameterError(f"{field}: {x!r} is not finite", field)
    return v


def balance_to_units(b: float, decimals: int, field: str = "balance") -> int:
    """``floor(b * 10^decimals)`` exactly: a balance is rounded *down* (collateral down)."""
    bf = _number(field, b)
    scale: int = 10 ** _args.integer("decimals", decimals, 0, _MAX_DECIMALS)
    k = math.floor(Fraction(bf) * scale)
    if abs(k) > MAX_UNITS:
        raise ParameterError(f"{field}: {b!r} exceeds the bound {MAX_UNITS} units", field)
    return k


def default_balance_decimals(asset_price: Any, money_decimals: int = 10) -> tuple[int, ...]:
    """Per-asset balance decimals ``clamp(floor(log10 price) + money_decimals - 6, 0, 18)``:
    one balance unit is then worth about ``10^(money_decimals - 6)`` money units or more,
    so each collateral coefficient is about >= 10^6 and its floor loses < 1e-6 relative."""
    money_decimals = _args.integer("money_decimals", money_decimals, 0, 2 * _MAX_DECIMALS)
    try:
        prices = np.asarray(asset_price, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DTypeError(f"asset_price: cannot convert to float64: {exc}", "asset_price") from None
    if prices.ndim != 1:
        raise ShapeError(f"asset_price: expected a 1-D array, got shape {prices.shape}", "asset_price")
    out = []
    for p in prices:
        if not (math.isfinite(p) and p > 0):
            raise ParameterError("asset_price must be finite and > 0", "asset_price")
        out.append(int(min(_MAX_DECIMALS, max(0, math.floor(math.log10(p)) + money_decimals - 6))))
    return tuple(out)


@dataclass(frozen=True)
class LedgerUpdate:
    """A homomorphic change: ``delta`` units to position ``index`` (kind "position", a
    universe instrument index) or balance ``index`` (kind "balance", an asset index),
    with blinding change ``blinding``."""

    kind: str
    index: int
    delta: int
    blinding: int

    @classmethod
    def trade(
        cls, instrument: int, quantity: float, decimals: int = QUANTITY_DECIMALS, rng: Rng | None = None
    ) -> LedgerUpdate:
        """A trade of ``quantity`` contracts with a fresh blinding change."""
        return cls(
            "position",
            int(instrument),
            quantity_to_units(quantity, decimals),
            random_scalar(rng or system_rng),
        )

    @classmethod
    def transfer(cls, asset: int, units: int, rng: Rng | None = None) -> LedgerUpdate:
        """A balance change of ``units`` (at the asset's balance decimals)."""
        return cls("balance", int(asset), int(units), random_scalar(rng or system_rng))


@dataclass(frozen=True)
class AccountCommitment:
    """Public: committed instrument indices (sorted) with one commitment each, and one
    commitment per collateral asset; all points as 32-byte compressed encodings."""

    instruments: tuple[int, ...]
    positions: tuple[bytes, ...]
    balances: tuple[bytes, ...]
    quantity_decimals: int = QUANTITY_DECIMALS
    balance_decimals: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if len(self.instruments) != len(self.positions):
            raise EncodingError("commitment: instruments and positions differ in length", "positions")
        if len(self.balance_decimals) != len(self.balances):
            raise EncodingError("commitment: balance_decimals and balances differ", "balance_decimals")
        if any(b <= a for a, b in zip(self.instruments, self.instruments[1:], strict=False)):
            raise EncodingError("commitment: instruments must be strictly increasing", "instruments")
        if self.instruments and self.instruments[0] < 0:
            raise EncodingError("commitment: negative instrument index", "instruments")
        if not 0 <= self.quantity_decimals <= _MAX_DECIMALS or any(
            not 0 <= d <= _MAX_DECIMALS for d in self.balance_decimals
        ):
            raise EncodingError("commitment: decimals out of range", "decimals")
        for c in (*self.positions, *self.balances):
            if not isinstance(c, bytes) or len(c) != 32:
                raise EncodingError("commitment: every point must be 32 compressed bytes", "points")

    def points(self, group: Group) -> tuple[list[Any], list[Any]]:
        """Decoded (positions, balances); identity or malformed points raise EncodingError."""
        out: list[list[Any]] = [[], []]
        for k, seq in enumerate((self.positions, self.balances)):
            for i, c in enumerate(seq):
                p = group.decode_compressed(c)
                if group.is_identity(p):
                    raise EncodingError("commitment: the identity is not a valid commitment", "points", i)
                out[k].append(p)
        return out[0], out[1]

    def apply(self, update: LedgerUpdate, backend: str | Group = "native") -> AccountCommitment:
        """The commitment after ``update`` (a new position is inserted in order)."""
        group = get_group(backend)
        gens = generators(group)
        delta = group.msm(group.vec([gens.G, gens.H]), [update.delta % R, update.blinding % R])
        if update.kind == "balance":
            if not 0 <= update.index < len(self.balances):
                raise IndexOutOfRangeError("update: asset index out of range", "index", update.index)
            bal = list(self.balances)
            bal[update.index] = group.encode_compressed(
                group.add(group.decode_compressed(bal[update.index]), delta)
            )
            return replace(self, balances=tuple(bal))
        if update.kind != "position":
            raise ParameterError("update.kind must be 'position' or 'balance'", "kind")
        ins = list(self.instruments)
        pos = list(self.positions)
        if update.index in ins:
            k = ins.index(update.index)
            pos[k] = group.encode_compressed(group.add(group.decode_compressed(pos[k]), delta))
        else:
            k = int(np.searchsorted(np.asarray(ins, dtype=np.int64), update.index))
            ins.insert(k, update.index)
            pos.insert(k, group.encode_compressed(delta))
        return replace(self, instruments=tuple(ins), positions=tuple(pos))

    def to_bytes(self) -> bytes:
        """``b"ZKMC" || version || dq || u32 I_c || u32 J || indices || decimals || points``."""
        out = [_MAGIC, bytes([COMMITMENT_VERSION, self.quantity_decimals])]
        out.append(u32(len(self.instruments)) + u32(len(self.balances)))
        out.extend(u32(i) for i in self.instruments)
        out.append(bytes(self.balance_decimals))
        out.extend(self.positions)
        out.extend(self.balances)
        return b"".join(out)

    @classmethod
    def from_bytes(cls, data: bytes, backend: str | Group = "native") -> AccountCommitment:
        r = Reader(data, "commitment")
        if r.take(4) != _MAGIC:
            raise EncodingError("commitment: bad magic", "commitment")
        if r.u8() != COMMITMENT_VERSION:
            raise EncodingError("commitment: unknown version", "commitment")
        dq = r.u8()
        ni, nj = r.u32(), r.u32()
        if ni > 1 << 20 or nj > 1 << 16:
            raise EncodingError("commitment: implausible sizes", "commitment")
        ins = r.u32s(ni)
        dec = tuple(r.take(nj))
        pos = tuple(r.take(32) for _ in range(ni))
        bal = tuple(r.take(32) for _ in range(nj))
        r.done()
        c = cls(ins, pos, bal, dq, dec)
        c.points(get_group(backend))  # canonical, on curve, not the identity
        return c

    def to_json(self) -> dict[str, Any]:
        """The commitments as a JSON-ready dict (hex-encoded points)."""
        return {
            "type": "zkmargin.AccountCommitment",
            "version": COMMITMENT_VERSION,
            "instruments": list(self.instruments),
            "positions": [p.hex() for p in self.positions],
            "balances": [b.hex() for b in self.balances],
            "quantity_decimals": self.quantity_decimals,
            "balance_decimals": list(self.balance_decimals),
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any], backend: str | Group = "native") -> AccountCommitment:
        o = json_object(
            obj,
            "zkmargin.AccountCommitment",
            COMMITMENT_VERSION,
            ["instruments", "positions", "balances", "quantity_decimals", "balance_decimals"],
        )
        c = cls(
            j_ints(o, "instruments", 0, (1 << 32) - 1),
            j_hexes(o, "positions", 32),
            j_hexes(o, "balances", 32),
            j_int(o, "quantity_decimals", 0, _MAX_DECIMALS),
            j_ints(o, "balance_decimals", 0, _MAX_DECIMALS),
        )
        c.points(get_group(backend))
        return c


@dataclass(frozen=True)
class AccountOpening:
    """Secret: committed integers and blindings, aligned with the commitment."""

    quantities: tuple[int, ...]
    position_blindings: tuple[int, ...]
    balances: tuple[int, ...]
    balance_blindings: tuple[int, ...]

    def to_json(self) -> dict[str, Any]:
        """Secret: blindings as decimal-free JSON integers (they are below r)."""
        return {
            "type": "zkmargin.AccountOpening",
            "version": OPENING_VERSION,
            "quantities": list(self.quantities),
            "position_blindings": list(self.position_blindings),
            "balances": list(self.balances),
            "balance_blindings": list(self.balance_blindings),
        }

    @classmethod
    def from_json(cls, obj: Any) -> AccountOpening:
        keys = ["quantities", "position_blindings", "balances", "balance_blindings"]
        o = json_object(obj, "zkmargin.AccountOpening", OPENING_VERSION, keys)
        big = 1 << 127
        q = j_ints(o, "quantities", -big, big - 1)
        b = j_ints(o, "balances", -big, big - 1)
        rq = j_ints(o, "position_blindings", 0, R - 1)
        rb = j_ints(o, "balance_blindings", 0, R - 1)
        if len(rq) != len(q) or len(rb) != len(b):
            raise EncodingError("opening JSON: blindings and values differ in length", "json")
        return cls(q, rq, b, rb)

    def apply(self, update: LedgerUpdate, commitment_before: AccountCommitment) -> AccountOpening:
        """The opening after ``update`` (``commitment_before`` gives the instrument order)."""
        if update.kind == "balance":
            b = list(self.balances)
            r = list(self.balance_blindings)
            b[update.index] += update.delta
            r[update.index] = (r[update.index] + update.blinding) % R
            return replace(self, balances=tuple(b), balance_blindings=tuple(r))
        ins = list(commitment_before.instruments)
        q = list(self.quantities)
        r = list(self.position_blindings)
        if update.index in ins:
            k = ins.index(update.index)
            q[k] += update.delta
            r[k] = (r[k] + update.blinding) % R
        else:
            k = int(np.searchsorted(np.asarray(ins, dtype=np.int64), update.index))
            q.insert(k, update.delta)
            r.insert(k, update.blinding % R)
        return replace(self, quantities=tuple(q), position_blindings=tuple(r))


def commit_account(
    accounts: Accounts,
    index: int,
    *,
    n_instruments: int,
    balance_decimals: Sequence[int],
    mode: str = "subset",
    quantity_decimals: int = QUANTITY_DECIMALS,
    backend: str | Group = "native",
    rng: Rng | None = None,
) -> tuple[AccountCommitment, AccountOpening]:
    """Commit account ``index`` of ``accounts``: its held instruments (``mode="subset"``)
    or every instrument of the universe with zeros for those not held (``mode="full"``),
    and every collateral balance. Returns (public commitment, secret opening)."""
    _args.instance("accounts", accounts, Accounts)
    if mode not in ("full", "subset"):
        raise ParameterError(f"mode must be 'full' or 'subset', got {mode!r}", "mode")
    index = _args.integer("index", index, -(1 << 63), 1 << 63)
    n_instruments = _args.integer("n_instruments", n_instruments, 0, MAX_UNIVERSE)
    quantity_decimals = _args.integer("quantity_decimals", quantity_decimals, 0, _MAX_DECIMALS)
    balance_decimals = _args.integers("balance_decimals", balance_decimals, 0, _MAX_DECIMALS)
    if not 0 <= index < len(accounts):
        raise IndexOutOfRangeError(f"account {index} out of range", "index", index)
    rng = rng or system_rng
    group = get_group(backend)
    gens = generators(group)
    lo, hi = int(accounts.offsets[index]), int(accounts.offsets[index + 1])
    held: dict[int, int] = {}
    for row in range(lo, hi):
        i = int(accounts.instrument[row])
        if not 0 <= i < n_instruments:
            raise IndexOutOfRangeError(f"instrument {i} out of range", "instrument", row)
        held[i] = held.get(i, 0) + quantity_to_units(
            float(accounts.quantity[row]), quantity_decimals, "quantity"
        )
    ins = list(range(n_instruments)) if mode == "full" else sorted(held)
    qs = [held.get(i, 0) for i in ins]
    bal_row = accounts.balances[index]
    if len(balance_decimals) != bal_row.shape[0]:
        raise ParameterError("balance_decimals must have one entry per asset", "balance_decimals")
    bs = [
        balance_to_units(float(b), int(d), "balances") for b, d in zip(bal_row, balance_decimals, strict=True)
    ]
    rq = [random_scalar(rng) for _ in qs]
    rb = [random_scalar(rng) for _ in bs]
    GH = group.vec([gens.G, gens.H])
    pos = tuple(group.encode_compressed(group.msm(GH, [q % R, r])) for q, r in zip(qs, rq, strict=True))
    bal = tuple(group.encode_compressed(group.msm(GH, [b % R, r])) for b, r in zip(bs, rb, strict=True))
    com = AccountCommitment(tuple(ins), pos, bal, quantity_decimals, tuple(int(d) for d in balance_decimals))
    opening = AccountOpening(tuple(qs), tuple(rq), tuple(bs), tuple(rb))
    return com, opening
