"""The margin engine front: one constructor and ``compute`` signature for every backend."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from . import _args, _arrays, _core
from ._core import margin as _margin
from .book import Accounts, Instruments, user_errors
from .errors import ParameterError
from .market import Market
from .orders import Orders, margin_with_orders
from .params import MarginParams
from .results import (
    ACCOUNT_FIELDS,
    AGGREGATIONS,
    GREEK_FIELDS,
    INSTRUMENT_FIELDS,
    MODELS,
    SETTLEMENT_MODES,
    InstrumentValues,
    MarginResult,
    StatementTerms,
)
from .scenarios import MAX_UNDERLYINGS, ScenarioTable, deribit_scenarios
from .span import NativeSpan, SpanRules


def default_threads() -> int:
    """``ZKMARGIN_THREADS`` if set, else every core (the core's one thread rule,
    docs/design-notes.md)."""
    return _core.resolve_threads(None)


F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


class EngineRules(NamedTuple):
    """How the native engine aggregates and settles (``zkmargin._core.margin.Engine``)."""

    aggregation: str
    correlation: F64 | None
    span: NativeSpan | None
    settlement_mode: str
    asset_underlying: I64 | None


class EngineBase(ABC):
    """Holds the instrument universe, scenario table, parameters and aggregation rule,
    validated once by the native core. Subclasses implement the arithmetic."""

    def __init__(
        self,
        instruments: Instruments,
        scenarios: ScenarioTable | None = None,
        params: MarginParams | None = None,
        aggregation: str = "sum",
        correlation: Any = None,
        threads: int | None = None,
        settlement_mode: str = "cross",
        asset_underlying: Any = None,
        span: SpanRules | None = None,
    ) -> None:
        if not isinstance(instruments, Instruments):
            raise ParameterError("instruments must be a zkmargin.Instruments", "instruments")
        if aggregation not in AGGREGATIONS:
            raise ParameterError(
                f"aggregation must be one of {AGGREGATIONS}, got {aggregation!r}", "aggregation"
            )
        self.instruments = instruments
        if scenarios is None and instruments.n_underlyings > MAX_UNDERLYINGS:
            worst = int(np.argmax(instruments.underlying))
            raise ParameterError(
                f"underlying index {instruments.underlying[worst]} needs a default scenario table for "
                f"more than {MAX_UNDERLYINGS} underlyings; pass scenarios= or renumber the underlyings",
                "underlying",
                worst,
            )
        self.scenarios = (
            _args.instance("scenarios", scenarios, ScenarioTable)
            if scenarios is not None
            else deribit_scenarios(max(instruments.n_underlyings, 1))
        )
        self.params = _args.instance("params", params, MarginParams) if params is not None else MarginParams()
        self.aggregation = aggregation
        self.correlation: NDArray[np.float64] | None = (
            None if correlation is None else _arrays.f64("correlation", correlation, ndim=2)
        )
        if settlement_mode not in SETTLEMENT_MODES:
            raise ParameterError(
                f"settlement_mode must be one of {SETTLEMENT_MODES}, got {settlement_mode!r}",
                "settlement_mode",
            )
        self.settlement_mode = settlement_mode
        #: underlying each collateral asset is shocked with in the scenarios, -1 for none (§6.2)
        self.asset_underlying: NDArray[np.int64] | None = (
            None if asset_underlying is None else _arrays.i64("asset_underlying", asset_underlying)
        )
        if span is not None and not isinstance(span, SpanRules):
            raise ParameterError("span must be a zkmargin.span.SpanRules", "span")
        if aggregation == "span" and span is None:
            span = SpanRules()
        self.span = span
        #: the thread count every call of this engine runs with (the core's rule: None or 0
        #: is ``ZKMARGIN_THREADS`` or every core)
        self.threads = _core.resolve_threads(threads)
        rules = EngineRules(
            aggregation,
            self.correlation,
            None if span is None else span.native(self.scenarios.n_underlyings),
            settlement_mode,
            self.asset_underlying,
        )
        self._native_rules = rules
        self._native = _margin.Engine(instruments, self.scenarios, self.params, rules)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # the native engine is rebuilt from the validated inputs (it holds no other state),
        # so engines travel to pool and Dask workers
        return (
            type(self),
            (
                self.instruments,
                self.scenarios,
                self.params,
                self.aggregation,
                self.correlation,
                self.threads,
                self.settlement_mode,
                self.asset_underlying,
                self.span,
            ),
        )

    @property
    def n_underlyings(self) -> int:
        """Underlyings of the scenario table."""
        return self.scenarios.n_underlyings

    def labels(self, accounts: Accounts) -> dict[str, Any]:
        """The identifiers a result carries: the book's account ids, a label per scenario
        and the underlyings' currencies."""
        sc = self.scenarios
        und = self.instruments.underlying_names
        names = tuple(und[u] if und is not None and u < len(und) else str(u) for u in range(sc.n_underlyings))
        return {
            "account_id": accounts.account_id,
            "scenarios": sc,
            "underlying_names": names,
        }

    @staticmethod
    def _check_model(model: str) -> None:
        if model not in MODELS:
            raise ParameterError(f"model must be one of {MODELS}, got {model!r}", "model")

    def compute(
        self, accounts: Accounts, market: Market, model: str = "portfolio", orders: Orders | None = None
    ) -> MarginResult:
        """Equity, IM, MM, add-ons, worst scenario and net Greeks of every account under
        ``model`` (``"standard"``, ``"cross"`` or ``"portfolio"``; docs §7); ``orders``
        (resting orders) raise IM to the worst of the book with and without their fills
        (docs §6.7)."""
        self._check_model(model)
        if orders is not None:
            return margin_with_orders(
                lambda acc, m: self.compute(acc, market, m), accounts, orders, len(self.instruments), model
            )
        return self._compute(accounts, market, model)

    @abstractmethod
    def _compute(self, accounts: Accounts, market: Market, model: str) -> MarginResult:
        """:meth:`compute` without orders, ``model`` checked: each engine's arithmetic."""

    def validate(self, accounts: Accounts, market: Market) -> None:
        """Raise the typed error for the first bad value in ``accounts`` or ``market``,
        naming the caller's rows, account ids and instrument names."""
        with user_errors(self.instruments, accounts):
            self._native.validate(market, accounts, market.rates_at(self.instruments.expiry))

    def validate_market(self, market: Market) -> None:
        """Raise the typed error for the first bad value in ``market``."""
        with user_errors(self.instruments):
            self._native.validate_market(market, market.rates_at(self.instruments.expiry))


class MarginEngine(EngineBase):
    """The Rust engine: multi-threaded, GIL released, numpy in and out.

    >>> eng = MarginEngine(instruments)                     # doctest: +SKIP
    >>> res = eng.compute(accounts, market, "portfolio")    # doctest: +SKIP
    >>> res.maintenance_margin                              # doctest: +SKIP
    """

    def _compute(self, accounts: Accounts, market: Market, model: str) -> MarginResult:
        with user_errors(self.instruments, accounts):
            fields_out, worst, greeks = self._native.compute(
                market, accounts, model, self.threads, market.rates_at(self.instruments.expiry)
            )
        # The engine checks its outputs in the pass that writes them (a NaN or an infinity,
        # but margin_ratio's +inf where equity <= 0, is a NonFiniteResultError from it).
        fields: dict[str, Any] = dict(zip(ACCOUNT_FIELDS, fields_out, strict=True))
        fields.update(zip(GREEK_FIELDS, greeks, strict=True))
        return MarginResult(model=model, worst_scenario=worst, **fields, **self.labels(accounts))

    def risk_arrays(self, market: Market) -> NDArray[np.float64]:
        """Weighted P&L per contract, instruments x scenarios (docs §6.2)."""
        with user_errors(self.instruments):
            rates = market.rates_at(self.instruments.expiry)
            risk: NDArray[np.float64] = self._native.risk_arrays(market, self.threads, rates)
        _arrays.finite_output("risk_arrays", risk)
        return risk

    def instrument_values(self, market: Market) -> InstrumentValues:
        """Mark price, MTM and Greeks of every instrument at ``market`` (docs §2.3)."""
        with user_errors(self.instruments):
            block = self._native.instrument_values(market, market.rates_at(self.instruments.expiry))
        for name, row in zip(INSTRUMENT_FIELDS, block, strict=True):
            _arrays.finite_output(name, row)
        return InstrumentValues(**dict(zip(INSTRUMENT_FIELDS, block, strict=True)))

    def roll_buckets(self) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """(bucket id per instrument, expiry T of each bucket) for the roll add-on (docs §6.4)."""
        return self._native.roll_buckets()

    def statement_terms(self, market: Market) -> StatementTerms:
        """Roll buckets and rates, the forward of each instrument and the scenario P&L of
        shocked collateral at ``market``, as the margin computation uses them (what the
        solvency statement is built from, docs/proof-spec.md §2.3)."""
        with user_errors(self.instruments):
            terms = self._native.statement_terms(market, market.rates_at(self.instruments.expiry))
        bucket, expiry = self._native.roll_buckets()
        return StatementTerms(bucket=bucket, bucket_expiry=expiry, **terms)
