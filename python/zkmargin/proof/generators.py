"""Nothing-up-my-sleeve generators (docs/proof-spec.md §4).

``G`` is the standard BN254 generator (1, 2), so EVM verifiers can use it without a
table. Every other generator is keccak256 try-and-increment on a public label:

- ``H``      = hash_to_curve(b"zkmargin/v1/bn254/H")
- ``g_i``    = hash_to_curve(b"zkmargin/v1/bn254/Gvec" || u32_be(i))
- ``h_i``    = hash_to_curve(b"zkmargin/v1/bn254/Hvec" || u32_be(i))

so no discrete-log relation between any two of them is known to anyone.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from .group import Group

__all__ = ["CURVE_LABEL", "GVEC_PREFIX", "HVEC_PREFIX", "H_LABEL", "Generators", "generators"]

CURVE_LABEL = b"bn254-g1/evm"
H_LABEL = b"zkmargin/v1/bn254/H"
GVEC_PREFIX = b"zkmargin/v1/bn254/Gvec"
HVEC_PREFIX = b"zkmargin/v1/bn254/Hvec"

#: Largest vector length served (n = 64 bits times m = 2^12 values).
MAX_VECTOR = 1 << 18


@dataclass
class Generators:
    """Generators of one backend; the vectors grow on demand and are cached."""

    group: Group
    G: Any
    H: Any
    _g: Any = None
    _h: Any = None
    _len: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def vectors(self, count: int) -> tuple[Any, Any]:
        """(g_0..g_{count-1}, h_0..h_{count-1})."""
        grp = self.group
        with self._lock:
            if count > self._len:
                if count > MAX_VECTOR:
                    from ..errors import ParameterError

                    raise ParameterError(f"vector length {count} exceeds {MAX_VECTOR}", "n*m")
                want = max(count, 2 * self._len)
                g_new = grp.derive(GVEC_PREFIX, self._len, want - self._len)
                h_new = grp.derive(HVEC_PREFIX, self._len, want - self._len)
                if self._g is None:
                    self._g, self._h = g_new, h_new
                else:
                    self._g = grp.concat([self._g, g_new])
                    self._h = grp.concat([self._h, h_new])
                self._len = want
            g, h = self._g, self._h
        if count == self._len:
            return g, h
        return grp.slice(g, 0, count), grp.slice(h, 0, count)

    def label_digest(self) -> bytes:
        """What the transcript absorbs about the generators: the curve label and every
        generator label rule (the vectors follow from the prefixes)."""
        return b"|".join([CURVE_LABEL, b"G=(1,2)", H_LABEL, GVEC_PREFIX, HVEC_PREFIX])


_CACHE: dict[int, Generators] = {}
_CACHE_LOCK = threading.Lock()


def generators(group: Group) -> Generators:
    """The cached generator set of ``group``."""
    with _CACHE_LOCK:
        g = _CACHE.get(id(group))
        if g is None or g.group is not group:
            g = Generators(group=group, G=group.generator(), H=group.hash_to_curve(H_LABEL))
            _CACHE[id(group)] = g
        return g
