"""Seeded, time-bounded fuzzing of zkmargin's whole public API.

Run by tests/test_fuzz.py in a subprocess (so an abort or a segfault fails that test, not
the test runner), or by hand::

    python tests/fuzz_api.py --seed 7 --seconds 30        # a run
    python tests/fuzz_api.py --seed 7 --case 1234 -v      # replay one case

Every case draws valid inputs for one public entry point and then, most of the time,
breaks one or two of them: an adversarial number in one element (``5e-324``, ``1e300``,
``1.7e308``, ``-1e300``, NaN, inf, 0, negatives, huge ints), the wrong Python type
(``None``, bools, strings, floats where ints are expected), the wrong dtype, length or
layout, or an empty array. The case passes when the call either returns a finite result of
the right shape (``margin_ratio``'s documented ``+inf`` at non-positive equity aside) that
agrees with the pure-Python reference where that is cheap to check, or raises an exception
of the :mod:`zkmargin.errors` hierarchy; and when no argument it was given has changed.

Case ``k`` of seed ``s`` is drawn from ``numpy.random.default_rng([s, k])`` alone, so it
replays with ``--case k`` whatever ran before it. The run prints one JSON line: the seed,
how many cases ran, for how long, and every failure with its replay command.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import math
import os
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from zkmargin import (
    Accounts,
    Instruments,
    MarginEngine,
    MarginParams,
    Market,
    MarketState,
    RateCurve,
    ScenarioTable,
    VolSurface,
    baseline,
    black76,
    deribit_scenarios,
    dynamic,
    errors,
    implied_vol,
    proof,
    span_scenarios,
)
from zkmargin.baseline import dynamic as dref
from zkmargin.baseline.pricing import black76_one

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


# ------------------------------------------------------------------------- checks
_COPIED = (np.ndarray, list, tuple, dict, bytes, bytearray, str, int, float, complex, bool, type(None))


def snapshot(x: Any) -> Any:
    """A deep copy to compare an argument against after the call (other objects, e.g. a
    bare ``object()``, are compared with themselves: nothing could change them)."""
    if isinstance(x, _COPIED) or (dataclasses.is_dataclass(x) and not isinstance(x, type)):
        return copy.deepcopy(x)
    return x


def same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)):
            return False
        if a.dtype != b.dtype or a.shape != b.shape:
            return False
        if a.dtype.kind in "fc":
            return bool(np.array_equal(a, b, equal_nan=True))
        return bool(np.array_equal(a, b))
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        return type(a) is type(b) and all(
            same(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a)
        )
    if type(a).__eq__ is object.__eq__:  # a bare object: its copy is another instance
        return type(a) is type(b)
    try:
        return bool(a == b)
    except Exception:
        return a is b


def finite(x: Any, where: str, allow_inf: tuple[str, ...] = ()) -> None:
    """Raise :class:`Finding` for the first NaN or infinity anywhere in ``x``."""
    if isinstance(x, np.ndarray):
        if x.dtype.kind in "fc":
            bad = np.flatnonzero(~np.isfinite(x.ravel()))
            if bad.size:
                raise Finding(f"{where}[{int(bad[0])}] = {x.ravel()[bad[0]]!r} is not finite")
        elif x.dtype.kind == "O":
            for k, y in enumerate(x.ravel().tolist()):
                finite(y, f"{where}[{k}]", allow_inf)
        return
    if isinstance(x, float):
        if not math.isfinite(x):
            raise Finding(f"{where} = {x!r} is not finite")
        return
    if isinstance(x, (list, tuple)):
        fields = getattr(x, "_fields", None)
        for k, y in enumerate(x):
            name = fields[k] if fields else str(k)
            if name not in allow_inf:
                finite(y, f"{where}.{name}" if fields else f"{where}[{k}]", allow_inf)
        return
    if isinstance(x, dict):
        for k, y in x.items():
            finite(y, f"{where}[{k!r}]", allow_inf)
        return
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        for f in dataclasses.fields(x):
            if f.name not in allow_inf and f.name != "scenarios":
                finite(getattr(x, f.name), f"{where}.{f.name}", allow_inf)


def close(got: Any, want: Any, what: str, rtol: float = 1e-9) -> None:
    """``got`` agrees with the reference ``want`` to ``rtol`` of the larger magnitude in
    the compared block (sums of terms of mixed sign cancel; the block's scale bounds the
    rounding either side can make)."""
    g = np.asarray(got, dtype=np.float64)
    w = np.asarray(want, dtype=np.float64)
    if g.shape != w.shape:
        raise Finding(f"{what}: shape {g.shape}, reference {w.shape}")
    if not np.all(np.isfinite(w)) or g.size == 0:
        return  # the reference itself overflowed: nothing to compare
    scale = float(np.max(np.abs(w))) if w.size else 0.0
    tol = rtol * np.maximum(np.abs(w), scale) + 1e-300
    bad = np.flatnonzero((np.abs(g - w) > tol).ravel())
    if bad.size:
        k = int(bad[0])
        raise Finding(f"{what}[{k}] = {g.ravel()[k]!r}, reference {w.ravel()[k]!r}")


# ------------------------------------------------------------------------- valid inputs
def universe(rng: np.random.Generator, n_u: int | None = None) -> Args:
    """A small valid universe, market and book, as the raw columns the constructors take."""
    n_u = int(rng.integers(1, 3)) if n_u is None else n_u
    n_i = int(rng.integers(1, 6))
    kind = rng.integers(0, 5, n_i)
    und = rng.integers(0, n_u, n_i)
    und[0] = n_u - 1
    spot = np.round(10 ** rng.uniform(0, 5, n_u), 2)
    opt = kind >= 3
    strike = np.where(opt, np.round(spot[und] * rng.uniform(0.5, 2.0, n_i), 1), 0.0)
    dated = kind >= 2
    expiry = np.where(dated, rng.choice([1 / 365, 7 / 365, 30 / 365, 0.25, 1.0], n_i), 0.0)
    cs = rng.choice([0.01, 1.0, 10.0], n_i)
    settlement = np.where(kind == 0, 0, rng.integers(0, 2, n_i))
    vol = np.where(opt, np.round(rng.uniform(0.05, 2.0, n_i), 3), 0.0)
    forward = np.round(spot[und] * rng.uniform(0.8, 1.25, n_i), 2) if rng.random() < 0.5 else None
    n_j = int(rng.integers(1, 3))
    asset_price = np.concatenate([[1.0], spot[: n_j - 1]])
    haircut = np.round(rng.uniform(0.0, 0.5, n_j), 2)
    n_a = int(rng.integers(1, 4))
    counts = rng.integers(0, 4, n_a)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    n_rows = int(offsets[-1])
    return {
        "kind": kind.astype(np.int64),
        "underlying": und.astype(np.int64),
        "strike": strike,
        "expiry": expiry,
        "contract_size": cs,
        "settlement": settlement.astype(np.int64),
        "spot": spot,
        "vol": vol,
        "asset_price": asset_price,
        "haircut": haircut,
        "rate": float(np.round(rng.uniform(-0.02, 0.1), 4)),
        "forward": forward,
        "offsets": offsets,
        "instrument": rng.integers(0, n_i, n_rows).astype(np.int64),
        "quantity": np.round(rng.uniform(-50, 50, n_rows), 3),
        "balances": np.round(rng.uniform(-1e4, 1e5, (n_a, n_j)), 2),
    }


def instruments_of(a: Args) -> Instruments:
    return Instruments(
        a["kind"], a["underlying"], a["strike"], a["expiry"], a["contract_size"], a["settlement"]
    )


def market_of(a: Args) -> Market:
    return Market(a["spot"], a["vol"], a["asset_price"], a["haircut"], rate=a["rate"], forward=a["forward"])


def accounts_of(a: Args) -> Accounts:
    return Accounts(a["offsets"], a["instrument"], a["quantity"], a["balances"])


def _result_fields(res: Any) -> dict[str, Any]:
    return {f.name: getattr(res, f.name) for f in dataclasses.fields(res)}


def check_margin(res: Any, want: Any, n_accounts: int, n_und: int) -> None:
    """A ``MarginResult``: finite (margin ratio +inf only at equity <= 0), shaped, and
    equal to the reference result ``want`` (when given)."""
    finite(res, "result", allow_inf=("margin_ratio",))
    mr = res.margin_ratio
    bad = np.flatnonzero(np.isnan(mr) | (np.isinf(mr) & (res.equity > 0)) | (mr == -np.inf))
    if bad.size:
        raise Finding(f"margin_ratio[{int(bad[0])}] = {mr[bad[0]]} at equity {res.equity[bad[0]]}")
    for name in ("equity", "initial_margin", "maintenance_margin", "margin_ratio", "worst_scenario"):
        if getattr(res, name).shape != (n_accounts,):
            raise Finding(f"{name} has shape {getattr(res, name).shape}, want ({n_accounts},)")
    if res.net_delta.shape != (n_accounts, n_und):
        raise Finding(f"net_delta has shape {res.net_delta.shape}, want ({n_accounts}, {n_und})")
    if want is None:
        return
    for name, value in _result_fields(res).items():
        if isinstance(value, np.ndarray) and value.dtype.kind == "f":
            ref = getattr(want, name)
            if name == "margin_ratio":
                fin = np.isfinite(ref)
                if not np.array_equal(fin, np.isfinite(value)):
                    raise Finding(f"margin_ratio {value} but reference {ref}")
                close(value[fin], ref[fin], name)
            else:
                close(value, ref, name)
    if not np.array_equal(res.worst_scenario, want.worst_scenario):
        # ties between scenarios within rounding may pick another index; the loss must agree
        close(res.scenario_loss, want.scenario_loss, "scenario_loss (worst scenario differs)")


# ------------------------------------------------------------------------- targets
class Target:
    """One public entry point: valid inputs, the call, and what a valid result is."""

    name = ""
    weight = 1.0
    #: argument names the fuzzer may break (default: all)
    mutable: tuple[str, ...] | None = None

    def base(self, rng: np.random.Generator) -> Args:
        raise NotImplementedError

    def call(self, a: Args) -> Any:
        raise NotImplementedError

    def check(self, a: Args, out: Any, mutated: bool) -> None:
        finite(out, "result")


class Black76(Target):
    name = "black76"
    weight = 3.0

    def base(self, rng: np.random.Generator) -> Args:
        n = int(rng.integers(1, 6))
        f = np.round(10 ** rng.uniform(-2, 6, n), 3)
        return {
            "is_call": rng.random(n) < 0.5,
            "forward": f,
            "strike": np.round(f * rng.uniform(0.3, 3.0, n), 3),
            "t": np.round(rng.uniform(1e-3, 5.0, n), 4),
            "vol": np.round(rng.uniform(0.01, 3.0, n), 3),
            "rate": float(np.round(rng.uniform(-0.05, 0.2), 3)),
            "threads": int(rng.integers(1, 3)),
        }

    def call(self, a: Args) -> Any:
        return black76(
            a["is_call"], a["forward"], a["strike"], a["t"], a["vol"], a["rate"], threads=a["threads"]
        )

    def check(self, a: Args, out: Any, mutated: bool) -> None:
        finite(out, "black76")
        cols = np.broadcast_arrays(
            *(np.asarray(a[k]) for k in ("is_call", "forward", "strike", "t", "vol", "rate"))
        )
        shape = cols[0].shape
        for name, row in zip(out._fields, out, strict=True):
            if row.shape != shape:
                raise Finding(f"{name} has shape {row.shape}, want {shape}")
        want = np.array(
            [
                black76_one(bool(c), float(f), float(k), float(t), float(v), float(r))
                for c, f, k, t, v, r in zip(*(x.ravel() for x in cols), strict=True)
            ]
        ).reshape(*shape, 5)
        for j, name in enumerate(out._fields):
            close(getattr(out, name), want[..., j], f"black76.{name}", rtol=1e-9 if not mutated else 1e-7)


class ImpliedVol(Target):
    name = "implied_vol"
    weight = 2.0

    def base(self, rng: np.random.Generator) -> Args:
        a = Black76().base(rng)
        g = black76(a["is_call"], a["forward"], a["strike"], a["t"], a["vol"], a["rate"])
        return {
            "price": g.price,
            **{k: a[k] for k in ("is_call", "forward", "strike", "t", "rate", "threads")},
        }

    def call(self, a: Args) -> Any:
        return implied_vol(
            a["price"], a["is_call"], a["forward"], a["strike"], a["t"], a["rate"], a["threads"]
        )

    def check(self, a: Args, out: Any, mutated: bool) -> None:
        finite(out, "implied_vol")
        if np.any(out <= 0):
            raise Finding(f"implied vol {out} is not > 0")
        back = black76(a["is_call"], a["forward"], a["strike"], a["t"], out, a["rate"]).price
        close(back, np.broadcast_to(np.asarray(a["price"], dtype=np.float64), back.shape), "repriced", 1e-7)


class Engine(Target):
    """Constructors and ``MarginEngine.compute`` against the pure-Python reference."""

    name = "engine.compute"
    weight = 4.0

    def base(self, rng: np.random.Generator) -> Args:
        a = universe(rng)
        a["model"] = str(rng.choice(["standard", "cross", "portfolio"]))
        a["threads"] = int(rng.integers(1, 3))
        a["params"] = {} if rng.random() < 0.7 else {"linear_im": 0.2, "option_mm": 0.1, "mm_factor": 0.5}
        return a

    def call(self, a: Args) -> Any:
        ins = instruments_of(a)
        m = market_of(a)
        acc = accounts_of(a)
        p = a["params"]
        params = MarginParams(**p) if isinstance(p, dict) else p
        eng = MarginEngine(ins, params=params, threads=a["threads"])
        return ins, m, acc, params, eng.compute(acc, m, a["model"])

    def check(self, a: Args, out: Any, mutated: bool) -> None:
        ins, m, acc, params, res = out
        want = baseline.MarginEngine(ins, params=params).compute(acc, m, a["model"])
        check_margin(res, want, len(acc), max(ins.n_underlyings, 1))


class RiskArrays(Target):
    name = "engine.risk_arrays"
    weight = 2.0

    def base(self, rng: np.random.Generator) -> Args:
        a = universe(rng)
        a["table"] = str(rng.choice(["deribit", "span"]))
        return a

    def call(self, a: Args) -> Any:
        ins = instruments_of(a)
        m = market_of(a)
        n_u = max(ins.n_underlyings, 1)
        sc = deribit_scenarios(n_u) if a["table"] == "deribit" else span_scenarios(n_u)
        eng = MarginEngine(ins, scenarios=sc)
        return ins, m, sc, eng.risk_arrays(m), eng.instrument_values(m)

    def check(self, a: Args, out: Any, mutated: bool) -> None:
        ins, m, sc, risk, vals = out
        finite(risk, "risk_arrays")
        finite(vals, "instrument_values")
        if risk.shape != (len(ins), sc.n_scenarios):
            raise Finding(f"risk arrays of shape {risk.shape}")
        ref = baseline.MarginEngine(ins, scenarios=sc)
        close(risk, ref.risk_arrays(m), "risk_arrays")
        want = ref.instrument_values(m)
        for f in dataclasses.fields(vals):
            close(getattr(vals, f.name), getattr(want, f.name), f"instrument_values.{f.name}")


class Scenarios(Target):
    """Scenario-table builders, then the engine on the table they built."""

    name = "scenarios"
    weight = 2.0

    def base(self, rng: np.random.Generator) -> Args:
        a = universe(rng)
        n_u = max(int(a["underlying"].max()) + 1, 1)
        a["builder"] = str(rng.choice(["deribit", "span", "table"]))
        a["price_range"] = float(np.round(rng.uniform(0.02, 0.3), 3))
        a["vol_up"] = float(np.round(rng.uniform(0.0, 1.0), 3))
        a["vol_down"] = float(np.round(rng.uniform(0.0, 1.0), 3))
        a["buckets"] = int(rng.integers(1, 6))
        a["look_ahead"] = float(rng.choice([0.0, 1 / 365]))
        s = int(rng.integers(1, 6))
        a["moves"] = np.round(rng.uniform(-0.5, 0.5, (s, n_u)), 3)
        a["vol_shocks"] = np.round(rng.uniform(-1, 1, (s, n_u)), 3)
        a["weights"] = np.ones((s, n_u))
        a["n_underlyings"] = n_u
        return a

    def call(self, a: Args) -> Any:
        if a["builder"] == "deribit":
            sc = deribit_scenarios(
                a["n_underlyings"], a["price_range"], a["buckets"], vol_up=a["vol_up"], vol_down=a["vol_down"]
            )
        elif a["builder"] == "span":
            sc = span_scenarios(
                a["n_underlyings"], a["price_range"], a["vol_up"], look_ahead_days=a["look_ahead"]
            )
        else:
            sc = ScenarioTable(
                a["moves"],
                a["vol_shocks"],
                a["weights"],
                vol_up=a["vol_up"],
                vol_down=a["vol_down"],
                look_ahead=a["look_ahead"],
            )
        ins, m, acc = instruments_of(a), market_of(a), accounts_of(a)
        res = MarginEngine(ins, scenarios=sc).compute(acc, m, "portfolio")
        return ins, m, acc, sc, res

    def check(self, a: Args, out: Any, mutated: bool) -> None:
        ins, m, acc, sc, res = out
        finite((sc.moves, sc.vol_shocks, sc.weights), "scenarios")
        want = baseline.MarginEngine(ins, scenarios=sc).compute(acc, m, "portfolio")
        check_margin(res, want, len(acc), sc.n_underlyings)


class WhatIf(Target):
    name = "MarketState.what_if"
    weight = 2.0

    def base(self, rng: np.random.Generator) -> Args:
        a = universe(rng)
        n_i = a["kind"].shape[0]
        a["account"] = int(rng.integers(0, a["offsets"].shape[0] - 1))
        a["trades"] = [(int(rng.integers(n_i)), float(np.round(rng.uniform(-5, 5), 2))) for _ in range(2)]
        a["balance_change"] = np.round(rng.uniform(-100, 100, a["asset_price"].shape[0]), 2)
        a["model"] = str(rng.choice(["standard", "cross", "portfolio"]))
        a["apply"] = bool(rng.random() < 0.5)
        return a

    def call(self, a: Args) -> Any:
        ins, m, acc = instruments_of(a), market_of(a), accounts_of(a)
        state = MarketState(MarginEngine(ins), acc, m, a["model"])
        fn = state.apply if a["apply"] else state.what_if
        w = fn(a["account"], a["trades"], a["balance_change"])
        return w, state.result(), state.tick(m)

    def check(self, a: Args, out: Any, mutated: bool) -> None:
        w, res, ticked = out
        finite((w.before, w.after), "what_if", allow_inf=("margin_ratio",))
        check_margin(res, None, res.equity.shape[0], res.net_delta.shape[1])
        check_margin(ticked, None, res.equity.shape[0], res.net_delta.shape[1])


class Curves(Target):
    """Rate curves, vol surfaces and the engine valued off them."""

    name = "curves"
    weight = 1.0

    def base(self, rng: np.random.Generator) -> Args:
        a = universe(rng, n_u=1)
        a["curve_t"] = np.array([0.1, 0.5, 2.0])
        a["curve_r"] = np.round(rng.uniform(-0.02, 0.08, 3), 4)
        a["surf_t"] = np.array([0.001, 2.0])
        a["surf_x"] = np.array([-2.0, 0.0, 2.0])
        a["surf_v"] = np.round(rng.uniform(0.2, 1.2, (2, 3)), 3)
        a["rate"] = 0.0
        return a

    def call(self, a: Args) -> Any:
        curve = RateCurve(a["curve_t"], a["curve_r"])
        surf = VolSurface(a["surf_t"], a["surf_x"], a["surf_v"])
        m = Market(
            a["spot"],
            a["vol"],
            a["asset_price"],
            a["haircut"],
            forward=a["forward"],
            surfaces=[surf],
            rate_curve=curve,
        )
        ins, acc = instruments_of(a), accounts_of(a)
        return ins, m, acc, MarginEngine(ins).compute(acc, m, "portfolio")

    def check(self, a: Args, out: Any, mutated: bool) -> None:
        ins, m, acc, res = out
        check_margin(res, baseline.MarginEngine(ins).compute(acc, m, "portfolio"), len(acc), 1)


def _returns(rng: np.random.Generator) -> np.ndarray:
    t, u = int(rng.integers(2, 12)), int(rng.integers(1, 3))
    return np.round(rng.normal(0, 0.03, (t, u)), 5)


class Volatility(Target):
    name = "dynamic.volatility"
    weight = 2.0

    def base(self, rng: np.random.Generator) -> Args:
        r = _returns(rng)
        return {
            "fn": str(
                rng.choice(
                    [
                        "log_returns",
                        "ewma",
                        "rolling",
                        "annualise",
                        "scan_ranges",
                        "apc",
                        "cap_path",
                        "span_table",
                        "dynamic_span_table",
                    ]
                )
            ),
            "prices": np.round(100 * np.exp(np.cumsum(r, axis=0)), 4),
            "returns": r,
            "lam": 0.94,
            "window": int(rng.integers(2, max(3, r.shape[0] + 1))),
            "periods": 365.0,
            "k": 3.5,
            "horizon": 2 / 365,
            "floor": 0.05,
            "cap": 0.45,
            "weight": 0.25,
            "max_rise": 0.25,
        }

    def call(self, a: Args) -> Any:
        fn = a["fn"]
        if fn == "log_returns":
            return dynamic.log_returns(a["prices"])
        if fn == "ewma":
            return dynamic.ewma_volatility(a["returns"], a["lam"])
        if fn == "rolling":
            return dynamic.rolling_volatility(a["returns"], a["window"])
        if fn == "annualise":
            return dynamic.annualise(a["returns"], a["periods"])
        r = a["returns"]
        numeric = isinstance(r, np.ndarray) and r.dtype.kind in "biuf" and r.ndim == 2 and len(r)
        sig = np.abs(r[-1]) if numeric else r
        if fn == "scan_ranges":
            return dynamic.scan_ranges(sig, a["k"], a["horizon"], a["floor"], a["cap"])
        if fn == "apc":
            return dynamic.apc_volatility(sig, a["floor"], a["cap"], a["weight"])
        if fn == "cap_path":
            return dynamic.cap_path(a["prices"], a["max_rise"])
        if fn == "span_table":
            t = dynamic.span_table_from_ranges(
                dynamic.scan_ranges(sig, a["k"], a["horizon"], a["floor"], a["cap"])
            )
            return (t.moves, t.vol_shocks, t.weights)
        t = dynamic.dynamic_span_table(sig, a["k"], a["horizon"], a["floor"], a["cap"])
        return (t.moves, t.vol_shocks, t.weights)

    def check(self, a: Args, out: Any, mutated: bool) -> None:
        finite(out, a["fn"])
        fn = a["fn"]
        rows = np.asarray(a["returns"], dtype=np.float64)
        if fn == "log_returns":
            close(out, dref.log_returns(np.asarray(a["prices"]).tolist()), fn)
        elif fn == "ewma":
            close(out, dref.ewma_vol(rows.tolist(), float(a["lam"])), fn)
        elif fn == "rolling":
            close(out, dref.rolling_vol(rows.tolist(), int(a["window"])), fn)
        elif fn == "cap_path":
            close(out, dref.cap_path(np.asarray(a["prices"]).tolist(), float(a["max_rise"])), fn)


class Joint(Target):
    name = "dynamic.joint"
    weight = 2.0

    def base(self, rng: np.random.Generator) -> Args:
        r = _returns(rng)
        u = r.shape[1]
        return {
            "fn": str(rng.choice(["historical", "filtered", "monte_carlo"])),
            "returns": r,
            "horizon": int(rng.integers(1, r.shape[0] + 1)),
            "lam": 0.94,
            "sigma": np.round(rng.uniform(0.1, 1.5, u), 3),
            "correlation": np.eye(u),
            "mc_horizon": 2 / 365,
            "n_scenarios": int(rng.integers(1, 50)),
            "seed": int(rng.integers(0, 2**32)),
        }

    def call(self, a: Args) -> Any:
        if a["fn"] == "historical":
            return dynamic.historical_scenarios(a["returns"], a["horizon"])
        if a["fn"] == "filtered":
            return dynamic.filtered_historical_scenarios(a["returns"], a["lam"], a["horizon"])
        return dynamic.monte_carlo_scenarios(
            a["sigma"], a["correlation"], a["mc_horizon"], a["n_scenarios"], a["seed"]
        )

    def check(self, a: Args, out: Any, mutated: bool) -> None:
        finite(out, a["fn"])
        if a["fn"] == "historical":
            close(
                out,
                dref.historical(np.asarray(a["returns"], dtype=float).tolist(), int(a["horizon"])),
                "historical",
            )
        elif a["fn"] == "monte_carlo":
            want = dref.monte_carlo(
                np.atleast_1d(np.asarray(a["sigma"], dtype=float)).tolist(),
                np.asarray(a["correlation"], dtype=float).tolist(),
                float(a["mc_horizon"]),
                int(a["n_scenarios"]),
                int(a["seed"]),
            )
            close(out, want, "monte_carlo", 1e-9)


class Risk(Target):
    """VaR/ES, scenario P&L, SPAN 2 combination, liquidity add-ons, dynamic haircuts."""

    name = "dynamic.risk"
    weight = 3.0

    def base(self, rng: np.random.Generator) -> Args:
        a = universe(rng)
        n_i = a["kind"].shape[0]
        n_a = a["offsets"].shape[0] - 1
        s = int(rng.integers(1, 8))
        a.update(
            fn=str(rng.choice(["var_es", "scenario_pnl", "span2", "addons", "collateral", "joint_risk"])),
            risk=np.round(rng.normal(0, 100, (n_i, s)), 3),
            confidence=float(rng.choice([0.9, 0.99, 0.5])),
            notional=np.round(rng.uniform(1, 1e4, n_i), 2),
            half_spread=np.round(rng.uniform(0, 0.01, n_i), 5),
            depth=np.round(rng.uniform(1e3, 1e7, n_i), 1),
            base_ratio=0.05,
            share=0.1,
            liq_rate=0.1,
            imf=0.0,
            tail=np.round(rng.uniform(0, 1e3, n_a), 2),
            x=0.5,
            sigma=np.round(rng.uniform(0.1, 1.5, a["asset_price"].shape[0]), 3),
            asset_depth=np.round(rng.uniform(1e3, 1e7, a["asset_price"].shape[0]), 1),
            base=np.zeros(a["asset_price"].shape[0]),
            moves=np.round(rng.uniform(-0.5, 0.5, (s, max(int(a["underlying"].max()) + 1, 1))), 3),
            threads=int(rng.integers(1, 3)),
        )
        return a

    def call(self, a: Args) -> Any:
        fn = a["fn"]
        if fn == "var_es":
            return dynamic.var_es(a["risk"], accounts_of(a), a["confidence"], a["threads"])
        if fn == "scenario_pnl":
            return dynamic.scenario_pnl(a["risk"], accounts_of(a), a["threads"])
        if fn == "span2":
            return dynamic.span2_margin(a["x"], a["tail"], a["tail"], a["tail"], a["tail"])
        if fn == "addons":
            rule = dynamic.LiquidityRule(
                a["notional"],
                a["half_spread"],
                a["depth"],
                a["base_ratio"],
                a["share"],
                a["liq_rate"],
                a["imf"],
            )
            return dynamic.addons(rule, accounts_of(a), a["threads"])
        if fn == "collateral":
            return dynamic.dynamic_collateral(
                a["balances"], a["asset_price"], a["sigma"], a["asset_depth"], a["base"], threads=a["threads"]
            )
        return dynamic.joint_risk_arrays(instruments_of(a), market_of(a), a["moves"], a["threads"])

    def check(self, a: Args, out: Any, mutated: bool) -> None:
        finite(out, a["fn"])
        if a["fn"] == "var_es":
            want = dref.var_es(
                np.asarray(a["risk"], dtype=float).tolist(),
                a["offsets"].tolist(),
                a["instrument"].tolist(),
                a["quantity"].tolist(),
                float(a["confidence"]),
            )
            close(out[0], want[0], "var")
            close(out[1], want[1], "es")


class Liquidation(Target):
    """The liquidation scan and a short stress test."""

    name = "dynamic.liquidation"
    weight = 2.0

    def base(self, rng: np.random.Generator) -> Args:
        a = Risk().base(rng)
        a["fn"] = str(rng.choice(["scan", "stress"]))
        a["target"] = str(rng.choice(["initial", "maintenance"]))
        a["buffer"] = 0.0
        a["penalty"] = 0.025
        a["asset_underlying"] = np.full(a["asset_price"].shape[0], -1, dtype=np.int64)
        a["stress_move"] = -0.3
        a["vol_multiplier"] = 1.5
        return a

    def call(self, a: Args) -> Any:
        ins, m, acc = instruments_of(a), market_of(a), accounts_of(a)
        if a["fn"] == "scan":
            rule = dynamic.LiquidityRule(
                a["notional"],
                a["half_spread"],
                a["depth"],
                a["base_ratio"],
                a["share"],
                a["liq_rate"],
                a["imf"],
            )
            eng = MarginEngine(ins)
            return dynamic.scan_margin(eng, acc, m, rule, "portfolio", a["target"], a["buffer"], a["penalty"])
        stress = dynamic.StressScenario("s", a["stress_move"], a["vol_multiplier"])
        return dynamic.stress_test(ins, acc, m, a["asset_underlying"], [stress])


class Kupiec(Target):
    name = "dynamic.kupiec"
    weight = 0.5

    def base(self, rng: np.random.Generator) -> Args:
        n = int(rng.integers(1, 1000))
        return {"n": n, "breaches": int(rng.integers(0, n + 1)), "p": 0.01}

    def call(self, a: Args) -> Any:
        return dynamic.kupiec(a["n"], a["breaches"], a["p"])

    def check(self, a: Args, out: Any, mutated: bool) -> None:
        finite(out, "kupiec")
        close(out, dref.kupiec(int(a["n"]), int(a["breaches"]), float(a["p"])), "kupiec")


# ------------------------------------------------------------------------- proof layer
_PROOF_CACHE: dict[str, Any] = {}


def _solvent_setup() -> tuple[Any, ...]:
    """One small solvent account (built once: proving costs tens of milliseconds)."""
    if "setup" not in _PROOF_CACHE:
        ins = Instruments([1, 3], [0, 0], [0.0, 60000.0], [0.0, 0.25], [1.0, 1.0], [0, 0])
        m = Market([60000.0], [0.0, 0.6], [1.0], [0.0])
        acc = Accounts([0, 2], [0, 1], [0.5, -1.0], [[100000.0]])
        eng = MarginEngine(ins)
        dec = proof.default_balance_decimals(m.asset_price)
        com, op = proof.commit_account(acc, 0, n_instruments=2, balance_decimals=dec)
        st = proof.build_statement(eng, m, com, "alice", epoch=1)
        pr = proof.prove_solvency(st, com, op)
        _PROOF_CACHE["setup"] = (ins, m, acc, eng, dec, com, op, st, pr)
    return _PROOF_CACHE["setup"]


def _range_setup() -> tuple[list[bytes], Any]:
    if "range" not in _PROOF_CACHE:
        _PROOF_CACHE["range"] = proof.prove_range([5, 2**40], n=64)
    return _PROOF_CACHE["range"]


class Commit(Target):
    name = "proof.commit"
    weight = 1.0

    def base(self, rng: np.random.Generator) -> Args:
        return {
            "fn": str(rng.choice(["commit", "q_units", "b_units", "decimals"])),
            "value": int(rng.integers(0, 2**40)),
            "blinding": int(rng.integers(1, 2**62)),
            "q": float(np.round(rng.uniform(-100, 100), 3)),
            "decimals": 6,
            "prices": np.round(10 ** rng.uniform(-2, 5, 2), 2),
        }

    def call(self, a: Args) -> Any:
        if a["fn"] == "commit":
            return proof.commit(a["value"], a["blinding"])
        if a["fn"] == "q_units":
            return proof.quantity_to_units(a["q"], a["decimals"])
        if a["fn"] == "b_units":
            return proof.balance_to_units(a["q"], a["decimals"])
        return proof.default_balance_decimals(a["prices"])

    def check(self, a: Args, out: Any, mutated: bool) -> None:
        if a["fn"] == "commit":
            if not isinstance(out, bytes) or len(out) != 32:
                raise Finding(f"commitment {out!r} is not 32 bytes")
        elif a["fn"] in ("q_units", "b_units"):
            if not isinstance(out, int) or isinstance(out, bool):
                raise Finding(f"units {out!r} is not an int")
        elif not all(isinstance(d, int) and 0 <= d <= 18 for d in out):
            raise Finding(f"decimals {out!r}")


class RangeProofs(Target):
    name = "proof.range"
    weight = 1.0

    def base(self, rng: np.random.Generator) -> Args:
        coms, pr = _range_setup()
        return {
            "fn": str(rng.choice(["prove", "verify", "from_bytes", "from_json"])),
            "values": [int(rng.integers(0, 2**32))],
            "n": 32,
            "coms": list(coms),
            "proof_bytes": pr.to_bytes(),
            "proof_json": pr.to_json(),
            "verify_n": 64,
        }

    def call(self, a: Args) -> Any:
        if a["fn"] == "prove":
            coms, pr = proof.prove_range(a["values"], n=a["n"])
            return coms, pr, proof.verify_range(coms, pr, n=a["n"])
        if a["fn"] == "verify":
            _, pr = _range_setup()
            return proof.verify_range(a["coms"], pr, n=a["verify_n"])
        if a["fn"] == "from_bytes":
            pr = proof.RangeProof.from_bytes(a["proof_bytes"])
            return proof.verify_range(a["coms"], pr, n=64)
        pr = proof.RangeProof.from_json(a["proof_json"])
        return proof.verify_range(a["coms"], pr, n=64)

    def check(self, a: Args, out: Any, mutated: bool) -> None:
        ok = out[2] if a["fn"] == "prove" else out
        if not isinstance(ok, bool):
            raise Finding(f"verify returned {ok!r}, not a bool")
        if a["fn"] == "prove" and not ok:
            raise Finding("a fresh range proof does not verify")
        if not mutated and not ok:
            raise Finding("the valid proof does not verify")


class Solvency(Target):
    name = "proof.solvency"
    weight = 1.5

    def base(self, rng: np.random.Generator) -> Args:
        *_, dec, com, op, st, pr = _solvent_setup()
        return {
            "fn": str(
                rng.choice(["commit_account", "statement", "verify", "decode_bytes", "decode_json", "prove"])
            ),
            "index": 0,
            "n_instruments": 2,
            "balance_decimals": list(dec),
            "account_id": "alice",
            "epoch": 1,
            "st_bytes": st.to_bytes(),
            "st_json": st.to_json(),
            "com_bytes": com.to_bytes(),
            "com_json": com.to_json(),
            "pr_bytes": pr.to_bytes(),
            "pr_json": pr.to_json(),
            "op_json": op.to_json(),
            "which": str(rng.choice(["statement", "commitment", "proof", "opening"])),
            "st": st,
            "com": com,
            "pr": pr,
        }

    mutable = (
        "index",
        "n_instruments",
        "balance_decimals",
        "account_id",
        "epoch",
        "st_bytes",
        "st_json",
        "com_bytes",
        "com_json",
        "pr_bytes",
        "pr_json",
        "op_json",
        "st",
        "com",
        "pr",
    )

    def call(self, a: Args) -> Any:
        _, m, acc, eng, _, com, op, st, pr = _solvent_setup()
        fn = a["fn"]
        if fn == "commit_account":
            return proof.commit_account(
                acc, a["index"], n_instruments=a["n_instruments"], balance_decimals=a["balance_decimals"]
            )
        if fn == "statement":
            return proof.build_statement(eng, m, com, a["account_id"], a["epoch"])
        if fn == "verify":
            return proof.verify_solvency(a["st"], a["com"], a["pr"])
        if fn == "prove":
            return proof.prove_solvency(a["st"], a["com"], op)
        if fn == "decode_bytes":
            w = a["which"]
            if w == "statement":
                return proof.verify_solvency(proof.SolvencyStatement.from_bytes(a["st_bytes"]), com, pr)
            if w == "commitment":
                return proof.verify_solvency(st, proof.AccountCommitment.from_bytes(a["com_bytes"]), pr)
            return proof.verify_solvency(st, com, proof.SolvencyProof.from_bytes(a["pr_bytes"]))
        w = a["which"]
        if w == "statement":
            return proof.verify_solvency(proof.SolvencyStatement.from_json(a["st_json"]), com, pr)
        if w == "commitment":
            return proof.verify_solvency(st, proof.AccountCommitment.from_json(a["com_json"]), pr)
        if w == "opening":
            return proof.AccountOpening.from_json(a["op_json"])
        return proof.verify_solvency(st, com, proof.SolvencyProof.from_json(a["pr_json"]))

    def check(self, a: Args, out: Any, mutated: bool) -> None:
        fn = a["fn"]
        if fn in ("verify", "decode_bytes", "decode_json") and not (
            fn == "decode_json" and a["which"] == "opening"
        ):
            if not isinstance(out, bool):
                raise Finding(f"verify returned {out!r}, not a bool")
            if not mutated and not out:
                raise Finding("the valid proof does not verify")


TARGETS: tuple[Target, ...] = (
    Black76(),
    ImpliedVol(),
    Engine(),
    RiskArrays(),
    Scenarios(),
    WhatIf(),
    Curves(),
    Volatility(),
    Joint(),
    Risk(),
    Liquidation(),
    Kupiec(),
    Commit(),
    RangeProofs(),
    Solvency(),
)
_WEIGHTS = np.array([t.weight for t in TARGETS]) / sum(t.weight for t in TARGETS)


# ------------------------------------------------------------------------- driver
@dataclasses.dataclass
class Outcome:
    case: int
    target: str
    mutations: list[str]
    verdict: str  # "ok", "typed error", or a failure
    detail: str = ""


def describe(v: Any) -> str:
    if isinstance(v, np.ndarray):
        return (
            f"np.array({v.tolist()!r}, dtype={v.dtype})" if v.size <= 12 else f"<array {v.shape} {v.dtype}>"
        )
    text = repr(v)
    return text if len(text) <= 200 else text[:200] + "..."


def draw(seed: int, case: int, avoid: tuple[str, ...] = ()) -> tuple[Target, Args, list[str]]:
    rng = np.random.default_rng([seed, case])
    target = TARGETS[int(rng.choice(len(TARGETS), p=_WEIGHTS))]
    args = target.base(rng)
    mutations: list[str] = []
    if rng.random() < 0.85:
        keys = list(target.mutable or args)
        keys = [k for k in keys if k != "fn" and k not in avoid]
        for key in rng.choice(keys, size=min(len(keys), int(rng.integers(1, 3))), replace=False).tolist():
            value = args[key]
            if key.endswith("_json"):
                new, how = mutate_json(rng, value)
            else:
                new, how = mutate_value(rng, value)
            args[key] = new
            mutations.append(f"{key}: {how} -> {describe(new)}")
    return target, args, mutations


def _planted(a: Args) -> Any:
    raise ValueError("planted by --self-test")


def run_case(seed: int, case: int, avoid: tuple[str, ...] = (), self_test: bool = False) -> Outcome:
    target, args, mutations = draw(seed, case, avoid)
    before = {k: snapshot(v) for k, v in args.items()}
    out = Outcome(case, target.name, mutations, "ok")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", errors.ConvergenceWarning)
            with np.errstate(all="ignore"):
                result = (_planted if self_test else target.call)(args)
                target.check(args, result, bool(mutations))
    except Finding as exc:
        out.verdict, out.detail = "wrong result", str(exc)
    except errors.ZkMarginError as exc:
        out.verdict, out.detail = "typed error", f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # the contract: nothing else escapes
        out.verdict = "untyped exception"
        tb = traceback.extract_tb(exc.__traceback__)
        where = f"{tb[-1].filename.rsplit('/', 1)[-1]}:{tb[-1].lineno}" if tb else "?"
        out.detail = f"{type(exc).__name__}: {exc} (at {where})"
    for k, v in args.items():
        if not same(v, before[k]):
            out.verdict, out.detail = (
                "mutated input",
                f"argument {k!r} changed: {describe(before[k])} -> {describe(v)}",
            )
    return out


FAILURES = ("wrong result", "untyped exception", "mutated input")


def _hang(seed: int, case: int, avoid: tuple[str, ...], limit: float) -> None:
    """The watchdog: a case still running after ``limit`` seconds is reported as a hang
    and the run ends (a call inside the native core cannot be interrupted)."""
    target, _, mutations = draw(seed, case, avoid)
    failure = {
        "case": case,
        "target": target.name,
        "mutations": mutations,
        "verdict": "hang",
        "detail": f"still running after {limit} s",
        "replay": f"python tests/fuzz_api.py --seed {seed} --case {case} -v",
    }
    print(json.dumps({"failure": failure}), flush=True)
    os._exit(2)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seed", type=int, default=20261201)
    p.add_argument("--seconds", type=float, default=25.0, help="wall-clock budget")
    p.add_argument("--max-cases", type=int, default=10**9)
    p.add_argument("--case", type=int, default=None, help="replay one case")
    p.add_argument("--case-timeout", type=float, default=20.0, help="a case running longer is a hang")
    p.add_argument("--avoid", default="", help="comma-separated argument names never to break")
    p.add_argument("--self-test", action="store_true", help="plant a plain ValueError in every call")
    p.add_argument("-v", "--verbose", action="store_true")
    a = p.parse_args(argv)
    avoid = tuple(x for x in a.avoid.split(",") if x)
    cases = [a.case] if a.case is not None else range(a.max_cases)
    t0 = time.perf_counter()
    failures: list[dict[str, Any]] = []
    counts: dict[str, int] = {}
    per_target: dict[str, int] = {}
    n = 0
    for k in cases:
        if a.case is None and time.perf_counter() - t0 > a.seconds:
            break
        # written before the call, so a crash or a hang names the case that caused it
        print(f"case {k}", file=sys.stderr, flush=True)
        watchdog = threading.Timer(a.case_timeout, _hang, (a.seed, k, avoid, a.case_timeout))
        watchdog.start()
        o = run_case(a.seed, k, avoid, a.self_test)
        watchdog.cancel()
        n += 1
        counts[o.verdict] = counts.get(o.verdict, 0) + 1
        per_target[o.target] = per_target.get(o.target, 0) + 1
        if a.verbose:
            print(json.dumps(dataclasses.asdict(o)), file=sys.stderr)
        if o.verdict in FAILURES:
            failure = {
                **dataclasses.asdict(o),
                "replay": f"python tests/fuzz_api.py --seed {a.seed} --case {k} -v",
            }
            failures.append(failure)
            # one line per failure as it is found, so a later crash loses none of them
            print(json.dumps({"failure": failure}), flush=True)
    summary = {
        "seed": a.seed,
        "cases": n,
        "seconds": round(time.perf_counter() - t0, 2),
        "counts": counts,
        "per_target": per_target,
        "targets": [t.name for t in TARGETS],
        "failed": len(failures),
    }
    print(json.dumps(summary))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
