"""Result containers shared by every engine."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

#: Row order of the per-account float outputs the native engine returns as one (K, A) block
#: (``zkmargin._core.margin.ACCOUNT_FIELDS``, which names them in the engine's errors; kept
#: here too so that this module imports without the extension, and tested equal).
ACCOUNT_FIELDS = (
    "equity",
    "initial_margin",
    "maintenance_margin",
    "free_collateral",
    "margin_ratio",
    "scenario_loss",
    "roll_addon",
    "short_option_addon",
)
#: Order of the per-account, per-underlying Greeks (4, A, U).
GREEK_FIELDS = ("net_delta", "net_gamma", "net_vega", "net_theta")
#: Row order of the per-instrument values (6, I).
INSTRUMENT_FIELDS = ("mark_price", "mtm", "delta", "gamma", "vega", "theta")

MODELS = ("standard", "cross", "portfolio")
AGGREGATIONS = ("sum", "joint", "correlation", "span")
#: how coin-settled P&L is margined (docs/margin-model.md §6.2)
SETTLEMENT_MODES = ("cross", "segregated")


@dataclass(frozen=True, eq=False)
class MarginResult:
    """Per-account outputs (docs/margin-model.md §7); arrays of length A, Greeks A x U."""

    model: str
    equity: NDArray[np.float64]
    initial_margin: NDArray[np.float64]
    maintenance_margin: NDArray[np.float64]
    free_collateral: NDArray[np.float64]
    margin_ratio: NDArray[np.float64]
    worst_scenario: NDArray[np.int64]
    scenario_loss: NDArray[np.float64]
    roll_addon: NDArray[np.float64]
    short_option_addon: NDArray[np.float64]
    net_delta: NDArray[np.float64]
    net_gamma: NDArray[np.float64]
    net_vega: NDArray[np.float64]
    net_theta: NDArray[np.float64]
    #: the caller's account ids (``None``: accounts are ``0..A-1``)
    account_id: NDArray[Any] | None = field(default=None, kw_only=True)
    #: the engine's scenario table, whose rows ``worst_scenario`` indexes
    scenarios: Any = field(default=None, kw_only=True)
    #: currency (or index) of each underlying, naming the Greek columns
    underlying_names: tuple[str, ...] | None = field(default=None, kw_only=True)

    def __len__(self) -> int:
        return int(self.equity.shape[0])

    @property
    def liquidatable(self) -> NDArray[np.bool_]:
        """Accounts whose equity is below maintenance margin."""
        return self.equity < self.maintenance_margin

    def ids(self) -> NDArray[Any]:
        """Account ids (``0..A-1`` when the book had none)."""
        return self.account_id if self.account_id is not None else np.arange(len(self))

    def worst_scenario_label(self) -> list[str | None]:
        """Label of each account's worst scenario (:func:`scenario_labels`); ``None`` where
        there is none (-1)."""
        used = np.unique(self.worst_scenario[self.worst_scenario >= 0])
        sc = self.scenarios
        if sc is None:
            labels = {int(s): f"scenario {s}" for s in used}
        else:
            text = scenario_labels(
                sc.moves[used], sc.vol_shocks[used], sc.weights[used], self.underlying_names
            )
            labels = dict(zip(used.tolist(), text, strict=True))
        return [None if s < 0 else labels[s] for s in self.worst_scenario.tolist()]

    def columns(self) -> dict[str, Any]:
        """Every output as one column per name (the rows of :meth:`to_pandas`): the account
        fields, ``worst_scenario`` and its label, ``liquidatable``, and each Greek per
        underlying as ``net_delta[BTC]`` and so on."""
        cols: dict[str, Any] = {"account": self.ids()}
        cols.update({name: getattr(self, name) for name in ACCOUNT_FIELDS})
        cols["worst_scenario"] = self.worst_scenario
        cols["worst_scenario_label"] = self.worst_scenario_label()
        cols["liquidatable"] = self.liquidatable
        n_und = self.net_delta.shape[1] if self.net_delta.ndim == 2 else 0
        names = self.underlying_names or tuple(str(u) for u in range(n_und))
        for greek in GREEK_FIELDS:
            block = getattr(self, greek)
            for u in range(n_und):
                cols[f"{greek}[{names[u]}]"] = np.ascontiguousarray(block[:, u])
        return cols

    def to_pandas(self) -> Any:
        """A pandas DataFrame indexed by account id, one column per output (needs the
        ``frames`` extra)."""
        import pandas as pd

        cols = self.columns()
        index = pd.Index(cols.pop("account"), name="account")
        return pd.DataFrame(cols, index=index)

    def to_arrow(self) -> Any:
        """A pyarrow Table with an ``account`` column first (needs the ``frames`` extra)."""
        import pyarrow as pa

        return pa.table(self.columns())


def _vol_label(v: float) -> str:
    if v == 1.0:
        return "vol up"
    if v == -1.0:
        return "vol down"
    if v == 0.0:
        return "vol flat"
    return f"vol {v:+.2f}"


def scenario_labels(
    moves: NDArray[np.float64],
    vol_shocks: NDArray[np.float64],
    weights: NDArray[np.float64],
    underlying_names: tuple[str, ...] | None = None,
) -> tuple[str, ...]:
    """A readable label per scenario row of a table (docs §6.1): the price move (one number
    when every underlying moves alike, else per underlying), the vol-shock level and any
    weight below 1, e.g. ``"-16.0%, vol up"`` or ``"+50.0%, vol up, weight 0.32"``."""
    n_und = moves.shape[1]
    names = underlying_names or tuple(str(u) for u in range(n_und))
    out = []
    for s in range(moves.shape[0]):
        m, v, w = moves[s], vol_shocks[s], weights[s]
        price = (
            f"{m[0]:+.1%}" if np.all(m == m[0]) else " ".join(f"{names[u]} {m[u]:+.1%}" for u in range(n_und))
        )
        vol = (
            _vol_label(float(v[0]))
            if np.all(v == v[0])
            else " ".join(f"{names[u]} {_vol_label(float(v[u]))}" for u in range(n_und))
        )
        parts = [price, vol]
        if np.all(w == w[0]) and w[0] != 1.0:
            parts.append(f"weight {w[0]:.3g}")
        elif not np.all(w == w[0]):
            parts.append("weights " + " ".join(f"{x:.3g}" for x in w))
        out.append(", ".join(parts))
    return tuple(out)


@dataclass(frozen=True, eq=False)
class InstrumentValues:
    """Per-instrument values at today's market (docs/margin-model.md §2.3)."""

    mark_price: NDArray[np.float64]
    mtm: NDArray[np.float64]
    delta: NDArray[np.float64]
    gamma: NDArray[np.float64]
    vega: NDArray[np.float64]
    theta: NDArray[np.float64]


@dataclass(frozen=True)
class StatementTerms:
    """The per-unit numbers of the portfolio model that the solvency statement takes from
    an engine, exactly as its margin computation uses them (docs/proof-spec.md §2.3).

    ``bucket``: roll bucket of each instrument, numbered in order of first appearance in
    the universe; ``bucket_expiry`` and ``roll_rate``: each bucket's ``T`` and rate (§6.4);
    ``forward``: the forward ``F_i`` each instrument is valued on (the short-option
    minimum charges ``short_option_min cs_i F_i`` per short option, §6.4); ``portfolio``:
    the portfolio (loss group key) of each instrument (§6.3); per collateral
    asset, ``collateral_group``: the portfolio it is shocked with in the scenarios (-1 for
    none) and ``collateral_held`` / ``collateral_borrowed`` (``J x S``): its scenario P&L
    per held and per borrowed unit (§6.2; zero rows when not shocked)."""

    bucket: NDArray[np.int64]
    bucket_expiry: NDArray[np.float64]
    roll_rate: NDArray[np.float64]
    forward: NDArray[np.float64]
    portfolio: NDArray[np.int64]
    collateral_group: NDArray[np.int64]
    collateral_held: NDArray[np.float64]
    collateral_borrowed: NDArray[np.float64]
