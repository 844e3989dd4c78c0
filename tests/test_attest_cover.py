"""Cover proofs (docs/proof-spec.md §12): public totals cover committed values, bound to
their label, context, totals and commitments; strict bytes and JSON."""

from __future__ import annotations

import pytest

from zkmargin.errors import EncodingError, ParameterError, ProofError
from zkmargin.proof import commit
from zkmargin.proof.cover import CoverProof, prove_cover, verify_cover

VALUES = [5_000, -(1 << 70)]  # a committed sum may be negative (net borrowed balances)
BLINDS = [123_456_789, 987_654_321]
COMS = [commit(v, r) for v, r in zip(VALUES, BLINDS, strict=True)]
TOTALS = [(1 << 100) + 5_000, 0]  # differences up to 2^(2n) with n = 64
CTX = bytes(range(32))


@pytest.fixture(scope="module")
def proof() -> CoverProof:
    return prove_cover(b"reserves", CTX, TOTALS, COMS, VALUES, BLINDS)


def test_cover_proof_verifies_and_binds_everything(proof: CoverProof) -> None:
    assert verify_cover(b"reserves", CTX, TOTALS, COMS, proof)
    assert not verify_cover(b"insurance-fund", CTX, TOTALS, COMS, proof)
    assert not verify_cover(b"reserves", bytes(32), TOTALS, COMS, proof)
    assert not verify_cover(b"reserves", CTX, [TOTALS[0] - 1, TOTALS[1]], COMS, proof)
    assert not verify_cover(b"reserves", CTX, [TOTALS[0], TOTALS[1] + 1], COMS, proof)
    assert not verify_cover(b"reserves", CTX, TOTALS, COMS[::-1], proof)
    assert not verify_cover(b"reserves", CTX, TOTALS[:1], COMS[:1], proof)
    assert not verify_cover(b"reserves", CTX, TOTALS, COMS, proof, n=32)


def test_totals_that_do_not_cover_are_refused() -> None:
    with pytest.raises(ProofError, match="does not cover"):
        prove_cover(b"reserves", CTX, [4_999], COMS[:1], VALUES[:1], BLINDS[:1])
    with pytest.raises(ProofError, match="does not cover"):  # beyond the 2^(2n) headroom
        prove_cover(b"reserves", CTX, [(1 << 127) - 1], [commit(-(1 << 10), 7)], [-(1 << 10)], [7], n=32)
    with pytest.raises(ProofError, match="does not open"):
        prove_cover(b"reserves", CTX, [10_000], COMS[:1], [5_001], BLINDS[:1])
    with pytest.raises(ParameterError):
        prove_cover(b"reserves", CTX, [-1], COMS[:1], VALUES[:1], BLINDS[:1])


def test_cover_proof_codecs(proof: CoverProof) -> None:
    raw = proof.to_bytes()
    assert raw[:5] == b"ZKMV\x01"
    assert CoverProof.from_bytes(raw) == proof
    assert CoverProof.from_json(proof.to_json()) == proof
    for bad in (raw[:-1], raw + b"\x00", b"ZKMX" + raw[4:], raw[:4] + b"\x02" + raw[5:]):
        with pytest.raises(EncodingError):
            CoverProof.from_bytes(bad)
    # a count that does not match m
    with pytest.raises(EncodingError):
        CoverProof.from_bytes(raw[:7] + (3).to_bytes(4, "big") + raw[11:])
    for obj in ({**proof.to_json(), "version": True}, {**proof.to_json(), "hex": raw.hex().upper()}):
        with pytest.raises(EncodingError):
            CoverProof.from_json(obj)


def test_a_prover_that_skips_the_checks_cannot_cover_a_deficit() -> None:
    """A malicious prover runs the protocol on T - c = -1 (mod r a huge value): whatever
    limbs it picks, one is out of range and the proof fails."""
    from zkmargin.proof import get_group
    from zkmargin.proof._field import R
    from zkmargin.proof._scalars import system_rng
    from zkmargin.proof.cover import _transcript
    from zkmargin.proof.generators import generators
    from zkmargin.proof.rangeproof import prove_core

    group = get_group("native")
    gens = generators(group)
    GH = group.vec([gens.G, gens.H])
    total, value, blind = 4_999, VALUES[0], BLINDS[0]
    d = (total - value) % R
    for hi in (d >> 64, 0, (1 << 64) - 1):  # the honest split of d mod r, and two guesses
        g = 42
        H = group.msm(GH, [hi % R, g])
        t = _transcript(group, b"reserves", CTX, [total], [group.decode_compressed(COMS[0])], [H])
        vals = [hi % R, (d - (hi << 64)) % R]
        gams = [g, (-blind - (g << 64)) % R]
        rp = prove_core(group, gens, t, vals, gams, 64, system_rng, check_range=False)
        forged = CoverProof((group.encode_compressed(H),), rp)
        assert not verify_cover(b"reserves", CTX, [total], COMS[:1], forged)
