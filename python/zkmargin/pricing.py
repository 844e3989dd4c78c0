"""Black-76 option pricing (docs/margin-model.md §2.1)."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from . import _arrays
from ._core import margin as _margin
from .errors import DTypeError, ShapeError


class Greeks(NamedTuple):
    """Price and sensitivities: delta and gamma w.r.t. the forward, vega per 1.00 of vol,
    theta per year of calendar time with the forward held fixed; price discounted by
    ``exp(-rate * t)``."""

    price: NDArray[np.float64]
    delta: NDArray[np.float64]
    gamma: NDArray[np.float64]
    vega: NDArray[np.float64]
    theta: NDArray[np.float64]


def broadcast_columns(
    is_call: Any, named: list[tuple[str, Any]], keep_scalars: bool = False
) -> tuple[NDArray[np.bool_], list[NDArray[np.float64]], tuple[int, ...]]:
    """Validate dtypes and layouts of a bool column and named float columns and broadcast
    them to one shape, returned flat. Inputs that already have that shape are not copied.
    With ``keep_scalars`` single values stay length-1 arrays (the Rust core broadcasts
    those itself, saving a copy per column)."""
    calls = np.asarray(is_call)
    if calls.dtype != np.bool_:
        raise DTypeError("is_call must be a bool or a bool array", "is_call")
    cols = [_arrays.f64(name, x, ndim=np.ndim(x)) for name, x in named]
    try:
        shape = np.broadcast_shapes(calls.shape, *(c.shape for c in cols))
    except ValueError as exc:
        raise ShapeError(f"inputs do not broadcast together: {exc}", named[0][0]) from exc

    def flat(a: NDArray[Any]) -> NDArray[Any]:
        if (keep_scalars and a.size == 1) or a.shape == shape:
            return np.ascontiguousarray(a).reshape(-1)
        return np.ascontiguousarray(np.broadcast_to(a, shape)).reshape(-1)

    return flat(calls), [flat(c) for c in cols], shape


def broadcast_inputs(
    is_call: Any, forward: Any, strike: Any, t: Any, vol: Any, rate: Any, keep_scalars: bool = False
) -> tuple[NDArray[np.bool_], list[NDArray[np.float64]], tuple[int, ...]]:
    """:func:`broadcast_columns` for Black-76's inputs."""
    named = [("forward", forward), ("strike", strike), ("t", t), ("vol", vol), ("rate", rate)]
    return broadcast_columns(is_call, named, keep_scalars)


def black76(
    is_call: Any,
    forward: Any,
    strike: Any,
    t: Any,
    vol: Any,
    rate: Any = 0.0,
    threads: int | None = None,
) -> Greeks:
    """Black-76 price and Greeks, vectorised in Rust; arguments broadcast like numpy.

    Raises a :class:`zkmargin.errors.InputError` subclass naming the field and index for
    non-finite or non-positive forward/strike/vol, ``t <= 0`` (``ExpiredError``) and
    shape mismatches.
    """
    calls, (f, k, tt, v, r), shape = broadcast_inputs(
        is_call, forward, strike, t, vol, rate, keep_scalars=True
    )
    if 0 in shape:
        return Greeks(*(np.empty(shape) for _ in Greeks._fields))
    rows = _margin.black76(calls, f, k, tt, v, r, threads)
    return Greeks(*(row.reshape(shape) for row in rows))
