"""Exchange-wide solvency attestations (docs/proof-spec.md §10-13): epoch snapshots,
per-account margin proofs with committed shortfalls, a Merkle tree of account leaves,
liabilities against reserves, the insurance fund against the summed shortfalls, one
bundle directory and its verifier.

    from zkmargin import attest
    report = attest.attest([snapshot], book, reserves, fund, "bundle", "private")
    assert attest.verify_bundle("bundle").ok
"""

from .bundle import AttestReport, VerifyReport, attest, verify_bundle, verify_receipt
from .ledger import Book, read_book

__all__ = ["AttestReport", "Book", "VerifyReport", "attest", "read_book", "verify_bundle", "verify_receipt"]
