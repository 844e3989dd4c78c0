"""An independent reading of a bundle from docs/proof-spec.md alone (§3, §8, §10.2, §11,
§13): keccak from pycryptodome and curve arithmetic from py_ecc, nothing from
zkmargin.proof, recompute the file digests, the Merkle root, the liabilities and an
account's inclusion path, and check them against what zkmargin wrote."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from helpers.attest_fixtures import snapshot
from zkmargin import Accounts
from zkmargin.attest import Book, attest

keccak_mod = pytest.importorskip("Crypto.Hash.keccak")
bn = pytest.importorskip("py_ecc.optimized_bn128")

P = 0x30644E72E131A029B85045B68181585D97816A916871CA8D3C208C16D87CFD47


def keccak(b: bytes) -> bytes:
    return keccak_mod.new(digest_bits=256, data=b).digest()


def decompress(c: bytes) -> Any:
    """§3: x big-endian with 0x80 = y odd, 0x40 = identity."""
    if c == b"\x40" + bytes(31):
        return None
    odd = bool(c[0] & 0x80)
    x = int.from_bytes(bytes([c[0] & 0x3F]) + c[1:], "big")
    y = pow((x**3 + 3) % P, (P + 1) // 4, P)
    assert (y * y - x**3 - 3) % P == 0
    if (y & 1) != odd:
        y = P - y
    return (bn.FQ(x), bn.FQ(y), bn.FQ(1))


def compress(pt: Any) -> bytes:
    if pt is None or bn.is_inf(pt):
        return b"\x40" + bytes(31)
    x, y = bn.normalize(pt)
    raw = bytearray(int(x).to_bytes(32, "big"))
    if int(y) & 1:
        raw[0] |= 0x80
    return bytes(raw)


def u32(b: bytes, at: int) -> int:
    return int.from_bytes(b[at : at + 4], "big")


def parse_accounts(data: bytes) -> list[tuple[str, bytes]]:
    """§13.1 accounts.bin."""
    assert data[:5] == b"ZKML\x01"
    count, at, out = u32(data, 5), 9, []
    for _ in range(count):
        n = data[at]
        aid = data[at + 1 : at + 1 + n].decode()
        at += 1 + n
        ln = u32(data, at)
        out.append((aid, data[at + 4 : at + 4 + ln]))
        at += 4 + ln
    assert at == len(data)
    return out


def balance_points(com: bytes) -> list[bytes]:
    """§8: "ZKMC" || ver || dq || u32 I_c || u32 J || u32[I_c] || u8[J] || I_c points || J points."""
    ic, j = u32(com, 6), u32(com, 10)
    start = 14 + 4 * ic + j + 32 * ic
    return [com[start + 32 * k : start + 32 * (k + 1)] for k in range(j)]


def node(a: bytes, b: bytes) -> bytes:
    return keccak(b"\x01" + a + b)


def merkle_root(rows: list[tuple[str, bytes]]) -> bytes:
    """§11."""
    digests = [keccak(a.encode()) for a, _ in rows]
    assert digests == sorted(digests) and len(set(digests)) == len(digests)
    level = [keccak(b"\x00" + d + c) for d, (_, c) in zip(digests, rows, strict=True)]
    width = 1
    while width < len(level):
        width *= 2
    level += [bytes(32)] * (width - len(level))
    while len(level) > 1:
        level = [node(level[i], level[i + 1]) for i in range(0, len(level), 2)]
    return keccak(b"\x02" + len(rows).to_bytes(8, "big") + level[0])


def test_bundle_read_from_the_spec(tmp_path: Path) -> None:
    snap = snapshot()
    book = Book(
        ("u1", "u2", "u3"),
        Accounts.from_triples(
            [0, 1, 2], [1, 2, 1], [1.0, -0.5, 0.3], [[50_000.0, 0.1], [20_000.0, -0.01], [1.0, 0.0]]
        ),
    )
    attest([snap], book, [10**12, 10**9], 10**20, tmp_path / "b", tmp_path / "p")
    b = tmp_path / "b"
    m = json.loads((b / "manifest.json").read_text())
    for name, digest in m["files"].items():
        assert keccak((b / name).read_bytes()).hex() == digest, name
    assert keccak((b / "snapshot-base.bin").read_bytes()).hex() == m["scenario_sets"][0]["snapshot_digest"]
    raw = (b / "snapshot-base.bin").read_bytes()
    n = raw[5]
    assert raw[:5] == b"ZKSN\x01" and raw[6 : 6 + n] == b"base"  # §10.1 fields 1-2
    assert int.from_bytes(raw[6 + n : 14 + n], "big") == m["epoch"] == snap.epoch
    rows = parse_accounts((b / "accounts.bin").read_bytes())
    assert len(rows) == m["accounts"] == 3
    assert merkle_root(rows).hex() == m["merkle_root"]
    for j in range(2):
        total = None
        for _, com in rows:
            pt = decompress(balance_points(com)[j])
            total = pt if total is None else bn.add(total, pt)
        assert compress(total).hex() == m["liabilities"][j]
    # an account holder's inclusion path (§11), read from the receipt (§13.1)
    aid = "u2"
    rec = json.loads((tmp_path / "p" / f"{keccak(aid.encode()).hex()}.json").read_text())
    inc = rec["inclusion"]
    com = next(c for a, c in rows if a == aid)
    h = keccak(b"\x00" + keccak(aid.encode()) + com)
    for level, sib in enumerate(inc["siblings"]):
        s = bytes.fromhex(sib)
        h = node(s, h) if (inc["index"] >> level) & 1 else node(h, s)
    assert keccak(b"\x02" + inc["count"].to_bytes(8, "big") + h).hex() == m["merkle_root"]
