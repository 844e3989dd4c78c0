"""Aggregated Bulletproofs range proofs over BN254 G1 (docs/proof-spec.md §6-7).

Proves that each of m committed values lies in ``[0, 2^n)``. The core works on
*linear-form commitments*: each value commitment ``V_j`` is a public integer combination
``sum_k C_jk X_k + c_j G`` of base points ``X_k``. A plain range proof is the special
case ``V_j = X_j``; the solvency proof uses the general form so that the verifier derives
every constraint commitment itself and folds them into the single verification MSM.

Proof layout (``2 log2(n m) + 9`` elements, 32 bytes each):
``A, S, T1, T2, t_hat, tau_x, mu, L_1..L_k, R_1..R_k, a, b``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .. import _args
from ..errors import ArgumentTypeError, EncodingError, ParameterError, ProofError
from ._codec import Reader, byte_string, json_hex, json_object, u32
from ._scalars import Rng, powers, random_scalar, system_rng
from .generators import Generators, generators
from .group import Group, R, get_group
from .transcript import Transcript

__all__ = [
    "VALID_N",
    "LinearForm",
    "RangeProof",
    "batch_verify_range",
    "prove_range",
    "verify_range",
]

VALID_N = (8, 16, 32, 64)
#: Largest aggregation accepted (n * m <= 2^18 generators).
MAX_M = 4096
RANGE_VERSION = 1
_MAGIC = b"ZKMR"


@dataclass(frozen=True)
class LinearForm:
    """``sum coef * X[index] + const * G`` with integer (possibly negative) coefficients."""

    terms: tuple[tuple[int, int], ...]
    const: int = 0


#: Bound on |value| and |blinding| (both are reduced mod r < 2^254).
_ANY = 1 << 512


def padded_m(count: int) -> int:
    """Smallest power of two >= count (at least 1)."""
    m = 1
    while m < count:
        m *= 2
    return m


def check_nm(n: int, m: int) -> None:
    if n not in VALID_N:
        raise ParameterError(f"n must be one of {VALID_N}, got {n}", "n")
    if m < 1 or m & (m - 1) or m > MAX_M:
        raise ParameterError(f"m must be a power of two in [1, {MAX_M}], got {m}", "m")


@dataclass(frozen=True)
class RangeProof:
    """Points as 32-byte compressed encodings, scalars as ints in [0, r)."""

    n: int
    m: int
    A: bytes
    S: bytes
    T1: bytes
    T2: bytes
    t_hat: int
    tau_x: int
    mu: int
    L: tuple[bytes, ...]
    R: tuple[bytes, ...]
    a: int
    b: int

    @property
    def size_elements(self) -> int:
        """Group and scalar elements in the proof."""
        return 4 + 3 + len(self.L) + len(self.R) + 2

    def body_bytes(self) -> bytes:
        """The (2 log2(nm) + 9) * 32 bytes of the proof proper."""
        sc = [self.t_hat, self.tau_x, self.mu]
        return b"".join(
            [self.A, self.S, self.T1, self.T2]
            + [s.to_bytes(32, "big") for s in sc]
            + list(self.L)
            + list(self.R)
            + [self.a.to_bytes(32, "big"), self.b.to_bytes(32, "big")]
        )

    def to_bytes(self) -> bytes:
        """Versioned: ``b"ZKMR" || version || log2(n) || log2(m) || body``."""
        return (
            _MAGIC
            + bytes([RANGE_VERSION, self.n.bit_length() - 1, self.m.bit_length() - 1])
            + self.body_bytes()
        )

    @classmethod
    def from_body(cls, data: bytes, n: int, m: int, backend: str | Group = "native") -> RangeProof:
        check_nm(n, m)
        k = (n * m).bit_length() - 1
        want = (2 * k + 9) * 32
        if len(data) != want:
            raise EncodingError(f"range proof: expected {want} bytes, got {len(data)}", "proof")
        group = get_group(backend)
        chunks = [bytes(data[i : i + 32]) for i in range(0, want, 32)]
        pts_idx = [0, 1, 2, 3, *range(7, 7 + 2 * k)]
        for i in pts_idx:
            p = group.decode_compressed(chunks[i])
            if group.is_identity(p):
                raise EncodingError(f"range proof: element {i} is the identity", "proof", i)
        sc = [int.from_bytes(chunks[i], "big") for i in (4, 5, 6, 7 + 2 * k, 8 + 2 * k)]
        for j, s in enumerate(sc):
            if s >= R:
                raise EncodingError("range proof: scalar is not below r", "proof", j)
        return cls(
            n=n,
            m=m,
            A=chunks[0],
            S=chunks[1],
            T1=chunks[2],
            T2=chunks[3],
            t_hat=sc[0],
            tau_x=sc[1],
            mu=sc[2],
            L=tuple(chunks[7 : 7 + k]),
            R=tuple(chunks[7 + k : 7 + 2 * k]),
            a=sc[3],
            b=sc[4],
        )

    @classmethod
    def from_bytes(cls, data: bytes, backend: str | Group = "native") -> RangeProof:
        data = byte_string("range proof", data)
        if len(data) < 7 or data[:4] != _MAGIC:
            raise EncodingError("range proof: bad magic", "proof")
        if data[4] != RANGE_VERSION:
            raise EncodingError(f"range proof: unknown version {data[4]}", "proof")
        if data[5] > 6 or data[6] > 12:
            raise EncodingError("range proof: bad n or m", "proof")
        n, m = 1 << data[5], 1 << data[6]
        if n not in VALID_N:
            raise EncodingError(f"range proof: n = {n} not supported", "proof")
        return cls.from_body(data[7:], n, m, backend)

    def to_json(self) -> dict[str, Any]:
        """The proof as a JSON-ready dict (hex-encoded elements)."""
        return {"type": "zkmargin.RangeProof", "version": RANGE_VERSION, "hex": self.to_bytes().hex()}

    @classmethod
    def from_json(cls, obj: dict[str, Any], backend: str | Group = "native") -> RangeProof:
        json_object(obj, "zkmargin.RangeProof", RANGE_VERSION, ["hex"])
        return cls.from_bytes(json_hex(obj, "range proof"), backend)


def _append_point(t: Transcript, group: Group, label: bytes, p: Any) -> None:
    if group.is_identity(p):
        # An identity A, S, T_i, L_i or R_i happens with negligible probability for an
        # honest prover; the verifier rejects it, so the prover must not emit it.
        raise ProofError(f"{label.decode()} is the identity; retry with fresh randomness")
    t.append(label, group.encode(p))


def prove_core(
    group: Group,
    gens: Generators,
    t: Transcript,
    values: Sequence[int],
    blindings: Sequence[int],
    n: int,
    rng: Rng,
    *,
    check_range: bool = True,
) -> RangeProof:
    """Prove ``values[j] in [0, 2^n)`` for the commitments ``values[j] G + blindings[j] H``
    (already bound into ``t`` by the caller). Pads to a power of two with zero values."""
    m = padded_m(len(values))
    check_nm(n, m)
    if len(blindings) != len(values):
        raise ParameterError("values and blindings differ in length", "blindings")
    if check_range:
        for j, v in enumerate(values):
            if not 0 <= v < (1 << n):
                raise ParameterError(f"value {j} is not in [0, 2^{n})", "values", j)
    vals = [v % R for v in values] + [0] * (m - len(values))
    gam = [g % R for g in blindings] + [0] * (m - len(values))
    N = n * m
    g_vec, h_vec = gens.vectors(N)

    t.append(b"dom-sep", b"rangeproof")
    t.append_u64(b"n", n)
    t.append_u64(b"m", m)

    # Low n bits of each value: for an out-of-range value this is the wrong witness and the
    # proof fails verification (used by the soundness tests through check_range=False).
    randomness = group.random_scalars(rng, 2 * N + 4)
    prover = group.range_prover(g_vec, h_vec, gens.G, gens.H, vals, gam, n, randomness)
    A, S = prover.commit()
    _append_point(t, group, b"A", A)
    _append_point(t, group, b"S", S)
    y = t.challenge(b"y")
    z = t.challenge(b"z")
    T1, T2 = prover.poly(y, z)
    _append_point(t, group, b"T1", T1)
    _append_point(t, group, b"T2", T2)
    x = t.challenge(b"x")
    t_hat, tau_x, mu = prover.evaluate(x)
    t.append_scalar(b"t_hat", t_hat)
    t.append_scalar(b"tau_x", tau_x)
    t.append_scalar(b"mu", mu)
    prover.ipa_begin(t.challenge(b"w"))
    Ls: list[bytes] = []
    Rs: list[bytes] = []
    t.append_u64(b"ipa-n", N)
    for _ in range(N.bit_length() - 1):
        Lp, Rp = prover.ipa_round()
        _append_point(t, group, b"L", Lp)
        _append_point(t, group, b"R", Rp)
        Ls.append(group.encode_compressed(Lp))
        Rs.append(group.encode_compressed(Rp))
        prover.ipa_fold(t.challenge(b"u"))
    a, b = prover.result()

    return RangeProof(
        n=n,
        m=m,
        A=group.encode_compressed(A),
        S=group.encode_compressed(S),
        T1=group.encode_compressed(T1),
        T2=group.encode_compressed(T2),
        t_hat=t_hat,
        tau_x=tau_x,
        mu=mu,
        L=tuple(Ls),
        R=tuple(Rs),
        a=a,
        b=b,
    )


@dataclass
class MsmCheck:
    """One proof's verification equation ``sum scalars * points == identity``, split into
    the inner-product data that fixes the coefficients of the shared generator vectors
    (``ipa`` = (n, m, y, z, a, b, [u_j])), the coefficients of G and H, and the proof's
    own points."""

    ipa: tuple[int, int, int, int, int, int, list[int]]
    G: int
    H: int
    points: list[Any]
    scalars: list[int]

    @property
    def length(self) -> int:
        return self.ipa[0] * self.ipa[1]


def verify_core(
    group: Group,
    t: Transcript,
    proof: RangeProof,
    bases: Sequence[Any],
    forms: Sequence[LinearForm],
    n: int,
    weight: int,
) -> MsmCheck | None:
    """Replay the transcript and return the weighted verification equation, or ``None``
    if the proof is structurally invalid (wrong n/m, identity points, zero challenge).
    ``forms[j]`` defines ``V_j`` over ``bases``; forms beyond ``len(forms)`` are padding
    commitments to zero."""
    try:
        return _verify_core(group, t, proof, bases, forms, n, weight)
    except (EncodingError, ZeroDivisionError):
        return None


def _verify_core(
    group: Group,
    t: Transcript,
    proof: RangeProof,
    bases: Sequence[Any],
    forms: Sequence[LinearForm],
    n: int,
    weight: int,
) -> MsmCheck | None:
    m = padded_m(len(forms))
    if proof.n != n or proof.m != m:
        return None
    check_nm(n, m)
    N = n * m
    k = N.bit_length() - 1
    if len(proof.L) != k or len(proof.R) != k:
        return None
    dec = group.decode_compressed
    A, S, T1, T2 = dec(proof.A), dec(proof.S), dec(proof.T1), dec(proof.T2)
    Ls = [dec(p) for p in proof.L]
    Rs = [dec(p) for p in proof.R]
    for p in (A, S, T1, T2, *Ls, *Rs):
        if group.is_identity(p):
            return None
    for sc in (proof.t_hat, proof.tau_x, proof.mu, proof.a, proof.b):
        if not 0 <= sc < R:
            return None

    t.append(b"dom-sep", b"rangeproof")
    t.append_u64(b"n", n)
    t.append_u64(b"m", m)
    t.append(b"A", group.encode(A))
    t.append(b"S", group.encode(S))
    y = t.challenge(b"y")
    z = t.challenge(b"z")
    t.append(b"T1", group.encode(T1))
    t.append(b"T2", group.encode(T2))
    x = t.challenge(b"x")
    t.append_scalar(b"t_hat", proof.t_hat)
    t.append_scalar(b"tau_x", proof.tau_x)
    t.append_scalar(b"mu", proof.mu)
    w = t.challenge(b"w")
    t.append_u64(b"ipa-n", N)
    us: list[int] = []
    for Lp, Rp in zip(Ls, Rs, strict=True):
        t.append(b"L", group.encode(Lp))
        t.append(b"R", group.encode(Rp))
        us.append(t.challenge(b"u"))

    # sum_{i<N} y^i in closed form (y = 1 only with probability 1/r)
    yp_sum = N % R if y == 1 else (pow(y, N, R) - 1) * pow(y - 1, -1, R) % R
    zz = powers(z, m + 3)
    a, b = proof.a, proof.b
    c = weight  # random weight combining the two checks (and batches)
    delta = ((z - z * z) * yp_sum - sum(zz[3 + j] for j in range(m)) * ((1 << n) - 1)) % R
    # Check 1 times c: sum_j z^{2+j} V_j + delta G + x T1 + x^2 T2 - t_hat G - tau_x H = 0,
    # with V_j = sum_k C_jk X_k + c_j G expanded so V_j is never materialised.
    base_sc = [0] * len(bases)
    const_sc = 0
    for j, f in enumerate(forms):
        zj = zz[2 + j]
        for idx, coef in f.terms:
            base_sc[idx] += zj * coef
        const_sc += zj * f.const
    G_sc = (w * (proof.t_hat - a * b) + c * (delta - proof.t_hat + const_sc)) % R
    H_sc = (-proof.mu - c * proof.tau_x) % R
    uinv = [pow(u, -1, R) for u in us]
    pts = [A, S, T1, T2, *Ls, *Rs, *bases]
    scs = [
        1,
        x,
        c * x % R,
        c * x * x % R,
        *[u * u % R for u in us],
        *[v * v % R for v in uinv],
        *[c * v % R for v in base_sc],
    ]
    return MsmCheck(ipa=(n, m, y, z, a, b, us), G=G_sc, H=H_sc, points=pts, scalars=scs)


def _random_weight() -> int:
    return secrets.randbelow(R - 1) + 1


def evaluate_checks(group: Group, gens: Generators, checks: Sequence[tuple[int, MsmCheck]]) -> bool:
    """Sum ``weight * check`` over all checks and test the single MSM for the identity."""
    if not checks:
        return True
    Nmax = max(ch.length for _, ch in checks)
    g_vec, h_vec = gens.vectors(Nmax)
    G_tot = 0
    H_tot = 0
    pts: list[Any] = []
    scs: list[int] = []
    ipa = []
    for wgt, ch in checks:
        ipa.append((*ch.ipa, wgt))
        G_tot += wgt * ch.G
        H_tot += wgt * ch.H
        pts.extend(ch.points)
        scs.extend(wgt * v % R for v in ch.scalars)
    gh = group.ipa_scalars(ipa, Nmax)
    allp = group.concat([g_vec, h_vec, group.vec([gens.G, gens.H, *pts])])
    total = group.msm_blocks(allp, [gh, [G_tot % R, H_tot % R, *scs]])
    return group.is_identity(total)


# ------------------------------------------------------------------ plain range proofs


def _range_transcript(group: Group, gens: Generators, commitments: Sequence[bytes]) -> Transcript:
    t = Transcript(group.keccak256, b"zkmargin/rangeproof/v1")
    t.append(b"generators", gens.label_digest())
    t.append_u64(b"count", len(commitments))
    for c in commitments:
        t.append(b"V", group.encode(group.decode_compressed(c)))
    return t


def prove_range(
    values: Sequence[int],
    blindings: Sequence[int] | None = None,
    n: int = 64,
    *,
    backend: str | Group = "native",
    rng: Rng | None = None,
) -> tuple[list[bytes], RangeProof]:
    """Commit each value (fresh blindings unless given) and prove all lie in ``[0, 2^n)``.
    Returns (compressed commitments, proof). The proof pads to a power of two."""
    values = _args.integers("values", values, -_ANY, _ANY)
    n = _args.integer("n", n, 0, 1 << 16)
    if blindings is not None:
        blindings = _args.integers("blindings", blindings, -_ANY, _ANY)
    group = get_group(backend)
    gens = generators(group)
    rng = rng or system_rng
    if not values:
        raise ParameterError("at least one value is required", "values")
    m = padded_m(len(values))
    check_nm(n, m)
    for j, v in enumerate(values):
        if not 0 <= v < (1 << n):
            raise ParameterError(f"value {j} is not in [0, 2^{n})", "values", j)
    bl = list(blindings) if blindings is not None else [random_scalar(rng) for _ in values]
    if len(bl) != len(values):
        raise ParameterError("values and blindings differ in length", "blindings")
    GH = group.vec([gens.G, gens.H])
    coms = [group.encode_compressed(group.msm(GH, [v % R, g % R])) for v, g in zip(values, bl, strict=True)]
    t = _range_transcript(group, gens, coms)
    proof = prove_core(group, gens, t, values, bl, n, rng)
    return coms, proof


def _range_check(
    group: Group, gens: Generators, commitments: Sequence[bytes], proof: RangeProof, n: int, weight: int
) -> MsmCheck | None:
    _args.instance("proof", proof, RangeProof)
    n = _args.integer("n", n, 0, 1 << 16)
    if not isinstance(commitments, (list, tuple)) or not all(isinstance(c, bytes) for c in commitments):
        raise ArgumentTypeError("commitments must be a sequence of bytes", "commitments")
    try:
        V = [group.decode_compressed(c) for c in commitments]
    except EncodingError:
        return None
    if not V or any(group.is_identity(v) for v in V):
        return None
    t = _range_transcript(group, gens, commitments)
    forms = [LinearForm(((j, 1),)) for j in range(len(V))]
    return verify_core(group, t, proof, V, forms, n, weight)


def verify_range(
    commitments: Sequence[bytes], proof: RangeProof, n: int = 64, *, backend: str | Group = "native"
) -> bool:
    """True iff ``proof`` shows every committed value is in ``[0, 2^n)``."""
    group = get_group(backend)
    gens = generators(group)
    ch = _range_check(group, gens, commitments, proof, n, _random_weight())
    return ch is not None and evaluate_checks(group, gens, [(1, ch)])


def batch_verify_range(
    items: Sequence[tuple[Sequence[bytes], RangeProof, int]], *, backend: str | Group = "native"
) -> bool:
    """All (commitments, proof, n) valid, checked with one MSM under random weights."""
    group = get_group(backend)
    gens = generators(group)
    checks: list[tuple[int, MsmCheck]] = []
    for coms, proof, n in items:
        ch = _range_check(group, gens, coms, proof, n, _random_weight())
        if ch is None:
            return False
        checks.append((_random_weight(), ch))
    return evaluate_checks(group, gens, checks)


def points_with_range_bytes(magic: bytes, version: int, points: Sequence[bytes], rp: RangeProof) -> bytes:
    """``magic || u8 version || u8 log2 n || u8 log2 m || u32 count || points || range body``:
    the layout of every proof that carries compressed points beside one range proof."""
    header = bytes([version, rp.n.bit_length() - 1, rp.m.bit_length() - 1])
    return b"".join([magic, header, u32(len(points)), *points, rp.body_bytes()])


def points_with_range_from_bytes(
    data: bytes,
    magic: bytes,
    version: int,
    what: str,
    check_count: Callable[[int, int], str | None],
    backend: str | Group = "native",
) -> tuple[tuple[bytes, ...], RangeProof]:
    """Strict decoder of :func:`points_with_range_bytes`. ``check_count(count, m)`` returns
    why a point count is refused (``None`` to accept); identity points are refused."""
    r = Reader(data, what)
    if r.take(4) != magic:
        raise EncodingError(f"{what}: bad magic", "proof")
    ver, ln, lm = r.take(3)
    if ver != version:
        raise EncodingError(f"{what}: unknown version {ver}", "proof")
    if ln > 6 or lm > 12:
        raise EncodingError(f"{what}: bad n or m", "proof")
    n, m = 1 << ln, 1 << lm
    try:
        check_nm(n, m)
    except ParameterError as e:
        raise EncodingError(f"{what}: {e}", "proof") from None
    count = r.u32()
    why = check_count(count, m)
    if why is not None:
        raise EncodingError(f"{what}: {why}", "proof")
    points = tuple(r.take(32) for _ in range(count))
    k = (n * m).bit_length() - 1
    body = r.take((2 * k + 9) * 32)
    r.done()
    group = get_group(backend)
    for i, pt in enumerate(points):
        if group.is_identity(group.decode_compressed(pt)):
            raise EncodingError(f"{what}: identity commitment", "proof", i)
    return points, RangeProof.from_body(body, n, m, backend)
