"""Instruments and account books (columnar, CSR)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import _arrays
from .errors import IndexOutOfRangeError, NonFiniteError, ShapeError


class Kind(IntEnum):
    SPOT = 0
    PERPETUAL = 1
    FUTURE = 2
    CALL = 3
    PUT = 4


class Settlement(IntEnum):
    LINEAR = 0
    INVERSE = 1


@dataclass(frozen=True, eq=False)
class Instruments:
    """The instrument universe, one entry per column (docs/margin-model.md §1.1)."""

    kind: NDArray[np.int64]
    underlying: NDArray[np.int64]
    strike: NDArray[np.float64]
    expiry: NDArray[np.float64]
    contract_size: NDArray[np.float64]
    settlement: NDArray[np.int64]

    def __init__(
        self,
        kind: Any,
        underlying: Any,
        strike: Any,
        expiry: Any,
        contract_size: Any,
        settlement: Any,
    ) -> None:
        cols = {
            "kind": _arrays.i64("kind", kind),
            "underlying": _arrays.i64("underlying", underlying),
            "strike": _arrays.f64("strike", strike),
            "expiry": _arrays.f64("expiry", expiry),
            "contract_size": _arrays.f64("contract_size", contract_size),
            "settlement": _arrays.i64("settlement", settlement),
        }
        n = cols["kind"].shape[0]
        for name, arr in cols.items():
            _arrays.same_length(name, arr, n, "kind")
            object.__setattr__(self, name, arr)

    def __len__(self) -> int:
        return int(self.kind.shape[0])

    @property
    def n_underlyings(self) -> int:
        """Underlyings referenced: ``max(underlying) + 1`` (0 for an empty universe)."""
        return int(self.underlying.max()) + 1 if len(self) else 0

    @property
    def is_option(self) -> NDArray[np.bool_]:
        out: NDArray[np.bool_] = (self.kind == Kind.CALL) | (self.kind == Kind.PUT)
        return out


@dataclass(frozen=True, eq=False)
class Accounts:
    """Positions in CSR form plus collateral balances (docs/margin-model.md §1.3)."""

    offsets: NDArray[np.int64]
    instrument: NDArray[np.int64]
    quantity: NDArray[np.float64]
    balances: NDArray[np.float64]

    def __init__(self, offsets: Any, instrument: Any, quantity: Any, balances: Any) -> None:
        off = _arrays.i64("offsets", offsets)
        ins = _arrays.i64("instrument", instrument)
        qty = _arrays.f64("quantity", quantity)
        bal = _arrays.f64("balances", balances, ndim=2)
        _arrays.same_length("quantity", qty, ins.shape[0], "instrument")
        if off.shape[0] == 0:
            raise ShapeError("offsets: needs at least one element (A + 1 for A accounts)", "offsets")
        _arrays.same_length("balances", bal, off.shape[0] - 1, "number of accounts")
        object.__setattr__(self, "offsets", off)
        object.__setattr__(self, "instrument", ins)
        object.__setattr__(self, "quantity", qty)
        object.__setattr__(self, "balances", bal)

    def __len__(self) -> int:
        return int(self.offsets.shape[0] - 1)

    @property
    def n_rows(self) -> int:
        return int(self.instrument.shape[0])

    @classmethod
    def from_triples(
        cls,
        account: Any,
        instrument: Any,
        quantity: Any,
        balances: Any,
    ) -> Accounts:
        """Build from (account, instrument, quantity) triples in any order.

        Repeated (account, instrument) pairs are summed; pairs summing to exactly zero are
        dropped; rows come out sorted by account, then instrument. The number of accounts
        is ``len(balances)``.
        """
        acc = _arrays.i64("account", account)
        ins = _arrays.i64("instrument", instrument)
        qty = _arrays.f64("quantity", quantity)
        bal = _arrays.f64("balances", balances, ndim=2)
        _arrays.same_length("instrument", ins, acc.shape[0], "account")
        _arrays.same_length("quantity", qty, acc.shape[0], "account")
        n_acc = bal.shape[0]
        if acc.size:
            bad = np.flatnonzero((acc < 0) | (acc >= n_acc))
            if bad.size:
                k = int(bad[0])
                raise IndexOutOfRangeError(
                    f"account[{k}] = {int(acc[k])} is outside 0..{n_acc - 1}", "account", k
                )
            bad = np.flatnonzero(ins < 0)
            if bad.size:
                k = int(bad[0])
                raise IndexOutOfRangeError(f"instrument[{k}] = {int(ins[k])} is negative", "instrument", k)
            bad = np.flatnonzero(~np.isfinite(qty))
            if bad.size:
                k = int(bad[0])
                raise NonFiniteError(f"quantity[{k}] is not finite", "quantity", k)
        order = np.lexsort((ins, acc))
        acc_s, ins_s, qty_s = acc[order], ins[order], qty[order]
        if acc_s.size:
            new = np.empty(acc_s.size, dtype=bool)
            new[0] = True
            new[1:] = (acc_s[1:] != acc_s[:-1]) | (ins_s[1:] != ins_s[:-1])
            starts = np.flatnonzero(new)
            merged_q = np.add.reduceat(qty_s, starts)
            merged_a, merged_i = acc_s[starts], ins_s[starts]
            keep = merged_q != 0.0
            merged_a, merged_i, merged_q = merged_a[keep], merged_i[keep], merged_q[keep]
        else:
            merged_a, merged_i, merged_q = acc_s, ins_s, qty_s
        counts = np.bincount(merged_a, minlength=n_acc)
        offsets = np.zeros(n_acc + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        return cls(offsets, np.ascontiguousarray(merged_i), np.ascontiguousarray(merged_q), bal)

    @classmethod
    def from_table(cls, table: Any, balances: Any) -> Accounts:
        """Build from a pandas DataFrame or pyarrow Table with columns ``account``,
        ``instrument`` and ``quantity`` (same rules as :meth:`from_triples`)."""
        cols = {}
        for name in ("account", "instrument", "quantity"):
            try:
                col = table[name]
            except (KeyError, IndexError) as exc:
                raise ShapeError(f"table has no column {name!r}", name) from exc
            cols[name] = col.to_numpy() if hasattr(col, "to_numpy") else np.asarray(col)
        return cls.from_triples(
            np.ascontiguousarray(cols["account"]),
            np.ascontiguousarray(cols["instrument"]),
            np.ascontiguousarray(cols["quantity"]),
            balances,
        )
