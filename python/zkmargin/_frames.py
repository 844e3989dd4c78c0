"""Reading columns out of pandas DataFrames and pyarrow Tables without importing either:
both are recognised by their interface, so the core install stays numpy-only."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import DTypeError, NonFiniteError, ShapeError


def is_pandas(x: Any) -> bool:
    return hasattr(x, "iloc") and hasattr(x, "columns")


def is_arrow(x: Any) -> bool:
    return hasattr(x, "column_names") and hasattr(x, "num_rows")


def column_names(table: Any) -> list[str]:
    if is_arrow(table):
        return [str(c) for c in table.column_names]
    if is_pandas(table):
        return [str(c) for c in table.columns]
    if isinstance(table, dict):
        return [str(c) for c in table]
    raise DTypeError(
        f"expected a pandas DataFrame, a pyarrow Table or a dict of columns, got {type(table).__name__}",
        "table",
    )


def column(table: Any, name: str) -> NDArray[Any]:
    """Column ``name`` as a numpy array (a copy where the table's layout needs one)."""
    if name not in column_names(table):
        raise ShapeError(f"table has no column {name!r}", name)
    col = table.column(name) if is_arrow(table) else table[name]
    if hasattr(col, "to_numpy"):
        # Arrow string columns come back as object arrays; nulls must not pass silently.
        if getattr(col, "null_count", 0) or (is_pandas(table) and bool(col.isna().any())):
            raise NonFiniteError(f"column {name!r} has missing values", name)
        return np.asarray(col.to_numpy())
    return np.asarray(col)


def _is_default_index(frame: Any) -> bool:
    idx = frame.index
    return type(idx).__name__ == "RangeIndex" and idx.start == 0 and idx.step == 1 and idx.name is None


def balances_matrix(
    balances: Any, assets: list[str] | None = None
) -> tuple[NDArray[np.float64], NDArray[Any] | None, list[str] | None]:
    """(``A x J`` C-contiguous float64 balances, account ids keying the rows or ``None`` when the
    rows are positional, asset names or ``None``).

    A DataFrame or Table is keyed by its ``account`` column, else (pandas) by a non-default
    index, else positional; its asset columns are ``assets`` in that order, or every other
    column. Any memory layout is accepted (a frame's values are copied once into the
    engine's layout); a numpy array must still be C-contiguous, as everywhere."""
    if not (is_pandas(balances) or is_arrow(balances)):
        if assets is not None:
            raise ShapeError("assets= names columns of a balances table, not of an array", "assets")
        return balances, None, None
    names = column_names(balances)
    keys: NDArray[Any] | None = None
    if "account" in names:
        keys = column(balances, "account")
        names = [n for n in names if n != "account"]
    elif is_pandas(balances) and not _is_default_index(balances):
        keys = np.asarray(balances.index.to_numpy())
    cols = names if assets is None else list(assets)
    out = np.empty((balances.shape[0] if is_pandas(balances) else balances.num_rows, len(cols)))
    for j, name in enumerate(cols):
        values = column(balances, name)
        if values.dtype.kind not in "biuf":
            raise DTypeError(f"balances column {name!r} is not numeric (dtype {values.dtype})", name)
        out[:, j] = values
    return out, keys, cols
