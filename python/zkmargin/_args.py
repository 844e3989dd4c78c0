"""Scalar argument intake shared by the public entry points: the Python type and the range
of an int, a float or an object argument, checked before anything uses it, with a typed
error from :mod:`zkmargin.errors` naming the argument."""

from __future__ import annotations

import math
from typing import Any, TypeVar

import numpy as np

from .errors import ArgumentTypeError, NonFiniteError, OutOfBoundsError

T = TypeVar("T")


def integer(field: str, x: Any, lo: int, hi: int) -> int:
    """``x`` as an int in ``[lo, hi]``: a Python or numpy integer, never a bool or float."""
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, np.integer)):
        raise ArgumentTypeError(f"{field} must be an int, got {type(x).__name__} {x!r}", field)
    v = int(x)
    if not lo <= v <= hi:
        raise OutOfBoundsError(f"{field} must be in [{lo}, {hi}], got {v}", field)
    return v


def number(field: str, x: Any) -> float:
    """``x`` as a float, checking only its type (an int or float, numpy's too, not a bool):
    NaN and infinity pass, for the domain check downstream to name."""
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, float, np.integer, np.floating)):
        raise ArgumentTypeError(f"{field} must be a number, got {type(x).__name__} {x!r}", field)
    try:
        return float(x)
    except OverflowError:
        return math.inf if x > 0 else -math.inf


def real(field: str, x: Any, lo: float = -math.inf, hi: float = math.inf) -> float:
    """``x`` as a finite float in ``[lo, hi]``: an int or a float (numpy's too), not a bool."""
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, float, np.integer, np.floating)):
        raise ArgumentTypeError(f"{field} must be a number, got {type(x).__name__} {x!r}", field)
    try:
        v = float(x)
    except OverflowError:
        raise OutOfBoundsError(f"{field} must be in [{lo}, {hi}], got {x}", field) from None
    if not math.isfinite(v):
        raise NonFiniteError(f"{field} must be finite, got {v}", field)
    if not lo <= v <= hi:
        raise OutOfBoundsError(f"{field} must be in [{lo}, {hi}], got {v}", field)
    return v


def instance(field: str, x: Any, cls: type[T]) -> T:
    """``x`` itself when it is a ``cls``."""
    if not isinstance(x, cls):
        raise ArgumentTypeError(f"{field} must be a {cls.__name__}, got {type(x).__name__}", field)
    return x


def integers(field: str, xs: Any, lo: int, hi: int) -> list[int]:
    """A sequence of ints in ``[lo, hi]`` (errors name the element's index)."""
    if isinstance(xs, (str, bytes)) or not hasattr(xs, "__len__"):
        raise ArgumentTypeError(f"{field} must be a sequence of ints, got {type(xs).__name__}", field)
    out = []
    for k, x in enumerate(xs):
        try:
            out.append(integer(field, x, lo, hi))
        except (ArgumentTypeError, OutOfBoundsError) as exc:
            raise type(exc)(f"{field}[{k}]: {exc}", field, k) from None
    return out
