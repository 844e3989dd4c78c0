"""Scalar-field helpers shared by the provers and verifiers (Python ints mod r)."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence

from .group import R

__all__ = ["Rng", "inner", "powers", "random_scalar", "system_rng"]

#: A source of uniform integers: ``rng(bound)`` returns an int in ``[0, bound)``.
Rng = Callable[[int], int]


def system_rng(bound: int) -> int:
    return secrets.randbelow(bound)


def random_scalar(rng: Rng) -> int:
    s = rng(R)
    if not 0 <= s < R:
        raise ValueError("rng returned a value outside [0, bound)")
    return s


def powers(x: int, count: int) -> list[int]:
    out = [1] * count
    acc = 1
    for i in range(count):
        out[i] = acc
        acc = acc * x % R
    return out


def inner(a: Sequence[int], b: Sequence[int]) -> int:
    return sum(x * y for x, y in zip(a, b, strict=True)) % R
