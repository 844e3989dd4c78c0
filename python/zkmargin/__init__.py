"""zkmargin: a portfolio margin engine for crypto derivatives (Rust core) with
zero-knowledge solvency proofs on BN254.

Quick tour::

    import zkmargin
    ex = zkmargin.synthetic.generate_exchange(10_000, seed=1)
    eng = zkmargin.MarginEngine(ex.instruments)
    res = eng.compute(ex.accounts, ex.market, "portfolio")
    res.maintenance_margin
"""

from . import baseline, dynamic, errors, numpy_engine, proof, scenarios, synthetic
from .book import Accounts, Instruments, Kind, Settlement
from .engine import MarginEngine, default_threads
from .market import Market
from .orders import Orders
from .params import MarginParams
from .pricing import Greeks, black76
from .results import InstrumentValues, MarginResult
from .scenarios import DeribitCurrency, ScenarioTable, deribit_scenarios, span_scenarios
from .segregated import CurrencyRequirements, currency_requirements

__version__ = "0.1.0"

__all__ = [
    "Accounts",
    "CurrencyRequirements",
    "DeribitCurrency",
    "Greeks",
    "InstrumentValues",
    "Instruments",
    "Kind",
    "MarginEngine",
    "MarginParams",
    "MarginResult",
    "Market",
    "Orders",
    "ScenarioTable",
    "Settlement",
    "__version__",
    "baseline",
    "black76",
    "currency_requirements",
    "default_threads",
    "deribit_scenarios",
    "dynamic",
    "errors",
    "numpy_engine",
    "proof",
    "scenarios",
    "span_scenarios",
    "synthetic",
]
