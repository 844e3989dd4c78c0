"""The epoch snapshot: every public input of an epoch's solvency statements in one
canonical, versioned object (docs/proof-spec.md §10).

It holds the instrument universe, the market, the scenario table, the margin parameters,
the model and aggregation, and the published integer coefficient table. The table *is*
the statements' definition: a verifier derives each account's statement from it and
never from an engine, so verification needs neither floats nor the compiled extension.
:func:`audit_snapshot` recomputes the table from the snapshot's own market data with an
engine (Rust, NumPy or the pure-Python reference) and reports how far it deviates.

The byte and JSON codecs are driven by one explicit, versioned field list
(:data:`FIELDS`): a model parameter added to the engine is added there, once.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from ..errors import EncodingError, ParameterError
from ._codec import (
    I128_MAX,
    I128_MIN,
    Reader,
    i128,
    j_float,
    j_floats,
    j_int,
    j_ints,
    j_str,
    j_strs,
    json_object,
    u32,
    u64,
)
from .coefficients import RealCoefficients, portfolio_ids, real_coefficients, refuse_unprovable, widened
from .commitments import QUANTITY_DECIMALS, AccountCommitment, default_balance_decimals
from .group import Group, get_group
from .solvency import (
    MONEY_DECIMALS,
    Shortfall,
    SolvencyProof,
    SolvencyStatement,
    _assemble,
    prove_with_shortfall,
    verify_solvency,
)

__all__ = [
    "FIELDS",
    "MARGIN_BITS",
    "SNAPSHOT_VERSION",
    "AuditReport",
    "EpochSnapshot",
    "audit_snapshot",
    "build_snapshot",
    "prove_account",
    "verify_account",
]

SNAPSHOT_VERSION = 1
_MAGIC = b"ZKSN"
#: Default width of the published interval: ``mu = floor(row scale / 2^MARGIN_BITS) + 1``.
MARGIN_BITS = 32
MODELS = ("portfolio",)
AGGREGATIONS = ("sum", "joint")
_U32 = (1 << 32) - 1

#: Field list of snapshot version 1, in byte order. Kinds: ``str``, ``u8``, ``u32``,
#: ``u64``, ``f64``, ``enum`` (a u8 index into the listed choices, the choice string in
#: JSON), arrays ``str[]``, ``u8[]``, ``u32[]``, ``f64[]``, ``i128[]`` (u32 count, then
#: the elements), ``f64[]?`` (u8 0 absent / 1 present, then the array; JSON null).
FIELDS: tuple[tuple[str, str], ...] = (
    ("scenario_set", "str"),
    ("epoch", "u64"),
    ("model", "enum"),
    ("aggregation", "enum"),
    # instruments (docs/margin-model.md §1.1)
    ("instrument_names", "str[]"),
    ("underlying_names", "str[]"),
    ("kind", "u8[]"),
    ("underlying", "u32[]"),
    ("strike", "f64[]"),
    ("expiry", "f64[]"),
    ("contract_size", "f64[]"),
    ("settlement", "u8[]"),
    # scenario table (§6.1), moves/vol_shocks/weights row-major S x U
    ("n_underlyings", "u32"),
    ("moves", "f64[]"),
    ("vol_shocks", "f64[]"),
    ("weights", "f64[]"),
    ("vol_up", "f64[]"),
    ("vol_down", "f64[]"),
    ("power_short", "f64[]"),
    ("power_long", "f64[]"),
    ("min_vol_up", "f64[]"),
    ("edge", "f64[]"),
    ("dampener", "f64[]"),
    ("roll_annual_move_risk", "f64[]?"),
    ("roll_min_annual_move", "f64[]?"),
    ("settlement_mode", "enum"),
    # margin parameters (§8)
    ("linear_im", "f64"),
    ("linear_mm", "f64"),
    ("option_im_base", "f64"),
    ("option_im_floor", "f64"),
    ("option_mm", "f64"),
    ("im_factor", "f64"),
    ("mm_factor", "f64"),
    ("annual_move_risk", "f64"),
    ("min_annual_move", "f64"),
    ("short_option_min", "f64"),
    # market (§1.2)
    ("spot", "f64[]"),
    ("vol", "f64[]"),
    ("forward", "f64[]?"),
    ("rate", "f64"),
    ("asset_price", "f64[]"),
    ("haircut", "f64[]"),
    ("asset_names", "str[]"),
    # the published coefficient table (docs/proof-spec.md §10.3)
    ("quantity_decimals", "u8"),
    ("money_decimals", "u8"),
    ("balance_decimals", "u8[]"),
    ("margin_bits", "u8"),
    ("bucket", "u32[]"),
    ("loss_lo", "i128[]"),
    ("loss_hi", "i128[]"),
    ("roll_lo", "i128[]"),
    ("roll_hi", "i128[]"),
    ("mtm_lo", "i128[]"),
    ("mtm_hi", "i128[]"),
    ("som_hi", "i128[]"),
    ("coll_lo", "i128[]"),
    ("coll_hi", "i128[]"),
)
SETTLEMENT_MODES = ("cross", "segregated")
_ENUMS = {"model": MODELS, "aggregation": AGGREGATIONS, "settlement_mode": SETTLEMENT_MODES}
SCENARIO_FIELDS = ("vol_up", "vol_down", "power_short", "power_long", "min_vol_up")
PARAM_FIELDS = (
    "linear_im",
    "linear_mm",
    "option_im_base",
    "option_im_floor",
    "option_mm",
    "im_factor",
    "mm_factor",
    "annual_move_risk",
    "min_annual_move",
    "short_option_min",
)


@dataclass(frozen=True)
class EpochSnapshot:
    """One epoch's public inputs (field meanings in :data:`FIELDS`); arrays are tuples."""

    scenario_set: str
    epoch: int
    model: str
    aggregation: str
    instrument_names: tuple[str, ...]
    underlying_names: tuple[str, ...]
    kind: tuple[int, ...]
    underlying: tuple[int, ...]
    strike: tuple[float, ...]
    expiry: tuple[float, ...]
    contract_size: tuple[float, ...]
    settlement: tuple[int, ...]
    n_underlyings: int
    moves: tuple[float, ...]
    vol_shocks: tuple[float, ...]
    weights: tuple[float, ...]
    vol_up: tuple[float, ...]
    vol_down: tuple[float, ...]
    power_short: tuple[float, ...]
    power_long: tuple[float, ...]
    min_vol_up: tuple[float, ...]
    edge: tuple[float, ...]
    dampener: tuple[float, ...]
    roll_annual_move_risk: tuple[float, ...] | None
    roll_min_annual_move: tuple[float, ...] | None
    settlement_mode: str
    linear_im: float
    linear_mm: float
    option_im_base: float
    option_im_floor: float
    option_mm: float
    im_factor: float
    mm_factor: float
    annual_move_risk: float
    min_annual_move: float
    short_option_min: float
    spot: tuple[float, ...]
    vol: tuple[float, ...]
    forward: tuple[float, ...] | None
    rate: float
    asset_price: tuple[float, ...]
    haircut: tuple[float, ...]
    asset_names: tuple[str, ...]
    quantity_decimals: int
    money_decimals: int
    balance_decimals: tuple[int, ...]
    margin_bits: int
    bucket: tuple[int, ...]
    loss_lo: tuple[int, ...]
    loss_hi: tuple[int, ...]
    roll_lo: tuple[int, ...]
    roll_hi: tuple[int, ...]
    mtm_lo: tuple[int, ...]
    mtm_hi: tuple[int, ...]
    som_hi: tuple[int, ...]
    coll_lo: tuple[int, ...]
    coll_hi: tuple[int, ...]

    def __post_init__(self) -> None:
        _validate(self)

    # ------------------------------------------------------------ sizes
    @property
    def n_instruments(self) -> int:
        """Instruments in the universe (``I``)."""
        return len(self.kind)

    @property
    def n_scenarios(self) -> int:
        """Scenarios of the table (``S``)."""
        return len(self.moves) // self.n_underlyings

    @property
    def n_assets(self) -> int:
        """Collateral assets (``J``)."""
        return len(self.asset_price)

    # ------------------------------------------------------------ codecs
    def to_bytes(self) -> bytes:
        """``"ZKSN" || u8 version || fields of FIELDS in order`` (docs/proof-spec.md §10.1)."""
        out = [_MAGIC, bytes([SNAPSHOT_VERSION])]
        for name, kind in FIELDS:
            out.append(_encode(kind, getattr(self, name), name))
        return b"".join(out)

    @classmethod
    def from_bytes(cls, data: bytes) -> EpochSnapshot:
        r = Reader(data, "snapshot")
        if r.take(4) != _MAGIC:
            raise EncodingError("snapshot: bad magic", "snapshot")
        ver = r.u8()
        if ver != SNAPSHOT_VERSION:
            raise EncodingError(f"snapshot: unknown version {ver}", "snapshot")
        kw = {name: _decode(kind, r, name) for name, kind in FIELDS}
        r.done()
        return cls(**kw)

    def digest(self, backend: str | Group = "native") -> bytes:
        """keccak256 of :meth:`to_bytes`: what every statement and transcript binds."""
        return get_group(backend).keccak256(self.to_bytes())

    def to_json(self) -> dict[str, Any]:
        """The JSON form (docs/proof-spec.md §10.1): every field by name."""
        out: dict[str, Any] = {"type": "zkmargin.EpochSnapshot", "version": SNAPSHOT_VERSION}
        for name, _ in FIELDS:
            v = getattr(self, name)
            out[name] = list(v) if isinstance(v, tuple) else v
        return out

    @classmethod
    def from_json(cls, obj: Any) -> EpochSnapshot:
        o = json_object(obj, "zkmargin.EpochSnapshot", SNAPSHOT_VERSION, [n for n, _ in FIELDS])
        return cls(**{name: _from_json(kind, o, name) for name, kind in FIELDS})

    # ------------------------------------------------------------ model objects
    def instruments(self) -> Any:
        """The snapshot's universe as a ``zkmargin.Instruments``."""
        from ..book import Instruments

        return Instruments(
            list(self.kind),
            list(self.underlying),
            list(self.strike),
            list(self.expiry),
            list(self.contract_size),
            list(self.settlement),
            names=self.instrument_names or None,
            underlying_names=self.underlying_names or None,
        )

    def scenarios(self) -> Any:
        """The snapshot's scenario table as a ``zkmargin.ScenarioTable``."""
        from ..scenarios import ScenarioTable

        shape = (self.n_scenarios, self.n_underlyings)
        vol_rule: dict[str, Any] = {k: list(getattr(self, k)) for k in SCENARIO_FIELDS}
        return ScenarioTable(
            np.array(self.moves).reshape(shape),
            np.array(self.vol_shocks).reshape(shape),
            np.array(self.weights).reshape(shape),
            **vol_rule,
            edge=np.array(self.edge).reshape(shape),
            dampener=np.array(self.dampener).reshape(shape),
            annual_move_risk=None if self.roll_annual_move_risk is None else list(self.roll_annual_move_risk),
            min_annual_move=None if self.roll_min_annual_move is None else list(self.roll_min_annual_move),
        )

    def params(self) -> Any:
        """The snapshot's margin parameters as a ``zkmargin.MarginParams``."""
        from ..params import MarginParams

        return MarginParams(**{k: getattr(self, k) for k in PARAM_FIELDS})

    def market(self) -> Any:
        """The snapshot's market as a ``zkmargin.Market``."""
        from ..market import Market

        return Market(
            list(self.spot),
            list(self.vol),
            list(self.asset_price),
            list(self.haircut),
            self.rate,
            None if self.forward is None else list(self.forward),
        )

    def engine(self, engine_class: Any = None, threads: int | None = None) -> Any:
        """An engine (``zkmargin.MarginEngine`` by default) configured from the snapshot."""
        if engine_class is None:
            from ..engine import MarginEngine

            engine_class = MarginEngine
        return engine_class(
            self.instruments(),
            self.scenarios(),
            self.params(),
            self.aggregation,
            threads=threads,
            settlement_mode=self.settlement_mode,
        )

    # ------------------------------------------------------------ statements
    def statement(
        self,
        commitment: AccountCommitment,
        account_id: str,
        *,
        n: int = 64,
        shortfall: bool = True,
        backend: str | Group = "native",
        digest: bytes | None = None,
    ) -> SolvencyStatement:
        """The version-2 statement for ``commitment``: the committed instruments' rows of
        the published table, bound to this snapshot's digest (§10.4). ``digest`` may pass
        a precomputed :meth:`digest` to save hashing per account."""
        ins = commitment.instruments
        n_ins, S = self.n_instruments, self.n_scenarios
        if ins and ins[-1] >= n_ins:
            raise ParameterError(
                f"commitment names instrument {ins[-1]}, outside the snapshot's {n_ins}", "instruments"
            )
        if commitment.balance_decimals != self.balance_decimals:
            raise ParameterError("commitment balance decimals differ from the snapshot's", "balances")
        if commitment.quantity_decimals != self.quantity_decimals:
            raise ParameterError("commitment quantity decimals differ from the snapshot's", "quantities")
        portfolio = portfolio_ids(
            self.underlying, self.settlement, self.n_underlyings, self.settlement_mode == "segregated"
        )
        return _assemble(
            account_id=account_id,
            epoch=self.epoch,
            mode="full" if ins == tuple(range(n_ins)) else "subset",
            aggregation=self.aggregation,
            n=n,
            universe_size=n_ins,
            instruments=ins,
            underlying=[portfolio[i] for i in ins],
            bucket=[self.bucket[i] for i in ins],
            quantity_decimals=self.quantity_decimals,
            money_decimals=self.money_decimals,
            balance_decimals=self.balance_decimals,
            n_scenarios=S,
            loss=[(self.loss_lo[i * S + s], self.loss_hi[i * S + s]) for i in ins for s in range(S)],
            roll=[(self.roll_lo[i], self.roll_hi[i]) for i in ins],
            mtm=[(self.mtm_lo[i], self.mtm_hi[i]) for i in ins],
            som_hi=[self.som_hi[i] for i in ins],
            coll_lo=list(self.coll_lo),
            coll_hi=list(self.coll_hi),
            snapshot=digest if digest is not None else self.digest(backend),
            shortfall=shortfall,
        )


# ---------------------------------------------------------------- field codecs


def _encode(kind: str, v: Any, name: str) -> bytes:
    if kind == "str":
        b: bytes = v.encode()
        return bytes([len(b)]) + b
    if kind == "u8":
        return bytes([v])
    if kind == "u32":
        return u32(v)
    if kind == "u64":
        return u64(v)
    if kind == "i128":
        return i128(v)
    if kind == "f64":
        return struct.pack(">d", v)
    if kind == "enum":
        return bytes([_ENUMS[name].index(v)])
    if kind == "f64[]?":
        return b"\x00" if v is None else b"\x01" + _encode("f64[]", v, name)
    elem = kind[:-2]
    return u32(len(v)) + b"".join(_encode(elem, x, name) for x in v)


def _decode(kind: str, r: Reader, name: str) -> Any:
    if kind == "str":
        try:
            return r.take(r.u8()).decode()
        except UnicodeDecodeError:
            raise EncodingError(f"snapshot: {name} is not UTF-8", name) from None
    if kind == "u8":
        return r.u8()
    if kind == "u32":
        return r.u32()
    if kind == "u64":
        return r.u64()
    if kind == "f64":
        v: float = struct.unpack(">d", r.take(8))[0]
        if not math.isfinite(v):
            raise EncodingError(f"snapshot: {name} is not finite", name)
        return v
    if kind == "enum":
        k = r.u8()
        if k >= len(_ENUMS[name]):
            raise EncodingError(f"snapshot: unknown {name} {k}", name)
        return _ENUMS[name][k]
    if kind == "f64[]?":
        flag = r.u8()
        if flag > 1:
            raise EncodingError(f"snapshot: {name} presence flag must be 0 or 1", name)
        return _decode("f64[]", r, name) if flag else None
    count = r.u32()
    elem = kind[:-2]
    width = {"u8": 1, "u32": 4, "f64": 8, "i128": 16, "str": 1}[elem]
    if count * width > len(r.data) - r.pos:
        raise EncodingError(f"snapshot: {name} count {count} exceeds the remaining bytes", name)
    if elem == "i128":
        return r.i128s(count)
    if elem == "u32":
        return r.u32s(count)
    return tuple(_decode(elem, r, name) for _ in range(count))


def _from_json(kind: str, o: dict[str, Any], name: str) -> Any:
    if kind in ("str", "enum"):
        return j_str(o, name)
    if kind == "u8":
        return j_int(o, name, 0, 255)
    if kind == "u32":
        return j_int(o, name, 0, _U32)
    if kind == "u64":
        return j_int(o, name, 0, (1 << 64) - 1)
    if kind == "f64":
        return j_float(o, name)
    if kind == "f64[]?":
        return None if o[name] is None else j_floats(o, name)
    if kind == "f64[]":
        return j_floats(o, name)
    if kind == "str[]":
        return j_strs(o, name)
    lo, hi = {"u8[]": (0, 255), "u32[]": (0, _U32), "i128[]": (I128_MIN, I128_MAX)}[kind]
    return j_ints(o, name, lo, hi)


def _validate(s: EpochSnapshot) -> None:
    """Types, ranges and shapes; a malformed snapshot is an ``EncodingError`` naming the
    field. (The model objects validate values again when an engine is built.)"""

    def bad(msg: str, fld: str, index: int | None = None) -> EncodingError:
        return EncodingError(f"snapshot: {msg}", fld, index)

    for name, kind in FIELDS:
        v = getattr(s, name)
        if kind in ("str", "enum"):
            ok = type(v) is str and len(v.encode()) <= 255
        elif kind in ("u8", "u32", "u64"):
            top = {"u8": 255, "u32": _U32, "u64": (1 << 64) - 1}[kind]
            ok = type(v) is int and 0 <= v <= top
        elif kind == "f64":
            ok = type(v) is float and math.isfinite(v)
        elif kind == "f64[]?" and v is None:
            ok = True
        else:
            elem = kind.rstrip("?")[:-2]
            if type(v) is not tuple:
                raise bad(f"{name} must be a tuple", name)
            for i, x in enumerate(v):
                if elem == "f64":
                    good = type(x) is float and math.isfinite(x)
                elif elem == "str":
                    good = type(x) is str and len(x.encode()) <= 255
                else:
                    top = {"u8": 255, "u32": _U32}.get(elem, I128_MAX)
                    low = 0 if elem != "i128" else I128_MIN
                    good = type(x) is int and low <= x <= top
                if not good:
                    raise bad(f"{name}[{i}] = {x!r} has the wrong type or range", name, i)
            ok = True
        if not ok:
            raise bad(f"{name} = {v!r} has the wrong type or range", name)
        if kind == "enum" and v not in _ENUMS[name]:
            raise bad(f"{name} must be one of {_ENUMS[name]}", name)
    n_ins = len(s.kind)
    U = s.n_underlyings
    if U < 1 or len(s.moves) == 0 or len(s.moves) % U:
        raise bad("moves must hold S x n_underlyings entries with S >= 1", "moves")
    S = len(s.moves) // U
    J = len(s.asset_price)
    shapes: dict[str, int] = {
        "underlying": n_ins,
        "strike": n_ins,
        "expiry": n_ins,
        "contract_size": n_ins,
        "settlement": n_ins,
        "vol": n_ins,
        "vol_shocks": S * U,
        "weights": S * U,
        "edge": S * U,
        "dampener": S * U,
        **{k: U for k in SCENARIO_FIELDS},
        "spot": U,
        "haircut": J,
        "balance_decimals": J,
        "bucket": n_ins,
        "loss_lo": n_ins * S,
        "loss_hi": n_ins * S,
        "roll_lo": n_ins,
        "roll_hi": n_ins,
        "mtm_lo": n_ins,
        "mtm_hi": n_ins,
        "som_hi": n_ins,
        "coll_lo": J,
        "coll_hi": J,
    }
    if s.forward is not None:
        shapes["forward"] = n_ins
    if (s.roll_annual_move_risk is None) != (s.roll_min_annual_move is None):
        raise bad("roll_annual_move_risk and roll_min_annual_move go together", "roll_min_annual_move")
    if s.roll_annual_move_risk is not None:
        shapes["roll_annual_move_risk"] = U
        shapes["roll_min_annual_move"] = U
    if s.instrument_names:
        shapes["instrument_names"] = n_ins
    if s.asset_names:
        shapes["asset_names"] = J
    if s.underlying_names:
        shapes["underlying_names"] = U
    for name, want in shapes.items():
        got = len(getattr(s, name))
        if got != want:
            raise bad(f"{name} has {got} entries, expected {want}", name)
    for name in ("instrument_names", "underlying_names", "asset_names"):
        if len(set(getattr(s, name))) != len(getattr(s, name)):
            raise bad(f"{name} must be distinct", name)
    if any(u >= U for u in s.underlying):
        raise bad("underlying index outside the scenario table", "underlying")
    if any(b >= max(n_ins, 1) for b in s.bucket):
        raise bad("bucket id out of range", "bucket")
    if not 0 <= s.quantity_decimals <= 18 or not 0 <= s.money_decimals <= 18:
        raise bad("decimals out of range", "money_decimals")
    if any(d > 18 for d in s.balance_decimals):
        raise bad("balance decimals out of range", "balance_decimals")
    if not 8 <= s.margin_bits <= 64:
        raise bad("margin_bits must be in [8, 64]", "margin_bits")
    for lo_name, hi_name in (("loss_lo", "loss_hi"), ("roll_lo", "roll_hi"), ("mtm_lo", "mtm_hi")):
        for i, (lo, hi) in enumerate(zip(getattr(s, lo_name), getattr(s, hi_name), strict=True)):
            if hi < lo:
                raise bad(f"{hi_name}[{i}] < {lo_name}[{i}]", hi_name, i)
    for i, v in enumerate(s.som_hi):
        if v < 0:
            raise bad("som_hi must be >= 0", "som_hi", i)
    for i, (lo, hi) in enumerate(zip(s.coll_lo, s.coll_hi, strict=True)):
        if not 0 <= lo <= hi:
            raise bad("collateral coefficients need 0 <= coll_lo <= coll_hi", "coll_hi", i)


# ---------------------------------------------------------------- building and auditing


def _table(rc: RealCoefficients, margin_bits: int) -> dict[str, tuple[int, ...]]:
    """The published table from exact real coefficients (§10.3): every interval widened
    by ``mu``; loss rows share the scale ``max_s |loss[i, s]|``."""
    S = rc.n_scenarios
    loss: list[tuple[int, int]] = []
    for i in range(len(rc.roll)):
        row = rc.loss[i * S : (i + 1) * S]
        scale = max((abs(x) for x in row), default=Fraction(0))
        loss.extend(widened(x, scale, margin_bits) for x in row)
    roll = [widened(x, x, margin_bits) for x in rc.roll]
    mtm = [widened(x, x, margin_bits) for x in rc.mtm]
    return {
        "loss_lo": tuple(v[0] for v in loss),
        "loss_hi": tuple(v[1] for v in loss),
        "roll_lo": tuple(v[0] for v in roll),
        "roll_hi": tuple(v[1] for v in roll),
        "mtm_lo": tuple(v[0] for v in mtm),
        "mtm_hi": tuple(v[1] for v in mtm),
        "som_hi": tuple(widened(x, x, margin_bits)[1] if x else 0 for x in rc.som),
        "coll_lo": tuple(max(0, widened(x, x, margin_bits)[0]) for x in rc.coll_lo),
        "coll_hi": tuple(widened(x, x, margin_bits)[1] for x in rc.coll_hi),
    }


def _floats(a: Any) -> tuple[float, ...]:
    return tuple(float(x) for x in np.asarray(a, dtype=np.float64).ravel().tolist())


def build_snapshot(
    engine: Any,
    market: Any,
    epoch: int,
    *,
    scenario_set: str = "base",
    instrument_names: Sequence[str] | None = None,
    asset_names: Sequence[str] | None = None,
    quantity_decimals: int = QUANTITY_DECIMALS,
    money_decimals: int = MONEY_DECIMALS,
    balance_decimals: Sequence[int] | None = None,
    margin_bits: int = MARGIN_BITS,
) -> EpochSnapshot:
    """The snapshot of ``engine`` (instruments, scenarios, parameters, aggregation) at
    ``market`` for ``epoch``, with its coefficient table computed by ``engine``. Names
    default to the instruments' own (``Instruments.names``, ``underlying_names``); asset
    names are optional."""
    if engine.aggregation not in AGGREGATIONS:
        raise ParameterError(
            f"aggregation {engine.aggregation!r} is not provable (only {AGGREGATIONS})", "aggregation"
        )
    if getattr(engine, "correlation", None) is not None:
        raise ParameterError("a correlation matrix is not part of a provable model", "correlation")
    refuse_unprovable(engine)
    if engine.scenarios.vol_shift != "relative" or engine.scenarios.look_ahead != 0.0:
        raise ParameterError(
            f"snapshot version {SNAPSHOT_VERSION} encodes relative vol shocks without look-ahead only",
            "scenarios",
        )
    links = getattr(engine, "asset_underlying", None)
    if links is not None and bool(np.any(np.asarray(links) >= 0)):
        raise ParameterError(
            "collateral shocked in the scenarios is not part of a snapshot (its statements have "
            "no balance terms in the scenario losses)",
            "asset_underlying",
        )
    if market.rate_curve is not None or (market.surfaces is not None and any(market.surfaces)):
        raise ParameterError(
            "vol surfaces and rate curves are not part of a snapshot (it carries one vol per "
            "instrument and one rate); pass a market without them",
            "surfaces" if market.rate_curve is None else "rate_curve",
        )
    engine.validate_market(market)
    bdec = (
        tuple(int(d) for d in balance_decimals)
        if balance_decimals is not None
        else default_balance_decimals(market.asset_price, money_decimals)
    )
    rc = real_coefficients(engine, market, quantity_decimals, money_decimals, bdec)
    ins = engine.instruments
    sc = engine.scenarios
    p = engine.params
    kw: dict[str, Any] = {k: _floats(getattr(sc, k)) for k in SCENARIO_FIELDS}
    kw["edge"] = _floats(sc.edge)
    kw["dampener"] = _floats(sc.dampener)
    kw["roll_annual_move_risk"] = None if sc.annual_move_risk is None else _floats(sc.annual_move_risk)
    kw["roll_min_annual_move"] = None if sc.min_annual_move is None else _floats(sc.min_annual_move)
    kw["settlement_mode"] = engine.settlement_mode
    kw.update({k: float(getattr(p, k)) for k in PARAM_FIELDS})
    kw.update(_table(rc, margin_bits))
    return EpochSnapshot(
        scenario_set=scenario_set,
        epoch=int(epoch),
        model="portfolio",
        aggregation=engine.aggregation,
        instrument_names=tuple(
            str(x) for x in (instrument_names if instrument_names is not None else ins.names or ())
        ),
        underlying_names=tuple(str(x) for x in (ins.underlying_names or ())),
        kind=tuple(int(k) for k in ins.kind.tolist()),
        underlying=tuple(int(u) for u in ins.underlying.tolist()),
        strike=_floats(ins.strike),
        expiry=_floats(ins.expiry),
        contract_size=_floats(ins.contract_size),
        settlement=tuple(int(k) for k in ins.settlement.tolist()),
        n_underlyings=sc.n_underlyings,
        moves=_floats(sc.moves),
        vol_shocks=_floats(sc.vol_shocks),
        weights=_floats(sc.weights),
        spot=_floats(market.spot),
        vol=_floats(market.vol),
        forward=None if market.forward is None else _floats(market.forward),
        rate=float(market.rate),
        asset_price=_floats(market.asset_price),
        haircut=_floats(market.haircut),
        asset_names=tuple(str(x) for x in (asset_names or ())),
        quantity_decimals=quantity_decimals,
        money_decimals=money_decimals,
        balance_decimals=bdec,
        margin_bits=margin_bits,
        bucket=rc.bucket,
        **kw,
    )


@dataclass(frozen=True)
class AuditReport:
    """Result of recomputing a snapshot's table with an engine. The verdict ``ok`` holds
    iff every recomputed real coefficient lies inside its published interval (on the
    side the statement uses, for the one-sided ones) and the roll buckets agree; it
    cannot flip between honest float64 implementations because the intervals are wider
    than their differences by ``mu >= 1`` unit (§10.3). ``largest_deviation`` is the
    largest difference, in units, between a published integer and the one the same rule
    gives on the recomputed coefficients (0 or 1 between honest implementations), at
    ``worst`` = (array, index). ``violations`` lists up to 20 ``(array, index)``
    outside their interval."""

    ok: bool
    engine: str
    largest_deviation: int
    worst: tuple[str, int]
    n_violations: int
    violations: tuple[tuple[str, int], ...]
    buckets_match: bool

    def summary(self) -> str:
        verdict = "OK" if self.ok else f"FAILED ({self.n_violations} coefficients outside their interval)"
        where = f" at {self.worst[0]}[{self.worst[1]}]" if self.largest_deviation else ""
        return (
            f"audit with {self.engine}: {verdict}; largest deviation from the recomputed table "
            f"{self.largest_deviation} units{where}" + ("" if self.buckets_match else "; roll buckets differ")
        )


def audit_snapshot(snapshot: EpochSnapshot, engine_class: Any = None) -> AuditReport:
    """Recompute the coefficient table from the snapshot's market data and model with
    ``engine_class`` (``zkmargin.MarginEngine`` by default, or
    ``zkmargin.baseline.numpy_engine.MarginEngine`` / ``zkmargin.baseline.MarginEngine``) and
    compare it with the published one."""
    eng = snapshot.engine(engine_class)
    rc = real_coefficients(
        eng, snapshot.market(), snapshot.quantity_decimals, snapshot.money_decimals, snapshot.balance_decimals
    )
    if rc.n_scenarios != snapshot.n_scenarios:
        raise ParameterError("the engine's scenario count differs from the snapshot's", "scenarios")
    mine = _table(rc, snapshot.margin_bits)
    worst = ("", -1)
    dev = 0
    for name, vals in mine.items():
        for i, (a, b) in enumerate(zip(getattr(snapshot, name), vals, strict=True)):
            if abs(a - b) > dev:
                dev, worst = abs(a - b), (name, i)
    # containment: (array, recomputed values, lower bounds, upper bounds); None marks the
    # side a one-sided coefficient never uses
    none = (None,) * max(snapshot.n_instruments, snapshot.n_assets)
    families: list[tuple[str, Sequence[Fraction], Sequence[int | None], Sequence[int | None]]] = [
        ("loss", rc.loss, snapshot.loss_lo, snapshot.loss_hi),
        ("roll", rc.roll, snapshot.roll_lo, snapshot.roll_hi),
        ("mtm", rc.mtm, snapshot.mtm_lo, snapshot.mtm_hi),
        ("som_hi", rc.som, none, snapshot.som_hi),
        ("coll_lo", rc.coll_lo, snapshot.coll_lo, none),
        ("coll_hi", rc.coll_hi, none, snapshot.coll_hi),
    ]
    bad: list[tuple[str, int]] = []
    for name, xs, los, his in families:
        for i, x in enumerate(xs):
            lo, hi = los[i], his[i]
            if (lo is not None and x < lo) or (hi is not None and x > hi):
                bad.append((name, i))
    buckets_ok = rc.bucket == snapshot.bucket
    return AuditReport(
        ok=not bad and buckets_ok,
        engine=f"{type(eng).__module__}.{type(eng).__name__}",
        largest_deviation=dev,
        worst=worst,
        n_violations=len(bad),
        violations=tuple(bad[:20]),
        buckets_match=buckets_ok,
    )


# ---------------------------------------------------------------- prove / verify from a snapshot


def prove_account(
    snapshot: EpochSnapshot,
    account_id: str,
    commitment: AccountCommitment,
    opening: Any,
    *,
    n: int = 64,
    shortfall: bool = True,
    backend: str | Group = "native",
    digest: bytes | None = None,
) -> tuple[SolvencyProof, Shortfall | None]:
    """Prove ``account_id``'s statement under ``snapshot`` (with a committed shortfall by
    default: every account can prove it, insolvent ones with ``s > 0``)."""
    st = snapshot.statement(commitment, account_id, n=n, shortfall=shortfall, backend=backend, digest=digest)
    return prove_with_shortfall(st, commitment, opening, backend=backend)


def verify_account(
    snapshot: EpochSnapshot,
    account_id: str,
    commitment: AccountCommitment,
    proof: SolvencyProof,
    *,
    n: int = 64,
    shortfall: bool = True,
    backend: str | Group = "native",
) -> bool:
    """True iff ``proof`` proves ``account_id``'s statement as derived from ``snapshot``:
    the statement is rebuilt here from the published table, never taken from the prover."""
    try:
        st = snapshot.statement(commitment, account_id, n=n, shortfall=shortfall, backend=backend)
    except (ParameterError, EncodingError):
        return False
    return verify_solvency(st, commitment, proof, backend=backend)
