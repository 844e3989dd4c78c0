"""Scalar-field helpers shared by the provers and verifiers (Python ints mod r)."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence

from ._field import R

__all__ = ["Rng", "inner", "powers", "random_scalar", "random_scalars", "system_rng"]

#: A source of uniform integers: ``rng(bound)`` returns an int in ``[0, bound)``.
Rng = Callable[[int], int]


def system_rng(bound: int) -> int:
    return secrets.randbelow(bound)


def random_scalar(rng: Rng) -> int:
    s = rng(R)
    if not 0 <= s < R:
        raise ValueError("rng returned a value outside [0, bound)")
    return s


def random_scalars(rng: Rng, count: int) -> list[int]:
    """``count`` uniform scalars in order. The OS randomness (:func:`system_rng`) is read
    in one call, 64 bytes per scalar reduced mod r (bias below 2^-250); any other ``rng``
    is called ``count`` times."""
    if rng is system_rng:
        raw = secrets.token_bytes(64 * count)
        return [int.from_bytes(raw[i : i + 64], "big") % R for i in range(0, 64 * count, 64)]
    return [random_scalar(rng) for _ in range(count)]


def powers(x: int, count: int) -> list[int]:
    out = [1] * count
    acc = 1
    for i in range(count):
        out[i] = acc
        acc = acc * x % R
    return out


def inner(a: Sequence[int], b: Sequence[int]) -> int:
    return sum(x * y for x, y in zip(a, b, strict=True)) % R
