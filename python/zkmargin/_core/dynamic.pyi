# `zkmargin._core.dynamic` (rust/python/src/dynamic.rs); the public API is zkmargin.dynamic.
from typing import Final, Protocol

import numpy as np
from numpy.typing import NDArray

from . import _Book, _Market, _Positions
from .margin import Engine

__all__ = [
    "FRACTION_TOLERANCE",
    "MAX_ITERATIONS",
    "MAX_PASSES",
    "PSD_JITTER",
    "TIE",
    "addons",
    "annualise",
    "apc_vol",
    "cap_path",
    "collateral",
    "ewma_vol",
    "filtered_historical",
    "historical",
    "liquidation_scan",
    "log_returns",
    "monte_carlo",
    "rolling_vol",
    "scan_ranges",
    "scenario_pnl",
    "span2",
    "var_es",
]

_F64 = NDArray[np.float64]

PSD_JITTER: Final[float]
FRACTION_TOLERANCE: Final[float]
MAX_ITERATIONS: Final[int]
TIE: Final[float]
MAX_PASSES: Final[int]

class _Liquidity(Protocol):
    @property
    def notional(self) -> _F64: ...
    @property
    def half_spread(self) -> _F64: ...
    @property
    def depth(self) -> _F64: ...
    @property
    def base_ratio(self) -> _F64: ...
    @property
    def share(self) -> float: ...
    @property
    def rate(self) -> float: ...
    @property
    def imf(self) -> float: ...

class _Haircut(Protocol):
    @property
    def z(self) -> float: ...
    @property
    def participation(self) -> float: ...
    @property
    def min_days(self) -> float: ...
    @property
    def cap(self) -> float: ...

class _Assets(Protocol):
    @property
    def asset_price(self) -> _F64: ...
    @property
    def sigma(self) -> _F64: ...
    @property
    def depth(self) -> _F64: ...
    @property
    def base(self) -> _F64: ...

class _Liquidation(Protocol):
    @property
    def model(self) -> str: ...
    @property
    def target(self) -> str: ...
    @property
    def buffer(self) -> float: ...
    @property
    def penalty(self) -> float: ...
    @property
    def liquidity(self) -> _Liquidity: ...

def log_returns(prices: _F64) -> _F64: ...
def ewma_vol(returns: _F64, lam: float) -> _F64: ...
def rolling_vol(returns: _F64, window: int) -> _F64: ...
def annualise(vol_: _F64, periods_per_year: float) -> _F64: ...
def scan_ranges(sigma: _F64, k: float, horizon: float, floor: float, cap: float) -> _F64: ...
def apc_vol(current: _F64, lookback: _F64, stressed: _F64, stress_weight: float) -> _F64: ...
def cap_path(targets: _F64, max_rise: float) -> _F64: ...
def historical(returns: _F64, horizon: int) -> _F64: ...
def filtered_historical(returns: _F64, lam: float, horizon: int) -> _F64: ...
def monte_carlo(sigma: _F64, correlation: _F64, horizon: float, n_scenarios: int, seed: int) -> _F64: ...
def var_es(
    risk_arrays: _F64, accounts: _Positions, confidence: float, threads: int | None = None
) -> tuple[_F64, _F64]: ...
def scenario_pnl(risk_arrays: _F64, accounts: _Positions, threads: int | None = None) -> _F64: ...
def span2(x: float, tail: _F64, stress: _F64, liquidity: _F64, concentration: _F64) -> _F64: ...
def addons(rule: _Liquidity, accounts: _Positions, threads: int | None = None) -> _F64: ...
def collateral(
    balances: _F64, assets: _Assets, rule: _Haircut, threads: int | None = None
) -> tuple[_F64, _F64]: ...
def liquidation_scan(
    engine: Engine,
    market: _Market,
    accounts: _Book,
    rule: _Liquidation,
    extra_equity: _F64 | None = None,
    threads: int | None = None,
) -> tuple[
    NDArray[np.int64],
    _F64,
    NDArray[np.bool_],
    _F64,
    _F64,
    NDArray[np.uint8],
    NDArray[np.int64],
    NDArray[np.int64],
    _F64,
]: ...
