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
    "NO_GROUP",
    "SOM_CALL",
    "SOM_NONE",
    "SOM_PUT",
    "STATEMENT_VERSION",
    "SolvencyStatement",
    "assemble_statement",
    "constraint_forms",
    "split_gain",
]

#: Newest statement version. 1: standalone; 2: bound to an epoch snapshot; 3: either, with
#: the SPAN floor or collateral shocked in the scenarios (the features versions 1 and 2
#: cannot express; every statement without them keeps its version-1 or -2 bytes).
STATEMENT_VERSION = 3
#: Public money scale: constraint values are integers in units of 1e-10 USD.
MONEY_DECIMALS = 10
MODES = ("full", "subset")
AGGREGATIONS = ("sum", "joint", "span")
#: ``som_side`` values: not an option, a call, a put (SPAN floors short calls and short
#: puts separately, docs/margin-model.md §6.4a).
SOM_NONE, SOM_CALL, SOM_PUT = 0, 1, 2
#: ``asset_group`` entry of a collateral asset not shocked in the scenarios.
NO_GROUP = (1 << 32) - 1
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
    #: snapshot-bound only: the final constraint carries a committed shortfall ``s >= 0``
    shortfall: bool = False
    #: version 3, aggregation "span": SOM_CALL / SOM_PUT / SOM_NONE per committed instrument
    som_side: tuple[int, ...] = ()
    #: version 3, collateral shocked in the scenarios: per asset its loss group or
    #: NO_GROUP, and (asset-major, ``J x S``) the floor of its scenario P&L per held unit
    #: and the ceiling per borrowed unit; all empty when no asset is shocked
    asset_group: tuple[int, ...] = ()
    held_lo: tuple[int, ...] = ()
    borrowed_hi: tuple[int, ...] = ()
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
            raise bad("shortfall is a bool, and needs a snapshot-bound statement", "shortfall")
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
        span = self.aggregation == "span"
        shocked = J if self.asset_group else 0
        lens = {
            "groups": (self.groups, ic),
            # SPAN replaces the roll add-on (its calendar charge is refused, §6.4a)
            "buckets": (self.buckets, 0 if span else ic),
            "loss_lo": (self.loss_lo, ic * S),
            "loss_hi": (self.loss_hi, ic * S),
            "roll_lo": (self.roll_lo, 0 if span else ic),
            "roll_hi": (self.roll_hi, 0 if span else ic),
            "mtm_lo": (self.mtm_lo, ic),
            "mtm_hi": (self.mtm_hi, ic),
            "som_hi": (self.som_hi, ic),
            "coll_lo": (self.coll_lo, J),
            "coll_hi": (self.coll_hi, J),
            "som_side": (self.som_side, ic if span else 0),
            "asset_group": (self.asset_group, shocked),
            "held_lo": (self.held_lo, shocked * S),
            "borrowed_hi": (self.borrowed_hi, shocked * S),
        }
        for name, (arr, want) in lens.items():
            if len(arr) != want:
                raise bad(f"{name} has length {len(arr)}, expected {want}", name)
            if any(not isinstance(v, int) or not I128_MIN <= v <= I128_MAX for v in arr):
                raise bad(f"{name} entries must be 128-bit signed integers", name)
        if not 1 <= self.n_groups <= max(1, ic + shocked) or any(
            not 0 <= g < self.n_groups for g in self.groups
        ):
            raise bad("group index out of range", "groups")
        if any(g != NO_GROUP and not 0 <= g < self.n_groups for g in self.asset_group):
            raise bad("asset group index out of range", "asset_group")
        if self.asset_group and all(g == NO_GROUP for g in self.asset_group):
            raise bad("asset_group must be empty when no asset is shocked", "asset_group")
        if any(v not in (SOM_NONE, SOM_CALL, SOM_PUT) for v in self.som_side):
            raise bad("som_side entries are 0 (none), 1 (call) or 2 (put)", "som_side")
        if any(h and side == SOM_NONE for h, side in zip(self.som_hi, self.som_side, strict=False)):
            raise bad("a short-option minimum under 'span' needs its side (call or put)", "som_side")
        if self.aggregation == "joint" and self.n_groups != 1:
            raise bad("joint aggregation has exactly one loss group", "n_groups")
        if not 0 <= self.n_buckets <= len(self.buckets) or any(
            not 0 <= b < self.n_buckets for b in self.buckets
        ):
            raise bad("bucket index out of range", "buckets")
        # a standalone statement publishes floor/ceil; a snapshot's table widens them (§10.3)
        widths = None if self.snapshot else (0, 1)
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
        worst = split_gain(self.asset_group, self.held_lo, self.borrowed_hi, self.coll_lo, self.coll_hi, S)
        if worst is not None:
            j, s = worst
            raise EncodingError(
                f"statement: shocked asset {j} rewards splitting its balance in scenario {s} "
                "(held_lo - borrowed_hi exceeds coll_hi - coll_lo, docs/proof-spec.md §2.4)",
                "held_lo",
                j * S + s,
            )

    @property
    def extended(self) -> bool:
        """Whether the statement uses a version-3 feature (the SPAN floor, shocked collateral)."""
        return self.aggregation == "span" or bool(self.asset_group)

    @property
    def version(self) -> int:
        """1 for a standalone statement, 2 for one bound to an epoch snapshot, 3 for
        either with a version-3 feature (:attr:`extended`)."""
        return 3 if self.extended else 2 if self.snapshot else 1

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
            self._binding_bytes(),
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
        if self.version == 3:
            parts.append(bytes(self.som_side))
            parts.append(bytes([int(bool(self.asset_group))]))
            parts.extend(u32(g) for g in self.asset_group)
            parts.extend(i128(v) for v in (*self.held_lo, *self.borrowed_hi))
        return b"".join(parts)

    def _binding_bytes(self) -> bytes:
        if self.version == 3:
            bound = bytes([int(self.shortfall), int(bool(self.snapshot))])
            return bound + self.snapshot
        return bytes([int(self.shortfall)]) + self.snapshot if self.snapshot else b""

    @classmethod
    def from_bytes(cls, data: bytes) -> SolvencyStatement:
        r = Reader(data, "statement")
        if r.take(4) != _ST_MAGIC:
            raise EncodingError("statement: bad magic", "statement")
        ver, mode, agg, n, dq, dm = r.take(6)
        if ver not in (1, 2, 3):
            raise EncodingError(f"statement: unknown version {ver}", "statement")
        if mode >= len(MODES) or agg >= len(AGGREGATIONS):
            raise EncodingError("statement: bad mode or aggregation", "statement")
        shortfall, snap = False, b""
        if ver >= 2:
            flag = r.u8()
            bound = 1 if ver == 2 else r.u8()
            if flag > 1 or bound > 1:
                raise EncodingError("statement: shortfall and binding flags must be 0 or 1", "shortfall")
            shortfall, snap = bool(flag), r.take(32) if bound else b""
        epoch = r.u64()
        try:
            aid = r.take(r.u8()).decode()
        except UnicodeDecodeError as e:
            raise EncodingError("statement: account_id is not UTF-8", "account_id") from e
        U, S, K, E, ic, J = (r.u32() for _ in range(6))
        if ic > 1 << 20 or J > 1 << 16 or S > 1 << 16:
            raise EncodingError("statement: implausible sizes", "statement")
        bdec = tuple(r.take(J))
        ib = 0 if AGGREGATIONS[agg] == "span" else ic  # SPAN has no roll buckets
        ins, grp, bkt = r.u32s(ic), r.u32s(ic), r.u32s(ib)
        arrs = [r.i128s(c) for c in (ic * S, ic * S, ib, ib, ic, ic, ic, J, J)]
        coeffs: dict[str, Any] = dict(zip(_COEFF_FIELDS, arrs, strict=True))
        if ver == 3:
            coeffs["som_side"] = tuple(r.take(ic - ib))
            shocked = r.u8()
            if shocked > 1:
                raise EncodingError("statement: shocked-collateral flag must be 0 or 1", "asset_group")
            coeffs["asset_group"] = r.u32s(J * shocked)
            coeffs["held_lo"] = r.i128s(J * S * shocked)
            coeffs["borrowed_hi"] = r.i128s(J * S * shocked)
        r.done()
        st = cls(
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
        if st.version != ver:
            raise EncodingError(f"statement: version {ver} does not match its content", "statement")
        return st

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
        ver = ver if type(ver) is int and ver in (1, 2, 3) else STATEMENT_VERSION
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
        if ver >= 2:
            kw["snapshot"] = j_hex(o, "snapshot", 32 if ver == 2 or o["snapshot"] else 0)
            if type(o["shortfall"]) is not bool:
                raise EncodingError("statement JSON: shortfall must be a JSON boolean", "shortfall")
            kw["shortfall"] = o["shortfall"]
        if ver == 3:
            kw["som_side"] = j_ints(o, "som_side", 0, 255)
            kw["asset_group"] = j_ints(o, "asset_group", 0, NO_GROUP)
            kw["held_lo"] = j_ints(o, "held_lo", *big)
            kw["borrowed_hi"] = j_ints(o, "borrowed_hi", *big)
        st = cls(**kw)
        if st.version != ver:
            raise EncodingError(f"statement JSON: version {ver} does not match its content", "version")
        return st


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
    bound = ("snapshot", "shortfall") if version >= 2 else ()
    extended = ("som_side", "asset_group", "held_lo", "borrowed_hi") if version == 3 else ()
    return _JSON_FIELDS + bound + extended


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
    som_side: Sequence[int] = (),
    asset_portfolio: Sequence[int] = (),
    held_lo: Sequence[int] = (),
    borrowed_hi: Sequence[int] = (),
    snapshot: bytes = b"",
    shortfall: bool = False,
) -> SolvencyStatement:
    """A statement from the committed instruments' rows of a coefficient table (and, for
    collateral shocked in the scenarios, each asset's engine portfolio or -1 with its
    rows): loss groups are the portfolios present among the committed instruments and the
    shocked assets, and they and the roll buckets are renumbered in increasing id order
    (§2.3). Under "span" the roll rows are dropped (SPAN has no roll add-on)."""
    shocked = [g for g in asset_portfolio if g >= 0]
    if aggregation == "joint":
        groups = [0] * len(instruments)
        gmap = {g: 0 for g in shocked}
        n_groups = 1
    else:
        gmap = {u: k for k, u in enumerate(sorted(set(underlying) | set(shocked)))}
        groups = [gmap[u] for u in underlying]
        n_groups = max(1, len(gmap))
    span = aggregation == "span"
    bmap = {} if span else {b: k for k, b in enumerate(sorted(set(bucket)))}
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
        buckets=tuple(bmap[b] for b in bucket) if not span else (),
        loss_lo=tuple(v[0] for v in loss),
        loss_hi=tuple(v[1] for v in loss),
        roll_lo=tuple(v[0] for v in roll) if not span else (),
        roll_hi=tuple(v[1] for v in roll) if not span else (),
        mtm_lo=tuple(v[0] for v in mtm),
        mtm_hi=tuple(v[1] for v in mtm),
        som_hi=tuple(som_hi),
        coll_lo=tuple(coll_lo),
        coll_hi=tuple(coll_hi),
        snapshot=snapshot,
        shortfall=shortfall,
        som_side=tuple(som_side) if span else (),
        asset_group=tuple(gmap[g] if g >= 0 else NO_GROUP for g in asset_portfolio) if shocked else (),
        held_lo=tuple(held_lo) if shocked else (),
        borrowed_hi=tuple(borrowed_hi) if shocked else (),
    )


def split_gain(
    asset_group: Sequence[int],
    held_lo: Sequence[int],
    borrowed_hi: Sequence[int],
    coll_lo: Sequence[int],
    coll_hi: Sequence[int],
    n_scenarios: int,
) -> tuple[int, int] | None:
    """The first (asset, scenario) at which raising both ``b+`` and ``b-`` of a shocked
    asset (``asset_group`` entry not NO_GROUP or -1) by one unit could lower its loss
    slack by more than it lowers the collateral (``held_lo - borrowed_hi > coll_hi -
    coll_lo``), or ``None``: then the honest split ``b+ = max(b, 0)`` is the prover's best
    (docs/proof-spec.md §2.4)."""
    S = n_scenarios
    for j, g in enumerate(asset_group):
        if g == NO_GROUP or g < 0:
            continue
        width = coll_hi[j] - coll_lo[j]
        for s in range(S):
            if held_lo[j * S + s] - borrowed_hi[j * S + s] > width:
                return j, s
    return None


def constraint_forms(st: SolvencyStatement) -> list[LinearForm]:
    """The statement's constraints as linear forms over the base points (see
    :class:`~zkmargin.proof.constraints.Layout`)."""
    return st.forms
