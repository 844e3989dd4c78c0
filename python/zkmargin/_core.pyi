# Type stubs for the Rust extension `zkmargin._core` (checked by `python -m mypy.stubtest zkmargin._core`).
from typing import TypeAlias, final

import numpy as np
from numpy.typing import NDArray

# --- margin engine -----------------------------------------------------------------------

_F64 = NDArray[np.float64]
_I64 = NDArray[np.int64]
# (spot, vol, forward or None, rate)
_Prices: TypeAlias = tuple[_F64, _F64, _F64 | None, float]
# (asset_price, haircut)
_CollateralAssets: TypeAlias = tuple[_F64, _F64]
# (offsets, instrument, quantity, balances)
_Book: TypeAlias = tuple[_I64, _I64, _F64, _F64]

def available_threads() -> int: ...
def debug_build() -> bool: ...
def black76(
    is_call: NDArray[np.bool_],
    forward: NDArray[np.float64],
    strike: NDArray[np.float64],
    t: NDArray[np.float64],
    vol: NDArray[np.float64],
    rate: NDArray[np.float64],
    threads: int,
) -> list[NDArray[np.float64]]: ...

@final
class Engine:
    def __new__(
        cls,
        kind: NDArray[np.int64],
        underlying: NDArray[np.int64],
        strike: NDArray[np.float64],
        expiry: NDArray[np.float64],
        contract_size: NDArray[np.float64],
        settlement: NDArray[np.int64],
        moves: NDArray[np.float64],
        vol_shocks: NDArray[np.float64],
        weights: NDArray[np.float64],
        vol_up: float,
        vol_down: float,
        power_short: float,
        power_long: float,
        min_vol_up: float,
        params: dict[str, float],
        aggregation: str,
        correlation: NDArray[np.float64] | None = None,
    ) -> Engine: ...
    @property
    def n_instruments(self) -> int: ...
    @property
    def n_scenarios(self) -> int: ...
    @property
    def n_underlyings(self) -> int: ...
    def roll_buckets(self) -> tuple[NDArray[np.int64], NDArray[np.float64]]: ...
    def validate_market(self, prices: _Prices) -> None: ...
    def validate(self, prices: _Prices, collateral: _CollateralAssets, book: _Book) -> None: ...
    def instrument_values(self, prices: _Prices) -> NDArray[np.float64]: ...
    def risk_arrays(self, prices: _Prices, threads: int) -> NDArray[np.float64]: ...
    def compute(
        self, prices: _Prices, collateral: _CollateralAssets, book: _Book, model: str, threads: int
    ) -> tuple[list[NDArray[np.float64]], NDArray[np.int64], list[NDArray[np.float64]]]: ...
