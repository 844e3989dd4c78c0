"""Portfolio-margin solvency proofs: completeness against the engine, the rounding bound,
refusal of insolvent accounts, and the attack catalogue of issue 3."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import zkmargin
from helpers.attest_fixtures import ENG, INS, MARKET, SCEN
from helpers.budget import scaled
from helpers.proof_encodings import x_plus_p
from zkmargin import Accounts, MarginEngine
from zkmargin.errors import EncodingError, InsolventError, ParameterError, ProofError
from zkmargin.proof import (
    AccountCommitment,
    AccountOpening,
    LedgerUpdate,
    SolvencyProof,
    SolvencyStatement,
    batch_verify_solvency,
    build_statement,
    commit,
    commit_account,
    default_balance_decimals,
    prove_solvency,
    proven_requirement,
    verify_solvency,
)
from zkmargin.proof.group import P, R

BD = default_balance_decimals(MARKET.asset_price)
NI = len(INS)


def account(rows: dict[int, float], usdc: float, btc: float = 0.0) -> Accounts:
    ins = sorted(rows)
    return Accounts([0, len(ins)], ins, [rows[i] for i in ins], [[usdc, btc]])


def setup(
    rows: dict[int, float],
    usdc: float,
    btc: float = 0.0,
    mode: str = "subset",
    aid: str = "alice",
    epoch: int = 7,
) -> tuple[Accounts, SolvencyStatement, AccountCommitment, AccountOpening]:
    acc = account(rows, usdc, btc)
    com, op = commit_account(acc, 0, n_instruments=NI, balance_decimals=BD, mode=mode)
    return acc, build_statement(ENG, MARKET, com, aid, epoch), com, op


@pytest.fixture(scope="module")
def base() -> tuple[Accounts, SolvencyStatement, AccountCommitment, AccountOpening, SolvencyProof]:
    acc, stm, com, op = setup({1: 2.5, 3: -1.2, 4: 0.7}, usdc=40_000.0, btc=0.3)
    pr = prove_solvency(stm, com, op)
    return acc, stm, com, op, pr


def engine_surplus(acc: Accounts) -> tuple[float, float]:
    res = ENG.compute(acc, MARKET, "portfolio")
    return float(res.equity[0]), float(res.maintenance_margin[0])


def rounding_bound(stm: SolvencyStatement, op: AccountOpening) -> float:
    """docs/proof-spec.md §2.5: < 4 money units per quantity unit held, 1 per balance unit,
    plus the balance floor to its decimals (one balance unit at the collateral price)."""
    units = 4 * sum(abs(q) for q in op.quantities) + sum(abs(b) for b in op.balances)
    floor_loss = sum(
        float(MARKET.asset_price[j]) * (1 + float(MARKET.haircut[j])) * 10.0**-d for j, d in enumerate(BD)
    )
    return units * 10.0**-stm.money_decimals + floor_loss


held = st.dictionaries(
    st.integers(0, NI - 1),
    st.integers(-60, 60).filter(lambda k: k != 0).map(lambda k: k / 10),
    min_size=1,
    max_size=4,
)


@scaled(0.08)  # each example builds and verifies a whole solvency proof
@given(rows=held, mode=st.sampled_from(["subset", "full"]), btc=st.sampled_from([0.0, 0.5, -0.1]))
def test_completeness_and_rounding_bound(rows: dict[int, float], mode: str, btc: float) -> None:
    acc, stm, com, op = setup(rows, usdc=2_000_000.0, btc=btc, mode=mode)
    eq, mm = engine_surplus(acc)
    peq, preq = proven_requirement(stm, op)
    scale = 10.0**-stm.money_decimals
    # never weaker: proven equity <= engine equity, proven requirement >= engine MM ...
    tol = 1e-12 * (1 + abs(eq) + abs(mm)) + 1e-7  # the engine's own float error
    assert peq * scale <= eq + tol
    assert preq * scale >= mm - tol
    # ... and stronger by at most the documented bound
    assert (eq - mm) - (peq - preq) * scale <= rounding_bound(stm, op) + 1e-6
    pr = prove_solvency(stm, com, op)
    assert verify_solvency(stm, com, pr)
    assert pr.range_proof.size_elements == 2 * (64 * pr.range_proof.m).bit_length() - 2 + 9


def test_insolvent_account_is_refused() -> None:
    acc, stm, com, op = setup({3: -5.0, 4: -5.0}, usdc=100.0)
    eq, mm = engine_surplus(acc)
    assert eq < mm
    with pytest.raises(InsolventError):
        prove_solvency(stm, com, op)
    # a prover that pushes on anyway gets a proof that does not verify
    forged = prove_solvency(stm, com, op, _unchecked=True)
    assert not verify_solvency(stm, com, forged)


def test_solvent_by_engine_but_within_rounding_is_refused_not_forged() -> None:
    # collateral exactly the engine's MM minus equity-from-mtm: the conservative rounding
    # makes the proven statement fail, so the prover must refuse
    acc = account({1: 3.0}, usdc=0.0)
    eq, mm = engine_surplus(acc)
    acc2 = account({1: 3.0}, usdc=mm - eq + 1e-7)
    com, op = commit_account(acc2, 0, n_instruments=NI, balance_decimals=BD)
    stm = build_statement(ENG, MARKET, com, "edge", 1)
    e2, m2 = engine_surplus(acc2)
    assert e2 >= m2 - 1e-6
    with pytest.raises(InsolventError):
        prove_solvency(stm, com, op)


def test_out_of_bound_quantity_cannot_wrap() -> None:
    _acc, stm, com, op = setup({1: 1.0}, usdc=50_000.0)
    for bad_q in ((R - 1) // 2, 1 << 64, -(1 << 64)):
        blind = 987654321
        Q = commit(bad_q, blind)
        com2 = replace(com, positions=(Q,))
        op2 = replace(op, quantities=(bad_q,), position_blindings=(blind,))
        with pytest.raises(ParameterError):
            prove_solvency(stm, com2, op2)
        forged = prove_solvency(stm, com2, op2, _unchecked=True)
        assert not verify_solvency(stm, com2, forged)
    # r - 1 is -1: a legitimate short of one quantity unit
    com3 = replace(com, positions=(commit(R - 1, 5),))
    op3 = replace(op, quantities=(-1,), position_blindings=(5,))
    assert verify_solvency(stm, com3, prove_solvency(stm, com3, op3))


def test_quantity_scale_and_bound_refused() -> None:
    with pytest.raises(ParameterError, match="multiple"):
        commit_account(account({1: 0.1234567}, 1.0), 0, n_instruments=NI, balance_decimals=BD)
    with pytest.raises(ParameterError, match="bound"):
        commit_account(account({1: 1e13}, 1.0), 0, n_instruments=NI, balance_decimals=BD)
    # float noise such as 48 * 0.1 is accepted as the exact decimal 4.8
    _com, op = commit_account(account({1: 48 * 0.1}, 1.0), 0, n_instruments=NI, balance_decimals=BD)
    assert op.quantities == (4_800_000,)


def test_every_public_input_is_bound(base: Any) -> None:
    _, stm, com, _, pr = base
    assert verify_solvency(stm, com, pr)
    i0 = 0

    def bump(arr: tuple[int, ...], k: int, d: int = 1) -> tuple[int, ...]:
        return tuple(v + d if j == k else v for j, v in enumerate(arr))

    variants = {
        "account_id": replace(stm, account_id="mallory"),
        "epoch": replace(stm, epoch=stm.epoch + 1),
        "n": replace(stm, n=32),
        "aggregation": replace(stm, aggregation="joint"),
        "loss": replace(stm, loss_lo=bump(stm.loss_lo, i0), loss_hi=bump(stm.loss_hi, i0)),
        "loss_last": replace(
            stm,
            loss_lo=bump(stm.loss_lo, len(stm.loss_lo) - 1),
            loss_hi=bump(stm.loss_hi, len(stm.loss_hi) - 1),
        ),
        "roll": replace(stm, roll_lo=bump(stm.roll_lo, i0), roll_hi=bump(stm.roll_hi, i0)),
        "mtm": replace(stm, mtm_lo=bump(stm.mtm_lo, 1), mtm_hi=bump(stm.mtm_hi, 1)),
        "som": replace(stm, som_hi=bump(stm.som_hi, 1)),
        "coll_lo": replace(stm, coll_lo=bump(stm.coll_lo, 1, -1)),
        "coll_hi": replace(stm, coll_hi=bump(stm.coll_hi, 0)),
        "balance_decimals": replace(stm, balance_decimals=bump(stm.balance_decimals, 0)),
        "universe": replace(stm, universe_size=stm.universe_size + 1),
        "buckets": replace(stm, n_buckets=1, buckets=(0,) * len(stm.buckets)),
    }
    for name, v in variants.items():
        assert v != stm, name
        assert not verify_solvency(v, com, pr), name
    # a commitment changed (another valid commitment to the same quantity), each slot
    for k in range(len(com.positions)):
        pos = list(com.positions)
        pos[k] = commit(7, 1234)
        assert not verify_solvency(stm, replace(com, positions=tuple(pos)), pr)
    bal = list(com.balances)
    bal[1] = commit(1, 99)
    assert not verify_solvency(stm, replace(com, balances=tuple(bal)), pr)
    # a disclosed instrument set that differs from the statement's
    other = replace(com, instruments=(1, 3, 5))
    assert not verify_solvency(stm, other, pr)
    # an auxiliary commitment changed
    aux = list(pr.aux)
    aux[0] = commit(1, 2)
    assert not verify_solvency(stm, com, replace(pr, aux=tuple(aux)))
    assert not verify_solvency(stm, com, replace(pr, aux=pr.aux[:-1]))


def test_m_is_bound(base: Any) -> None:
    _, stm, com, _op, pr = base
    # a proof made for a statement with a different number of values (m) does not verify
    _, stm2, com2, op2 = setup({1: 2.5}, usdc=40_000.0)
    pr2 = prove_solvency(stm2, com2, op2)
    assert pr2.range_proof.m != pr.range_proof.m
    assert not verify_solvency(stm, com, replace(pr, range_proof=pr2.range_proof))


def test_replay_across_account_and_epoch(base: Any) -> None:
    acc, stm, com, op, pr = base
    for aid, ep in (("bob", stm.epoch), ("alice", stm.epoch + 1), ("alice", 0)):
        st2 = build_statement(ENG, MARKET, com, aid, ep)
        assert not verify_solvency(st2, com, pr)
        assert verify_solvency(st2, com, prove_solvency(st2, com, op))
    # the same positions committed for another account: the proof does not transfer
    com_b, _op_b = commit_account(acc, 0, n_instruments=NI, balance_decimals=BD)
    assert not verify_solvency(stm, com_b, pr)


def test_bit_flips_in_solvency_proof(base: Any) -> None:
    _, stm, com, _, pr = base
    raw = pr.to_bytes()
    rnd = random.Random(3)
    positions = list(range(12)) + [12 + 32 * k + rnd.randrange(32) for k in range((len(raw) - 12) // 32)]
    for byte in positions:
        b = bytearray(raw)
        b[byte] ^= 1 << rnd.randrange(8)
        try:
            p2 = SolvencyProof.from_bytes(bytes(b))
        except EncodingError:
            continue
        assert not verify_solvency(stm, com, p2), byte


def test_noncanonical_encodings_rejected(base: Any) -> None:
    _, stm, com, _, pr = base
    raw = pr.to_bytes()
    assert SolvencyProof.from_bytes(raw) == pr
    head = 4 + 3 + 4
    with pytest.raises(EncodingError):
        SolvencyProof.from_bytes(raw[:-1])
    with pytest.raises(EncodingError):
        SolvencyProof.from_bytes(raw + b"\x00")
    with pytest.raises(EncodingError):
        SolvencyProof.from_bytes(raw[:4] + b"\x02" + raw[5:])
    with pytest.raises(EncodingError):  # identity as an auxiliary commitment
        SolvencyProof.from_bytes(raw[:head] + b"\x40" + bytes(31) + raw[head + 32 :])
    # x + p in an auxiliary point (one where x + p still fits below the flag bits); the
    # auxiliary points depend only on the witness and the rng, so a seeded proof makes
    # the choice of point deterministic
    _, _, _, op_, _ = base
    pr = prove_solvency(stm, com, op_, rng=random.Random(1).randrange)
    raw = pr.to_bytes()
    for k in range(len(pr.aux)):
        bad = x_plus_p(raw, head + 32 * k)
        if bad is not None:
            with pytest.raises(EncodingError):
                SolvencyProof.from_bytes(bad)
            break
    else:
        pytest.fail("no auxiliary point with x + p < 2^254")
    # scalar + r: the last element is the IPA scalar b
    b_int = int.from_bytes(raw[-32:], "big")
    if b_int + R < 1 << 256:
        with pytest.raises(EncodingError):
            SolvencyProof.from_bytes(raw[:-32] + (b_int + R).to_bytes(32, "big"))
    # commitments: identity, off-curve, truncated
    cb = com.to_bytes()
    assert AccountCommitment.from_bytes(cb) == com
    with pytest.raises(EncodingError):
        AccountCommitment.from_bytes(cb[:-1])
    with pytest.raises(EncodingError):
        AccountCommitment.from_bytes(cb[:-32] + b"\x40" + bytes(31))
    nonres = 0
    while pow((nonres**3 + 3) % P, (P - 1) // 2, P) == 1:
        nonres += 1
    with pytest.raises(EncodingError):
        AccountCommitment.from_bytes(cb[:-32] + nonres.to_bytes(32, "big"))
    # an identity commitment constructed directly is rejected at verification
    assert not verify_solvency(stm, replace(com, balances=(com.balances[0], b"\x40" + bytes(31))), pr)
    # statements: truncated, trailing, bad magic, floor/ceil inconsistency
    sb = stm.to_bytes()
    assert SolvencyStatement.from_bytes(sb) == stm
    for bad in (sb[:-1], sb + b"\x00", b"ZZZZ" + sb[4:]):
        with pytest.raises(EncodingError):
            SolvencyStatement.from_bytes(bad)
    with pytest.raises(EncodingError):
        replace(stm, loss_hi=tuple(v + 2 for v in stm.loss_hi))
    with pytest.raises(EncodingError):
        replace(stm, mode="full")


def test_two_proofs_of_same_witness_differ(base: Any) -> None:
    _, stm, com, op, pr = base
    pr2 = prove_solvency(stm, com, op)
    assert pr2.to_bytes() != pr.to_bytes()
    assert pr2.aux != pr.aux
    assert verify_solvency(stm, com, pr2)


def test_serialization_roundtrips(base: Any) -> None:
    _, stm, com, _, pr = base
    assert SolvencyStatement.from_json(stm.to_json()) == stm
    assert AccountCommitment.from_json(com.to_json()) == com
    assert SolvencyProof.from_json(pr.to_json()) == pr
    assert verify_solvency(
        SolvencyStatement.from_bytes(stm.to_bytes()),
        AccountCommitment.from_bytes(com.to_bytes()),
        SolvencyProof.from_bytes(pr.to_bytes()),
    )
    # a verifier rebuilding the statement from public data gets the same bytes
    assert build_statement(ENG, MARKET, com, "alice", 7).to_bytes() == stm.to_bytes()
    with pytest.raises(EncodingError):
        SolvencyStatement.from_json({**stm.to_json(), "version": 2})
    with pytest.raises(EncodingError):
        SolvencyStatement.from_json({**stm.to_json(), "epoch": "7"})
    with pytest.raises(EncodingError):
        AccountCommitment.from_json({**com.to_json(), "positions": ["00"]})
    # JSON text instead of the parsed object, or another kind's object: typed errors too
    for cls, obj in ((SolvencyStatement, stm), (AccountCommitment, com), (SolvencyProof, pr)):
        with pytest.raises(EncodingError):
            cls.from_json(json.dumps(obj.to_json()))
    with pytest.raises(EncodingError):
        SolvencyProof.from_json(stm.to_json())


def test_homomorphic_trade_updates() -> None:
    _acc, _stm, com, op = setup({1: 1.0}, usdc=100_000.0)
    ups = [
        LedgerUpdate.trade(1, -0.4),  # existing position
        LedgerUpdate.trade(3, 2.0),  # new instrument: inserted in order
        LedgerUpdate.transfer(0, -5_000 * 10 ** BD[0]),
    ]
    for u in ups:
        com, op = com.apply(u), op.apply(u, com)
    assert com.instruments == (1, 3)
    assert op.quantities == (600_000, 2_000_000)
    for pts, vals, bls in (
        (com.positions, op.quantities, op.position_blindings),
        (com.balances, op.balances, op.balance_blindings),
    ):
        for c, v, r in zip(pts, vals, bls, strict=True):
            assert c == commit(v, r)
    stm2 = build_statement(ENG, MARKET, com, "alice", 8)
    assert verify_solvency(stm2, com, prove_solvency(stm2, com, op))
    # an opening that does not match is a ProofError, not a bad proof
    with pytest.raises(ProofError):
        prove_solvency(stm2, com, replace(op, quantities=(600_001, 2_000_000)))


def test_batch_verification(base: Any) -> None:
    _, stm, com, _, pr = base
    items = [(stm, com, pr)]
    for rows, usdc in (({1: -2.0}, 30_000.0), ({0: 0.5, 5: 3.0}, 10_000.0)):
        _, s, c, o = setup(rows, usdc=usdc, aid=f"acct-{usdc}")
        items.append((s, c, prove_solvency(s, c, o)))
    assert batch_verify_solvency(items)
    bad = [*items[:2], (items[2][0], items[2][1], items[1][2])]
    assert not batch_verify_solvency(bad)
    tweaked = replace(pr, range_proof=replace(pr.range_proof, t_hat=(pr.range_proof.t_hat + 1) % R))
    assert not batch_verify_solvency([*items[1:], (stm, com, tweaked)])


def test_full_mode_hides_the_book_and_verifies() -> None:
    _acc, stm, com, op = setup({2: -1.0, 5: 4.0}, usdc=80_000.0, mode="full")
    assert stm.mode == "full" and com.instruments == tuple(range(NI))
    pr = prove_solvency(stm, com, op)
    assert verify_solvency(stm, com, pr)
    # a different book over the same universe has the same public shape
    _, stm2, _com2, _ = setup({0: 1.0}, usdc=80_000.0, mode="full")
    assert len(stm2.to_bytes()) == len(stm.to_bytes())
    assert stm2.n_values == stm.n_values


def test_correlation_aggregation_is_refused() -> None:
    eng = MarginEngine(INS, SCEN, aggregation="correlation", correlation=[[1.0]])
    com, _ = commit_account(account({1: 1.0}, 1e5), 0, n_instruments=NI, balance_decimals=BD)
    with pytest.raises(ParameterError, match="correlation"):
        build_statement(eng, MARKET, com, "x", 0)


def test_mismatched_statement_and_commitment() -> None:
    _, stm, _com, _op = setup({1: 1.0}, usdc=100_000.0)
    _, _, com2, op2 = setup({1: 1.0, 3: 1.0}, usdc=100_000.0)
    with pytest.raises(ParameterError):
        prove_solvency(stm, com2, op2)


def test_native_and_pyecc_same_solvency_proof_bytes() -> None:
    pytest.importorskip("py_ecc")
    pytest.importorskip("Crypto")
    # a hand-built statement small enough for n = 8 so the pure-Python prover stays quick
    stm = SolvencyStatement(
        account_id="tiny",
        epoch=3,
        mode="subset",
        aggregation="sum",
        n=8,
        universe_size=4,
        instruments=(2,),
        quantity_decimals=0,
        money_decimals=0,
        balance_decimals=(0,),
        n_scenarios=2,
        n_groups=1,
        groups=(0,),
        n_buckets=1,
        buckets=(0,),
        loss_lo=(-3, 2),
        loss_hi=(-3, 2),
        roll_lo=(1,),
        roll_hi=(1,),
        mtm_lo=(5,),
        mtm_hi=(5,),
        som_hi=(0,),
        coll_lo=(1,),
        coll_hi=(1,),
    )
    com_n = AccountCommitment((2,), (commit(2, 11),), (commit(100, 12),), 0, (0,))
    com_p = AccountCommitment((2,), (commit(2, 11, "pyecc"),), (commit(100, 12, "pyecc"),), 0, (0,))
    assert com_n == com_p
    op = AccountOpening((2,), (11,), (100,), (12,))
    assert proven_requirement(stm, op) == (110, 8)
    p1 = prove_solvency(stm, com_n, op, backend="native", rng=random.Random(9).randrange)
    p2 = prove_solvency(stm, com_p, op, backend="pyecc", rng=random.Random(9).randrange)
    assert p1.to_bytes() == p2.to_bytes()
    assert verify_solvency(stm, com_p, p2, backend="pyecc")
    assert verify_solvency(stm, com_n, p2, backend="native")
    assert not verify_solvency(replace(stm, epoch=4), com_p, p2, backend="pyecc")
    # the statement is insolvent once the loss coefficient grows enough
    worse = replace(stm, loss_lo=(-60, 2), loss_hi=(-60, 2))
    with pytest.raises(InsolventError):
        prove_solvency(worse, com_n, op)


def test_deribit_preset_on_synthetic_exchange() -> None:
    ex = zkmargin.synthetic.generate_exchange(60, seed=5)
    eng = MarginEngine(ex.instruments)
    res = eng.compute(ex.accounts, ex.market, "portfolio")
    bd = default_balance_decimals(ex.market.asset_price)
    rows = np.diff(ex.accounts.offsets)
    solvent = [a for a in range(60) if 2 <= rows[a] <= 6 and res.equity[a] > 1.05 * res.maintenance_margin[a]]
    a = solvent[0]
    com, op = commit_account(ex.accounts, a, n_instruments=len(ex.instruments), balance_decimals=bd)
    stm = build_statement(eng, ex.market, com, f"acct-{a}", 1)
    assert stm.n_scenarios == 35
    peq, preq = proven_requirement(stm, op)
    scale = 10.0**-stm.money_decimals
    assert preq * scale >= res.maintenance_margin[a] - 1e-6
    assert peq * scale <= res.equity[a] + 1e-6
    pr = prove_solvency(stm, com, op)
    assert verify_solvency(stm, com, pr)


def test_only_the_pyecc_backend_carries_the_pure_python_prover() -> None:
    from zkmargin.proof._rangeprover import PyRangeProver
    from zkmargin.proof.group import Group, NativeGroup, PyEccGroup

    assert {"range_prover", "random_scalars"} <= Group.__abstractmethods__
    assert NativeGroup.range_prover is not PyEccGroup.range_prover
    group = PyEccGroup()
    gens = zkmargin.proof.generators(group)
    g_vec, h_vec = gens.vectors(8)
    prover = group.range_prover(g_vec, h_vec, gens.G, gens.H, [1], [2], 8, [0] * (2 * 8 + 4))
    assert isinstance(prover, PyRangeProver)
