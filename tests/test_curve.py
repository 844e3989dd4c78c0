"""BN254 G1: native (Rust) vs pyecc (py_ecc) backends, encodings, generator derivation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers.budget import scaled
from zkmargin import _core
from zkmargin.errors import EncodingError, ShapeError
from zkmargin.proof import generators
from zkmargin.proof.generators import GVEC_PREFIX, H_LABEL, HVEC_PREFIX
from zkmargin.proof.group import P, R, get_group, scalars_to_bytes

bn = pytest.importorskip("py_ecc.optimized_bn128")
keccak = pytest.importorskip("Crypto.Hash.keccak")

NAT = get_group("native")
PY = get_group("pyecc")
scalar = st.integers(min_value=0, max_value=R - 1)
# every example runs several pure-Python (py_ecc) curve operations: a fifth of the budget
FAST = scaled(0.2)


def _ref_hash_to_curve(label: bytes) -> tuple[int, int]:
    """An independent re-implementation of docs/proof-spec.md §4 (big ints + pycryptodome)."""
    ctr = 0
    while True:
        h = keccak.new(digest_bits=256, data=label + ctr.to_bytes(4, "big")).digest()
        x = int.from_bytes(h, "big") % P
        rhs = (x**3 + 3) % P
        y = pow(rhs, (P + 1) // 4, P)
        if y * y % P == rhs:
            return x, (y if y % 2 == 0 else P - y)
        ctr += 1


def test_constants_match_py_ecc() -> None:
    assert bn.field_modulus == P
    assert bn.curve_order == R
    assert NAT.encode(NAT.generator()) == (1).to_bytes(32, "big") + (2).to_bytes(32, "big")
    assert PY.encode(PY.generator()) == NAT.encode(NAT.generator())


def test_keccak_known_answers() -> None:
    empty = "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    assert NAT.keccak256(b"").hex() == empty
    assert PY.keccak256(b"").hex() == empty
    assert NAT.keccak256(b"zkmargin" * 40) == PY.keccak256(b"zkmargin" * 40)


@FAST
@given(a=scalar, b=scalar)
def test_scalar_mul_and_add_match(a: int, b: int) -> None:
    na, nb = NAT.mul(NAT.generator(), a), NAT.mul(NAT.generator(), b)
    pa, pb = PY.mul(PY.generator(), a), PY.mul(PY.generator(), b)
    assert NAT.encode(na) == PY.encode(pa)
    assert NAT.encode(NAT.add(na, nb)) == PY.encode(PY.add(pa, pb))
    assert NAT.encode(NAT.sub(na, nb)) == PY.encode(PY.sub(pa, pb))
    assert NAT.encode_compressed(na) == PY.encode_compressed(pa)
    # a*G + b*G == (a+b)*G
    assert NAT.eq(NAT.add(na, nb), NAT.mul(NAT.generator(), (a + b) % R))
    # round trips through both encodings on both backends
    for g, p in ((NAT, na), (PY, pa)):
        assert g.eq(g.decode(g.encode(p)), p)
        assert g.eq(g.decode_compressed(g.encode_compressed(p)), p)


@scaled(0.07)  # a pure-Python MSM of up to 20 points an example
@given(scalars=st.lists(scalar, min_size=1, max_size=20))
def test_msm_matches_across_backends_and_naive(scalars: list[int]) -> None:
    k = len(scalars)
    nv = NAT.derive(b"test/msm", 0, k)
    pv = PY.derive(b"test/msm", 0, k)
    got = NAT.encode(NAT.msm(nv, scalars))
    assert got == PY.encode(PY.msm(pv, scalars))
    naive = NAT.identity()
    for i, s in enumerate(scalars):
        naive = NAT.add(naive, NAT.mul(NAT.get(nv, i), s))
    assert got == NAT.encode(naive)


def test_large_msm_parallel_path_matches_small_pieces() -> None:
    # 3000 terms crosses the Rust parallel threshold; compare against chunked MSMs
    import secrets

    v = NAT.derive(b"test/msm-big", 0, 3000)
    sc = [secrets.randbelow(R) for _ in range(3000)]
    whole = NAT.msm(v, sc)
    parts = NAT.identity()
    for lo in range(0, 3000, 250):
        parts = NAT.add(parts, NAT.msm(NAT.slice(v, lo, lo + 250), sc[lo : lo + 250]))
    assert NAT.eq(whole, parts)


@FAST
@given(a=scalar, b=scalar, w=st.lists(scalar, min_size=8, max_size=8))
def test_folds_match(a: int, b: int, w: list[int]) -> None:
    nlo, nhi = NAT.derive(b"t/lo", 0, 4), NAT.derive(b"t/hi", 0, 4)
    plo, phi = PY.derive(b"t/lo", 0, 4), PY.derive(b"t/hi", 0, 4)
    for nf, pf in (
        (NAT.fold(nlo, nhi, a, b), PY.fold(plo, phi, a, b)),
        (NAT.fold(nlo, nhi, 1, b), PY.fold(plo, phi, 1, b)),
        (NAT.fold_weighted(nlo, nhi, w[:4], w[4:]), PY.fold_weighted(plo, phi, w[:4], w[4:])),
    ):
        assert [NAT.encode(NAT.get(nf, i)) for i in range(4)] == [PY.encode(p) for p in pf]
    direct = NAT.add(NAT.mul(NAT.get(nlo, 2), a), NAT.mul(NAT.get(nhi, 2), b))
    assert NAT.eq(NAT.get(NAT.fold(nlo, nhi, a, b), 2), direct)


@pytest.mark.parametrize("label", [b"", b"zkmargin", H_LABEL, b"\x00" * 70])
def test_hash_to_curve_matches_reference(label: bytes) -> None:
    x, y = _ref_hash_to_curve(label)
    want = x.to_bytes(32, "big") + y.to_bytes(32, "big")
    assert NAT.encode(NAT.hash_to_curve(label)) == want
    assert PY.encode(PY.hash_to_curve(label)) == want


def test_generators_rederived_from_labels() -> None:
    gens = generators(NAT)
    x, y = _ref_hash_to_curve(H_LABEL)
    assert NAT.encode(gens.H) == x.to_bytes(32, "big") + y.to_bytes(32, "big")
    g, h = gens.vectors(16)
    for i in (0, 1, 7, 15):
        for prefix, vec in ((GVEC_PREFIX, g), (HVEC_PREFIX, h)):
            x, y = _ref_hash_to_curve(prefix + i.to_bytes(4, "big"))
            assert NAT.encode(NAT.get(vec, i)) == x.to_bytes(32, "big") + y.to_bytes(32, "big")
    # the pyecc backend derives the very same vectors
    pg, ph = generators(PY).vectors(4)
    assert [PY.encode(p) for p in pg] == [NAT.encode(NAT.get(g, i)) for i in range(4)]
    assert [PY.encode(p) for p in ph] == [NAT.encode(NAT.get(h, i)) for i in range(4)]
    # all distinct
    enc = {NAT.encode(NAT.get(g, i)) for i in range(16)} | {NAT.encode(NAT.get(h, i)) for i in range(16)}
    assert len(enc) == 32


def test_identity_encodings() -> None:
    for g in (NAT, PY):
        z = g.identity()
        assert g.encode(z) == bytes(64)
        assert g.encode_compressed(z) == b"\x40" + bytes(31)
        assert g.is_identity(g.decode(bytes(64)))
        assert g.is_identity(g.decode_compressed(b"\x40" + bytes(31)))
        assert g.is_identity(g.mul(g.generator(), 0))
        assert g.is_identity(g.add(g.generator(), g.neg(g.generator())))


def _non_residue_x() -> int:
    x = 0
    while pow((x**3 + 3) % P, (P - 1) // 2, P) == 1:
        x += 1
    return x


@pytest.mark.parametrize("backend", ["native", "pyecc"])
def test_decoders_reject_malformed(backend: str) -> None:
    g = get_group(backend)
    gen = g.encode(g.generator())
    x, y = int.from_bytes(gen[:32], "big"), int.from_bytes(gen[32:], "big")
    bad_evm = [
        (x + P).to_bytes(32, "big") + gen[32:],  # x + p: same residue, non-canonical
        gen[:32] + (y + P).to_bytes(32, "big"),  # y + p
        gen[:32] + (3).to_bytes(32, "big"),  # (1, 3) is off the curve
        (2**256 - 1).to_bytes(32, "big") + gen[32:],
        bytes(63),
        gen + b"\x00",
        b"",
    ]
    for b in bad_evm:
        with pytest.raises(EncodingError):
            g.decode(b)
    c = g.encode_compressed(g.generator())
    nr = _non_residue_x().to_bytes(32, "big")
    bad_comp = [
        (int.from_bytes(c, "big") + P).to_bytes(32, "big"),  # x + p (flag bits untouched)
        P.to_bytes(32, "big"),
        nr,  # x^3 + 3 is not a square
        b"\x40" + bytes(30) + b"\x01",  # infinity flag with payload
        b"\xc0" + c[1:],  # both flags
        c[:31],
        c + b"\x00",
    ]
    for b in bad_comp:
        with pytest.raises(EncodingError):
            g.decode_compressed(b)


def test_scalars_must_be_canonical() -> None:
    G = NAT.generator()
    for s in (R, R + 5, -1, 2**256):
        with pytest.raises(EncodingError):
            NAT.mul(G, s)
        with pytest.raises(EncodingError):
            PY.mul(PY.generator(), s)
    v = NAT.derive(b"t", 0, 2)
    with pytest.raises(EncodingError):
        _core.curve.msm(v, scalars_to_bytes([1]) + R.to_bytes(32, "big"))
    with pytest.raises(EncodingError):
        _core.curve.msm(v, b"\x01" * 33)  # not a multiple of 32 bytes
    with pytest.raises(ShapeError):
        _core.curve.msm(v, scalars_to_bytes([1]))
    with pytest.raises(ShapeError):
        NAT.fold(v, NAT.derive(b"t", 0, 3), 1, 2)
    with pytest.raises(EncodingError):
        _core.curve.G1Point.generator().mul(bytes(31))


def test_point_vector_bytes_roundtrip() -> None:
    v = NAT.derive(b"t/v", 0, 5)
    raw = v.to_evm_bytes()
    assert len(raw) == 5 * 64
    w = _core.curve.G1Vec.from_evm_bytes(raw)
    assert [NAT.encode(NAT.get(w, i)) for i in range(5)] == [NAT.encode(NAT.get(v, i)) for i in range(5)]
    with pytest.raises(EncodingError):
        _core.curve.G1Vec.from_evm_bytes(raw[:-1])
    bad = bytearray(raw)
    bad[64 + 63] ^= 1
    with pytest.raises(EncodingError):
        _core.curve.G1Vec.from_evm_bytes(bytes(bad))
