"""A book margined over a market priced once, for pre-trade what-if checks, applied trades
and price ticks without repricing the universe per call (docs/margin-model.md §7.1)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import _args, _arrays
from ._core import margin as _margin
from ._ids import IdIndex
from .book import Accounts, user_errors
from .engine import MarginEngine
from .errors import ArgumentTypeError
from .market import Market
from .results import ACCOUNT_FIELDS, GREEK_FIELDS, MarginResult


@dataclass(frozen=True)
class AccountMargin:
    """One account's outputs (docs §7)."""

    equity: float
    initial_margin: float
    maintenance_margin: float
    free_collateral: float
    margin_ratio: float
    scenario_loss: float
    roll_addon: float
    short_option_addon: float
    worst_scenario: int

    @classmethod
    def _from_core(cls, raw: tuple[list[float], int]) -> AccountMargin:
        fields, worst = raw
        return cls(**dict(zip(ACCOUNT_FIELDS, fields, strict=True)), worst_scenario=worst)


@dataclass(frozen=True)
class WhatIf:
    """An account before and after a trade; the ``d_`` properties are after - before."""

    before: AccountMargin
    after: AccountMargin

    @property
    def d_equity(self) -> float:
        """Equity after the trade minus equity before it."""
        return self.after.equity - self.before.equity

    @property
    def d_initial_margin(self) -> float:
        """Initial margin after the trade minus before it."""
        return self.after.initial_margin - self.before.initial_margin

    @property
    def d_maintenance_margin(self) -> float:
        """Maintenance margin after the trade minus before it."""
        return self.after.maintenance_margin - self.before.maintenance_margin


#: (instrument, contracts) pairs; the instrument by name when the universe has names.
Trades = Iterable[tuple[Any, float]]


class MarketState:
    """``engine``'s universe priced once for ``market`` (instrument values and, for the
    portfolio model, risk arrays cached in the Rust core) and every account of ``accounts``
    margined under ``model``. Holds its own copy of the book; the caller's arrays are
    neither kept nor changed. Accounts are addressed by the book's account ids (its
    indices when it has none) and instruments by name when the universe has names.

    >>> st = MarketState(engine, accounts, market)       # doctest: +SKIP
    >>> st.what_if(7, [(12, 2.0), (40, -1.0)]).after.initial_margin  # doctest: +SKIP
    """

    def __init__(self, engine: MarginEngine, accounts: Accounts, market: Market, model: str = "portfolio"):
        engine._check_model(model)
        self.engine = engine
        self.model = model
        with user_errors(engine.instruments, accounts):
            self._native = _margin.MarketState(
                engine._native,
                market,
                accounts,
                model,
                engine.threads,
                market.rates_at(engine.instruments.expiry),
            )
        self._accounts = accounts
        ids = accounts.account_id
        self._ids = None if ids is None else IdIndex("account", ids, "account")
        self._n_assets = accounts.balances.shape[1]

    @property
    def n_accounts(self) -> int:
        """Accounts in the state's book."""
        return self._native.n_accounts

    def _account(self, account: Any) -> int:
        if self._ids is None:
            return _args.integer("account", account, -(1 << 63), (1 << 63) - 1)
        return int(self._ids.positions("account", [account])[0])

    def _trade_arrays(
        self, trades: Trades, balance_change: Any
    ) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
        if isinstance(trades, (str, bytes)) or not hasattr(trades, "__iter__"):
            raise ArgumentTypeError("trades must be (instrument, contracts) pairs", "trades")
        pairs = list(trades)
        bad = next(
            (k for k, p in enumerate(pairs) if not (isinstance(p, (tuple, list)) and len(p) == 2)), None
        )
        if bad is not None:
            raise ArgumentTypeError(f"trades[{bad}] is not an (instrument, contracts) pair", "trades", bad)
        ins = np.array([p[0] for p in pairs]) if pairs else np.zeros(0, dtype=np.int64)
        ins = self.engine.instruments.index(ins, "trades.instrument")
        # the core checks the values (finite, naming the trade); here only their type
        qty = _arrays.f64("trades.quantity", [p[1] for p in pairs])
        if any(isinstance(p[1], (bool, np.bool_, str, bytes)) for p in pairs):
            raise ArgumentTypeError("trades: contracts must be numbers", "trades.quantity")
        bal = (
            np.zeros(self._n_assets)
            if balance_change is None
            else _arrays.f64("balance_change", balance_change)
        )
        return ins, qty, bal

    def what_if(self, account: Any, trades: Trades, balance_change: Any = None) -> WhatIf:
        """The account's margin with ``trades`` ((instrument, contracts) pairs, negative
        sells) added to its positions and ``balance_change`` (per collateral asset, e.g.
        a premium paid) to its balances; nothing is changed. Computed in Rust from the
        cached risk arrays: the account's few rows are re-margined, nothing repriced.
        Equals a full ``engine.compute`` of the changed book (docs §7.1)."""
        a = self._account(account)
        ins, qty, bal = self._trade_arrays(trades, balance_change)
        before, after = self._native.what_if(a, ins, qty, bal)
        return WhatIf(AccountMargin._from_core(before), AccountMargin._from_core(after))

    def apply(self, account: Any, trades: Trades, balance_change: Any = None) -> WhatIf:
        """:meth:`what_if`, and the change is kept: only that account is re-margined."""
        a = self._account(account)
        ins, qty, bal = self._trade_arrays(trades, balance_change)
        before, after = self._native.apply(a, ins, qty, bal)
        return WhatIf(AccountMargin._from_core(before), AccountMargin._from_core(after))

    def tick(self, market: Market) -> MarginResult:
        """Reprices the universe once for ``market`` and re-margins every account."""
        with user_errors(self.engine.instruments):
            rates = market.rates_at(self.engine.instruments.expiry)
            self._native.reprice(market, self.engine.threads, rates)
        return self.result()

    def result(self) -> MarginResult:
        """Every account's outputs, as ``engine.compute`` returns them."""
        fields_out, worst, greeks = self._native.results()
        fields: dict[str, Any] = dict(zip(ACCOUNT_FIELDS, fields_out, strict=True))
        fields.update(zip(GREEK_FIELDS, greeks, strict=True))
        return MarginResult(
            model=self.model, worst_scenario=worst, **fields, **self.engine.labels(self._accounts)
        )

    def accounts(self) -> Accounts:
        """The current book (with every applied trade) as :class:`Accounts`, with the
        original book's account ids, asset names and instruments."""
        a = self._accounts
        return Accounts(
            *self._native.book(), account_id=a.account_id, assets=a.assets, instruments=a.instruments
        )
