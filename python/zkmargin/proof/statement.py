"""The solvency statement: everything public about one account's claim, its validation
and its canonical bytes and JSON (docs/proof-spec.md §2.1-§2.6).

Claim: for the committed positions ``q`` and balances ``b`` of one account,

    collateral(b) + sum_i mtm_i q_i  >=  mm_factor * (WCL(q) + roll(q) + som(q))

under the engine's portfolio-margin model, with every real coefficient rounded so that
the proven inequality implies the real-valued one. A statement compiles itself to its
linear constraints on construction (:mod:`.constraints`), so a malformed or wrapping
statement never exists.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import EncodingError, ParameterError
from ._codec import (
    I128_MAX,
    I128_MIN,
    Reader,
    i128,
    j_hex,
    j_int,
    j_ints,
    j_str,
    json_object,
    u32,
    u64,
)
from .constraints import build_forms, wrap_check
from .rangeproof import LinearForm, check_nm, padded_m

__all__ = [
    "AGGREGATIONS",
    "MODES",
    "MONEY_DECIMALS",
    "STATEMENT_VERSION",
    "SolvencyStatement",
    "assemble_statement",
    "constraint_forms",
]

#: Newest statement version: 2 binds the epoch snapshot digest (version 1 still parses).
STATEMENT_VERSION = 2
#: Public money scale: constraint values are integers in units of 1e-10 USD.
MONEY_DECIMALS = 10
MODES = ("full", "subset")
AGGREGATIONS = ("sum", "joint")
_ST_MAGIC = b"ZKMT"


@dataclass(frozen=True)
class SolvencyStatement:
    """Everything public about one solvency claim. Coefficient arrays hold the floor
    (``*_lo``) and ceiling (``*_hi``) of the exact scaled real coefficient; ``loss`` is
    instrument-major (``len(instruments) x n_scenarios``)."""

    account_id: str
    epoch: int
    mode: str
    aggregation: str
    n: int
    universe_size: int
    instruments: tuple[int, ...]
    quantity_decimals: int
    money_decimals: int
    balance_decimals: tuple[int, ...]
    n_scenarios: int
    n_groups: int
    groups: tuple[int, ...]
    n_buckets: int
    buckets: tuple[int, ...]
    loss_lo: tuple[int, ...]
    loss_hi: tuple[int, ...]
    roll_lo: tuple[int, ...]
    roll_hi: tuple[int, ...]
    mtm_lo: tuple[int, ...]
    mtm_hi: tuple[int, ...]
    som_hi: tuple[int, ...]
    coll_lo: tuple[int, ...]
    coll_hi: tuple[int, ...]
    #: keccak256 of the epoch snapshot the statement is taken from (version 2), or empty
    #: for a standalone version-1 statement built directly from an engine
    snapshot: bytes = b""
    #: version 2 only: the final constraint carries a committed shortfall ``s >= 0``
    shortfall: bool = False
    _forms: list[LinearForm] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._validate()
        forms = build_forms(self)
        wrap_check(self, forms)
        object.__setattr__(self, "_forms", forms)

    # -- validation: a malformed statement is an EncodingError, never a silent wrap
    def _validate(self) -> None:
        def bad(msg: str, fld: str) -> EncodingError:
            return EncodingError(f"statement: {msg}", fld)

        if not isinstance(self.snapshot, bytes) or len(self.snapshot) not in (0, 32):
            raise bad("snapshot must be a 32-byte digest or empty", "snapshot")
        if not isinstance(self.shortfall, bool) or (self.shortfall and not self.snapshot):
            raise bad("shortfall is a bool, and needs a snapshot-bound (version 2) statement", "shortfall")
        if not isinstance(self.account_id, str) or len(self.account_id.encode()) > 255:
            raise bad("account_id must be a str of at most 255 UTF-8 bytes", "account_id")
        if not 0 <= self.epoch < 1 << 64:
            raise bad("epoch must fit in u64", "epoch")
        if self.mode not in MODES:
            raise bad(f"mode must be one of {MODES}", "mode")
        if self.aggregation not in AGGREGATIONS:
            raise bad(f"aggregation must be one of {AGGREGATIONS}", "aggregation")
        try:
            check_nm(self.n, 1)
        except ParameterError as e:
            raise bad(str(e), "n") from None
        ic = len(self.instruments)
        J = len(self.balance_decimals)
        S = self.n_scenarios
        if not 0 <= self.universe_size < 1 << 24 or not 1 <= S < 1 << 16:
            raise bad("universe_size or n_scenarios out of range", "universe_size")
        if any(b <= a for a, b in zip(self.instruments, self.instruments[1:], strict=False)):
            raise bad("instruments must be strictly increasing", "instruments")
        if self.instruments and not (self.instruments[0] >= 0 and self.instruments[-1] < self.universe_size):
            raise bad("instrument index outside the universe", "instruments")
        if self.mode == "full" and self.instruments != tuple(range(self.universe_size)):
            raise bad("full mode commits every instrument of the universe", "instruments")
        if not 0 <= self.quantity_decimals <= 18 or not 0 <= self.money_decimals <= 18:
            raise bad("decimals out of range", "decimals")
        if any(not 0 <= d <= 18 for d in self.balance_decimals):
            raise bad("balance decimals out of range", "balance_decimals")
        lens = {
            "groups": (self.groups, ic),
            "buckets": (self.buckets, ic),
            "loss_lo": (self.loss_lo, ic * S),
            "loss_hi": (self.loss_hi, ic * S),
            "roll_lo": (self.roll_lo, ic),
            "roll_hi": (self.roll_hi, ic),
            "mtm_lo": (self.mtm_lo, ic),
            "mtm_hi": (self.mtm_hi, ic),
            "som_hi": (self.som_hi, ic),
            "coll_lo": (self.coll_lo, J),
            "coll_hi": (self.coll_hi, J),
        }
        for name, (arr, want) in lens.items():
            if len(arr) != want:
                raise bad(f"{name} has length {len(arr)}, expected {want}", name)
            if any(not isinstance(v, int) or not I128_MIN <= v <= I128_MAX for v in arr):
                raise bad(f"{name} entries must be 128-bit signed integers", name)
        if not 1 <= self.n_groups <= max(1, ic) or any(not 0 <= g < self.n_groups for g in self.groups):
            raise bad("group index out of range", "groups")
        if self.aggregation == "joint" and self.n_groups != 1:
            raise bad("joint aggregation has exactly one loss group", "n_groups")
        if not 0 <= self.n_buckets <= ic or any(not 0 <= b < self.n_buckets for b in self.buckets):
            raise bad("bucket index out of range", "buckets")
        # version 1 publishes floor/ceil; a snapshot's table widens them (§10.3)
        widths = (0, 1) if self.version == 1 else None
        for lo_name, hi_name in (("loss_lo", "loss_hi"), ("roll_lo", "roll_hi"), ("mtm_lo", "mtm_hi")):
            lo, hi = getattr(self, lo_name), getattr(self, hi_name)
            if widths is None:
                if any(h < v for v, h in zip(lo, hi, strict=True)):
                    raise bad(f"{hi_name} must be >= {lo_name}", hi_name)
            elif any(h - v not in widths for v, h in zip(lo, hi, strict=True)):
                raise bad(f"{hi_name} must be {lo_name} or {lo_name} + 1 (floor/ceil)", hi_name)
        if any(v < 0 for v in self.som_hi):
            raise bad("som_hi must be >= 0", "som_hi")
        if any(lo < 0 or hi < lo for lo, hi in zip(self.coll_lo, self.coll_hi, strict=True)):
            raise bad("collateral coefficients need 0 <= coll_lo <= coll_hi", "coll_hi")

    @property
    def version(self) -> int:
        """1 for a standalone statement, 2 for one bound to an epoch snapshot."""
        return 2 if self.snapshot else 1

    @property
    def forms(self) -> list[LinearForm]:
        """The constraints as linear forms over the base points, in canonical order
        (docs/proof-spec.md §2.4; layout in :class:`~zkmargin.proof.constraints.Layout`)."""
        return list(self._forms)

    @property
    def n_values(self) -> int:
        """Constraint values before padding to a power of two."""
        return len(self._forms)

    @property
    def m(self) -> int:
        """Values in the aggregated range proof (padded to a power of two)."""
        return padded_m(self.n_values)

    @property
    def n_aux(self) -> int:
        """Commitments the prover adds: P_i, B+_j, L'_k, U'_e (and S' with a shortfall)."""
        return (
            len(self.instruments)
            + len(self.balance_decimals)
            + self.n_groups
            + self.n_buckets
            + int(self.shortfall)
        )

    # -- binary and JSON forms
    def to_bytes(self) -> bytes:
        """The statement's canonical bytes (bound into the transcript)."""
        aid = self.account_id.encode()
        parts = [
            _ST_MAGIC,
            bytes(
                [
                    self.version,
                    MODES.index(self.mode),
                    AGGREGATIONS.index(self.aggregation),
                    self.n,
                    self.quantity_decimals,
                    self.money_decimals,
                ]
            ),
            bytes([int(self.shortfall)]) + self.snapshot if self.snapshot else b"",
            u64(self.epoch),
            bytes([len(aid)]) + aid,
            u32(self.universe_size),
            u32(self.n_scenarios),
            u32(self.n_groups),
            u32(self.n_buckets),
            u32(len(self.instruments)),
            u32(len(self.balance_decimals)),
            bytes(self.balance_decimals),
        ]
        for arr in (self.instruments, self.groups, self.buckets):
            parts.extend(u32(v) for v in arr)
        for arr in (
            self.loss_lo,
            self.loss_hi,
            self.roll_lo,
            self.roll_hi,
            self.mtm_lo,
            self.mtm_hi,
            self.som_hi,
            self.coll_lo,
            self.coll_hi,
        ):
            parts.extend(i128(v) for v in arr)
        return b"".join(parts)

    @classmethod
    def from_bytes(cls, data: bytes) -> SolvencyStatement:
        r = Reader(data, "statement")
        if r.take(4) != _ST_MAGIC:
            raise EncodingError("statement: bad magic", "statement")
        ver, mode, agg, n, dq, dm = r.take(6)
        if ver not in (1, STATEMENT_VERSION):
            raise EncodingError(f"statement: unknown version {ver}", "statement")
        if mode >= len(MODES) or agg >= len(AGGREGATIONS):
            raise EncodingError("statement: bad mode or aggregation", "statement")
        shortfall, snap = False, b""
        if ver == 2:
            flag = r.u8()
            if flag > 1:
                raise EncodingError("statement: shortfall flag must be 0 or 1", "shortfall")
            shortfall, snap = bool(flag), r.take(32)
        epoch = r.u64()
        try:
            aid = r.take(r.u8()).decode()
        except UnicodeDecodeError as e:
            raise EncodingError("statement: account_id is not UTF-8", "account_id") from e
        U, S, K, E, ic, J = (r.u32() for _ in range(6))
        if ic > 1 << 20 or J > 1 << 16 or S > 1 << 16:
            raise EncodingError("statement: implausible sizes", "statement")
        bdec = tuple(r.take(J))
        ins, grp, bkt = r.u32s(ic), r.u32s(ic), r.u32s(ic)
        arrs = [r.i128s(c) for c in (ic * S, ic * S, ic, ic, ic, ic, ic, J, J)]
        r.done()
        coeffs: dict[str, Any] = dict(zip(_COEFF_FIELDS, arrs, strict=True))
        return cls(
            account_id=aid,
            epoch=epoch,
            mode=MODES[mode],
            aggregation=AGGREGATIONS[agg],
            n=n,
            universe_size=U,
            instruments=ins,
            quantity_decimals=dq,
            money_decimals=dm,
            balance_decimals=bdec,
            n_scenarios=S,
            n_groups=K,
            groups=grp,
            n_buckets=E,
            buckets=bkt,
            snapshot=snap,
            shortfall=shortfall,
            **coeffs,
        )

    def to_json(self) -> dict[str, Any]:
        """The statement as a JSON-ready dict."""
        out: dict[str, Any] = {"type": "zkmargin.SolvencyStatement", "version": self.version}
        for name in _json_fields(self.version):
            v = getattr(self, name)
            out[name] = v.hex() if isinstance(v, bytes) else list(v) if isinstance(v, tuple) else v
        return out

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> SolvencyStatement:
        ver = obj.get("version") if isinstance(obj, dict) else None
        ver = ver if type(ver) is int and ver in (1, STATEMENT_VERSION) else STATEMENT_VERSION
        o = json_object(obj, "zkmargin.SolvencyStatement", ver, _json_fields(ver))
        big = (I128_MIN, I128_MAX)
        kw: dict[str, Any] = {
            "account_id": j_str(o, "account_id"),
            "mode": j_str(o, "mode"),
            "aggregation": j_str(o, "aggregation"),
            "epoch": j_int(o, "epoch", 0, (1 << 64) - 1),
            "balance_decimals": j_ints(o, "balance_decimals", 0, 18),
        }
        for name in ("n", "universe_size", "quantity_decimals", "money_decimals"):
            kw[name] = j_int(o, name, 0, (1 << 32) - 1)
        for name in ("n_scenarios", "n_groups", "n_buckets"):
            kw[name] = j_int(o, name, 0, (1 << 32) - 1)
        for name in ("instruments", "groups", "buckets"):
            kw[name] = j_ints(o, name, 0, (1 << 32) - 1)
        for name in _COEFF_FIELDS:
            kw[name] = j_ints(o, name, *big)
        if ver == 2:
            kw["snapshot"] = j_hex(o, "snapshot", 32)
            if type(o["shortfall"]) is not bool:
                raise EncodingError("statement JSON: shortfall must be a JSON boolean", "shortfall")
            kw["shortfall"] = o["shortfall"]
        return cls(**kw)


_COEFF_FIELDS = (
    "loss_lo",
    "loss_hi",
    "roll_lo",
    "roll_hi",
    "mtm_lo",
    "mtm_hi",
    "som_hi",
    "coll_lo",
    "coll_hi",
)


def _json_fields(version: int) -> tuple[str, ...]:
    return _JSON_FIELDS + (("snapshot", "shortfall") if version == 2 else ())


_JSON_FIELDS = (
    "account_id",
    "epoch",
    "mode",
    "aggregation",
    "n",
    "universe_size",
    "instruments",
    "quantity_decimals",
    "money_decimals",
    "balance_decimals",
    "n_scenarios",
    "n_groups",
    "groups",
    "n_buckets",
    "buckets",
    "loss_lo",
    "loss_hi",
    "roll_lo",
    "roll_hi",
    "mtm_lo",
    "mtm_hi",
    "som_hi",
    "coll_lo",
    "coll_hi",
)


def assemble_statement(
    *,
    account_id: str,
    epoch: int,
    mode: str,
    aggregation: str,
    n: int,
    universe_size: int,
    instruments: Sequence[int],
    underlying: Sequence[int],
    bucket: Sequence[int],
    quantity_decimals: int,
    money_decimals: int,
    balance_decimals: Sequence[int],
    n_scenarios: int,
    loss: Sequence[tuple[int, int]],
    roll: Sequence[tuple[int, int]],
    mtm: Sequence[tuple[int, int]],
    som_hi: Sequence[int],
    coll_lo: Sequence[int],
    coll_hi: Sequence[int],
    snapshot: bytes = b"",
    shortfall: bool = False,
) -> SolvencyStatement:
    """A statement from the committed instruments' rows of a coefficient table: loss
    groups and roll buckets renumbered in increasing id order (§2.3)."""
    if aggregation == "joint":
        groups = [0] * len(instruments)
        n_groups = 1
    else:
        gmap = {u: k for k, u in enumerate(sorted(set(underlying)))}
        groups = [gmap[u] for u in underlying]
        n_groups = max(1, len(gmap))
    bmap = {b: k for k, b in enumerate(sorted(set(bucket)))}
    return SolvencyStatement(
        account_id=str(account_id),
        epoch=int(epoch),
        mode=mode,
        aggregation=aggregation,
        n=int(n),
        universe_size=universe_size,
        instruments=tuple(instruments),
        quantity_decimals=quantity_decimals,
        money_decimals=money_decimals,
        balance_decimals=tuple(balance_decimals),
        n_scenarios=n_scenarios,
        n_groups=n_groups,
        groups=tuple(groups),
        n_buckets=len(bmap),
        buckets=tuple(bmap[b] for b in bucket),
        loss_lo=tuple(v[0] for v in loss),
        loss_hi=tuple(v[1] for v in loss),
        roll_lo=tuple(v[0] for v in roll),
        roll_hi=tuple(v[1] for v in roll),
        mtm_lo=tuple(v[0] for v in mtm),
        mtm_hi=tuple(v[1] for v in mtm),
        som_hi=tuple(som_hi),
        coll_lo=tuple(coll_lo),
        coll_hi=tuple(coll_hi),
        snapshot=snapshot,
        shortfall=shortfall,
    )


def constraint_forms(st: SolvencyStatement) -> list[LinearForm]:
    """The statement's constraints as linear forms over the base points (see
    :class:`~zkmargin.proof.constraints.Layout`)."""
    return st.forms
