"""zkmargin: a portfolio margin engine for crypto derivatives (Rust core) with
zero-knowledge solvency proofs on BN254.

Quick tour::

    import zkmargin
    ex = zkmargin.synthetic.generate_exchange(10_000, seed=1)
    eng = zkmargin.MarginEngine(ex.instruments)
    res = eng.compute(ex.accounts, ex.market, "portfolio")
    res.maintenance_margin
"""

import importlib
from importlib.metadata import version as _version
from typing import Any

#: The Cargo workspace version (maturin writes it into the package metadata).
__version__ = _version("zkmargin")

from . import errors, proof, scenarios, symbols
from .book import Accounts, Instruments, Kind, Settlement
from .forwards import forwards_from_futures
from .market import Market
from .orders import Orders
from .params import MarginParams
from .rates import RateCurve
from .results import InstrumentValues, MarginResult
from .scenarios import DeribitCurrency, ScenarioTable, deribit_scenarios, span_scenarios
from .segregated import CurrencyRequirements, currency_requirements
from .surface import VolSurface

try:
    # the compiled extension; without it the directory of its stubs (_core/*.pyi) would
    # import as an empty namespace package, which counts as absent
    if getattr(importlib.import_module(f"{__name__}._core"), "__file__", None) is None:
        raise ModuleNotFoundError("zkmargin._core is not compiled", name=f"{__name__}._core")
except ModuleNotFoundError as _absent:
    if _absent.name != "zkmargin._core":
        raise
    # Without the extension the data model and the pure-Python proof verifier
    # (backend="pyecc") still work; everything that computes margins needs the core.
    _NO_CORE: ModuleNotFoundError | None = _absent
else:
    _NO_CORE = None
    from . import dynamic, synthetic
    from .engine import MarginEngine, default_threads
    from .implied import implied_vol
    from .pricing import Greeks, black76
    from .state import MarketState, WhatIf

_NEEDS_CORE = (
    "Greeks",
    "MarginEngine",
    "MarketState",
    "WhatIf",
    "baseline",
    "black76",
    "default_threads",
    "dynamic",
    "implied_vol",
    "synthetic",
)


def __getattr__(name: str) -> Any:
    if _NO_CORE is not None and name in _NEEDS_CORE:
        raise ImportError(
            f"zkmargin.{name} needs the compiled extension zkmargin._core, which is not installed "
            "(only zkmargin.proof verification with backend='pyecc' works without it)"
        ) from _NO_CORE
    if name == "baseline":
        # The oracles load on first use, so importing the package never loads them
        # (tests/test_import_graph.py checks that no production module imports them).
        return importlib.import_module(f"{__name__}.baseline")
    raise AttributeError(f"module 'zkmargin' has no attribute {name!r}")


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
    "MarketState",
    "Orders",
    "RateCurve",
    "ScenarioTable",
    "Settlement",
    "VolSurface",
    "WhatIf",
    "__version__",
    "baseline",
    "black76",
    "currency_requirements",
    "default_threads",
    "deribit_scenarios",
    "dynamic",
    "errors",
    "forwards_from_futures",
    "implied_vol",
    "proof",
    "scenarios",
    "span_scenarios",
    "symbols",
    "synthetic",
]
