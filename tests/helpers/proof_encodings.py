"""Non-canonical encodings shared by the proof decoder tests (docs/proof-spec.md §3)."""

from __future__ import annotations

from zkmargin.proof.group import P


def x_plus_p(raw: bytes, off: int) -> bytes | None:
    """``raw`` with the compressed point at byte ``off`` re-encoded as ``x + p`` (its flag
    bits kept): the same point, non-canonically. ``None`` when ``x + p`` does not fit below
    the two flag bits (``x + p >= 2^254``), so that point cannot be re-encoded this way."""
    a = bytearray(raw[off : off + 32])
    flags = a[0] & 0xC0
    a[0] &= 0x3F
    shifted = int.from_bytes(a, "big") + P
    if shifted >= 1 << 254:
        return None
    xp = shifted.to_bytes(32, "big")
    return raw[:off] + bytes([xp[0] | flags]) + xp[1:] + raw[off + 32 :]
