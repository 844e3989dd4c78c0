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
from .forwards import forwards_from_futures
from .implied import implied_vol
from .market import Market
from .params import MarginParams
from .pricing import Greeks, black76
from .results import InstrumentValues, MarginResult
from .scenarios import ScenarioTable, deribit_scenarios, span_scenarios
from .state import MarketState, WhatIf
from .surface import VolSurface

__version__ = "0.1.0"

__all__ = [
    "Accounts",
    "Greeks",
    "InstrumentValues",
    "Instruments",
    "Kind",
    "MarginEngine",
    "MarginParams",
    "MarginResult",
    "Market",
    "MarketState",
    "ScenarioTable",
    "Settlement",
    "VolSurface",
    "WhatIf",
    "__version__",
    "baseline",
    "black76",
    "default_threads",
    "deribit_scenarios",
    "dynamic",
    "errors",
    "forwards_from_futures",
    "implied_vol",
    "numpy_engine",
    "proof",
    "scenarios",
    "span_scenarios",
    "synthetic",
]
