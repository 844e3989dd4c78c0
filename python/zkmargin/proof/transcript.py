"""Fiat-Shamir transcript on keccak256 (docs/proof-spec.md §5).

The state is one 32-byte keccak256 chaining value. Every absorbed item is framed as
``tag || u32_be(len(label)) || label || u32_be(len(data)) || data`` so that no two
different sequences of (label, data) pairs hash the same. Challenges are 64 bytes of
keccak output reduced mod r (bias < 2^-250) and are never zero.
"""

from __future__ import annotations

from collections.abc import Callable

from ._field import R

__all__ = ["DOMAIN", "Transcript"]

#: Initial domain separator of every zkmargin transcript.
DOMAIN = b"zkmargin/transcript/v1"

_ABSORB = b"\x01"
_CHALLENGE = b"\x02"


def _frame(b: bytes) -> bytes:
    return len(b).to_bytes(4, "big") + b


class Transcript:
    """Absorb public data, squeeze scalar challenges. ``keccak256`` comes from the group
    backend (Rust tiny-keccak for ``native``, pycryptodome for ``pyecc``)."""

    def __init__(self, keccak256: Callable[[bytes], bytes], label: bytes) -> None:
        self._h = keccak256
        self.state = keccak256(_frame(DOMAIN) + _frame(label))

    def append(self, label: bytes, data: bytes) -> None:
        """Absorb ``data`` under ``label``."""
        self.state = self._h(self.state + _ABSORB + _frame(label) + _frame(data))

    def append_u64(self, label: bytes, v: int) -> None:
        """Absorb the 8-byte big-endian ``v`` under ``label``."""
        self.append(label, v.to_bytes(8, "big"))

    def append_scalar(self, label: bytes, s: int) -> None:
        """Absorb the 32-byte big-endian scalar ``s`` under ``label``."""
        self.append(label, s.to_bytes(32, "big"))

    def challenge(self, label: bytes) -> int:
        """A scalar in [1, r). Zero (probability 2^-253) raises ``ZeroDivisionError``,
        which provers and verifiers turn into a failure."""
        self.state = self._h(self.state + _CHALLENGE + _frame(label))
        wide = self._h(self.state + b"\x00") + self._h(self.state + b"\x01")
        c = int.from_bytes(wide, "big") % R
        if c == 0:
            raise ZeroDivisionError("zero challenge")
        return c
