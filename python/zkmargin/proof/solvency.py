"""Zero-knowledge portfolio-margin solvency (docs/proof-spec.md §2, §9-10).

Claim: for the committed positions ``q`` and balances ``b`` of one account,

    collateral(b) + sum_i mtm_i q_i  >=  mm_factor * (WCL(q) + roll(q) + som(q))

under the engine's portfolio-margin model, with every real coefficient rounded so that
the proven inequality implies the real-valued one. The prover splits each quantity
``q = p - s`` (p, s >= 0) and each balance ``b = b+ - b-``; every non-negative variable
then gets its coefficient rounded *down*, which is exactly "requirements up, collateral
down". Maxima and absolute values become committed slacks (``l'_k`` for worst-case loss
per group, ``u'_e`` for the roll add-on per expiry bucket), and every constraint is one
value of a single aggregated Bulletproofs range proof whose commitment the verifier
derives itself from public integer coefficients.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import EncodingError, InsolventError, ParameterError, ProofError
from ._codec import (
    I128_MAX,
    I128_MIN,
    Reader,
    i128,
    j_hex,
    j_int,
    j_ints,
    j_str,
    json_hex,
    json_object,
    u32,
    u64,
)
from ._scalars import Rng, random_scalar, system_rng
from .coefficients import floor_ceil, portfolio_ids, real_coefficients, refuse_unprovable
from .commitments import AccountCommitment, AccountOpening
from .generators import generators
from .group import Group, R, get_group
from .rangeproof import (
    LinearForm,
    MsmCheck,
    RangeProof,
    _random_weight,
    check_nm,
    evaluate_checks,
    padded_m,
    points_with_range_bytes,
    points_with_range_from_bytes,
    prove_core,
    verify_core,
)
from .transcript import Transcript

__all__ = [
    "MONEY_DECIMALS",
    "SolvencyProof",
    "SolvencyStatement",
    "batch_verify_solvency",
    "build_statement",
    "constraint_forms",
    "prove_solvency",
    "proven_requirement",
    "verify_solvency",
]

#: Newest statement version: 2 binds the epoch snapshot digest (version 1 still parses).
STATEMENT_VERSION = 2
#: Proof bytes are the same layout for both statement versions; the transcript differs.
PROOF_VERSION = 1
#: Public money scale: constraint values are integers in units of 1e-10 USD.
MONEY_DECIMALS = 10
#: Every derived constraint value must stay below this in absolute value for all inputs
#: the range proofs allow, so that "V mod r in [0, 2^n)" implies the integer V is in
#: [0, 2^n) (r > 2^253; docs/proof-spec.md §2.4).
WRAP_LIMIT = 1 << 250
_MODES = ("full", "subset")
_AGGS = ("sum", "joint")
#: Why the other aggregations of docs/margin-model.md §6.3 cannot be proven as linear
#: constraints (docs/proof-spec.md: what the statement covers).
_UNPROVABLE = {
    "correlation": "the signed correlation's square root is not piecewise linear",
    "span": "SPAN's calendar charge min(pos, neg) and inter-commodity credits are not convex, "
    "and its short-option-minimum floor is not encoded in the statement",
}
_ST_MAGIC = b"ZKMT"
_PR_MAGIC = b"ZKMS"


# ------------------------------------------------------------------ the statement


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
        forms = _build_forms(self)
        _wrap_check(self, forms)
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
        if self.mode not in _MODES:
            raise bad(f"mode must be one of {_MODES}", "mode")
        if self.aggregation not in _AGGS:
            raise bad(f"aggregation must be one of {_AGGS}", "aggregation")
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
                    _MODES.index(self.mode),
                    _AGGS.index(self.aggregation),
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
        if mode >= len(_MODES) or agg >= len(_AGGS):
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
            mode=_MODES[mode],
            aggregation=_AGGS[agg],
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


# ------------------------------------------------------------------ constraints


class _Layout:
    """Base-point indices: Q_i, B_j (issuer's), then P_i, B+_j, L'_k, U'_e and, with a
    shortfall, S' (prover's)."""

    def __init__(self, st: SolvencyStatement) -> None:
        ic, J = len(st.instruments), len(st.balance_decimals)
        self.Q = 0
        self.B = ic
        self.P = ic + J
        self.Bp = 2 * ic + J
        self.L = 2 * ic + 2 * J
        self.U = 2 * ic + 2 * J + st.n_groups
        self.S = self.U + st.n_buckets
        self.total = self.S + int(st.shortfall)


def _lin(acc: dict[int, int], lay: _Layout, i: int, lo: int, hi: int) -> None:
    """Add a real coefficient x (floor lo, ceil hi) on q_i = p_i - s_i, rounded down on
    both non-negative parts: lo * p_i - hi * s_i = (lo - hi) P_i + hi Q_i."""
    if lo != hi:
        acc[lay.P + i] = acc.get(lay.P + i, 0) + lo - hi
    if hi:
        acc[lay.Q + i] = acc.get(lay.Q + i, 0) + hi


def _form(acc: dict[int, int], const: int = 0) -> LinearForm:
    return LinearForm(tuple(sorted((k, v) for k, v in acc.items() if v)), const)


def _build_forms(st: SolvencyStatement) -> list[LinearForm]:
    """The constraint list in its canonical order (docs/proof-spec.md §2.3)."""
    lay = _Layout(st)
    ic, J, S = len(st.instruments), len(st.balance_decimals), st.n_scenarios
    forms: list[LinearForm] = []
    for i in range(ic):  # p_i >= 0
        forms.append(_form({lay.P + i: 1}))
    for i in range(ic):  # s_i = p_i - q_i >= 0
        forms.append(_form({lay.P + i: 1, lay.Q + i: -1}))
    for j in range(J):  # b+_j >= 0, b-_j = b+_j - b_j >= 0
        forms.append(_form({lay.Bp + j: 1}))
        forms.append(_form({lay.Bp + j: 1, lay.B + j: -1}))
    members: list[list[int]] = [[] for _ in range(st.n_groups)]
    for i, g in enumerate(st.groups):
        members[g].append(i)
    for k in range(st.n_groups):  # l'_k >= 0 and l'_k + mm * P_k[s] >= 0 for every s
        forms.append(_form({lay.L + k: 1}))
        for s in range(S):
            acc = {lay.L + k: 1}
            for i in members[k]:
                _lin(acc, lay, i, st.loss_lo[i * S + s], st.loss_hi[i * S + s])
            forms.append(_form(acc))
    bmem: list[list[int]] = [[] for _ in range(st.n_buckets)]
    for i, e in enumerate(st.buckets):
        bmem[e].append(i)
    for e in range(st.n_buckets):  # u'_e >= y D_e and u'_e >= -y D_e
        acc = {lay.U + e: 1}
        for i in bmem[e]:
            _lin(acc, lay, i, -st.roll_hi[i], -st.roll_lo[i])
        forms.append(_form(acc))
        acc = {lay.U + e: 1}
        for i in bmem[e]:
            _lin(acc, lay, i, st.roll_lo[i], st.roll_hi[i])
        forms.append(_form(acc))
    if st.shortfall:  # s' >= 0
        forms.append(_form({lay.S: 1}))
    # final: collateral + mtm - som - sum l' - sum u' (+ s') >= 0
    acc = {}
    for j in range(J):  # floor(lo_j) b+ - ceil(hi_j) b- = (lo - hi) B+ + hi B
        acc[lay.Bp + j] = st.coll_lo[j] - st.coll_hi[j]
        acc[lay.B + j] = st.coll_hi[j]
    for i in range(ic):
        _lin(acc, lay, i, st.mtm_lo[i], st.mtm_hi[i])
        if st.som_hi[i]:  # - som_hi * s_i = - som_hi P_i + som_hi Q_i
            acc[lay.P + i] = acc.get(lay.P + i, 0) - st.som_hi[i]
            acc[lay.Q + i] = acc.get(lay.Q + i, 0) + st.som_hi[i]
    for k in range(st.n_groups):
        acc[lay.L + k] = -1
    for e in range(st.n_buckets):
        acc[lay.U + e] = -1
    if st.shortfall:
        acc[lay.S] = 1
    forms.append(_form(acc))
    return forms


def constraint_forms(st: SolvencyStatement) -> list[LinearForm]:
    """The statement's constraints as linear forms over the base points (see _Layout)."""
    return list(st._forms)


def _wrap_check(st: SolvencyStatement, forms: Sequence[LinearForm]) -> None:
    """Static no-wraparound check: with every range-proved variable in [0, 2^n) (so each
    q_i, b_j in (-2^n, 2^n)) and each u'_e bounded through its first defining constraint,
    every constraint's integer value must stay below WRAP_LIMIT in absolute value."""
    lay = _Layout(st)
    bound = [1 << st.n] * lay.total
    ic, J = len(st.instruments), len(st.balance_decimals)
    first_u = 2 * ic + 2 * J + st.n_groups * (1 + st.n_scenarios)
    for e in range(st.n_buckets):
        f = forms[first_u + 2 * e]
        bound[lay.U + e] = (1 << st.n) + sum(abs(c) * (1 << st.n) for k, c in f.terms if k != lay.U + e)
    for j, f in enumerate(forms):
        tot = abs(f.const) + sum(abs(c) * bound[k] for k, c in f.terms)
        if tot >= WRAP_LIMIT:
            raise EncodingError(
                f"statement: constraint {j} could reach 2^{tot.bit_length() - 1}, too close to r",
                "statement",
                j,
            )


# ------------------------------------------------------------------ building from the engine


def build_statement(
    engine: Any,
    market: Any,
    commitment: AccountCommitment,
    account_id: str,
    epoch: int,
    *,
    mode: str | None = None,
    n: int = 64,
    money_decimals: int = MONEY_DECIMALS,
) -> SolvencyStatement:
    """The public statement for ``commitment`` from the engine's outputs at ``market``:
    risk arrays, instrument values, roll buckets and parameters. Everything here is
    public, so a verifier rebuilds it and compares (docs/proof-spec.md §9)."""
    agg = engine.aggregation
    if agg not in _AGGS:
        raise ParameterError(
            f"aggregation {agg!r} is not provable: the proof covers 'sum' and 'joint' "
            f"({_UNPROVABLE.get(agg, 'not a convex piecewise-linear requirement')})",
            "aggregation",
        )
    refuse_unprovable(engine)
    segregated = engine.settlement_mode == "segregated"
    ins_all = engine.instruments
    n_ins = len(ins_all)
    ins = commitment.instruments
    if mode is None:
        mode = "full" if ins == tuple(range(n_ins)) else "subset"
    if mode not in _MODES:
        raise ParameterError(f"mode must be one of {_MODES}", "mode")
    if ins and ins[-1] >= n_ins:
        raise ParameterError("commitment names an instrument outside the engine's universe", "instruments")
    J = int(np.asarray(market.asset_price).shape[0])
    if len(commitment.balance_decimals) != J:
        raise ParameterError("commitment has a different number of assets than the market", "balances")
    rc = real_coefficients(
        engine, market, commitment.quantity_decimals, money_decimals, commitment.balance_decimals
    )
    S = rc.n_scenarios
    idx = list(ins)
    portfolio = portfolio_ids(ins_all.underlying, ins_all.settlement, engine.n_underlyings, segregated)
    loss = [floor_ceil(rc.loss[i * S + s]) for i in idx for s in range(S)]
    roll = [floor_ceil(rc.roll[i]) for i in idx]
    mtm = [floor_ceil(rc.mtm[i]) for i in idx]
    return _assemble(
        account_id=account_id,
        epoch=epoch,
        mode=mode,
        aggregation=agg,
        n=n,
        universe_size=n_ins,
        instruments=ins,
        underlying=[portfolio[i] for i in idx],
        bucket=[rc.bucket[i] for i in idx],
        quantity_decimals=commitment.quantity_decimals,
        money_decimals=money_decimals,
        balance_decimals=commitment.balance_decimals,
        n_scenarios=S,
        loss=loss,
        roll=roll,
        mtm=mtm,
        som_hi=[floor_ceil(rc.som[i])[1] for i in idx],
        coll_lo=[floor_ceil(x)[0] for x in rc.coll_lo],
        coll_hi=[floor_ceil(x)[1] for x in rc.coll_hi],
    )


def _assemble(
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


# ------------------------------------------------------------------ witness


def _witness(st: SolvencyStatement, op: AccountOpening) -> list[int]:
    """Integer values of every base variable for the honest prover: p = max(q, 0),
    b+ = max(b, 0), and the smallest slacks l'_k, u'_e that satisfy their constraints."""
    lay = _Layout(st)
    ic, J = len(st.instruments), len(st.balance_decimals)
    x = [0] * lay.total
    for i, q in enumerate(op.quantities):
        x[lay.Q + i] = q
        x[lay.P + i] = max(q, 0)
    for j, b in enumerate(op.balances):
        x[lay.B + j] = b
        x[lay.Bp + j] = max(b, 0)
    forms = st._forms
    pos = 2 * ic + 2 * J
    for k in range(st.n_groups):
        worst = 0
        for s in range(st.n_scenarios):
            f = forms[pos + 1 + s]
            rest = sum(c * x[b] for b, c in f.terms if b != lay.L + k)
            worst = max(worst, -rest)
        x[lay.L + k] = worst
        pos += 1 + st.n_scenarios
    for e in range(st.n_buckets):
        need = 0
        for f in (forms[pos], forms[pos + 1]):
            need = max(need, -sum(c * x[b] for b, c in f.terms if b != lay.U + e))
        x[lay.U + e] = need
        pos += 2
    if st.shortfall:
        x[lay.S] = max(0, -sum(c * x[b] for b, c in forms[-1].terms if b != lay.S))
    return x


def proven_requirement(st: SolvencyStatement, op: AccountOpening) -> tuple[int, int]:
    """(proven equity lower bound, proven requirement upper bound) in money units for the
    honest witness: the proof shows equity_proven - requirement_proven >= 0."""
    x = _witness(st, op)
    lay = _Layout(st)
    final = st._forms[-1]
    req = 0
    eq = 0
    for b, c in final.terms:
        if lay.L <= b < lay.S:
            req -= c * x[b]
        elif b == lay.S:
            continue
        else:
            eq += c * x[b]
    # som enters the final form on P/Q; separate it back out for reporting
    som = sum(h * max(-q, 0) for h, q in zip(st.som_hi, op.quantities, strict=True))
    return eq + som, req + som


# ------------------------------------------------------------------ proof object


@dataclass(frozen=True)
class SolvencyProof:
    """Prover commitments ``P_i, B+_j, L'_k, U'_e`` (compressed) and the range proof."""

    aux: tuple[bytes, ...]
    range_proof: RangeProof

    @property
    def size_bytes(self) -> int:
        """Length of :meth:`to_bytes`."""
        return len(self.to_bytes())

    def to_bytes(self) -> bytes:
        """``b"ZKMS" || version || log2 n || log2 m || u32 n_aux || aux || range body``."""
        return points_with_range_bytes(_PR_MAGIC, PROOF_VERSION, self.aux, self.range_proof)

    @classmethod
    def from_bytes(cls, data: bytes, backend: str | Group = "native") -> SolvencyProof:
        def check(count: int, m: int) -> str | None:
            return "implausible size" if count > 1 << 20 else None

        aux, rp = points_with_range_from_bytes(data, _PR_MAGIC, PROOF_VERSION, "proof", check, backend)
        return cls(aux, rp)

    def to_json(self) -> dict[str, Any]:
        """The proof as a JSON-ready dict (hex-encoded elements)."""
        return {"type": "zkmargin.SolvencyProof", "version": PROOF_VERSION, "hex": self.to_bytes().hex()}

    @classmethod
    def from_json(cls, obj: dict[str, Any], backend: str | Group = "native") -> SolvencyProof:
        json_object(obj, "zkmargin.SolvencyProof", PROOF_VERSION, ["hex"])
        return cls.from_bytes(json_hex(obj, "proof"), backend)


# ------------------------------------------------------------------ prove / verify


def _transcript(
    group: Group, st: SolvencyStatement, com: AccountCommitment, aux_enc: Sequence[bytes]
) -> Transcript:
    # version 2 (snapshot-bound) statements run under their own label; the statement bytes
    # absorbed next carry the snapshot digest
    t = Transcript(group.keccak256, b"zkmargin/solvency/v%d" % st.version)
    t.append(b"protocol-version", bytes([st.version]))
    t.append(b"generators", generators(group).label_digest())
    t.append(b"statement", st.to_bytes())
    t.append(b"commitment", com.to_bytes())
    t.append_u64(b"values", st.n_values)
    for a in aux_enc:
        t.append(b"aux", a)
    return t


def _check_pairing(st: SolvencyStatement, com: AccountCommitment) -> str | None:
    if st.instruments != com.instruments:
        return "statement and commitment name different instruments"
    if st.balance_decimals != com.balance_decimals or st.quantity_decimals != com.quantity_decimals:
        return "statement and commitment use different decimal scales"
    return None


@dataclass(frozen=True)
class Shortfall:
    """The prover's secret side of a shortfall commitment ``S' = s G + blinding H``
    (``s = 0`` for a solvent account); ``point`` is ``S'`` compressed, as in the proof."""

    value: int
    blinding: int
    point: bytes


def prove_solvency(
    statement: SolvencyStatement,
    commitment: AccountCommitment,
    opening: AccountOpening,
    *,
    backend: str | Group = "native",
    rng: Rng | None = None,
    _unchecked: bool = False,
) -> SolvencyProof:
    """Prove the statement for the committed account. Raises ``InsolventError`` when the
    account does not satisfy it (including when only the conservative rounding makes it
    fail), ``ParameterError`` when a value does not fit the n-bit range, and
    ``ProofError`` when the opening does not open the commitment. For a statement with a
    shortfall (which every account satisfies) use :func:`prove_with_shortfall`."""
    return prove_with_shortfall(
        statement, commitment, opening, backend=backend, rng=rng, _unchecked=_unchecked
    )[0]


def prove_with_shortfall(
    statement: SolvencyStatement,
    commitment: AccountCommitment,
    opening: AccountOpening,
    *,
    backend: str | Group = "native",
    rng: Rng | None = None,
    _unchecked: bool = False,
) -> tuple[SolvencyProof, Shortfall | None]:
    """:func:`prove_solvency`, also returning the committed shortfall's opening (``None``
    for a statement without one), which the fund proof needs (docs/proof-spec.md §12)."""
    group = get_group(backend)
    gens = generators(group)
    rng = rng or system_rng
    st = statement
    why = _check_pairing(st, commitment)
    if why:
        raise ParameterError(why, "commitment")
    ic, J = len(st.instruments), len(st.balance_decimals)
    op = opening
    if len(op.quantities) != ic or len(op.balances) != J:
        raise ParameterError("opening does not match the commitment's shape", "opening")
    Qs, Bs = commitment.points(group)
    GH = group.vec([gens.G, gens.H])
    for pts, vals, bls, name in (
        (Qs, op.quantities, op.position_blindings, "positions"),
        (Bs, op.balances, op.balance_blindings, "balances"),
    ):
        for k, (pt, v, r_) in enumerate(zip(pts, vals, bls, strict=True)):
            if not group.eq(pt, group.msm(GH, [v % R, r_ % R])):
                raise ProofError(f"opening does not open commitment {name}[{k}]")
    bound = 1 << st.n
    if not _unchecked:
        for k, q in enumerate(op.quantities):
            if not -bound < q < bound:
                raise ParameterError(
                    f"account {st.account_id!r}: quantity {k} exceeds the {st.n}-bit bound", "quantities", k
                )
        for k, b in enumerate(op.balances):
            if not -bound < b < bound:
                raise ParameterError(
                    f"account {st.account_id!r}: balance {k} exceeds the {st.n}-bit bound", "balances", k
                )
    x = _witness(st, op)
    lay = _Layout(st)
    blind = [0] * lay.total
    blind[lay.Q : lay.Q + ic] = list(op.position_blindings)
    blind[lay.B : lay.B + J] = list(op.balance_blindings)
    for k in range(lay.P, lay.total):
        blind[k] = random_scalar(rng)
    values: list[int] = []
    gammas: list[int] = []
    for f in st._forms:
        values.append(sum(c * x[b] for b, c in f.terms) + f.const)
        gammas.append(sum(c * blind[b] for b, c in f.terms) % R)
    final = values[-1]
    if final < 0 and not _unchecked:
        eq, req = proven_requirement(st, op)
        raise InsolventError(
            f"account {st.account_id!r} is not solvent under the proven statement: equity "
            f"{eq / 10**st.money_decimals:.6f} < maintenance margin {req / 10**st.money_decimals:.6f} "
            "(USD, conservatively rounded)"
        )
    if not _unchecked:
        for j, v in enumerate(values):
            if not 0 <= v < bound:
                raise ParameterError(
                    f"account {st.account_id!r}: constraint value {j} = {v} does not fit in "
                    f"{st.n} bits (account too "
                    "large for this n or money scale)",
                    "n",
                    j,
                )
    aux_pts = [group.msm(GH, [x[k] % R, blind[k]]) for k in range(lay.P, lay.total)]
    for p in aux_pts:
        if group.is_identity(p):
            raise ProofError("identity auxiliary commitment; retry with fresh randomness")
    aux = [group.encode_compressed(p) for p in aux_pts]
    t = _transcript(group, st, commitment, [group.encode(p) for p in aux_pts])
    vals_mod = [v % R for v in values] if _unchecked else values
    rp = prove_core(group, gens, t, vals_mod, gammas, st.n, rng, check_range=not _unchecked)
    short = Shortfall(x[lay.S], blind[lay.S], aux[-1]) if st.shortfall else None
    return SolvencyProof(tuple(aux), rp), short


def _solvency_check(
    group: Group, st: SolvencyStatement, com: AccountCommitment, proof: SolvencyProof, weight: int
) -> MsmCheck | None:
    if _check_pairing(st, com) is not None:
        return None
    if len(proof.aux) != st.n_aux:
        return None
    try:
        Qs, Bs = com.points(group)
        aux = [group.decode_compressed(a) for a in proof.aux]
    except EncodingError:
        return None
    if any(group.is_identity(p) for p in aux):
        return None
    t = _transcript(group, st, com, [group.encode(p) for p in aux])
    return verify_core(group, t, proof.range_proof, [*Qs, *Bs, *aux], st._forms, st.n, weight)


def verify_solvency(
    statement: SolvencyStatement,
    commitment: AccountCommitment,
    proof: SolvencyProof,
    *,
    backend: str | Group = "native",
) -> bool:
    """True iff ``proof`` proves ``statement`` for ``commitment``. Never raises for a
    well-formed but invalid proof."""
    group = get_group(backend)
    ch = _solvency_check(group, statement, commitment, proof, _random_weight())
    return ch is not None and evaluate_checks(group, generators(group), [(1, ch)])


def batch_verify_solvency(
    items: Sequence[tuple[SolvencyStatement, AccountCommitment, SolvencyProof]],
    *,
    backend: str | Group = "native",
) -> bool:
    """True iff every (statement, commitment, proof) verifies; one MSM for all of them,
    each equation under an independent random weight."""
    group = get_group(backend)
    checks: list[tuple[int, MsmCheck]] = []
    for st, com, pr in items:
        ch = _solvency_check(group, st, com, pr, _random_weight())
        if ch is None:
            return False
        checks.append((_random_weight(), ch))
    return evaluate_checks(group, generators(group), checks)
