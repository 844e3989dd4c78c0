"""Aggregated Bulletproofs range proofs: completeness, soundness attacks, encodings,
batching, and bit-identical proofs from the native and pyecc backends."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers.budget import scaled
from helpers.proof_encodings import x_plus_p
from zkmargin.errors import EncodingError, ParameterError
from zkmargin.proof import RangeProof, batch_verify_range, prove_range, verify_range
from zkmargin.proof.generators import generators
from zkmargin.proof.group import R, get_group
from zkmargin.proof.rangeproof import _range_transcript, prove_core

NAT = get_group("native")


@scaled(0.13)  # each example proves and verifies with both backends
@given(
    n=st.sampled_from([8, 16]),
    data=st.data(),
)
def test_completeness_random_values(n: int, data: st.DataObject) -> None:
    vals = data.draw(st.lists(st.integers(0, (1 << n) - 1), min_size=1, max_size=5))
    coms, pr = prove_range(vals, n=n)
    assert pr.m == (1 if len(vals) == 1 else 2 if len(vals) == 2 else 4 if len(vals) <= 4 else 8)
    assert verify_range(coms, pr, n)


def test_edges_at_64_bits() -> None:
    coms, pr = prove_range([0, (1 << 64) - 1, 1 << 63], n=64)
    assert verify_range(coms, pr, 64)


@pytest.mark.parametrize(("n", "m"), [(8, 1), (16, 4), (32, 2), (64, 1), (64, 16)])
def test_proof_size_is_2log_nm_plus_9(n: int, m: int) -> None:
    _, pr = prove_range([1] * m, n=n)
    k = (n * m).bit_length() - 1
    assert pr.size_elements == 2 * k + 9
    assert len(pr.body_bytes()) == (2 * k + 9) * 32
    assert len(pr.to_bytes()) == 7 + (2 * k + 9) * 32


def test_out_of_range_value_refused_and_forgery_fails() -> None:
    with pytest.raises(ParameterError):
        prove_range([256], n=8)
    with pytest.raises(ParameterError):
        prove_range([-1], n=8)
    with pytest.raises(ParameterError):
        prove_range([1], n=12)
    # a cheating prover that ignores the range check (low n bits of an out-of-range value,
    # or of (r-1)/2, i.e. a "negative" wrap-around value) produces a proof that fails
    gens = generators(NAT)
    for bad in (256 + 3, (R - 1) // 2, R - 1):
        blind = 12345
        com = NAT.encode_compressed(NAT.msm(NAT.vec([gens.G, gens.H]), [bad % R, blind]))
        t = _range_transcript(NAT, gens, [com])
        pr = prove_core(NAT, gens, t, [bad], [blind], 8, random.Random(1).randrange, check_range=False)
        assert not verify_range([com], pr, 8)


def _small() -> tuple[list[bytes], RangeProof]:
    return prove_range([7, 200], n=8)


def test_every_bit_flip_is_rejected() -> None:
    coms, pr = prove_range([77], n=8)
    raw = pr.to_bytes()
    assert verify_range(coms, RangeProof.from_bytes(raw), 8)
    rejected = 0
    for byte in range(len(raw)):
        for bit in range(8):
            b = bytearray(raw)
            b[byte] ^= 1 << bit
            try:
                p2 = RangeProof.from_bytes(bytes(b))
            except EncodingError:
                rejected += 1
                continue
            assert not verify_range(coms, p2, 8), (byte, bit)
            rejected += 1
    assert rejected == 8 * len(raw)


def test_changed_public_inputs_rejected() -> None:
    coms, pr = _small()
    assert verify_range(coms, pr, 8)
    other, _ = prove_range([7, 200], n=8)
    assert not verify_range([other[0], coms[1]], pr, 8)  # a commitment changed
    assert not verify_range([coms[1], coms[0]], pr, 8)  # order changed
    assert not verify_range(coms, pr, 16)  # n changed
    assert not verify_range(coms[:1], pr, 8)  # m changed
    assert not verify_range([*coms, other[0]], pr, 8)
    assert not verify_range(coms, replace(pr, t_hat=(pr.t_hat + 1) % R), 8)
    assert not verify_range(coms, replace(pr, a=(pr.a + 1) % R), 8)
    assert not verify_range(coms, replace(pr, L=(pr.L[1], pr.L[0], *pr.L[2:])), 8)


def test_two_proofs_of_same_witness_differ() -> None:
    c1, p1 = prove_range([5, 6], [11, 12], n=8)
    c2, p2 = prove_range([5, 6], [11, 12], n=8)
    assert c1 == c2
    assert p1.to_bytes() != p2.to_bytes()
    assert verify_range(c1, p1, 8) and verify_range(c2, p2, 8)


def test_batch_verification() -> None:
    items = [(*prove_range([i, 2 * i + 1], n=8), 8) for i in range(3)]
    items.append((*prove_range([1000, 5, 6], n=16), 16))
    assert batch_verify_range(items)
    assert batch_verify_range([])
    bad = list(items)
    bad[1] = (items[1][0], items[2][1], 8)  # proof of another statement
    assert not batch_verify_range(bad)
    coms, pr, n = items[0]
    tweaked = replace(pr, tau_x=(pr.tau_x + 1) % R)
    assert not batch_verify_range([*items[1:], (coms, tweaked, n)])


def test_native_and_pyecc_identical_bytes_and_cross_verify() -> None:
    pytest.importorskip("py_ecc")
    pytest.importorskip("Crypto")
    c1, p1 = prove_range([3, 250], [9, 10], n=8, rng=random.Random(42).randrange, backend="native")
    c2, p2 = prove_range([3, 250], [9, 10], n=8, rng=random.Random(42).randrange, backend="pyecc")
    assert c1 == c2
    assert p1.to_bytes() == p2.to_bytes()
    assert verify_range(c2, p2, 8, backend="pyecc")
    assert verify_range(c1, p2, 8, backend="native")
    assert not verify_range(c1, replace(p2, mu=(p2.mu + 1) % R), 8, backend="pyecc")


def test_encodings_roundtrip_and_strictness() -> None:
    _coms, pr = _small()
    raw = pr.to_bytes()
    assert RangeProof.from_bytes(raw) == pr
    assert RangeProof.from_json(pr.to_json()) == pr
    with pytest.raises(EncodingError):
        RangeProof.from_bytes(raw[:-1])  # truncated
    with pytest.raises(EncodingError):
        RangeProof.from_bytes(raw + b"\x00")
    with pytest.raises(EncodingError):
        RangeProof.from_bytes(b"XXXX" + raw[4:])
    with pytest.raises(EncodingError):
        RangeProof.from_bytes(raw[:4] + b"\x09" + raw[5:])  # unknown version
    with pytest.raises(EncodingError):
        RangeProof.from_bytes(raw[:5] + b"\x02" + raw[6:])  # n = 4 is not supported
    with pytest.raises(EncodingError):
        RangeProof.from_json({"type": "zkmargin.RangeProof", "hex": "zz"})
    head = 7
    # scalar + r at t_hat (element 4)
    t_hat = int.from_bytes(raw[head + 4 * 32 : head + 5 * 32], "big")
    if t_hat + R < 1 << 256:
        b = raw[: head + 128] + (t_hat + R).to_bytes(32, "big") + raw[head + 160 :]
        with pytest.raises(EncodingError):
            RangeProof.from_bytes(b)
    # identity as A
    with pytest.raises(EncodingError):
        RangeProof.from_bytes(raw[:head] + b"\x40" + bytes(31) + raw[head + 32 :])
    # x + p in a point slot (keep the flag bits); x + p must stay below 2^254 to be
    # expressible next to the flags, so use the first point of a seeded proof where it does
    _, pr = prove_range([7, 200], [5, 6], n=8, rng=random.Random(2).randrange)
    raw = pr.to_bytes()
    k = (pr.n * pr.m).bit_length() - 1
    slots = [0, 1, 2, 3, *range(7, 7 + 2 * k)]
    for slot in slots:
        bad = x_plus_p(raw, head + 32 * slot)
        if bad is not None:
            with pytest.raises(EncodingError):
                RangeProof.from_bytes(bad)
            break
    else:
        pytest.fail("no point with x + p < 2^254 in the proof")


def test_native_ipa_scalars_match_python_reference() -> None:
    from zkmargin.proof.group import Group

    rnd = random.Random(5)

    def sc() -> int:
        return rnd.randrange(1, R)

    checks = [
        (8, 2, sc(), sc(), sc(), sc(), [sc() for _ in range(4)], sc()),
        (16, 4, sc(), sc(), sc(), sc(), [sc() for _ in range(6)], sc()),
        (64, 1, sc(), sc(), sc(), sc(), [sc() for _ in range(6)], 1),
    ]
    native = NAT.ipa_scalars(checks, 64)
    reference = Group.ipa_scalars(NAT, checks, 64)
    assert native == b"".join(v.to_bytes(32, "big") for v in reference)
    with pytest.raises(ParameterError):
        Group.ipa_scalars(NAT, checks, 32)  # a check longer than the vectors
    with pytest.raises(ValueError):
        NAT.ipa_scalars(checks, 32)


def test_wide_randomness_reduction_matches_python() -> None:
    from zkmargin import _core
    from zkmargin.proof.group import scalars_to_bytes

    raw = b"\xff" * 64 + random.Random(3).randbytes(64 * 40)
    want = [int.from_bytes(raw[i : i + 64], "big") % R for i in range(0, len(raw), 64)]
    assert _core.curve.scalars_from_wide(raw) == scalars_to_bytes(want)
    with pytest.raises(EncodingError):
        _core.curve.scalars_from_wide(raw[:-1])


def test_native_prover_steps_in_order_only() -> None:
    gens = generators(NAT)
    g_vec, h_vec = gens.vectors(16)
    rnd = NAT.random_scalars(random.Random(4).randrange, 36)
    with pytest.raises(ValueError):  # randomness of the wrong length
        NAT.range_prover(g_vec, h_vec, gens.G, gens.H, [5, 6], [7, 8], 8, rnd[:-32])
    p = NAT.range_prover(g_vec, h_vec, gens.G, gens.H, [5, 6], [7, 8], 8, rnd)
    with pytest.raises(ParameterError):
        p.evaluate(3)
    p.commit()
    with pytest.raises(ParameterError):
        p.commit()
