"""Reading an exchange's book for an attestation: positions and balances from CSV or
Parquet, account ids as strings, instruments by the snapshot's names or indices."""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np

from ..book import Accounts
from ..errors import ParameterError
from ..proof.snapshot import EpochSnapshot

__all__ = ["Book", "decimal_units", "read_book", "read_table", "write_book"]


@dataclass(frozen=True)
class Book:
    """Account ids (in ``accounts`` order) and their positions and balances."""

    ids: tuple[str, ...]
    accounts: Accounts


def read_table(path: str | Path) -> tuple[list[str], list[list[str]]]:
    """(header, rows as strings) of a CSV file, or of a Parquet file (``.parquet``, needs
    the ``pyarrow`` extra)."""
    p = Path(path)
    if p.suffix == ".parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError as e:
            raise ParameterError(
                "reading Parquet needs pyarrow (pip install zkmargin[parquet])", str(p)
            ) from e
        table = pq.read_table(p)
        cols = [table.column(i).to_pylist() for i in range(table.num_columns)]
        header = list(table.column_names)
        return header, [["" if v is None else str(v) for v in row] for row in zip(*cols, strict=True)]
    with p.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if not rows:
        raise ParameterError(f"{p}: empty file (a header row is required)", str(p))
    return rows[0], rows[1:]


def _number(text: str, what: str, row: int) -> float:
    try:
        v = float(text)
    except ValueError:
        raise ParameterError(f"{what} on row {row}: {text!r} is not a number", what, row) from None
    if not math.isfinite(v):
        raise ParameterError(f"{what} on row {row}: {text!r} is not finite", what, row)
    return v


def decimal_units(text: str, decimals: int, what: str) -> int:
    """``floor(text * 10^decimals)`` for a decimal string, exactly (an exchange's own
    assets, such as reserves and the insurance fund, round down)."""
    try:
        d = Decimal(text.strip())
    except InvalidOperation:
        raise ParameterError(f"{what}: {text!r} is not a decimal number", what) from None
    if not d.is_finite() or d < 0:
        raise ParameterError(f"{what}: {text!r} must be a finite number >= 0", what)
    return math.floor(d.scaleb(decimals))


def _column(header: Sequence[str], name: str, path: str) -> int:
    try:
        return list(header).index(name)
    except ValueError:
        raise ParameterError(f"{path}: no column {name!r} (header {list(header)})", name) from None


def read_book(snapshot: EpochSnapshot, positions: str | Path, balances: str | Path) -> Book:
    """Positions ``account,instrument,quantity`` (instrument: a snapshot instrument name,
    or an index when the snapshot has no names) and balances ``account`` plus one column
    per asset (the snapshot's asset names, or ``asset0``, ``asset1``, ...). Every account
    has exactly one balance row; positions of accounts without one are an error."""
    assets = snapshot.asset_names or tuple(f"asset{j}" for j in range(snapshot.n_assets))
    bh, brows = read_table(balances)
    acol = _column(bh, "account", str(balances))
    cols = [_column(bh, a, str(balances)) for a in assets]
    index: dict[str, int] = {}
    bal = np.zeros((len(brows), len(assets)))
    for r, row in enumerate(brows, start=2):
        if len(row) != len(bh):
            raise ParameterError(
                f"{balances} row {r}: {len(row)} fields, header has {len(bh)}", "balances", r
            )
        aid = row[acol]
        if not aid or len(aid.encode()) > 255:
            raise ParameterError(f"{balances} row {r}: account id must be 1-255 UTF-8 bytes", "account", r)
        if aid in index:
            raise ParameterError(f"{balances} row {r}: account {aid!r} appears twice", "account", r)
        index[aid] = len(index)
        for j, c in enumerate(cols):
            bal[index[aid], j] = _number(row[c], f"balance of {aid!r} in {assets[j]}", r)
    ph, prows = read_table(positions)
    pa, pi, pq = (_column(ph, c, str(positions)) for c in ("account", "instrument", "quantity"))
    names = {n: i for i, n in enumerate(snapshot.instrument_names)}
    acc = np.zeros(len(prows), dtype=np.int64)
    ins = np.zeros(len(prows), dtype=np.int64)
    qty = np.zeros(len(prows))
    for k, row in enumerate(prows):
        r = k + 2
        if len(row) != len(ph):
            raise ParameterError(
                f"{positions} row {r}: {len(row)} fields, header has {len(ph)}", "positions", r
            )
        aid = row[pa]
        if aid not in index:
            raise ParameterError(f"{positions} row {r}: account {aid!r} has no balance row", "account", r)
        acc[k] = index[aid]
        name = row[pi]
        if names:
            if name not in names:
                raise ParameterError(f"{positions} row {r}: unknown instrument {name!r}", "instrument", r)
            ins[k] = names[name]
        else:
            try:
                ins[k] = int(name)
            except ValueError:
                raise ParameterError(
                    f"{positions} row {r}: instrument {name!r} is not an index", "instrument", r
                ) from None
            if not 0 <= ins[k] < snapshot.n_instruments:
                raise ParameterError(f"{positions} row {r}: instrument {name} out of range", "instrument", r)
        qty[k] = _number(row[pq], f"quantity of {aid!r} in {name!r}", r)
    return Book(tuple(index), Accounts.from_triples(acc, ins, qty, bal))


def write_book(path_positions: Path, path_balances: Path, snapshot: EpochSnapshot, book: Book) -> None:
    """The inverse of :func:`read_book` (CSV), used to hand a generated book to the CLI."""
    assets = snapshot.asset_names or tuple(f"asset{j}" for j in range(snapshot.n_assets))
    a = book.accounts
    with path_positions.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["account", "instrument", "quantity"])
        for k, aid in enumerate(book.ids):
            for row in range(int(a.offsets[k]), int(a.offsets[k + 1])):
                i = int(a.instrument[row])
                name = snapshot.instrument_names[i] if snapshot.instrument_names else str(i)
                w.writerow([aid, name, repr(float(a.quantity[row]))])
    with path_balances.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["account", *assets])
        for k, aid in enumerate(book.ids):
            w.writerow([aid, *(repr(float(b)) for b in a.balances[k])])
