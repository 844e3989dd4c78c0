"""Per-settlement-currency requirements of the segregated settlement mode
(docs/margin-model.md §6.2-§6.3): each portfolio's IM and MM in its own currency, coins for
a coin-settled portfolio and USD for a linear one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .book import Accounts, Settlement
from .errors import ParameterError
from .market import Market


@dataclass(frozen=True, eq=False)
class CurrencyRequirements:
    """``G = 2 U`` portfolios: ``u`` holds underlying ``u``'s linear (USD-settled)
    instruments, ``U + u`` its coin-settled ones. Requirements are ``A x G``, each column
    in its portfolio's ``currency``; under the sum aggregation they add up (at today's
    index) to the engine's IM and MM."""

    underlying: NDArray[np.int64]
    currency: tuple[str, ...]
    initial_margin: NDArray[np.float64]
    maintenance_margin: NDArray[np.float64]


def currency_requirements(engine: Any, accounts: Accounts, market: Market) -> CurrencyRequirements:
    """Each account's portfolio-margin requirement per settlement currency under
    ``engine`` (any engine class, built with ``settlement_mode="segregated"``)."""
    if engine.settlement_mode != "segregated":
        raise ParameterError("per-currency requirements need settlement_mode='segregated'", "settlement_mode")
    # the book's offsets size the arrays below: refuse a malformed book before using them
    engine.validate(accounts, market)
    ins = engine.instruments
    n_u = engine.n_underlyings
    coin = ins.settlement == Settlement.INVERSE
    group = ins.underlying + np.where(coin, n_u, 0)
    row_group = group[accounts.instrument]
    row_acct = np.repeat(np.arange(len(accounts)), np.diff(accounts.offsets))
    # the segregated mode never shocks collateral, so balances cannot change a requirement
    no_cash = np.zeros_like(accounts.balances)
    im = np.zeros((len(accounts), 2 * n_u))
    mm = np.zeros_like(im)
    und_names = ins.underlying_names or ()
    names = [str(und_names[u]) if u < len(und_names) else str(u) for u in range(n_u)]
    for g in range(2 * n_u):
        keep = row_group == g
        if not keep.any():
            continue
        counts = np.bincount(row_acct[keep], minlength=len(accounts))
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        part = Accounts(offsets, accounts.instrument[keep], accounts.quantity[keep], no_cash)
        res = engine.compute(part, market, "portfolio")
        scale = 1.0 / float(market.spot[g - n_u]) if g >= n_u else 1.0
        im[:, g] = res.initial_margin * scale
        mm[:, g] = res.maintenance_margin * scale
    currency = tuple(["USD"] * n_u + names)
    return CurrencyRequirements(np.arange(2 * n_u) % n_u, currency, im, mm)
