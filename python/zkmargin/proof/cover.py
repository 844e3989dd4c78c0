"""Cover proofs: public totals cover committed sums (docs/proof-spec.md §12).

For public integers ``T_j`` and commitments ``C_j = c_j G + r_j H`` (in practice the
homomorphic sum of many accounts' commitments) a cover proof shows ``T_j - c_j >= 0`` for
every ``j`` without revealing ``c_j``. The difference is split into two ``n``-bit limbs,
``T_j - c_j = lo_j + 2^n hi_j``, the prover commits ``hi_j`` as ``H_j`` and one aggregated
range proof shows ``hi_j`` and ``lo_j = T_j - c_j - 2^n hi_j`` in ``[0, 2^n)``, so the
difference may be as large as ``2^(2n)``. Used for reserves against liabilities (per
asset) and for the insurance fund against the sum of shortfalls.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import EncodingError, ParameterError, ProofError
from ._codec import I128_MAX, i128, json_hex, json_object
from ._field import R
from ._scalars import Rng, random_scalar, system_rng
from .generators import generators
from .group import Group, get_group
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

__all__ = ["CoverProof", "cover_check", "prove_cover", "verify_cover"]

COVER_VERSION = 1
_MAGIC = b"ZKMV"


@dataclass(frozen=True)
class CoverProof:
    """The high-limb commitments ``H_j`` (compressed) and the range proof."""

    high: tuple[bytes, ...]
    range_proof: RangeProof

    def to_bytes(self) -> bytes:
        """``"ZKMV" || u8 version || u8 log2 n || u8 log2 m || u32 count || H_j || body``."""
        return points_with_range_bytes(_MAGIC, COVER_VERSION, self.high, self.range_proof)

    @classmethod
    def from_bytes(cls, data: bytes, backend: str | Group = "native") -> CoverProof:
        def check(count: int, m: int) -> str | None:
            return "count does not match m" if 2 * count > m or padded_m(2 * count) != m else None

        high, rp = points_with_range_from_bytes(data, _MAGIC, COVER_VERSION, "cover proof", check, backend)
        return cls(high, rp)

    def to_json(self) -> dict[str, Any]:
        return {"type": "zkmargin.CoverProof", "version": COVER_VERSION, "hex": self.to_bytes().hex()}

    @classmethod
    def from_json(cls, obj: Any, backend: str | Group = "native") -> CoverProof:
        json_object(obj, "zkmargin.CoverProof", COVER_VERSION, ["hex"])
        return cls.from_bytes(json_hex(obj, "cover proof"), backend)


def _check_totals(totals: Sequence[int]) -> None:
    for j, t in enumerate(totals):
        if type(t) is not int or not 0 <= t <= I128_MAX:
            raise ParameterError(f"total {j} must be an integer in [0, 2^127)", "totals", j)


def _forms(count: int, n: int, totals: Sequence[int]) -> list[LinearForm]:
    # bases: C_0..C_{k-1}, H_0..H_{k-1}
    out: list[LinearForm] = []
    for j in range(count):
        out.append(LinearForm(((count + j, 1),)))
        out.append(LinearForm(((j, -1), (count + j, -(1 << n))), totals[j]))
    return out


def _transcript(
    group: Group,
    label: bytes,
    context: bytes,
    totals: Sequence[int],
    commitments: Sequence[Any],
    high: Sequence[Any],
) -> Transcript:
    t = Transcript(group.keccak256, b"zkmargin/cover/v1")
    t.append(b"protocol-version", bytes([COVER_VERSION]))
    t.append(b"generators", generators(group).label_digest())
    t.append(b"label", label)
    t.append(b"context", context)
    t.append_u64(b"count", len(totals))
    for T, C, H in zip(totals, commitments, high, strict=True):
        t.append(b"total", i128(T))
        t.append(b"C", group.encode(C))
        t.append(b"high", group.encode(H))
    return t


def prove_cover(
    label: bytes,
    context: bytes,
    totals: Sequence[int],
    commitments: Sequence[bytes],
    values: Sequence[int],
    blindings: Sequence[int],
    *,
    n: int = 64,
    backend: str | Group = "native",
    rng: Rng | None = None,
) -> CoverProof:
    """Prove ``totals[j] - values[j] in [0, 2^(2n))`` for ``commitments[j]`` (compressed,
    opening ``(values[j], blindings[j])``). ``label`` names what is covered and
    ``context`` binds the proof to its publication (both absorbed into the transcript).
    Raises ``ProofError`` when a total does not cover its value."""
    group = get_group(backend)
    gens = generators(group)
    rng = rng or system_rng
    k = len(totals)
    if not k or len(commitments) != k or len(values) != k or len(blindings) != k:
        raise ParameterError("need one commitment, value and blinding per total (at least one)", "totals")
    _check_totals(totals)
    check_nm(n, padded_m(2 * k))
    GH = group.vec([gens.G, gens.H])
    Cs = [group.decode_compressed(c) for c in commitments]
    his: list[int] = []
    vals: list[int] = []
    gams: list[int] = []
    hpts: list[Any] = []
    for j, (T, C, v, r) in enumerate(zip(totals, Cs, values, blindings, strict=True)):
        if not group.eq(C, group.msm(GH, [v % R, r % R])):
            raise ProofError(f"value {j} does not open commitment {j}")
        d = T - v
        if not 0 <= d < 1 << (2 * n):
            raise ProofError(f"total {j} = {T} does not cover the committed value {v}")
        hi = d >> n
        g = random_scalar(rng)
        his.append(hi)
        hpts.append(group.msm(GH, [hi, g]))
        vals.extend([hi, d - (hi << n)])
        gams.extend([g, (-r - (g << n)) % R])
    if any(group.is_identity(h) for h in hpts):
        raise ProofError("identity high-limb commitment; retry with fresh randomness")
    t = _transcript(group, label, context, totals, Cs, hpts)
    rp = prove_core(group, gens, t, vals, gams, n, rng)
    return CoverProof(tuple(group.encode_compressed(h) for h in hpts), rp)


def cover_check(
    group: Group,
    label: bytes,
    context: bytes,
    totals: Sequence[int],
    commitments: Sequence[Any],
    proof: CoverProof,
    n: int,
    weight: int,
) -> MsmCheck | None:
    """The weighted verification equation (``commitments`` as decoded points), or
    ``None`` when the proof does not even have the right shape."""
    k = len(totals)
    if not k or len(commitments) != k or len(proof.high) != k:
        return None
    try:
        _check_totals(totals)
        high = [group.decode_compressed(h) for h in proof.high]
    except (ParameterError, EncodingError):
        return None
    if any(group.is_identity(h) for h in high):
        return None
    t = _transcript(group, label, context, totals, commitments, high)
    return verify_core(group, t, proof.range_proof, [*commitments, *high], _forms(k, n, totals), n, weight)


def verify_cover(
    label: bytes,
    context: bytes,
    totals: Sequence[int],
    commitments: Sequence[bytes],
    proof: CoverProof,
    *,
    n: int = 64,
    backend: str | Group = "native",
) -> bool:
    """True iff ``proof`` shows ``totals[j] - c_j >= 0`` for every committed ``c_j``."""
    group = get_group(backend)
    try:
        pts = [group.decode_compressed(c) for c in commitments]
    except EncodingError:
        return False
    ch = cover_check(group, label, context, totals, pts, proof, n, _random_weight())
    return ch is not None and evaluate_checks(group, generators(group), [(1, ch)])
