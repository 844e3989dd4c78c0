"""Adversarial values and the mutations the fuzzer applies to valid arguments."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

Args = dict[str, Any]

#: Numbers at the edges of double precision and of the formulas' domains.
ADVERSARIAL_FLOATS = (
    5e-324,
    -5e-324,
    1e-300,
    1e-200,
    1e300,
    -1e300,
    1.7e308,
    -1.7e308,
    1e200,
    0.0,
    -0.0,
    -1.0,
    -800.0,
    800.0,
    math.nan,
    math.inf,
    -math.inf,
    2.0**63,
)
ADVERSARIAL_INTS = (0, -1, 1, 2**31, 2**40, 2**63 - 1, 2**63, 2**64 + 1, 2**70, -(2**70))
#: Things that are not what any argument expects.
WRONG_TYPES: tuple[Any, ...] = (None, True, False, "x", b"\x00", 1.5, 3, [], {}, object(), 1j, [None])


class Finding(Exception):
    """A case's result broke the contract (not a ``zkmargin.errors`` exception)."""


# ------------------------------------------------------------------------- mutation
def _adv_float(rng: np.random.Generator) -> float:
    return float(ADVERSARIAL_FLOATS[rng.integers(len(ADVERSARIAL_FLOATS))])


def _adv_int(rng: np.random.Generator) -> int:
    return int(ADVERSARIAL_INTS[rng.integers(len(ADVERSARIAL_INTS))])


def _pick(rng: np.random.Generator, options: list[Callable[[], Any]]) -> Any:
    return options[int(rng.integers(len(options)))]()


def mutate_array(rng: np.random.Generator, v: np.ndarray) -> tuple[Any, str]:
    def element() -> tuple[Any, str]:
        if v.size == 0:
            return np.empty(0, dtype=v.dtype), "empty"
        out = v.copy()
        k = int(rng.integers(v.size))
        if v.dtype.kind == "f":
            x: Any = _adv_float(rng)
        elif v.dtype.kind == "b":
            return v.astype(np.int64), "bool array as int"
        else:
            x = _adv_int(rng)
            if not -(2**63) <= x < 2**63:
                lst = out.ravel().tolist()
                lst[k] = x
                return lst, f"list with element {k} = {x}"
        out.flat[k] = x
        return out, f"element {k} = {x!r}"

    def scale() -> tuple[Any, str]:
        if v.dtype.kind != "f":
            return element()
        f = float(rng.choice([1e300, -1e300, 1e-300, 1e154, 1e200]))
        with np.errstate(all="ignore"):
            return v * f, f"all scaled by {f}"

    ops: list[Callable[[], tuple[Any, str]]] = [
        element,
        element,
        element,
        scale,
        lambda: (v.astype(str), "str dtype"),
        lambda: (v.astype(np.complex128), "complex dtype"),
        lambda: (v.astype(object), "object dtype"),
        lambda: (v.astype(np.float32), "float32"),
        lambda: (v.astype(np.float64) if v.dtype.kind != "f" else v.astype(np.int64), "other numeric dtype"),
        lambda: (v.astype(bool), "bool dtype"),
        lambda: (v[:-1].copy() if v.ndim and len(v) else v, "one shorter"),
        lambda: (np.concatenate([v, v[:1]]) if v.ndim and len(v) else v, "one longer"),
        lambda: (v[:0].copy() if v.ndim else v, "empty"),
        lambda: (v[None].copy(), "extra dimension"),
        lambda: (v.ravel()[0] if v.size else 0.0, "scalar"),
        lambda: (np.repeat(v, 2, axis=0)[::2] if v.ndim else v, "non-contiguous"),
        lambda: (v.tolist(), "as list"),
        lambda: (WRONG_TYPES[int(rng.integers(len(WRONG_TYPES)))], "wrong type"),
    ]
    return _pick(rng, ops)


def mutate_value(rng: np.random.Generator, v: Any) -> tuple[Any, str]:
    wrong: Callable[[], tuple[Any, str]] = lambda: (  # noqa: E731
        WRONG_TYPES[int(rng.integers(len(WRONG_TYPES)))],
        "wrong type",
    )
    if isinstance(v, np.ndarray):
        return mutate_array(rng, v)
    if isinstance(v, bool):
        return _pick(rng, [lambda: (not v, "negated"), lambda: (int(v), "int"), wrong])
    if isinstance(v, (int, np.integer)):
        return _pick(
            rng,
            [
                lambda: (_adv_int(rng), "adversarial int"),
                lambda: (_adv_int(rng), "adversarial int"),
                lambda: (float(v) + 0.5, "float for int"),
                lambda: (float(v), "integral float for int"),
                lambda: (True, "bool for int"),
                wrong,
            ],
        )
    if isinstance(v, float):
        return _pick(
            rng,
            [
                lambda: (_adv_float(rng), "adversarial float"),
                lambda: (_adv_float(rng), "adversarial float"),
                lambda: (_adv_int(rng), "huge int for float"),
                lambda: (np.array([v, v]), "array for scalar"),
                wrong,
            ],
        )
    if isinstance(v, str):
        return _pick(rng, [lambda: ("", "empty str"), lambda: (v + "?", "unknown str"), wrong])
    if isinstance(v, bytes):
        return mutate_bytes(rng, v)
    if isinstance(v, (list, tuple)) and v:
        out = list(v)
        k = int(rng.integers(len(out)))

        def elem() -> tuple[Any, str]:
            new, how = mutate_value(rng, out[k])
            out[k] = new
            return type(v)(out), f"[{k}] {how}"

        return _pick(
            rng, [elem, elem, lambda: (type(v)(out[:-1]), "one shorter"), lambda: (type(v)(), "empty"), wrong]
        )
    if isinstance(v, dict) and v:
        key = list(v)[int(rng.integers(len(v)))]
        new, how = mutate_value(rng, v[key])
        return {**v, key: new}, f"[{key!r}] {how}"
    return wrong()


def mutate_bytes(rng: np.random.Generator, b: bytes) -> tuple[Any, str]:
    def flip() -> tuple[Any, str]:
        if not b:
            return b"\x01", "one byte"
        k = int(rng.integers(len(b)))
        out = bytearray(b)
        out[k] ^= 1 << int(rng.integers(8))
        return bytes(out), f"bit flip at {k}"

    def cut() -> tuple[Any, str]:
        k = int(rng.integers(len(b) + 1))
        return b[:k], f"truncated to {k}"

    def ff() -> tuple[Any, str]:
        if len(b) < 32:
            return b + b"\xff", "0xff appended"
        k = int(rng.integers(len(b) - 31))
        return b[:k] + b"\xff" * 32 + b[k + 32 :], f"32 bytes 0xff at {k}"

    return _pick(
        rng,
        [
            flip,
            flip,
            cut,
            ff,
            lambda: (b + b"\x00", "extra byte"),
            lambda: (bytearray(b), "bytearray"),
            lambda: (b.hex(), "hex str"),
            lambda: (None, "None"),
        ],
    )


def mutate_json(rng: np.random.Generator, obj: Any) -> tuple[Any, str]:
    """One change somewhere inside a JSON document."""
    if isinstance(obj, dict) and obj:
        key = list(obj)[int(rng.integers(len(obj)))]
        choice = int(rng.integers(4))
        if choice == 0:
            return {k: v for k, v in obj.items() if k != key}, f"drop {key!r}"
        if choice == 1:
            return {**obj, "extra": 1}, "extra key"
        new, how = mutate_json(rng, obj[key])
        return {**obj, key: new}, f"{key}: {how}"
    if isinstance(obj, list) and obj:
        k = int(rng.integers(len(obj)))
        new, how = mutate_json(rng, obj[k])
        return [*obj[:k], new, *obj[k + 1 :]], f"[{k}] {how}"
    if isinstance(obj, str):
        return _pick(
            rng,
            [
                lambda: (obj[:-1], "shorter str"),
                lambda: ("zz" + obj[2:], "non-hex"),
                lambda: (obj.upper(), "upper"),
                lambda: ("f" * len(obj), "all f"),
                lambda: (int(rng.integers(9)), "int for str"),
            ],
        )
    if isinstance(obj, bool):
        return (not obj), "negated"
    if isinstance(obj, int):
        return _pick(
            rng,
            [
                lambda: (_adv_int(rng), "adversarial int"),
                lambda: (float(obj), "float"),
                lambda: (str(obj), "str"),
                lambda: (None, "None"),
            ],
        )
    return _pick(rng, [lambda: (None, "None"), lambda: ([], "empty list"), lambda: ("x", "str")])
