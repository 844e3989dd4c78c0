"""User identifiers (instrument names, account ids) and the tables they key.

Lookups are vectorised (sort + binary search), so mapping a million position rows to
instrument and account indices costs milliseconds. Integer and string identifiers are never
converted into each other: ``1`` and ``"1"`` are different ids, and mixing them is an error.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import DTypeError, DuplicateError, IndexOutOfRangeError, UnknownIdentifierError


def id_array(field: str, values: Any) -> NDArray[Any]:
    """``values`` as a 1-D int64 array (integer ids) or a unicode array (string ids)."""
    arr = values if isinstance(values, np.ndarray) else np.asarray(values)
    if arr.ndim != 1:
        raise DTypeError(f"{field}: expected a 1-D column of ids, got shape {arr.shape}", field)
    if arr.size == 0:  # an empty column has no ids, whatever dtype its reader gave it
        return np.empty(0, dtype=np.int64)
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64, copy=False)
    if arr.dtype.kind == "U":
        return arr
    if arr.dtype.kind == "O":
        kinds = {type(v) for v in arr.tolist()}
        if kinds <= {str}:
            return arr.astype(str)
        if all(issubclass(k, (int, np.integer)) and not issubclass(k, bool) for k in kinds):
            try:
                return arr.astype(np.int64)
            except OverflowError:
                big = next(k for k, v in enumerate(arr.tolist()) if not -(2**63) <= v < 2**63)
                raise IndexOutOfRangeError(
                    f"{field}: row {big} holds {arr[big]!r}, which does not fit in int64", field, big
                ) from None
        bad = next(k for k, v in enumerate(arr.tolist()) if not isinstance(v, (str, int, np.integer)))
        raise DTypeError(
            f"{field}: row {bad} holds {arr[bad]!r}; ids must all be str or all be int", field, bad
        )
    raise DTypeError(f"{field}: ids must be int or str, got dtype {arr.dtype}", field)


def display(value: Any) -> str:
    """An id as the user wrote it (``'BTC-PERPETUAL'``, ``7``)."""
    return repr(value.item() if isinstance(value, np.generic) else value)


class IdIndex:
    """Position of each id in a table whose rows it keys (``what`` names the table's ids in
    messages, e.g. ``"instrument"`` or ``"account"``)."""

    def __init__(self, what: str, keys: Any, field: str) -> None:
        self.what = what
        self.keys = id_array(field, keys)
        order = np.argsort(self.keys, kind="stable")
        self._sorted = self.keys[order]
        self._order = order
        self._lookup: dict[Any, int] | None = None
        if self._sorted.size > 1:
            same = np.flatnonzero(self._sorted[1:] == self._sorted[:-1])
            if same.size:
                k = int(same[0])
                first, second = int(order[k]), int(order[k + 1])
                key = self.keys[second]
                raise DuplicateError(
                    f"{field}: {what} {display(key)} is given twice (rows {first} and {second})",
                    field,
                    second,
                    key=key.item() if isinstance(key, np.generic) else key,
                )

    def __len__(self) -> int:
        return int(self.keys.shape[0])

    def positions(self, field: str, values: Any) -> NDArray[np.int64]:
        """Row of each value in the table; :class:`UnknownIdentifierError` naming the first
        value (and its row in ``values``) that the table lacks."""
        raw = values if isinstance(values, np.ndarray) else np.asarray(values)
        if raw.ndim != 1:
            raise DTypeError(f"{field}: expected a 1-D column of ids, got shape {raw.shape}", field)
        if raw.size == 0:
            return np.empty(0, dtype=np.int64)
        if self.keys.dtype.kind == "U":
            if raw.dtype.kind not in "OU":
                raise DTypeError(f"{field}: {self.what} ids are strings but these are {raw.dtype}", field)
            # A hash lookup: sorting a million strings costs seconds, hashing them ~0.1 s.
            if self._lookup is None:
                self._lookup = {k: i for i, k in enumerate(self.keys.tolist())}
            get = self._lookup.get
            out = np.array([get(v, -1) for v in raw.tolist()], dtype=np.int64)
        else:
            v = id_array(field, raw)
            if v.dtype.kind == "U":
                raise DTypeError(f"{field}: {self.what} ids are integers but these are strings", field)
            pos = np.searchsorted(self._sorted, v)
            pos_c = np.minimum(pos, max(self._sorted.shape[0] - 1, 0))
            found = (
                (pos < self._sorted.shape[0]) & (self._sorted[pos_c] == v) if self._sorted.size else v != v
            )
            out = np.where(found, self._order[pos_c], -1).astype(np.int64, copy=False)
        if (out < 0).any():
            row = int(np.flatnonzero(out < 0)[0])
            key = raw[row]
            key = key.item() if isinstance(key, np.generic) else key
            if self.keys.dtype.kind == "U" and not isinstance(key, str):
                raise DTypeError(f"{field}: row {row} holds {key!r}; {self.what} ids are strings", field, row)
            raise UnknownIdentifierError(
                f"{field}: row {row} names {self.what} {display(key)}, which is not in the {self.what} table",
                field,
                row,
                key=key,
            )
        return out
