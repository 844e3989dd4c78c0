"""Byte stability of statements, snapshots and (seeded) solvency proofs: sha256 prefixes
recorded from the tree before the proof layer was split and its coefficients were taken
from the engines' exports (commit fd475f5). A change of format, rounding or transcript
shows here; a new feature must bump its own version instead (docs/proof-spec.md §2.6)."""

from __future__ import annotations

import hashlib
import random

from zkmargin import Accounts, Instruments, MarginEngine, Market, ScenarioTable, proof
from zkmargin.scenarios import DeribitCurrency, deribit_scenarios


def _h(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()[:16]


def test_statement_snapshot_and_proof_bytes_are_unchanged() -> None:
    rnd = random.Random(1234)

    def rng(bound: int) -> int:
        return rnd.randrange(bound)

    ins = Instruments(
        [0, 1, 2, 3, 4, 3],
        [0] * 6,
        [1.0, 1.0, 1.0, 60000.0, 55000.0, 70000.0],
        [0.0, 0.0, 0.25, 0.25, 0.25, 0.5],
        [1.0, 1.0, 1.0, 1.0, 1.0, 0.5],
        [0] * 6,
    )
    market = Market([60000.0], [0.0, 0.0, 0.0, 0.6, 0.65, 0.55], [1.0, 60000.0], [0.0, 0.05], rate=0.02)
    table = ScenarioTable([[-0.15], [0.0], [0.15]], [[1.0], [0.0], [-1.0]], [[1.0], [1.0], [1.0]])
    bd = proof.default_balance_decimals(market.asset_price)
    acc = Accounts([0, 3], [1, 3, 4], [2.5, -1.2, 0.7], [[40000.0, 0.3]])
    got = []
    for agg in ("sum", "joint"):
        eng = MarginEngine(ins, table, aggregation=agg)
        for mode in ("subset", "full"):
            com, op = proof.commit_account(acc, 0, n_instruments=6, balance_decimals=bd, mode=mode, rng=rng)
            st = proof.build_statement(eng, market, com, "alice", 7)
            got.append((_h(st.to_bytes()), _h(proof.prove_solvency(st, com, op, rng=rng).to_bytes())))
    ins2 = Instruments(
        [1, 1, 3, 2], [0, 0, 0, 1], [0.0, 0.0, 90000.0, 0.0], [0.0, 0.0, 0.05, 0.5], [1.0] * 4, [0, 1, 0, 0]
    )
    market2 = Market(
        [60000.0, 3000.0],
        [0.0, 0.0, 0.6, 0.0],
        [1.0, 60000.0],
        [0.0, 0.1],
        forward=[60100.0, 60200.0, 60000.0, 3050.0],
    )
    bd2 = proof.default_balance_decimals(market2.asset_price)
    for settlement in ("cross", "segregated"):
        sc = deribit_scenarios(2, currencies=[DeribitCurrency(), DeribitCurrency(price_range=0.2)])
        eng = MarginEngine(ins2, sc, settlement_mode=settlement)
        acc2 = Accounts([0, 4], [0, 1, 2, 3], [1.5, -20000.0, -0.4, 3.0], [[1e6, 0.0]])
        com, op = proof.commit_account(acc2, 0, n_instruments=4, balance_decimals=bd2, rng=rng)
        st = proof.build_statement(eng, market2, com, "bob", 3)
        pr = proof.prove_solvency(st, com, op, rng=rng)
        snap = proof.build_snapshot(eng, market2, 3)
        got.append((_h(st.to_bytes()), _h(pr.to_bytes())))
        got.append((_h(snap.to_bytes()), _h(snap.statement(com, "bob").to_bytes())))
    assert got == [
        ("02906855e676288c", "24fdcdfd7ba4d278"),
        ("8c727c77b7931005", "5563e7f8e17a8508"),
        ("e3da8bcce8581fbe", "7e24c63002f1d95c"),
        ("f325c43d2388e616", "9cc1705411331a69"),
        ("2f0a34a46ad7f126", "49bd0de6070e0e91"),
        ("a133a22f5bcb984a", "1b2a69b9cddc9b69"),
        ("bf8c9aaaf42b602f", "cc93500b0ef745d9"),
        ("c1e2f31ff959bc46", "01599ab489e99a4a"),
    ]
