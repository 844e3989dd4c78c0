"""Black-76 option pricing (docs/margin-model.md §2.1)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from . import _arrays
from ._core import margin as _margin
from .errors import ArrayLayoutError, DTypeError, ParameterError, ShapeError


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
    out: Sequence[NDArray[np.float64]] | None = None,
) -> Greeks:
    """Black-76 price and Greeks, vectorised in Rust; arguments broadcast like numpy.

    With ``out`` (five float64 arrays: price, delta, gamma, vega, theta, e.g. a previous
    result), the results are written into those arrays, nothing is allocated, and they are
    returned as a :class:`Greeks`. Each must have the broadcast shape, be C-contiguous and
    writeable, and share no memory with an input or another output; their contents are
    unspecified when an input error is raised.

    Raises a :class:`zkmargin.errors.InputError` subclass naming the field and index for
    non-finite or non-positive forward/strike/vol, ``t <= 0`` (``ExpiredError``) and
    shape mismatches; ``out`` problems raise ``ParameterError`` (not five arrays),
    ``DTypeError``, ``ShapeError`` or ``ArrayLayoutError`` (layout, read-only, overlap)
    with ``field="out"`` and ``index`` the output row.
    """
    inputs = (is_call, forward, strike, t, vol, rate)
    calls, (f, k, tt, v, r), shape = broadcast_inputs(*inputs, keep_scalars=True)
    if out is not None:
        rows = _out_rows(out, shape, (*inputs, calls, f, k, tt, v, r))
        if 0 not in shape:
            _margin.black76_into(calls, f, k, tt, v, r, [x.reshape(-1) for x in rows], threads)
        return Greeks(*rows)
    if 0 in shape:
        return Greeks(*(np.empty(shape) for _ in Greeks._fields))
    return Greeks(*(row.reshape(shape) for row in _margin.black76(calls, f, k, tt, v, r, threads)))


def _out_rows(out: Any, shape: tuple[int, ...], inputs: tuple[Any, ...]) -> list[NDArray[np.float64]]:
    """``out`` checked as five distinct writeable C-contiguous float64 arrays of ``shape``
    that overlap neither an input nor each other (by memory bounds: conservative)."""
    if isinstance(out, np.ndarray) or not isinstance(out, Sequence) or len(out) != len(Greeks._fields):
        raise ParameterError("out must be five arrays: price, delta, gamma, vega, theta", "out")
    rows: list[NDArray[np.float64]] = []
    for j, (name, row) in enumerate(zip(Greeks._fields, out, strict=True)):
        if not isinstance(row, np.ndarray) or row.dtype != np.float64:
            raise DTypeError(f"out[{j}] ({name}) must be a float64 numpy array", "out", j)
        if row.shape != shape:
            msg = f"out[{j}] ({name}) has shape {row.shape}, the inputs broadcast to {shape}"
            raise ShapeError(msg, "out", j)
        if not row.flags.c_contiguous or not row.flags.writeable:
            raise ArrayLayoutError(f"out[{j}] ({name}) must be C-contiguous and writeable", "out", j)
        named = zip(("is_call", "forward", "strike", "t", "vol", "rate") * 2, inputs, strict=True)
        for what, x in [*named, *zip(Greeks._fields, rows, strict=False)]:
            if isinstance(x, np.ndarray) and np.may_share_memory(row, x):
                raise ArrayLayoutError(f"out[{j}] ({name}) shares memory with {what}", "out", j)
        rows.append(row)
    return rows
