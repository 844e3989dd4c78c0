"""The BN254 moduli, in a module of their own so that the scalar helpers, the pure-Python
range prover and the group backends all import them without importing each other."""

from __future__ import annotations

__all__ = ["P", "R"]

#: Base-field modulus of BN254.
P = 0x30644E72E131A029B85045B68181585D97816A916871CA8D3C208C16D87CFD47
#: Order of G1 (the scalar field).
R = 0x30644E72E131A029B85045B68181585D2833E84879B9709143E1F593F0000001
