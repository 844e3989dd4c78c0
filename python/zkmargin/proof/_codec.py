"""Strict little helpers for the versioned binary forms (every read is bounds-checked and
every failure is an ``EncodingError``)."""

from __future__ import annotations

from typing import Any

from ..errors import EncodingError

__all__ = ["Reader", "i128", "json_header", "json_hex", "u32", "u64"]

I128_MIN = -(1 << 127)
I128_MAX = (1 << 127) - 1


def u32(v: int) -> bytes:
    return v.to_bytes(4, "big")


def u64(v: int) -> bytes:
    return v.to_bytes(8, "big")


def i128(v: int) -> bytes:
    return v.to_bytes(16, "big", signed=True)


class Reader:
    def __init__(self, data: bytes, what: str) -> None:
        self.data = bytes(data)
        self.pos = 0
        self.what = what

    def take(self, k: int) -> bytes:
        if k < 0 or self.pos + k > len(self.data):
            raise EncodingError(f"{self.what}: truncated at byte {self.pos}", self.what, self.pos)
        out = self.data[self.pos : self.pos + k]
        self.pos += k
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "big")

    def u32(self) -> int:
        return int.from_bytes(self.take(4), "big")

    def u64(self) -> int:
        return int.from_bytes(self.take(8), "big")

    def i128s(self, count: int) -> tuple[int, ...]:
        raw = self.take(16 * count)
        return tuple(int.from_bytes(raw[16 * i : 16 * i + 16], "big", signed=True) for i in range(count))

    def u32s(self, count: int) -> tuple[int, ...]:
        raw = self.take(4 * count)
        return tuple(int.from_bytes(raw[4 * i : 4 * i + 4], "big") for i in range(count))

    def done(self) -> None:
        if self.pos != len(self.data):
            raise EncodingError(
                f"{self.what}: {len(self.data) - self.pos} trailing bytes", self.what, self.pos
            )


def json_header(obj: Any, kind: str, version: int | None = None) -> None:
    """Check that ``obj`` is the JSON form (the dict ``to_json`` returns) of a ``kind``, at
    ``version`` when one is given; JSON text or anything else is an ``EncodingError``."""
    if (
        not isinstance(obj, dict)
        or obj.get("type") != kind
        or (version is not None and obj.get("version") != version)
    ):
        what = kind if version is None else f"version-{version} {kind}"
        raise EncodingError(f"not a {what} JSON object (the dict to_json returns)", "type")


def json_hex(obj: dict[str, Any], what: str) -> bytes:
    """The bytes of a JSON form that wraps the binary one as ``"hex"``."""
    try:
        return bytes.fromhex(str(obj["hex"]))
    except (KeyError, ValueError) as e:
        raise EncodingError(f"{what} JSON: missing or invalid hex", "hex") from e
