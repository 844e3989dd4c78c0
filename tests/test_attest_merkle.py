"""The keccak Merkle tree of account leaves (docs/proof-spec.md §11): every leaf's path
leads to the root, no path leads there from another leaf or position, and the root binds
the count and the order."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zkmargin.errors import EncodingError, ParameterError
from zkmargin.proof import get_group
from zkmargin.proof.merkle import InclusionProof, MerkleTree, id_digest, leaf_hash

KK = get_group("native").keccak256


def _rows(n: int) -> list[tuple[str, bytes]]:
    rows = [(f"user-{k}", bytes([k % 256]) * 40) for k in range(n)]
    return sorted(rows, key=lambda r: id_digest(KK, r[0]))


@given(st.integers(1, 40), st.data())
def test_paths(n: int, data: st.DataObject) -> None:
    rows = _rows(n)
    tree = MerkleTree.of_accounts(KK, rows)
    i = data.draw(st.integers(0, n - 1))
    aid, com = rows[i]
    path = tree.proof(i)
    assert len(path.siblings) == (n - 1).bit_length()
    assert path.root(KK, leaf_hash(KK, aid, com)) == tree.root
    assert InclusionProof.from_json(path.to_json()) == path
    # another account's leaf, another commitment, another position or count: other roots
    j = data.draw(st.integers(0, n - 1))
    if j != i:
        assert path.root(KK, leaf_hash(KK, rows[j][0], rows[j][1])) != tree.root
        assert InclusionProof(j, n, path.siblings).root(KK, leaf_hash(KK, aid, com)) != tree.root
    assert path.root(KK, leaf_hash(KK, aid, com + b"\x00")) != tree.root
    if (n - 1).bit_length() == n.bit_length():  # same depth, so only the count differs
        assert InclusionProof(i, n + 1, path.siblings).root(KK, leaf_hash(KK, aid, com)) != tree.root


def test_order_duplicates_and_shape() -> None:
    rows = _rows(5)
    with pytest.raises(ParameterError, match="out of id-digest order or a duplicate"):
        MerkleTree.of_accounts(KK, [rows[1], rows[0], *rows[2:]])
    with pytest.raises(ParameterError):
        MerkleTree.of_accounts(KK, [rows[0], rows[0]])
    tree = MerkleTree.of_accounts(KK, rows)
    p = tree.proof(2)
    with pytest.raises(EncodingError):
        InclusionProof(2, 5, p.siblings[:-1]).root(KK, bytes(32))
    with pytest.raises(EncodingError):
        InclusionProof(5, 5, p.siblings).root(KK, bytes(32))
    assert MerkleTree(KK, []).root != MerkleTree(KK, [bytes(32)]).root  # the count is bound
