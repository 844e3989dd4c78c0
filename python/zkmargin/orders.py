"""Resting orders as an initial-margin input (docs/margin-model.md §6.7): the book is
margined as it is, with every buy order filled and with every sell order filled, and IM is
the worst of the three."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import _arrays
from .book import Accounts
from .errors import IndexOutOfRangeError, NonFiniteError, OffsetsError, ShapeError
from .results import MarginResult


@dataclass(frozen=True, eq=False)
class Orders:
    """Each account's resting orders in CSR form, like :class:`Accounts` without balances:
    rows ``offsets[a] .. offsets[a+1]`` of ``instrument`` and signed ``quantity`` (a buy is
    positive, a sell negative), in contracts."""

    offsets: NDArray[np.int64]
    instrument: NDArray[np.int64]
    quantity: NDArray[np.float64]

    def __init__(self, offsets: Any, instrument: Any, quantity: Any) -> None:
        off = _arrays.i64("order_offsets", offsets)
        ins = _arrays.i64("order_instrument", instrument)
        qty = _arrays.f64("order_quantity", quantity)
        _arrays.same_length("order_quantity", qty, ins.shape[0], "order_instrument")
        if off.shape[0] == 0:
            raise ShapeError("order_offsets needs A + 1 entries", "order_offsets")
        bad = np.flatnonzero(~np.isfinite(qty))
        if bad.size:
            k = int(bad[0])
            raise NonFiniteError(f"order_quantity[{k}] is not finite", "order_quantity", k)
        if off[0] != 0:
            raise OffsetsError("order_offsets must start at 0", "order_offsets", 0)
        bad = np.flatnonzero(np.diff(off) < 0)
        if bad.size:
            k = int(bad[0]) + 1
            raise OffsetsError("order_offsets must be non-decreasing", "order_offsets", k)
        if off[-1] != ins.shape[0]:
            k = off.shape[0] - 1
            raise OffsetsError(f"order_offsets[{k}] must equal the number of orders", "order_offsets", k)
        bad = np.flatnonzero(ins < 0)
        if bad.size:
            k = int(bad[0])
            raise IndexOutOfRangeError(f"order_instrument[{k}] is negative", "order_instrument", k)
        object.__setattr__(self, "offsets", off)
        object.__setattr__(self, "instrument", ins)
        object.__setattr__(self, "quantity", qty)

    def __len__(self) -> int:
        return int(self.offsets.shape[0] - 1)


def with_fills(accounts: Accounts, orders: Orders, side: int) -> Accounts:
    """``accounts`` with every order of ``side`` (+1 buys, -1 sells) filled."""
    pos_acct = np.repeat(np.arange(len(accounts)), np.diff(accounts.offsets))
    ord_acct = np.repeat(np.arange(len(orders)), np.diff(orders.offsets))
    take = np.sign(orders.quantity) == side
    return Accounts.from_triples(
        np.concatenate([pos_acct, ord_acct[take]]),
        np.concatenate([accounts.instrument, orders.instrument[take]]),
        np.concatenate([accounts.quantity, orders.quantity[take]]),
        accounts.balances,
    )


def margin_with_orders(
    compute: Callable[[Accounts, str], MarginResult],
    accounts: Accounts,
    orders: Orders,
    n_instruments: int,
    model: str,
) -> MarginResult:
    """The result of ``compute`` on the book, with IM (and free collateral) the worst of the
    book as it is, with its buys filled and with its sells filled (§6.7)."""
    if len(orders) != len(accounts):
        raise ShapeError(f"orders cover {len(orders)} accounts, the book {len(accounts)}", "order_offsets")
    bad = np.flatnonzero(orders.instrument >= n_instruments)
    if bad.size:
        k = int(bad[0])
        raise IndexOutOfRangeError(
            f"order_instrument[{k}] = {int(orders.instrument[k])} is outside 0..{n_instruments - 1}",
            "order_instrument",
            k,
        )
    base = compute(accounts, model)
    im = base.initial_margin
    ord_acct = np.repeat(np.arange(len(orders)), np.diff(orders.offsets))
    for side in (1, -1):
        # only accounts with orders on this side are re-margined (fills merged into their rows)
        has = np.bincount(ord_acct[np.sign(orders.quantity) == side], minlength=len(orders)) > 0
        if has.any():
            filled = compute(with_fills(accounts, orders, side), model).initial_margin
            im = np.where(has, np.maximum(im, filled), im)
    return replace(base, initial_margin=im, free_collateral=base.equity - im)
