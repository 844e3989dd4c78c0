"""What a valid result is (finite, unchanged inputs, the reference's numbers), valid
inputs for the margin universe, and the Target interface every entry point implements."""

from __future__ import annotations

import copy
import dataclasses
import math
from typing import Any

import numpy as np

from fuzzing.mutate import Args, Finding
from zkmargin import (
    Accounts,
    Instruments,
    Market,
    dynamic,
)

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


def liquidity_rule_of(a: Args) -> dynamic.LiquidityRule:
    return dynamic.LiquidityRule(
        a["notional"], a["half_spread"], a["depth"], a["base_ratio"], a["share"], a["liq_rate"], a["imf"]
    )


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
