# `zkmargin._core.margin` (rust/python/src/margin.rs, state.rs).
from typing import TypeAlias, TypedDict, final

import numpy as np
from numpy.typing import NDArray

from . import _Book, _Instruments, _Market, _Params, _Rules, _Scenarios

__all__ = [
    "ACCOUNT_FIELDS",
    "GREEK_FIELDS",
    "Engine",
    "MarketState",
    "black76",
    "black76_into",
    "implied_vol",
]

_F64 = NDArray[np.float64]
_I64 = NDArray[np.int64]

ACCOUNT_FIELDS: tuple[str, ...]
GREEK_FIELDS: tuple[str, ...]

def black76(
    is_call: NDArray[np.bool_],
    forward: _F64,
    strike: _F64,
    t: _F64,
    vol: _F64,
    rate: _F64,
    threads: int | None = None,
) -> list[_F64]: ...
def black76_into(
    is_call: NDArray[np.bool_],
    forward: _F64,
    strike: _F64,
    t: _F64,
    vol: _F64,
    rate: _F64,
    out: list[_F64],
    threads: int | None = None,
) -> None: ...
def implied_vol(
    price: _F64,
    is_call: NDArray[np.bool_],
    forward: _F64,
    strike: _F64,
    t: _F64,
    rate: _F64,
    threads: int | None = None,
) -> _F64: ...

# Engine.statement_terms: per bucket, per instrument, per asset (J x S rows)
class _StatementTerms(TypedDict):
    roll_rate: _F64
    forward: _F64
    portfolio: _I64
    collateral_group: _I64
    collateral_held: _F64
    collateral_borrowed: _F64

@final
class Engine:
    def __new__(
        cls, instruments: _Instruments, scenarios: _Scenarios, params: _Params, rules: _Rules
    ) -> Engine: ...
    @property
    def n_instruments(self) -> int: ...
    @property
    def n_scenarios(self) -> int: ...
    @property
    def n_underlyings(self) -> int: ...
    def roll_buckets(self) -> tuple[_I64, _F64]: ...
    def statement_terms(self, market: _Market, rates: _F64 | None = None) -> _StatementTerms: ...
    def validate_market(self, market: _Market, rates: _F64 | None = None) -> None: ...
    def validate(self, market: _Market, accounts: _Book, rates: _F64 | None = None) -> None: ...
    def instrument_values(self, market: _Market, rates: _F64 | None = None) -> _F64: ...
    def risk_arrays(self, market: _Market, threads: int | None = None, rates: _F64 | None = None) -> _F64: ...
    def compute(
        self,
        market: _Market,
        accounts: _Book,
        model: str,
        threads: int | None = None,
        rates: _F64 | None = None,
    ) -> tuple[list[_F64], _I64, list[_F64]]: ...

# (fields, worst scenario) of one account
_Margin: TypeAlias = tuple[list[float], int]

@final
class MarketState:
    def __new__(
        cls,
        engine: Engine,
        market: _Market,
        accounts: _Book,
        model: str,
        threads: int | None = None,
        rates: _F64 | None = None,
    ) -> MarketState: ...
    @property
    def n_accounts(self) -> int: ...
    def what_if(
        self, account: int, instrument: _I64, quantity: _F64, balance_change: _F64
    ) -> tuple[_Margin, _Margin]: ...
    def apply(
        self, account: int, instrument: _I64, quantity: _F64, balance_change: _F64
    ) -> tuple[_Margin, _Margin]: ...
    def reprice(self, market: _Market, threads: int | None = None, rates: _F64 | None = None) -> None: ...
    def results(self) -> tuple[list[_F64], _I64, list[_F64]]: ...
    def book(self) -> tuple[_I64, _I64, _F64, _F64]: ...
