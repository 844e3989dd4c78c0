"""The epoch snapshot: every public input of an epoch's solvency statements in one
canonical, versioned object (docs/proof-spec.md §10).

It holds the instrument universe, the market, the scenario table, the margin parameters,
the model and aggregation, and the published integer coefficient table. The table *is*
the statements' definition: a verifier derives each account's statement from it and
never from an engine, so verification needs neither floats nor the compiled extension.
Building a snapshot and auditing its table against an engine live in :mod:`.table`.

The byte and JSON codecs are driven by one explicit, versioned field list
(:data:`FIELDS`): a model parameter added to the engine is added there, once.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import EncodingError, InputError, ParameterError
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
from .coefficients import portfolio_ids, som_sides
from .commitments import AccountCommitment
from .group import Group, get_group
from .statement import SolvencyStatement, assemble_statement, split_gain

__all__ = [
    "FIELDS",
    "MARGIN_BITS",
    "SNAPSHOT_VERSION",
    "EpochSnapshot",
]

#: Newest snapshot version: 2 adds absolute vol shocks, a look-ahead, vol surfaces, a rate
#: curve, collateral shocked in the scenarios and the SPAN aggregation (:data:`FIELDS_V2`);
#: a snapshot without any of them keeps its version-1 bytes.
SNAPSHOT_VERSION = 2
_MAGIC = b"ZKSN"
#: Default width of the published interval: ``mu = floor(row scale / 2^MARGIN_BITS) + 1``.
MARGIN_BITS = 32
MODELS = ("portfolio",)
AGGREGATIONS = ("sum", "joint", "span")
VOL_SHIFTS = ("relative", "absolute")
_U32 = (1 << 32) - 1
_I32 = (-(1 << 31), (1 << 31) - 1)

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
#: The fields version 2 appends to :data:`FIELDS`, in byte order (kind ``i32[]``: signed
#: 32-bit elements). Vol surfaces are concatenated in increasing underlying order: surface
#: ``k`` of ``surface_underlying[k]`` has ``surface_n_expiry[k]`` expiries and
#: ``surface_n_moneyness[k]`` log-moneyness nodes, its vols row-major (expiry-major).
FIELDS_V2_EXTRA: tuple[tuple[str, str], ...] = (
    # scenario table (docs/margin-model.md §6.1)
    ("vol_shift", "enum"),
    ("look_ahead", "f64"),
    # collateral inside the scenarios (§6.2): the underlying of each asset, -1 for none;
    # empty when no asset is shocked
    ("asset_underlying", "i32[]"),
    # market (§1.5, §2.5)
    ("surface_underlying", "u32[]"),
    ("surface_n_expiry", "u32[]"),
    ("surface_n_moneyness", "u32[]"),
    ("surface_expiry", "f64[]"),
    ("surface_log_moneyness", "f64[]"),
    ("surface_vol", "f64[]"),
    ("rate_curve_expiry", "f64[]?"),
    ("rate_curve_zero_rate", "f64[]?"),
    # the published table's shocked-collateral rows (docs/proof-spec.md §10.3), asset-major J x S
    ("held_lo", "i128[]"),
    ("borrowed_hi", "i128[]"),
)
FIELDS_V2 = FIELDS + FIELDS_V2_EXTRA
SETTLEMENT_MODES = ("cross", "segregated")
_ENUMS = {
    "model": MODELS,
    "aggregation": AGGREGATIONS,
    "settlement_mode": SETTLEMENT_MODES,
    "vol_shift": VOL_SHIFTS,
}
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
    vol_shift: str = "relative"
    look_ahead: float = 0.0
    asset_underlying: tuple[int, ...] = ()
    surface_underlying: tuple[int, ...] = ()
    surface_n_expiry: tuple[int, ...] = ()
    surface_n_moneyness: tuple[int, ...] = ()
    surface_expiry: tuple[float, ...] = ()
    surface_log_moneyness: tuple[float, ...] = ()
    surface_vol: tuple[float, ...] = ()
    rate_curve_expiry: tuple[float, ...] | None = None
    rate_curve_zero_rate: tuple[float, ...] | None = None
    held_lo: tuple[int, ...] = ()
    borrowed_hi: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        _validate(self)

    @property
    def version(self) -> int:
        """2 when a version-2 feature is used (:data:`FIELDS_V2_EXTRA`, the SPAN
        aggregation), else 1: the bytes of a snapshot that needs none are version 1's."""
        extended = (
            self.aggregation == "span"
            or self.vol_shift != "relative"
            or self.look_ahead != 0.0
            or bool(self.asset_underlying)
            or bool(self.surface_underlying)
            or self.rate_curve_expiry is not None
        )
        return 2 if extended else 1

    @property
    def fields(self) -> tuple[tuple[str, str], ...]:
        """The field list of this snapshot's version."""
        return FIELDS_V2 if self.version == 2 else FIELDS

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
        out = [_MAGIC, bytes([self.version])]
        for name, kind in self.fields:
            out.append(_encode(kind, getattr(self, name), name))
        return b"".join(out)

    @classmethod
    def from_bytes(cls, data: bytes) -> EpochSnapshot:
        r = Reader(data, "snapshot")
        if r.take(4) != _MAGIC:
            raise EncodingError("snapshot: bad magic", "snapshot")
        ver = r.u8()
        if ver not in (1, 2):
            raise EncodingError(f"snapshot: unknown version {ver}", "snapshot")
        kw = {name: _decode(kind, r, name) for name, kind in (FIELDS_V2 if ver == 2 else FIELDS)}
        r.done()
        return _versioned(cls(**kw), ver)

    def digest(self, backend: str | Group = "native") -> bytes:
        """keccak256 of :meth:`to_bytes`: what every statement and transcript binds."""
        return get_group(backend).keccak256(self.to_bytes())

    def to_json(self) -> dict[str, Any]:
        """The JSON form (docs/proof-spec.md §10.1): every field by name."""
        out: dict[str, Any] = {"type": "zkmargin.EpochSnapshot", "version": self.version}
        for name, _ in self.fields:
            v = getattr(self, name)
            out[name] = list(v) if isinstance(v, tuple) else v
        return out

    @classmethod
    def from_json(cls, obj: Any) -> EpochSnapshot:
        ver = obj.get("version") if isinstance(obj, dict) else None
        ver = ver if type(ver) is int and ver in (1, 2) else SNAPSHOT_VERSION
        fields = FIELDS_V2 if ver == 2 else FIELDS
        o = json_object(obj, "zkmargin.EpochSnapshot", ver, [n for n, _ in fields])
        return _versioned(cls(**{name: _from_json(kind, o, name) for name, kind in fields}), ver)

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
            vol_shift=self.vol_shift,
            look_ahead=self.look_ahead,
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
            surfaces=self.surfaces(),
            rate_curve=self.rate_curve(),
        )

    def surfaces(self) -> tuple[Any, ...] | None:
        """The market's vol surfaces (``zkmargin.VolSurface`` or ``None`` per underlying),
        or ``None`` for a market without any."""
        if not self.surface_underlying:
            return None
        from ..surface import VolSurface

        out: list[Any] = [None] * self.n_underlyings
        e = m = v = 0
        shapes = zip(self.surface_underlying, self.surface_n_expiry, self.surface_n_moneyness, strict=True)
        for u, ne, nm in shapes:
            out[u] = VolSurface(
                list(self.surface_expiry[e : e + ne]),
                list(self.surface_log_moneyness[m : m + nm]),
                np.array(self.surface_vol[v : v + ne * nm]).reshape(ne, nm),
            )
            e, m, v = e + ne, m + nm, v + ne * nm
        return tuple(out)

    def rate_curve(self) -> Any:
        """The market's ``zkmargin.RateCurve``, or ``None`` for one rate."""
        if self.rate_curve_expiry is None or self.rate_curve_zero_rate is None:
            return None
        from ..rates import RateCurve

        return RateCurve(list(self.rate_curve_expiry), list(self.rate_curve_zero_rate))

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
            asset_underlying=list(self.asset_underlying) if self.asset_underlying else None,
        )

    # ------------------------------------------------------------ statements
    def portfolios(self) -> list[int]:
        """Each instrument's portfolio, the loss groups' key (§10.4)."""
        segregated = self.settlement_mode == "segregated"
        return portfolio_ids(self.underlying, self.settlement, self.n_underlyings, segregated)

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
        """The snapshot-bound statement for ``commitment`` (version 2, or 3 with the SPAN
        floor or shocked collateral): the committed instruments' rows of the published
        table, bound to this snapshot's digest (§10.4). ``digest`` may pass
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
        portfolio = self.portfolios()
        sides = som_sides(self.kind)
        return assemble_statement(
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
            som_side=[sides[i] for i in ins],
            asset_portfolio=self.asset_underlying,
            held_lo=self.held_lo,
            borrowed_hi=self.borrowed_hi,
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
    if kind == "i32":
        return int(v).to_bytes(4, "big", signed=True)
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
    if kind == "i32":
        return int.from_bytes(r.take(4), "big", signed=True)
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
    width = {"u8": 1, "u32": 4, "i32": 4, "f64": 8, "i128": 16, "str": 1}[elem]
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
    lo, hi = {"u8[]": (0, 255), "u32[]": (0, _U32), "i32[]": _I32, "i128[]": (I128_MIN, I128_MAX)}[kind]
    return j_ints(o, name, lo, hi)


def _validate(s: EpochSnapshot) -> None:
    """Types, ranges and shapes; a malformed snapshot is an ``EncodingError`` naming the
    field. (The model objects validate values again when an engine is built.)"""

    def bad(msg: str, fld: str, index: int | None = None) -> EncodingError:
        return EncodingError(f"snapshot: {msg}", fld, index)

    for name, kind in FIELDS_V2:
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
                    low, top = {"u8": (0, 255), "u32": (0, _U32), "i32": _I32}.get(elem, (I128_MIN, I128_MAX))
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
    _validate_v2(s, bad, n_ins, U, S, J)


def _validate_v2(s: EpochSnapshot, bad: Any, n_ins: int, U: int, S: int, J: int) -> None:
    """The version-2 fields (all at their version-1 defaults in a version-1 snapshot)."""
    if s.look_ahead < 0.0:
        raise bad("look_ahead must be >= 0 (years)", "look_ahead")
    if s.asset_underlying:
        if len(s.asset_underlying) != J or any(not -1 <= u < U for u in s.asset_underlying):
            raise bad(f"asset_underlying needs {J} entries in [-1, {U})", "asset_underlying")
        if all(u < 0 for u in s.asset_underlying) or s.settlement_mode != "cross":
            raise bad("asset_underlying is empty unless an asset is shocked (cross mode)", "asset_underlying")
    want = J * S if s.asset_underlying else 0
    for name in ("held_lo", "borrowed_hi"):
        if len(getattr(s, name)) != want:
            raise bad(f"{name} has {len(getattr(s, name))} entries, expected {want}", name)
    gain = split_gain(s.asset_underlying, s.held_lo, s.borrowed_hi, s.coll_lo, s.coll_hi, S)
    if gain is not None:
        raise bad(f"shocked asset {gain[0]} rewards splitting its balance in scenario {gain[1]}", "held_lo")
    if s.aggregation == "span" and s.settlement_mode != "cross":
        raise bad("the span aggregation needs the cross settlement mode", "aggregation")
    k = len(s.surface_underlying)
    if any(b <= a for a, b in zip(s.surface_underlying, s.surface_underlying[1:], strict=False)) or any(
        u >= U for u in s.surface_underlying
    ):
        raise bad("surface_underlying must be strictly increasing underlyings", "surface_underlying")
    for name in ("surface_n_expiry", "surface_n_moneyness"):
        if len(getattr(s, name)) != k or 0 in getattr(s, name):
            raise bad(f"{name} needs one count >= 1 per surface", name)
    sizes = {
        "surface_expiry": sum(s.surface_n_expiry),
        "surface_log_moneyness": sum(s.surface_n_moneyness),
        "surface_vol": sum(a * b for a, b in zip(s.surface_n_expiry, s.surface_n_moneyness, strict=True)),
    }
    for name, size in sizes.items():
        if len(getattr(s, name)) != size:
            raise bad(f"{name} has {len(getattr(s, name))} entries, expected {size}", name)
    if (s.rate_curve_expiry is None) != (s.rate_curve_zero_rate is None):
        raise bad("rate_curve_expiry and rate_curve_zero_rate go together", "rate_curve_zero_rate")
    if s.rate_curve_expiry is not None and s.rate != 0.0:
        raise bad("a rate curve replaces the rate, which must then be 0", "rate")
    try:  # the surfaces' and the curve's own rules (increasing nodes, no calendar arbitrage)
        s.surfaces()
        s.rate_curve()
    except InputError as e:
        raise bad(f"{e}", "surface_vol" if s.surface_underlying else "rate_curve_expiry") from None


def _versioned(s: EpochSnapshot, version: int) -> EpochSnapshot:
    """``s`` decoded from a ``version`` encoding, which must be its canonical one."""
    if s.version != version:
        raise EncodingError(f"snapshot: version {version} does not match its content", "snapshot")
    return s
