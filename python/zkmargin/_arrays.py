"""Array intake shared by every public entry point.

zkmargin never copies a large caller array silently: numpy arrays must already have a
numeric dtype that converts losslessly and be C-contiguous. Python sequences and scalars
are converted (there is nothing to share with them).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import ArrayLayoutError, DTypeError, ShapeError


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
        except (TypeError, ValueError) as exc:
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


def same_length(field: str, arr: NDArray[Any], n: int, other: str) -> None:
    if arr.shape[0] != n:
        raise ShapeError(f"{field}: length {arr.shape[0]} does not match {other} ({n})", field)
