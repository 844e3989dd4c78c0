"""Strict little helpers for the versioned binary forms (every read is bounds-checked and
every failure is an ``EncodingError``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..errors import ArgumentTypeError, EncodingError

__all__ = [
    "Reader",
    "i128",
    "j_float",
    "j_floats",
    "j_hex",
    "j_hexes",
    "j_int",
    "j_ints",
    "j_str",
    "j_strs",
    "json_header",
    "json_hex",
    "json_object",
    "u32",
    "u64",
]

I128_MIN = -(1 << 127)
I128_MAX = (1 << 127) - 1


def u32(v: int) -> bytes:
    return v.to_bytes(4, "big")


def u64(v: int) -> bytes:
    return v.to_bytes(8, "big")


def i128(v: int) -> bytes:
    return v.to_bytes(16, "big", signed=True)


def byte_string(what: str, data: Any) -> bytes:
    """``data`` itself when it is ``bytes``: decoders take nothing else (``bytes(5)`` would
    be five zero bytes, ``bytes(None)`` a ``TypeError``)."""
    if not isinstance(data, bytes):
        raise ArgumentTypeError(f"{what}: expected bytes, got {type(data).__name__}", what)
    return data


class Reader:
    def __init__(self, data: bytes, what: str) -> None:
        self.data = byte_string(what, data)
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
    ``version`` when one is given (a JSON integer, not a bool or float); JSON text or
    anything else is an ``EncodingError``."""
    ver = obj.get("version") if isinstance(obj, dict) else None
    if (
        not isinstance(obj, dict)
        or obj.get("type") != kind
        or (version is not None and (type(ver) is not int or ver != version))
    ):
        what = kind if version is None else f"version-{version} {kind}"
        raise EncodingError(f"not a {what} JSON object (the dict to_json returns)", "type")


def json_object(obj: Any, kind: str, version: int, keys: Sequence[str]) -> dict[str, Any]:
    """``json_header`` plus an exact key set: ``type``, ``version`` and ``keys``, nothing
    missing and nothing extra."""
    json_header(obj, kind, version)
    want = {"type", "version", *keys}
    missing = sorted(want - obj.keys())
    extra = sorted(k for k in obj if k not in want)
    if missing or extra:
        raise EncodingError(f"{kind} JSON: missing keys {missing}, unknown keys {extra}", "json")
    out: dict[str, Any] = obj
    return out


def _bad(key: str, what: str, index: int | None = None) -> EncodingError:
    at = key if index is None else f"{key}[{index}]"
    return EncodingError(f"JSON field {at} must be {what}", key, index)


def _int(v: Any, key: str, lo: int, hi: int, index: int | None = None) -> int:
    # bool is a subclass of int in Python but not an integer in JSON
    if type(v) is not int or not lo <= v <= hi:
        raise _bad(key, f"a JSON integer in [{lo}, {hi}]", index)
    return v


def _list(obj: dict[str, Any], key: str) -> list[Any]:
    v = obj[key]
    if type(v) is not list:
        raise _bad(key, "a JSON list")
    return v


def j_int(obj: dict[str, Any], key: str, lo: int, hi: int) -> int:
    return _int(obj[key], key, lo, hi)


def j_ints(obj: dict[str, Any], key: str, lo: int, hi: int) -> tuple[int, ...]:
    return tuple(_int(v, key, lo, hi, i) for i, v in enumerate(_list(obj, key)))


def j_str(obj: dict[str, Any], key: str, max_bytes: int = 255) -> str:
    v = obj[key]
    if type(v) is not str or len(v.encode("utf-8", "surrogatepass")) > max_bytes:
        raise _bad(key, f"a JSON string of at most {max_bytes} UTF-8 bytes")
    try:
        v.encode()
    except UnicodeEncodeError:
        raise _bad(key, "valid Unicode text") from None
    return v


def j_strs(obj: dict[str, Any], key: str, max_bytes: int = 255) -> tuple[str, ...]:
    vals = _list(obj, key)
    return tuple(j_str({key: v}, key, max_bytes) for v in vals)


def _hex(v: Any, key: str, length: int | None, index: int | None = None) -> bytes:
    if type(v) is not str or len(v) % 2 or any(c not in "0123456789abcdef" for c in v):
        raise _bad(key, "a lower-case hex string", index)
    out = bytes.fromhex(v)
    if length is not None and len(out) != length:
        raise _bad(key, f"{length} bytes of hex", index)
    return out


def j_hex(obj: dict[str, Any], key: str, length: int | None = None) -> bytes:
    return _hex(obj[key], key, length)


def j_hexes(obj: dict[str, Any], key: str, length: int | None = None) -> tuple[bytes, ...]:
    return tuple(_hex(v, key, length, i) for i, v in enumerate(_list(obj, key)))


def _float(v: Any, key: str, index: int | None = None) -> float:
    # integers are accepted for float fields (JSON has one number type); the value must
    # convert to a double exactly
    if type(v) is int:
        try:
            f = float(v)
        except OverflowError:
            f = math.inf
        if math.isfinite(f) and int(f) != v:
            raise _bad(key, "a number exactly representable as a double", index)
    elif type(v) is float:
        f = v
    else:
        raise _bad(key, "a JSON number", index)
    if not math.isfinite(f):
        raise _bad(key, "a finite number (exactly representable as a double)", index)
    return f


def j_float(obj: dict[str, Any], key: str) -> float:
    return _float(obj[key], key)


def j_floats(obj: dict[str, Any], key: str) -> tuple[float, ...]:
    return tuple(_float(v, key, i) for i, v in enumerate(_list(obj, key)))


def json_hex(obj: dict[str, Any], what: str) -> bytes:
    """The bytes of a JSON form that wraps the binary one as ``"hex"``."""
    if "hex" not in obj:
        raise EncodingError(f"{what} JSON: missing hex", "hex")
    return j_hex(obj, "hex")
