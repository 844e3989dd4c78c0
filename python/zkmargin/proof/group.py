"""BN254 G1 behind one small interface, with two bit-identical backends.

``native`` (default) runs on the Rust core (arkworks; multi-threaded MSM and folds with the
GIL released). ``pyecc`` is the pure-Python reference and benchmark baseline on
``py_ecc.optimized_bn128`` with keccak from pycryptodome; both are optional dependencies
(the ``baselines``/``test`` extras), imported only when the backend is first used.

Points and point vectors are opaque backend objects; scalars are Python ints in
``[0, R)``. Byte encodings (docs/proof-spec.md §3) are identical across backends, which
is what makes proofs portable between them.
"""

from __future__ import annotations

import importlib
import secrets
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from ..errors import EncodingError, ParameterError
from ._field import P, R
from ._rangeprover import PyRangeProver
from ._scalars import Rng, random_scalars, system_rng

if TYPE_CHECKING:
    from .._core.curve import RangeProver as _CoreRangeProver

__all__ = [
    "Group",
    "NativeGroup",
    "P",
    "PyEccGroup",
    "R",
    "get_group",
    "scalars_to_bytes",
]


Point = Any
PointVec = Any

_SQRT_EXP = (P + 1) // 4  # p = 3 mod 4, so a^((p+1)/4) is a square root of a square a
_LEGENDRE_EXP = (P - 1) // 2


def scalars_to_bytes(xs: Sequence[int]) -> bytes:
    """Concatenated 32-byte big-endian encodings; every x must already be in [0, R)."""
    return b"".join(x.to_bytes(32, "big") for x in xs)


def _check_scalar(s: int) -> int:
    if not 0 <= s < R:
        raise EncodingError("scalar is not in [0, r)", "scalar")
    return s


class Group(ABC):
    """BN254 G1 operations the proof layer needs. Scalars are ints in [0, R)."""

    name: str

    # -- single points
    @abstractmethod
    def generator(self) -> Point:
        """The standard generator of G1."""

    @abstractmethod
    def identity(self) -> Point:
        """The identity (point at infinity)."""

    @abstractmethod
    def hash_to_curve(self, label: bytes) -> Point:
        """keccak256 try-and-increment (docs/proof-spec.md §4)."""

    @abstractmethod
    def add(self, a: Point, b: Point) -> Point:
        """``a + b``."""

    @abstractmethod
    def neg(self, a: Point) -> Point:
        """``-a``."""

    def sub(self, a: Point, b: Point) -> Point:
        """``a - b``."""
        return self.add(a, self.neg(b))

    @abstractmethod
    def mul(self, a: Point, s: int) -> Point:
        """``s * a`` for a scalar ``s`` in ``[0, R)``."""

    @abstractmethod
    def eq(self, a: Point, b: Point) -> bool:
        """Whether ``a`` and ``b`` are the same point."""

    @abstractmethod
    def is_identity(self, a: Point) -> bool:
        """Whether ``a`` is the identity."""

    # -- encodings (identical bytes for every backend)
    @abstractmethod
    def encode(self, a: Point) -> bytes:
        """64-byte EVM form x || y, (0, 0) for the identity."""

    @abstractmethod
    def decode(self, data: bytes) -> Point:
        """A point from its 64-byte EVM form; ``EncodingError`` if not canonical or off the curve."""

    @abstractmethod
    def encode_compressed(self, a: Point) -> bytes:
        """The 32-byte compressed form (docs/proof-spec.md)."""

    @abstractmethod
    def decode_compressed(self, data: bytes) -> Point:
        """A point from its 32-byte compressed form; ``EncodingError`` if not canonical."""

    # -- vectors
    @abstractmethod
    def derive(self, prefix: bytes, start: int, count: int) -> PointVec:
        """Generators with labels ``prefix || u32_be(start + i)``."""

    @abstractmethod
    def vec(self, points: Sequence[Point]) -> PointVec:
        """A backend vector of ``points``."""

    @abstractmethod
    def concat(self, parts: Sequence[PointVec]) -> PointVec:
        """The vectors of ``parts`` end to end."""

    @abstractmethod
    def slice(self, v: PointVec, start: int, stop: int) -> PointVec:
        """Points ``start..stop`` of ``v``."""

    @abstractmethod
    def length(self, v: PointVec) -> int:
        """Points in ``v``."""

    @abstractmethod
    def get(self, v: PointVec, i: int) -> Point:
        """Point ``i`` of ``v``."""

    @abstractmethod
    def msm(self, points: PointVec, scalars: Sequence[int]) -> Point:
        """The multi-scalar multiplication ``sum_i scalars[i] * points[i]``."""

    @abstractmethod
    def fold(self, lo: PointVec, hi: PointVec, a: int, b: int) -> PointVec:
        """``out_i = a * lo_i + b * hi_i`` (e.g. ``G' = x^-1 G_lo + x G_hi``)."""

    @abstractmethod
    def fold_weighted(self, lo: PointVec, hi: PointVec, wa: Sequence[int], wb: Sequence[int]) -> PointVec:
        """``out_i = wa_i * lo_i + wb_i * hi_i``."""

    @abstractmethod
    def keccak256(self, data: bytes) -> bytes:
        """Keccak-256 of ``data`` (Ethereum's, not SHA3)."""

    # -- verifier helpers (generic Python; the native backend overrides them in Rust)
    def ipa_scalars(self, checks: Sequence[IpaCheck], length: int) -> Any:
        """Weighted coefficients of g_0..g_{length-1} then h_0..h_{length-1} summed over
        ``checks`` (docs/proof-spec.md §6); an opaque block for :meth:`msm_blocks`."""
        g = [0] * length
        h = [0] * length
        for n, m, y, z, a, b, us, w in checks:
            N = n * m
            k = len(us)
            if length < N or 1 << k != N:
                raise ParameterError("ipa check sizes do not match", "checks")
            uinv = [pow(u, -1, R) for u in us]
            sv = [1]
            for j in range(k - 1, -1, -1):
                sv = [v * uinv[j] % R for v in sv] + [v * us[j] % R for v in sv]
            yinv = pow(y, -1, R)
            ypow = 1
            zj = z * z % R
            for j in range(m):
                pow2 = zj
                for t in range(n):
                    i = j * n + t
                    g[i] += w * (-z - a * sv[i])
                    h[i] += w * (z + (pow2 - b * sv[N - 1 - i]) * ypow)
                    pow2 = pow2 * 2 % R
                    ypow = ypow * yinv % R
                zj = zj * z % R
        return [v % R for v in g] + [v % R for v in h]

    def msm_blocks(self, points: PointVec, blocks: Sequence[Any]) -> Point:
        """MSM with the scalars given as consecutive blocks (lists of ints, or blocks
        returned by :meth:`ipa_scalars`)."""
        flat: list[int] = []
        for blk in blocks:
            flat.extend(blk)
        return self.msm(points, flat)

    # -- prover helpers: each backend brings its own (PyEccGroup the pure-Python prover)
    @abstractmethod
    def random_scalars(self, rng: Rng, count: int) -> Any:
        """``count`` uniform scalars (docs/proof-spec.md §6), as the opaque block
        :meth:`range_prover` takes."""

    @abstractmethod
    def range_prover(
        self,
        g_vec: PointVec,
        h_vec: PointVec,
        G: Point,
        H: Point,
        values: Sequence[int],
        gammas: Sequence[int],
        n: int,
        randomness: Any,
    ) -> Any:
        """The witness side of one aggregated range proof (the steps of
        ``_rangeprover.PyRangeProver``); ``randomness`` comes from :meth:`random_scalars`
        with ``2 n m + 4`` scalars."""


#: (n, m, y, z, a, b, [u_1..u_k], weight) of one inner-product verification.
IpaCheck = tuple[int, int, int, int, int, int, Sequence[int], int]


# ---------------------------------------------------------------------------- native


class NativeGroup(Group):
    """The Rust core (``zkmargin._core.curve``). ``threads``: the core's thread rule
    (``None`` or 0: ``ZKMARGIN_THREADS``, else every core), applied on every call."""

    name = "native"

    def __init__(self, threads: int | None = None) -> None:
        from .._core import curve

        # typed as Any: points and vectors cross the backend-neutral Group interface as
        # opaque values (`Point`), whichever backend made them
        core: Any = curve
        self._c: Any = core
        self._P: Any = core.G1Point
        self._V: Any = core.G1Vec
        self.threads = threads

    def generator(self) -> Point:
        return self._P.generator()

    def identity(self) -> Point:
        return self._P.identity()

    def hash_to_curve(self, label: bytes) -> Point:
        return self._P.hash_to_curve(bytes(label))[0]

    def add(self, a: Point, b: Point) -> Point:
        return a + b

    def neg(self, a: Point) -> Point:
        return -a

    def sub(self, a: Point, b: Point) -> Point:
        return a - b

    def mul(self, a: Point, s: int) -> Point:
        return a.mul(_check_scalar(s).to_bytes(32, "big"))

    def eq(self, a: Point, b: Point) -> bool:
        return bool(a == b)

    def is_identity(self, a: Point) -> bool:
        return bool(a.is_identity())

    def encode(self, a: Point) -> bytes:
        return bytes(a.to_evm())

    def decode(self, data: bytes) -> Point:
        return self._P.from_evm(bytes(data))

    def encode_compressed(self, a: Point) -> bytes:
        return bytes(a.to_compressed())

    def decode_compressed(self, data: bytes) -> Point:
        return self._P.from_compressed(bytes(data))

    def derive(self, prefix: bytes, start: int, count: int) -> PointVec:
        return self._V.derive(bytes(prefix), start, count, self.threads)

    def vec(self, points: Sequence[Point]) -> PointVec:
        return self._V.from_points(list(points))

    def concat(self, parts: Sequence[PointVec]) -> PointVec:
        return self._V.concat(list(parts))

    def slice(self, v: PointVec, start: int, stop: int) -> PointVec:
        return v.slice(start, stop)

    def length(self, v: PointVec) -> int:
        return len(v)

    def get(self, v: PointVec, i: int) -> Point:
        return v.get(i)

    def msm(self, points: PointVec, scalars: Sequence[int]) -> Point:
        return self._c.msm(points, scalars_to_bytes(scalars), self.threads)

    def fold(self, lo: PointVec, hi: PointVec, a: int, b: int) -> PointVec:
        return self._c.fold(lo, hi, a.to_bytes(32, "big"), b.to_bytes(32, "big"), self.threads)

    def fold_weighted(self, lo: PointVec, hi: PointVec, wa: Sequence[int], wb: Sequence[int]) -> PointVec:
        return self._c.fold_weighted(lo, hi, scalars_to_bytes(wa), scalars_to_bytes(wb), self.threads)

    def keccak256(self, data: bytes) -> bytes:
        return bytes(self._c.keccak256(bytes(data)))

    def ipa_scalars(self, checks: Sequence[IpaCheck], length: int) -> Any:
        args = [
            _NativeIpaCheck(n, m, _be(y), _be(z), _be(a), _be(b), scalars_to_bytes(us), _be(w))
            for n, m, y, z, a, b, us, w in checks
        ]
        return bytes(self._c.ipa_generator_scalars(args, length, self.threads))

    def msm_blocks(self, points: PointVec, blocks: Sequence[Any]) -> Point:
        parts = [blk if isinstance(blk, bytes) else scalars_to_bytes(blk) for blk in blocks]
        return self._c.msm_parts(points, parts, self.threads)

    def random_scalars(self, rng: Rng, count: int) -> Any:
        # the same derivation as the base class, with the reduction mod r done in Rust
        if rng is system_rng:
            return bytes(self._c.scalars_from_wide(secrets.token_bytes(64 * count)))
        return scalars_to_bytes(random_scalars(rng, count))

    def range_prover(
        self,
        g_vec: PointVec,
        h_vec: PointVec,
        G: Point,
        H: Point,
        values: Sequence[int],
        gammas: Sequence[int],
        n: int,
        randomness: Any,
    ) -> Any:
        return _NativeRangeProver(
            self._c,
            self._c.RangeProver(
                g_vec,
                h_vec,
                G,
                H,
                scalars_to_bytes(values),
                scalars_to_bytes(gammas),
                n,
                randomness,
                self.threads,
            ),
        )


def _be(s: int) -> bytes:
    return s.to_bytes(32, "big")


def _int(b: bytes) -> int:
    return int.from_bytes(b, "big")


class _NativeIpaCheck(NamedTuple):
    """One inner-product check as ``zkmargin._core.curve.ipa_generator_scalars`` reads it."""

    n: int
    m: int
    y: bytes
    z: bytes
    a: bytes
    b: bytes
    u: bytes
    weight: bytes


class _NativeRangeProver:
    """The state objects of ``zkmargin._core.curve`` (each step consumes one and returns
    the next; a consumed one refuses reuse) behind the step-by-step interface of
    ``PyRangeProver``, with its int scalars. A step called out of order finds the wrong
    state and raises :class:`~zkmargin.errors.ParameterError`."""

    def __init__(self, curve: Any, p: _CoreRangeProver) -> None:
        self._curve = curve
        self._state: Any = p

    def _at(self, kind: str, step: str) -> Any:
        if not isinstance(self._state, getattr(self._curve, kind)):
            raise ParameterError(f"{step} called out of protocol order", step)
        return self._state

    def commit(self) -> tuple[Point, Point]:
        a, s, self._state = self._at("RangeProver", "commit").commit()
        return a, s

    def poly(self, y: int, z: int) -> tuple[Point, Point]:
        t1, t2, self._state = self._at("RangeCommitted", "poly").poly(_be(y), _be(z))
        return t1, t2

    def evaluate(self, x: int) -> tuple[int, int, int]:
        t_hat, tau_x, mu, self._state = self._at("RangePolynomial", "evaluate").evaluate(_be(x))
        return _int(t_hat), _int(tau_x), _int(mu)

    def ipa_begin(self, w: int) -> None:
        self._state = self._at("RangeEvaluated", "ipa_begin").ipa_begin(_be(w))

    def ipa_round(self) -> tuple[Point, Point]:
        left, right, self._state = self._at("IpaRound", "ipa_round").round()
        return left, right

    def ipa_fold(self, u: int) -> None:
        self._state = self._at("IpaFold", "ipa_fold").fold(_be(u))

    def result(self) -> tuple[int, int]:
        a, b = self._at("IpaDone", "result").result()
        return _int(a), _int(b)


# ---------------------------------------------------------------------------- py_ecc


class PyEccGroup(Group):
    """Pure Python on ``py_ecc.optimized_bn128`` (projective (x, y, z) tuples of FQ)."""

    name = "pyecc"

    def __init__(self) -> None:
        try:
            keccak: Any = importlib.import_module("Crypto.Hash.keccak")
            bn: Any = importlib.import_module("py_ecc.optimized_bn128")
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ParameterError(
                "the pyecc backend needs py_ecc and pycryptodome (pip install zkmargin[baselines])",
                "backend",
            ) from e
        self._bn: Any = bn
        self._keccak: Any = keccak
        self._FQ = bn.FQ
        self._Z = bn.Z1

    # -- the pure-Python prover
    def random_scalars(self, rng: Rng, count: int) -> Any:
        return random_scalars(rng, count)

    def range_prover(
        self,
        g_vec: PointVec,
        h_vec: PointVec,
        G: Point,
        H: Point,
        values: Sequence[int],
        gammas: Sequence[int],
        n: int,
        randomness: Any,
    ) -> Any:
        return PyRangeProver(self, g_vec, h_vec, G, H, values, gammas, n, randomness)

    # -- single points
    def generator(self) -> Point:
        return self._bn.G1

    def identity(self) -> Point:
        return self._Z

    def _from_xy(self, x: int, y: int) -> Point:
        return (self._FQ(x), self._FQ(y), self._FQ(1))

    def hash_to_curve(self, label: bytes) -> Point:
        counter = 0
        while True:
            h = self.keccak256(bytes(label) + counter.to_bytes(4, "big"))
            x = int.from_bytes(h, "big") % P
            rhs = (x * x * x + 3) % P
            if pow(rhs, _LEGENDRE_EXP, P) == 1:
                y = pow(rhs, _SQRT_EXP, P)
                if y & 1:
                    y = P - y
                return self._from_xy(x, y)
            counter += 1

    def add(self, a: Point, b: Point) -> Point:
        return self._bn.add(a, b)

    def neg(self, a: Point) -> Point:
        return self._bn.neg(a)

    def mul(self, a: Point, s: int) -> Point:
        _check_scalar(s)
        if s == 0 or self._bn.is_inf(a):
            return self._Z
        return self._bn.multiply(a, s)

    def eq(self, a: Point, b: Point) -> bool:
        return bool(self._bn.eq(a, b))

    def is_identity(self, a: Point) -> bool:
        return bool(self._bn.is_inf(a))

    def _affine(self, a: Point) -> tuple[int, int] | None:
        if self._bn.is_inf(a):
            return None
        x, y = self._bn.normalize(a)
        return int(x.n), int(y.n)

    # -- encodings
    def encode(self, a: Point) -> bytes:
        xy = self._affine(a)
        if xy is None:
            return bytes(64)
        return xy[0].to_bytes(32, "big") + xy[1].to_bytes(32, "big")

    def decode(self, data: bytes) -> Point:
        if len(data) != 64:
            raise EncodingError(f"point: expected 64 bytes, got {len(data)}", "point")
        x = int.from_bytes(data[:32], "big")
        y = int.from_bytes(data[32:], "big")
        if x >= P or y >= P:
            raise EncodingError("point: coordinate is not below the field modulus p", "point")
        if x == 0 and y == 0:
            return self._Z
        if (y * y - x * x * x - 3) % P != 0:
            raise EncodingError("point: point is not on the curve y^2 = x^3 + 3", "point")
        return self._from_xy(x, y)

    def encode_compressed(self, a: Point) -> bytes:
        xy = self._affine(a)
        if xy is None:
            return b"\x40" + bytes(31)
        out = bytearray(xy[0].to_bytes(32, "big"))
        if xy[1] & 1:
            out[0] |= 0x80
        return bytes(out)

    def decode_compressed(self, data: bytes) -> Point:
        if len(data) != 32:
            raise EncodingError(f"point: expected 32 bytes, got {len(data)}", "point")
        flags = data[0] & 0xC0
        body = bytes([data[0] & 0x3F]) + bytes(data[1:])
        if flags == 0x40:
            if any(body):
                raise EncodingError("point: compressed point has invalid flag bits", "point")
            return self._Z
        if flags == 0xC0:
            raise EncodingError("point: compressed point has invalid flag bits", "point")
        x = int.from_bytes(body, "big")
        if x >= P:
            raise EncodingError("point: coordinate is not below the field modulus p", "point")
        rhs = (x * x * x + 3) % P
        y = pow(rhs, _SQRT_EXP, P)
        if y * y % P != rhs:
            raise EncodingError("point: point is not on the curve y^2 = x^3 + 3", "point")
        if (y & 1) != (1 if flags == 0x80 else 0):
            y = P - y
        return self._from_xy(x, y)

    # -- vectors (plain lists)
    def derive(self, prefix: bytes, start: int, count: int) -> PointVec:
        return [self.hash_to_curve(bytes(prefix) + (start + i).to_bytes(4, "big")) for i in range(count)]

    def vec(self, points: Sequence[Point]) -> PointVec:
        return list(points)

    def concat(self, parts: Sequence[PointVec]) -> PointVec:
        out: list[Point] = []
        for p in parts:
            out.extend(p)
        return out

    def slice(self, v: PointVec, start: int, stop: int) -> PointVec:
        return list(v[start:stop])

    def length(self, v: PointVec) -> int:
        return len(v)

    def get(self, v: PointVec, i: int) -> Point:
        return v[i]

    def msm(self, points: PointVec, scalars: Sequence[int]) -> Point:
        """Straightforward Pippenger: c-bit windows, buckets, running sums."""
        if len(points) != len(scalars):
            raise ParameterError("msm: points and scalars differ in length", "scalars")
        bn = self._bn
        terms = [(p, s) for p, s in zip(points, scalars, strict=True) if s % R and not bn.is_inf(p)]
        if not terms:
            return self._Z
        if len(terms) < 8:
            acc = self._Z
            for p, s in terms:
                acc = bn.add(acc, bn.multiply(p, s % R))
            return acc
        c = max(2, min(16, (len(terms).bit_length() - 1)))
        mask = (1 << c) - 1
        windows = (256 + c - 1) // c
        result = None
        for w in reversed(range(windows)):
            if result is not None:
                for _ in range(c):
                    result = bn.double(result)
            buckets: list[Point | None] = [None] * (1 << c)
            shift = w * c
            for p, s in terms:
                k = (s >> shift) & mask
                if k:
                    b = buckets[k]
                    buckets[k] = p if b is None else bn.add(b, p)
            running = None
            total = None
            for k in range(mask, 0, -1):
                b = buckets[k]
                if b is not None:
                    running = b if running is None else bn.add(running, b)
                if running is not None:
                    total = running if total is None else bn.add(total, running)
            if total is not None:
                result = total if result is None else bn.add(result, total)
        return self._Z if result is None else result

    def _mul2(self, p: Point, a: int, q: Point, b: int) -> Point:
        """a*p + b*q with one shared doubling chain (Shamir's trick)."""
        bn = self._bn
        pq = bn.add(p, q)
        acc = self._Z
        for i in range(max(a.bit_length(), b.bit_length()) - 1, -1, -1):
            acc = bn.double(acc)
            ba, bb = (a >> i) & 1, (b >> i) & 1
            if ba and bb:
                acc = bn.add(acc, pq)
            elif ba:
                acc = bn.add(acc, p)
            elif bb:
                acc = bn.add(acc, q)
        return acc

    def fold(self, lo: PointVec, hi: PointVec, a: int, b: int) -> PointVec:
        if len(lo) != len(hi):
            raise ParameterError("fold: halves differ in length", "hi")
        return [self._mul2(p, a, q, b) for p, q in zip(lo, hi, strict=True)]

    def fold_weighted(self, lo: PointVec, hi: PointVec, wa: Sequence[int], wb: Sequence[int]) -> PointVec:
        if not len(lo) == len(hi) == len(wa) == len(wb):
            raise ParameterError("fold: lengths differ", "wb")
        return [self._mul2(p, x, q, y) for p, q, x, y in zip(lo, hi, wa, wb, strict=True)]

    def keccak256(self, data: bytes) -> bytes:
        return bytes(self._keccak.new(digest_bits=256, data=bytes(data)).digest())


_GROUPS: dict[str, Group] = {}
_LOCK = threading.Lock()


def get_group(backend: str | Group = "native") -> Group:
    """The shared instance of a backend (``"native"`` or ``"pyecc"``), or ``backend``
    itself if it already is a :class:`Group`."""
    if isinstance(backend, Group):
        return backend
    with _LOCK:
        g = _GROUPS.get(backend)
        if g is None:
            if backend == "native":
                g = NativeGroup()
            elif backend == "pyecc":
                g = PyEccGroup()
            else:
                raise ParameterError(f"backend must be 'native' or 'pyecc', got {backend!r}", "backend")
            _GROUPS[backend] = g
        return g
