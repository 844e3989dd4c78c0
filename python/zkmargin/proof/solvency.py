"""The solvency protocol (docs/proof-spec.md §5-§7, §9): prove and verify a
:class:`~zkmargin.proof.statement.SolvencyStatement` for a committed account, alone, in
batches, or as derived from an epoch snapshot.

The prover splits each quantity ``q = p - s`` (p, s >= 0) and each balance
``b = b+ - b-``; every non-negative variable then gets its coefficient rounded *down*,
which is exactly "requirements up, collateral down". Maxima and absolute values become
committed slacks (``l'_k`` for worst-case loss per group, ``u'_e`` for the roll add-on per
expiry bucket), and every constraint is one value of a single aggregated Bulletproofs
range proof whose commitment the verifier derives itself from public integer
coefficients (:mod:`.constraints`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .. import _args
from ..errors import EncodingError, InsolventError, ParameterError, ProofError
from ._codec import json_hex, json_object
from ._scalars import Rng, random_scalar, system_rng
from .commitments import AccountCommitment, AccountOpening
from .constraints import Layout, witness
from .constraints import proven_requirement as _proven
from .generators import generators
from .group import Group, R, get_group
from .rangeproof import (
    MsmCheck,
    RangeProof,
    _random_weight,
    evaluate_checks,
    points_with_range_bytes,
    points_with_range_from_bytes,
    prove_core,
    verify_core,
)
from .snapshot import EpochSnapshot
from .statement import SolvencyStatement
from .transcript import Transcript

__all__ = [
    "PROOF_VERSION",
    "Shortfall",
    "SolvencyProof",
    "batch_verify_solvency",
    "prove_account",
    "prove_solvency",
    "prove_with_shortfall",
    "proven_requirement",
    "solvency_check",
    "verify_account",
    "verify_solvency",
]

#: Proof bytes are the same layout for every statement version; the transcript differs.
PROOF_VERSION = 1
_PR_MAGIC = b"ZKMS"


def proven_requirement(st: SolvencyStatement, op: AccountOpening) -> tuple[int, int]:
    """(proven equity lower bound, proven requirement upper bound) in money units for the
    honest witness: the proof shows equity_proven - requirement_proven >= 0."""
    return _proven(st, st.forms, op.quantities, op.balances)


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
    _typed(statement, commitment, ("opening", opening, AccountOpening))
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
    x = witness(st, st.forms, op.quantities, op.balances)
    lay = Layout(st)
    blind = [0] * lay.total
    blind[lay.Q : lay.Q + ic] = list(op.position_blindings)
    blind[lay.B : lay.B + J] = list(op.balance_blindings)
    for k in range(lay.P, lay.total):
        blind[k] = random_scalar(rng)
    values: list[int] = []
    gammas: list[int] = []
    for f in st.forms:
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


def solvency_check(
    group: Group, st: SolvencyStatement, com: AccountCommitment, proof: SolvencyProof, weight: int
) -> MsmCheck | None:
    """The proof's verification equation under ``weight`` for batching with other checks
    (:func:`~zkmargin.proof.rangeproof.evaluate_checks`), or ``None`` when the proof is
    malformed for this statement and commitment."""
    _typed(st, com, ("proof", proof, SolvencyProof))
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
    return verify_core(group, t, proof.range_proof, [*Qs, *Bs, *aux], st.forms, st.n, weight)


def _typed(st: Any, com: Any, last: tuple[str, Any, type]) -> None:
    """``ArgumentTypeError`` unless the statement, the commitment and ``last`` (the proof
    or the opening: name, value, class) are of their classes."""
    _args.instance("statement", st, SolvencyStatement)
    _args.instance("commitment", com, AccountCommitment)
    _args.instance(*last)


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
    ch = solvency_check(group, statement, commitment, proof, _random_weight())
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
        ch = solvency_check(group, st, com, pr, _random_weight())
        if ch is None:
            return False
        checks.append((_random_weight(), ch))
    return evaluate_checks(group, generators(group), checks)


# ------------------------------------------------------------------ from an epoch snapshot


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
