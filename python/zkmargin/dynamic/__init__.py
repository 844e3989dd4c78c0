"""Dynamic margin (docs/margin-model.md §10 onwards): requirements that move with the
market, and the numbers a protocol needs to see the trade-off.

- volatility: log returns, EWMA and rolling volatility, annualisation, dynamic scan ranges,
  anti-procyclical volatility and rate-limited requirement paths;
- joint scenarios: historical, filtered historical and seeded Monte Carlo;
- fused per-account VaR / ES in Rust and the SPAN 2-style combination;
- liquidity, concentration and size add-ons, and liquidation-horizon haircuts;
- health, partial liquidation, the batch liquidation scan and liquidation prices;
- named stress scenarios and liquidation cascades (partial vs full);
- static vs dynamic margin backtests with Kupiec's proportion-of-failures test.

``zkmargin.baseline.dynamic`` implements every formula in pure Python.
"""

from .backtesting import PolicyBacktest, backtest, kupiec
from .joint import (
    filtered_historical_scenarios,
    historical_scenarios,
    joint_table,
    monte_carlo_scenarios,
)
from .liquidation import (
    LiquidationScan,
    health,
    liquidation_price,
    scan_margin,
)
from .risk import (
    Addons,
    HaircutRule,
    LiquidityRule,
    addons,
    dynamic_collateral,
    instrument_notional,
    joint_risk_arrays,
    scenario_pnl,
    span2_margin,
    var_es,
)
from .shift import collateral_value, shocked_market
from .stress import (
    DEFAULT_STRESSES,
    CascadeResult,
    StressReport,
    StressScenario,
    cascade,
    stress_table,
    stress_test,
)
from .volatility import (
    annualise,
    apc_volatility,
    cap_path,
    dynamic_span_table,
    ewma_volatility,
    log_returns,
    rolling_volatility,
    scan_ranges,
    span_table_from_ranges,
)

__all__ = [
    "DEFAULT_STRESSES",
    "Addons",
    "CascadeResult",
    "HaircutRule",
    "LiquidationScan",
    "LiquidityRule",
    "PolicyBacktest",
    "StressReport",
    "StressScenario",
    "addons",
    "annualise",
    "apc_volatility",
    "backtest",
    "cap_path",
    "cascade",
    "collateral_value",
    "dynamic_collateral",
    "dynamic_span_table",
    "ewma_volatility",
    "filtered_historical_scenarios",
    "health",
    "historical_scenarios",
    "instrument_notional",
    "joint_risk_arrays",
    "joint_table",
    "kupiec",
    "liquidation_price",
    "log_returns",
    "monte_carlo_scenarios",
    "rolling_volatility",
    "scan_margin",
    "scan_ranges",
    "scenario_pnl",
    "shocked_market",
    "span2_margin",
    "span_table_from_ranges",
    "stress_table",
    "stress_test",
    "var_es",
]
