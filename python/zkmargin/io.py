"""Files in and out (docs/cli.md): positions, balances, instruments and market as CSV,
Parquet or JSON; results as CSV or Parquet. Needs the ``frames`` extra (pandas, pyarrow)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .book import Accounts, Instruments
from .errors import (
    DTypeError,
    DuplicateError,
    OrderError,
    ParameterError,
    ShapeError,
    UnknownIdentifierError,
)
from .market import Market

#: Market table fields (column ``field``); ``name`` is an underlying, an instrument or an asset.
MARKET_FIELDS = ("spot", "vol", "forward", "price", "haircut", "rate")
TABLE_SUFFIXES = (".csv", ".parquet", ".pq", ".json")


def read_table(path: str | Path) -> Any:
    """A pandas DataFrame from a ``.csv``, ``.parquet`` or ``.json`` (a list of records) file."""
    import pandas as pd

    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".csv":
        return pd.read_csv(p, keep_default_na=False, na_values=[""])
    if suffix in (".parquet", ".pq"):
        return pd.read_parquet(p)
    if suffix == ".json":
        # The standard library parses floats exactly (pandas' reader can be off by an ulp).
        records = json.loads(p.read_text(encoding="utf-8"))
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise ParameterError(f"{p}: a JSON table is a list of records (objects)", "path")
        return pd.DataFrame.from_records(records)
    raise ParameterError(f"{p}: unknown table format {suffix!r} (use one of {TABLE_SUFFIXES})", "path")


def write_table(frame: Any, path: str | Path) -> None:
    """Write a DataFrame as ``.csv`` or ``.parquet`` (chosen by the suffix), index included."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".csv":
        frame.to_csv(p)
    elif suffix in (".parquet", ".pq"):
        frame.to_parquet(p)
    else:
        raise ParameterError(f"{p}: results are written as .csv or .parquet, not {suffix!r}", "output")


@dataclass(frozen=True, eq=False)
class Inputs:
    """Everything a command needs, resolved from files: the universe, the book, the market
    and, per collateral asset, the underlying whose price it follows (-1: none)."""

    instruments: Instruments
    accounts: Accounts
    market: Market
    asset_underlying: NDArray[np.int64]


def _instruments(table: Any, positions: Any, as_of: datetime | str | None) -> Instruments:
    if table is None:
        if positions["instrument"].dtype.kind in "iu":
            raise ParameterError(
                "integer instrument ids need an instruments file (--instruments)", "instruments"
            )
        names = sorted({str(x) for x in positions["instrument"].tolist()})
        return _from_names(names, None, as_of)
    cols = set(table.columns)
    if {"kind", "underlying", "strike", "expiry", "contract_size", "settlement"} <= cols:
        given = [str(x) for x in table["instrument"]] if "instrument" in cols else None
        return Instruments(
            *(
                np.ascontiguousarray(table[c].to_numpy())
                for c in ("kind", "underlying", "strike", "expiry", "contract_size", "settlement")
            ),
            names=given,
        )
    if "instrument" not in cols:
        raise ShapeError("instruments table needs an 'instrument' column of names", "instrument")
    names = [str(x) for x in table["instrument"]]
    sizes = None
    if "contract_size" in cols:
        sizes = {n: float(c) for n, c in zip(names, table["contract_size"], strict=True) if c == c}
    return _from_names(names, sizes, as_of)


def _from_names(
    names: list[str], sizes: dict[str, float] | None, as_of: datetime | str | None
) -> Instruments:
    if as_of is None:
        raise ParameterError("named instruments need a valuation time (--as-of, ISO 8601 UTC)", "as_of")
    return Instruments.from_names(names, as_of, contract_sizes=sizes)


def market_from_table(
    table: Any, instruments: Instruments, assets: tuple[str, ...]
) -> tuple[Market, NDArray[np.int64]]:
    """A :class:`Market` from a long table with columns ``field``, ``name``, ``value``
    (docs/cli.md, "Market"), plus the underlying each asset follows."""
    for c in ("field", "name", "value"):
        if c not in table.columns:
            raise ShapeError(f"market table has no column {c!r}", c)
    fields = [str(f) for f in table["field"]]
    names = ["" if n is None or n != n else str(n) for n in table["name"]]
    values = np.asarray(table["value"].to_numpy(), dtype=np.float64)
    by_field: dict[str, dict[str, tuple[int, float]]] = {f: {} for f in MARKET_FIELDS}
    for row, (f, n, v) in enumerate(zip(fields, names, values, strict=True)):
        if f not in by_field:
            raise ParameterError(
                f"market row {row}: unknown field {f!r} (one of {MARKET_FIELDS})", "field", row
            )
        if n in by_field[f]:
            raise DuplicateError(
                f"market rows {by_field[f][n][0]} and {row} both give {f} of {n!r}", "name", row, key=n
            )
        by_field[f][n] = (row, float(v))
    und = instruments.underlying_names or tuple(str(u) for u in range(instruments.n_underlyings))

    def lookup(field: str, keys: tuple[str, ...], default: float | None) -> NDArray[np.float64]:
        known = set(keys)
        for n, (row, _) in by_field[field].items():
            if n not in known:
                raise UnknownIdentifierError(
                    f"market row {row}: {field} of {n!r}, which is not one of {list(keys)}", field, row, key=n
                )
        out = np.empty(len(keys))
        for k, key in enumerate(keys):
            if key in by_field[field]:
                out[k] = by_field[field][key][1]
            elif default is None:
                raise ShapeError(f"market table has no {field} for {key!r}", field, k)
            else:
                out[k] = default
        return out

    ins_names = instruments.names or tuple(str(i) for i in range(len(instruments)))
    spot = lookup("spot", und, None)
    vol = lookup("vol", ins_names, 0.0)
    missing = np.flatnonzero(instruments.is_option & (vol == 0.0))
    if missing.size:
        i = int(missing[0])
        raise ShapeError(f"market table has no vol for option {instruments.label(i)}", "vol", i)
    fwd = None
    if by_field["forward"]:
        given = lookup("forward", ins_names, float("nan"))
        # Instruments without a forward row are marked to their index, as without forwards.
        fwd = np.where(np.isnan(given), spot[instruments.underlying], given)
    rate = by_field["rate"].pop("", (0, 0.0))[1]
    if by_field["rate"]:
        raise ParameterError("market table: rate takes an empty name", "rate")
    price = lookup("price", assets, None)
    haircut = lookup("haircut", assets, 0.0)
    asset_und = np.array([und.index(a) if a in und else -1 for a in assets], dtype=np.int64)
    return Market(spot, vol, price, haircut, rate=rate, forward=fwd), asset_und


def read_prices(path: str | Path, underlyings: tuple[str, ...]) -> NDArray[np.float64]:
    """A ``T x U`` price history from a table with one column per underlying (named by its
    currency), oldest first; an optional ``date`` column must be strictly increasing."""
    table = read_table(path)
    missing = [u for u in underlyings if u not in table.columns]
    if missing:
        raise ShapeError(f"{path}: no price column for {missing}", "prices")
    if "date" in table.columns:
        import pandas as pd

        dates = pd.to_datetime(table["date"], utc=True)
        bad = np.flatnonzero(~(dates.diff().iloc[1:] > pd.Timedelta(0)).to_numpy())
        if bad.size:
            row = int(bad[0]) + 1
            raise OrderError(
                f"{path}: row {row} ({dates.iloc[row].isoformat()}) is not after row {row - 1} "
                f"({dates.iloc[row - 1].isoformat()}); prices must be oldest first, one row per date",
                "date",
                row,
                key=str(table["date"].iloc[row]),
            )
    return np.ascontiguousarray(table[list(underlyings)].to_numpy(dtype=np.float64))


def load_inputs(
    positions: str | Path,
    balances: str | Path,
    market: str | Path,
    instruments: str | Path | None = None,
    as_of: datetime | str | None = None,
) -> Inputs:
    """Read the four files of docs/cli.md and resolve them into engine inputs; every error
    names the file's own row, account id or instrument name."""
    pos = read_table(positions)
    bal = read_table(balances)
    if "account" not in bal.columns:
        raise ShapeError(f"{balances}: balances need an 'account' column", "account")
    ins = _instruments(None if instruments is None else read_table(instruments), pos, as_of)
    assets = tuple(str(c) for c in bal.columns if c != "account")
    if not assets:
        raise ShapeError(f"{balances}: no asset columns besides 'account'", "balances")
    for c in ("account", "instrument"):
        if c in pos.columns and pos[c].dtype.kind == "f":
            raise DTypeError(f"{positions}: column {c!r} holds floats; ids are ints or strings", c)
    book = Accounts.from_table(pos, bal, instruments=ins)
    mkt, asset_und = market_from_table(read_table(market), ins, assets)
    return Inputs(ins, book, mkt, asset_und)
