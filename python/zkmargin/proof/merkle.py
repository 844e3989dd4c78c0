"""The keccak256 Merkle tree over an epoch's account leaves (docs/proof-spec.md §11).

    id_digest = keccak256(account_id UTF-8)
    leaf      = keccak256(0x00 || id_digest || commitment bytes)
    node      = keccak256(0x01 || left || right)
    root      = keccak256(0x02 || u64(count) || top)

Leaves are ordered by strictly increasing ``id_digest`` (so every account id appears at
most once and the order is canonical); the level above the leaves is padded to a power of
two with 32 zero bytes; the root binds the leaf count.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import EncodingError, ParameterError
from ._codec import j_hexes, j_int, json_object, u64

__all__ = ["EMPTY", "InclusionProof", "MerkleTree", "id_digest", "leaf_hash"]

Hash = Callable[[bytes], bytes]
EMPTY = bytes(32)
INCLUSION_VERSION = 1


def id_digest(keccak256: Hash, account_id: str) -> bytes:
    return keccak256(account_id.encode())


def leaf_hash(keccak256: Hash, account_id: str, commitment: bytes) -> bytes:
    return keccak256(b"\x00" + id_digest(keccak256, account_id) + commitment)


def _root(keccak256: Hash, count: int, top: bytes) -> bytes:
    return keccak256(b"\x02" + u64(count) + top)


@dataclass(frozen=True)
class InclusionProof:
    """Position of a leaf and its sibling hashes from the leaf level up."""

    index: int
    count: int
    siblings: tuple[bytes, ...]

    def root(self, keccak256: Hash, leaf: bytes) -> bytes:
        """The root this path leads to from ``leaf``."""
        if not 0 <= self.index < self.count:
            raise EncodingError("inclusion proof: index outside the tree", "index")
        if len(self.siblings) != (self.count - 1).bit_length():
            raise EncodingError("inclusion proof: wrong number of siblings for the count", "siblings")
        h, i = leaf, self.index
        for sib in self.siblings:
            h = keccak256(b"\x01" + (sib + h if i & 1 else h + sib))
            i >>= 1
        return _root(keccak256, self.count, h)

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "zkmargin.InclusionProof",
            "version": INCLUSION_VERSION,
            "index": self.index,
            "count": self.count,
            "siblings": [s.hex() for s in self.siblings],
        }

    @classmethod
    def from_json(cls, obj: Any) -> InclusionProof:
        o = json_object(obj, "zkmargin.InclusionProof", INCLUSION_VERSION, ["index", "count", "siblings"])
        count = j_int(o, "count", 1, (1 << 32) - 1)
        return cls(j_int(o, "index", 0, count - 1), count, j_hexes(o, "siblings", 32))


class MerkleTree:
    """All levels of the tree over ``leaves`` (already in id-digest order)."""

    def __init__(self, keccak256: Hash, leaves: Sequence[bytes]) -> None:
        self._h = keccak256
        self.count = len(leaves)
        levels = [list(leaves)]
        width = 1
        while width < self.count:
            width *= 2
        levels[0] += [EMPTY] * (width - self.count)
        while len(levels[-1]) > 1:
            lv = levels[-1]
            levels.append([keccak256(b"\x01" + lv[i] + lv[i + 1]) for i in range(0, len(lv), 2)])
        self.levels = levels
        self.root = _root(keccak256, self.count, levels[-1][0] if self.count else EMPTY)

    @classmethod
    def of_accounts(cls, keccak256: Hash, accounts: Sequence[tuple[str, bytes]]) -> MerkleTree:
        """The tree over ``(account_id, commitment bytes)`` pairs, which must already be in
        strictly increasing id-digest order (``ParameterError`` naming the account if not)."""
        prev = b""
        leaves = []
        for aid, com in accounts:
            d = id_digest(keccak256, aid)
            if d <= prev:
                raise ParameterError(f"account {aid!r} is out of id-digest order or a duplicate", "accounts")
            prev = d
            leaves.append(keccak256(b"\x00" + d + com))
        return cls(keccak256, leaves)

    def proof(self, index: int) -> InclusionProof:
        if not 0 <= index < self.count:
            raise ParameterError(f"leaf {index} outside the tree of {self.count}", "index", index)
        sibs = []
        i = index
        for lv in self.levels[:-1]:
            sibs.append(lv[i ^ 1])
            i >>= 1
        return InclusionProof(index, self.count, tuple(sibs))
