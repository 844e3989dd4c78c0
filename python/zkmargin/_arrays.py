"""Array intake shared by every public entry point.

zkmargin never copies a large caller array silently: numpy arrays must already have a
numeric dtype that converts losslessly and be C-contiguous. Python sequences and scalars
are converted (there is nothing to share with them).
"""

from __future__ import annotations

from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from .errors import ArrayLayoutError, DTypeError, NonFiniteResultError, ShapeError

T = TypeVar("T")


def _intake(field: str, x: Any, dtype: type[np.generic], ndim: int) -> NDArray[Any]:
    if isinstance(x, np.ndarray):
        if x.dtype.kind not in "biuf" or not np.can_cast(x.dtype, dtype, casting="same_kind"):
            raise DTypeError(
                f"{field}: expected a numeric array convertible to {np.dtype(dtype).name}, "
                f"got dtype {x.dtype}",
                field,
            )
        if dtype is np.int64 and x.dtype.kind == "f":
            raise DTypeError(f"{field}: expected an integer array, got dtype {x.dtype}", field)
        if x.ndim > 0 and not x.flags.c_contiguous:
            raise ArrayLayoutError(
                f"{field}: array is not C-contiguous; pass np.ascontiguousarray({field})",
                field,
            )
        arr = x if x.dtype == dtype else x.astype(dtype)
    else:
        try:
            arr = np.asarray(x, dtype=dtype)
        except (TypeError, ValueError, OverflowError) as exc:
            raise DTypeError(f"{field}: cannot convert to {np.dtype(dtype).name}: {exc}", field) from exc
    if arr.ndim != ndim:
        raise ShapeError(f"{field}: expected {ndim}-D array, got shape {arr.shape}", field)
    return arr


def f64(field: str, x: Any, ndim: int = 1) -> NDArray[np.float64]:
    """``x`` as a float64 array of ``ndim`` dimensions (no copy for a float64 ndarray)."""
    return _intake(field, x, np.float64, ndim)


def i64(field: str, x: Any, ndim: int = 1) -> NDArray[np.int64]:
    """``x`` as an int64 array of ``ndim`` dimensions (no copy for an int64 ndarray)."""
    return _intake(field, x, np.int64, ndim)


def per_element(field: str, x: Any, n: int, other: str) -> NDArray[np.float64]:
    """``x`` (one number, or ``n`` of them) as ``n`` float64 values: the caller's array
    itself when it already is one, else a new array (``ShapeError`` for another length)."""
    arr = f64(field, x, ndim=min(np.ndim(x), 1))
    if arr.ndim == 0:
        return np.full(n, float(arr))
    same_length(field, arr, n, other)
    return arr


def same_length(field: str, arr: NDArray[Any], n: int, other: str) -> None:
    if arr.shape[0] != n:
        raise ShapeError(f"{field}: length {arr.shape[0]} does not match {other} ({n})", field)


def finite_output(
    field: str, arr: NDArray[np.float64], labels: Any = None, allow_posinf: bool = False
) -> None:
    """Refuse a NaN or infinite output (``+inf`` is allowed with ``allow_posinf``) with a
    :class:`~zkmargin.errors.NonFiniteResultError` naming ``field`` and the first bad flat
    index (and, for a 1-D result, ``labels`` of it: the account id, say). One vectorised
    pass over an output, never over the engine's inner loop."""
    ok = np.isfinite(arr)
    if allow_posinf:
        ok |= arr == np.inf
    if ok.all():
        return
    k = int(np.flatnonzero(~ok.ravel())[0])
    who = f" (account {labels[k]!r})" if labels is not None and arr.ndim == 1 else ""
    raise NonFiniteResultError(
        f"{field}[{k}]{who}: the result {arr.ravel()[k]} is not finite although every input is "
        "within its bounds (docs/margin-model.md §9)",
        field,
        k,
    )


def finite_outputs(field: str, out: T) -> T:
    """:func:`finite_output` on an array or on each array of a tuple (``field[k]``); returns
    ``out`` unchanged."""
    for k, arr in enumerate(out if isinstance(out, tuple) else (out,)):
        finite_output(field if not isinstance(out, tuple) else f"{field}[{k}]", arr)
    return out
