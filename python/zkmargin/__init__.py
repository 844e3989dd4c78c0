"""zkmargin: a portfolio margin engine for crypto derivatives (Rust core) with
zero-knowledge solvency proofs on BN254.

Quick tour::

    import zkmargin
    ex = zkmargin.synthetic.generate_exchange(10_000, seed=1)
    eng = zkmargin.MarginEngine(ex.instruments)
    res = eng.compute(ex.accounts, ex.market, "portfolio")
    res.maintenance_margin
"""

from importlib.metadata import version as _version

from . import baseline, dynamic, errors, numpy_engine, proof, scenarios, symbols, synthetic
from .book import Accounts, Instruments, Kind, Settlement
from .engine import MarginEngine, default_threads
from .market import Market
from .params import MarginParams
from .pricing import Greeks, black76
from .results import InstrumentValues, MarginResult
from .scenarios import ScenarioTable, deribit_scenarios, span_scenarios

#: The Cargo workspace version (maturin writes it into the package metadata).
__version__ = _version("zkmargin")

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
    "ScenarioTable",
    "Settlement",
    "__version__",
    "baseline",
    "black76",
    "default_threads",
    "deribit_scenarios",
    "dynamic",
    "errors",
    "numpy_engine",
    "proof",
    "scenarios",
    "span_scenarios",
    "symbols",
    "synthetic",
]
