"""Zero-knowledge solvency proofs for zkmargin accounts on BN254 (docs/proof-spec.md).

An account proves that its committed collateral covers its committed positions'
portfolio-margin maintenance requirement in every scenario, revealing neither.

    from zkmargin import proof
    com, op = proof.commit_account(accounts, a, n_instruments=len(instruments),
                                   balance_decimals=proof.default_balance_decimals(market.asset_price))
    st = proof.build_statement(engine, market, com, "alice", epoch=42)
    pr = proof.prove_solvency(st, com, op)          # InsolventError if not solvent
    assert proof.verify_solvency(st, com, pr)

A verifier derives statements from the epoch snapshot instead of trusting them:

    snap = proof.build_snapshot(engine, market, epoch=42)
    pr, _ = proof.prove_account(snap, "alice", com, op, shortfall=False)
    assert proof.verify_account(snap, "alice", com, pr, shortfall=False)
"""

from . import demo
from .coefficients import build_statement
from .commitments import (
    QUANTITY_DECIMALS,
    AccountCommitment,
    AccountOpening,
    LedgerUpdate,
    balance_to_units,
    commit,
    commit_account,
    default_balance_decimals,
    quantity_to_units,
)
from .generators import Generators, generators
from .group import Group, NativeGroup, P, PyEccGroup, R, get_group
from .rangeproof import LinearForm, RangeProof, batch_verify_range, prove_range, verify_range
from .snapshot import EpochSnapshot
from .solvency import (
    SolvencyProof,
    batch_verify_solvency,
    prove_account,
    prove_solvency,
    proven_requirement,
    verify_account,
    verify_solvency,
)
from .statement import MONEY_DECIMALS, SolvencyStatement, constraint_forms
from .table import audit_snapshot, build_snapshot
from .transcript import Transcript

__all__ = [
    "MONEY_DECIMALS",
    "QUANTITY_DECIMALS",
    "AccountCommitment",
    "AccountOpening",
    "EpochSnapshot",
    "Generators",
    "Group",
    "LedgerUpdate",
    "LinearForm",
    "NativeGroup",
    "P",
    "PyEccGroup",
    "R",
    "RangeProof",
    "SolvencyProof",
    "SolvencyStatement",
    "Transcript",
    "audit_snapshot",
    "balance_to_units",
    "batch_verify_range",
    "batch_verify_solvency",
    "build_snapshot",
    "build_statement",
    "commit",
    "commit_account",
    "constraint_forms",
    "default_balance_decimals",
    "demo",
    "generators",
    "get_group",
    "prove_account",
    "prove_range",
    "prove_solvency",
    "proven_requirement",
    "quantity_to_units",
    "verify_account",
    "verify_range",
    "verify_solvency",
]
