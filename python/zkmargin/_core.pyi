# Type stubs for the Rust extension `zkmargin._core` (checked by `python -m mypy.stubtest zkmargin._core`).
from typing import TypeAlias, final

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "Engine",
    "G1Point",
    "G1Vec",
    "MarketState",
    "RangeProver",
    "available_threads",
    "black76",
    "black76_into",
    "debug_build",
    "dyn_addons",
    "dyn_annualise",
    "dyn_apc_vol",
    "dyn_cap_path",
    "dyn_collateral",
    "dyn_ewma_vol",
    "dyn_filtered_historical",
    "dyn_historical",
    "dyn_liquidation_scan",
    "dyn_log_returns",
    "dyn_monte_carlo",
    "dyn_rolling_vol",
    "dyn_scan_ranges",
    "dyn_scenario_pnl",
    "dyn_span2",
    "dyn_var_es",
    "g1_fold",
    "g1_fold_weighted",
    "g1_msm",
    "g1_msm_parts",
    "g1_scale",
    "implied_vol",
    "ipa_generator_scalars",
    "keccak256",
    "scalars_from_wide",
]

# --- margin engine -----------------------------------------------------------------------

_F64 = NDArray[np.float64]
_I64 = NDArray[np.int64]
# (spot, vol, forward or None, rate)
_Prices: TypeAlias = tuple[_F64, _F64, _F64 | None, float]
# per underlying: (expiry, log_moneyness, vol expiries x nodes) or None
_Surfaces: TypeAlias = list[tuple[_F64, _F64, _F64] | None] | None
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
def black76_into(
    is_call: NDArray[np.bool_],
    forward: NDArray[np.float64],
    strike: NDArray[np.float64],
    t: NDArray[np.float64],
    vol: NDArray[np.float64],
    rate: NDArray[np.float64],
    out: list[NDArray[np.float64]],
    threads: int,
) -> None: ...
def implied_vol(
    price: NDArray[np.float64],
    is_call: NDArray[np.bool_],
    forward: NDArray[np.float64],
    strike: NDArray[np.float64],
    t: NDArray[np.float64],
    rate: NDArray[np.float64],
    threads: int,
) -> NDArray[np.float64]: ...

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
        vol_up: NDArray[np.float64],
        vol_down: NDArray[np.float64],
        power_short: NDArray[np.float64],
        power_long: NDArray[np.float64],
        min_vol_up: NDArray[np.float64],
        params: dict[str, float],
        aggregation: str,
        correlation: NDArray[np.float64] | None = None,
        *,
        edge: NDArray[np.float64] | None = None,
        dampener: NDArray[np.float64] | None = None,
        annual_move_risk: NDArray[np.float64] | None = None,
        min_annual_move: NDArray[np.float64] | None = None,
        pnl_offset: NDArray[np.float64] | None = None,
        max_offsetable_pnl: NDArray[np.float64] | None = None,
        settlement_mode: str = "cross",
        asset_underlying: NDArray[np.int64] | None = None,
        span: tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]
        | None = None,
        look_ahead: float = 0.0,
        absolute_vol: bool = False,
    ) -> Engine: ...
    @property
    def n_instruments(self) -> int: ...
    @property
    def n_scenarios(self) -> int: ...
    @property
    def n_underlyings(self) -> int: ...
    def roll_buckets(self) -> tuple[NDArray[np.int64], NDArray[np.float64]]: ...
    def validate_market(
        self, prices: _Prices, surfaces: _Surfaces = None, rates: _F64 | None = None
    ) -> None: ...
    def validate(
        self,
        prices: _Prices,
        collateral: _CollateralAssets,
        book: _Book,
        surfaces: _Surfaces = None,
        rates: _F64 | None = None,
    ) -> None: ...
    def instrument_values(
        self, prices: _Prices, surfaces: _Surfaces = None, rates: _F64 | None = None
    ) -> NDArray[np.float64]: ...
    def risk_arrays(
        self, prices: _Prices, threads: int, surfaces: _Surfaces = None, rates: _F64 | None = None
    ) -> NDArray[np.float64]: ...
    def compute(
        self,
        prices: _Prices,
        collateral: _CollateralAssets,
        book: _Book,
        model: str,
        threads: int,
        surfaces: _Surfaces = None,
        rates: _F64 | None = None,
    ) -> tuple[list[NDArray[np.float64]], NDArray[np.int64], list[NDArray[np.float64]]]: ...

# (fields, worst scenario) of one account
_Margin: TypeAlias = tuple[list[float], int]

@final
class MarketState:
    def __new__(
        cls,
        engine: Engine,
        prices: _Prices,
        collateral: _CollateralAssets,
        book: _Book,
        model: str,
        threads: int,
        surfaces: _Surfaces = None,
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
    def reprice(
        self, prices: _Prices, threads: int, surfaces: _Surfaces = None, rates: _F64 | None = None
    ) -> None: ...
    def results(self) -> tuple[list[_F64], _I64, list[_F64]]: ...
    def book(self) -> tuple[_I64, _I64, _F64, _F64]: ...

# --- BN254 G1 (rust/python/src/curve.rs); scalars are 32-byte big-endian strings < r ---
@final
class G1Point:
    @staticmethod
    def generator() -> G1Point: ...
    @staticmethod
    def identity() -> G1Point: ...
    @staticmethod
    def from_evm(data: bytes) -> G1Point: ...
    @staticmethod
    def from_compressed(data: bytes) -> G1Point: ...
    @staticmethod
    def hash_to_curve(label: bytes) -> tuple[G1Point, int]: ...
    def to_evm(self) -> bytes: ...
    def to_compressed(self) -> bytes: ...
    def is_identity(self) -> bool: ...
    def mul(self, scalar: bytes) -> G1Point: ...
    def __add__(self, other: G1Point, /) -> G1Point: ...
    def __radd__(self, other: G1Point, /) -> G1Point: ...
    def __sub__(self, other: G1Point, /) -> G1Point: ...
    def __rsub__(self, other: G1Point, /) -> G1Point: ...
    def __neg__(self) -> G1Point: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class G1Vec:
    @staticmethod
    def from_points(points: list[G1Point]) -> G1Vec: ...
    @staticmethod
    def concat(parts: list[G1Vec]) -> G1Vec: ...
    @staticmethod
    def from_evm_bytes(data: bytes) -> G1Vec: ...
    @staticmethod
    def derive(prefix: bytes, start: int, count: int, threads: int | None = None) -> G1Vec: ...
    def __len__(self) -> int: ...
    def get(self, i: int) -> G1Point: ...
    def slice(self, start: int, stop: int) -> G1Vec: ...
    def to_list(self) -> list[G1Point]: ...
    def to_evm_bytes(self) -> bytes: ...

def g1_msm(points: G1Vec, scalars_be: bytes, threads: int | None = None) -> G1Point: ...
def g1_fold(lo: G1Vec, hi: G1Vec, a: bytes, b: bytes, threads: int | None = None) -> G1Vec: ...
def g1_fold_weighted(lo: G1Vec, hi: G1Vec, wa: bytes, wb: bytes, threads: int | None = None) -> G1Vec: ...
def g1_scale(points: G1Vec, w: bytes, threads: int | None = None) -> G1Vec: ...
def keccak256(data: bytes) -> bytes: ...
def ipa_generator_scalars(
    checks: list[tuple[int, int, bytes, bytes, bytes, bytes, bytes, bytes]],
    len: int,
    threads: int | None = None,
) -> bytes: ...
def g1_msm_parts(points: G1Vec, parts: list[bytes], threads: int | None = None) -> G1Point: ...
def scalars_from_wide(data: bytes) -> bytes: ...

@final
class RangeProver:
    def __new__(
        cls,
        g: G1Vec,
        h: G1Vec,
        g_base: G1Point,
        h_base: G1Point,
        values: bytes,
        gammas: bytes,
        n: int,
        randomness: bytes,
        threads: int | None = None,
    ) -> RangeProver: ...
    def commit(self) -> tuple[G1Point, G1Point]: ...
    def poly(self, y: bytes, z: bytes) -> tuple[G1Point, G1Point]: ...
    def evaluate(self, x: bytes) -> tuple[bytes, bytes, bytes]: ...
    def ipa_begin(self, w: bytes) -> None: ...
    def ipa_round(self) -> tuple[G1Point, G1Point]: ...
    def ipa_fold(self, u: bytes) -> None: ...
    def result(self) -> tuple[bytes, bytes]: ...

# --- zkmargin.dynamic (issue 4): merge into _core.pyi ---------------------------------
def dyn_log_returns(prices: NDArray[np.float64]) -> NDArray[np.float64]: ...
def dyn_ewma_vol(returns: NDArray[np.float64], lam: float) -> NDArray[np.float64]: ...
def dyn_rolling_vol(returns: NDArray[np.float64], window: int) -> NDArray[np.float64]: ...
def dyn_annualise(vol_: NDArray[np.float64], periods_per_year: float) -> NDArray[np.float64]: ...
def dyn_scan_ranges(
    sigma: NDArray[np.float64], k: float, horizon: float, floor: float, cap: float
) -> NDArray[np.float64]: ...
def dyn_apc_vol(
    current: NDArray[np.float64],
    lookback: NDArray[np.float64],
    stressed: NDArray[np.float64],
    stress_weight: float,
) -> NDArray[np.float64]: ...
def dyn_cap_path(targets: NDArray[np.float64], max_rise: float) -> NDArray[np.float64]: ...
def dyn_historical(returns: NDArray[np.float64], horizon: int) -> NDArray[np.float64]: ...
def dyn_filtered_historical(
    returns: NDArray[np.float64], lam: float, horizon: int
) -> NDArray[np.float64]: ...
def dyn_monte_carlo(
    sigma: NDArray[np.float64],
    correlation: NDArray[np.float64],
    horizon: float,
    n_scenarios: int,
    seed: int,
) -> NDArray[np.float64]: ...
def dyn_var_es(
    risk_arrays: NDArray[np.float64],
    offsets: NDArray[np.int64],
    instrument: NDArray[np.int64],
    quantity: NDArray[np.float64],
    confidence: float,
    threads: int,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]: ...
def dyn_scenario_pnl(
    risk_arrays: NDArray[np.float64],
    offsets: NDArray[np.int64],
    instrument: NDArray[np.int64],
    quantity: NDArray[np.float64],
    threads: int,
) -> NDArray[np.float64]: ...
def dyn_span2(
    x: float,
    tail: NDArray[np.float64],
    stress: NDArray[np.float64],
    liquidity: NDArray[np.float64],
    concentration: NDArray[np.float64],
) -> NDArray[np.float64]: ...
def dyn_addons(
    notional: NDArray[np.float64],
    half_spread: NDArray[np.float64],
    depth: NDArray[np.float64],
    base_ratio: NDArray[np.float64],
    share: float,
    rate: float,
    imf: float,
    offsets: NDArray[np.int64],
    instrument: NDArray[np.int64],
    quantity: NDArray[np.float64],
    threads: int,
) -> NDArray[np.float64]: ...
def dyn_collateral(
    balances: NDArray[np.float64],
    asset_price: NDArray[np.float64],
    sigma: NDArray[np.float64],
    depth: NDArray[np.float64],
    base: NDArray[np.float64],
    z: float,
    participation: float,
    min_days: float,
    cap: float,
    threads: int,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]: ...
def dyn_liquidation_scan(
    engine: Engine,
    prices: _Prices,
    collateral: _CollateralAssets,
    book: _Book,
    model: str,
    target: str,
    buffer: float,
    penalty: float,
    notional: NDArray[np.float64],
    half_spread: NDArray[np.float64],
    depth: NDArray[np.float64],
    base_ratio: NDArray[np.float64],
    share: float,
    rate: float,
    imf: float,
    extra_equity: NDArray[np.float64] | None,
    threads: int,
) -> tuple[
    NDArray[np.int64],
    NDArray[np.float64],
    NDArray[np.bool_],
    NDArray[np.float64],
    NDArray[np.float64],
    NDArray[np.uint8],
    NDArray[np.int64],
    NDArray[np.int64],
    NDArray[np.float64],
]: ...
