"""Forwards per expiry from futures marks (docs/margin-model.md §1.4).

Options on an underlying with listed futures are valued on the forward those futures
imply at the option's expiry, not on the index: ``forwards_from_futures`` builds
``Market.forward`` from the futures' mark prices by interpolating ``ln F`` linearly in
expiry through ``(0, ln S_u)`` and every future's ``(T, ln mark)`` (a piecewise-constant
carry rate), extended past the last future at that future's average carry
``ln(F_n / S_u) / T_n``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import _arrays
from .book import Instruments, Kind
from .errors import DuplicateError, ParameterError


def forwards_from_futures(instruments: Instruments, spot: Any, futures_mark: Any) -> NDArray[np.float64]:
    """``Market.forward`` (length ``I``) from ``futures_mark`` (length ``I``: each dated
    future's mark price, optionally a perpetual's; entries of other instruments are not
    read, NaN is fine). A future gets its own mark; an option the forward interpolated at
    its expiry from its underlying's futures (module docstring); a perpetual its mark when
    one is given (finite, > 0), else the spot; spot instruments, and options on an
    underlying without futures, the spot. Two futures of one
    underlying with the same expiry must have the same mark
    (:class:`~zkmargin.errors.DuplicateError` otherwise); marks must be finite and > 0
    (``ParameterError`` naming the future)."""
    s = _arrays.f64("spot", spot)
    mark = _arrays.f64("futures_mark", futures_mark)
    _arrays.same_length("futures_mark", mark, len(instruments), "number of instruments")
    _arrays.same_length("spot", s, instruments.n_underlyings, "number of underlyings")
    fut = instruments.kind == Kind.FUTURE
    bad = np.flatnonzero(fut & ~(np.isfinite(mark) & (mark > 0.0)))
    if bad.size:
        i = int(bad[0])
        raise ParameterError(
            f"futures_mark of {instruments.label(i)}: a future's mark must be finite and > 0 (got {mark[i]})",
            "futures_mark",
            i,
        )
    out = s[instruments.underlying].astype(np.float64)
    for u in range(instruments.n_underlyings):
        rows = np.flatnonzero(fut & (instruments.underlying == u))
        if rows.size == 0:
            continue
        t, f = instruments.expiry[rows], mark[rows]
        order = np.argsort(t, kind="stable")
        t, f, rows = t[order], f[order], rows[order]
        same = np.flatnonzero(t[1:] == t[:-1])
        if same.size and np.any(f[same + 1] != f[same]):
            j = int(same[np.flatnonzero(f[same + 1] != f[same])[0]])
            raise DuplicateError(
                f"futures_mark: {instruments.label(int(rows[j]))} and {instruments.label(int(rows[j + 1]))} "
                "expire together but have different marks",
                "futures_mark",
                int(rows[j + 1]),
            )
        keep = np.concatenate(([True], t[1:] != t[:-1]))
        t, f = t[keep], f[keep]
        nodes_t = np.concatenate(([0.0], t))
        nodes_lf = np.concatenate(([np.log(s[u])], np.log(f)))
        # spot and perpetuals stay on the index (the engine marks them there anyway)
        dated = (instruments.kind != Kind.SPOT) & (instruments.kind != Kind.PERPETUAL)
        mine = np.flatnonzero((instruments.underlying == u) & dated)
        te = instruments.expiry[mine]
        inside = np.interp(te, nodes_t, nodes_lf)
        carry = (nodes_lf[-1] - nodes_lf[0]) / nodes_t[-1]
        beyond = nodes_lf[0] + carry * te
        out[mine] = np.exp(np.where(te > nodes_t[-1], beyond, inside))
    out[fut] = mark[fut]
    perp = (instruments.kind == Kind.PERPETUAL) & np.isfinite(mark) & (mark > 0.0)
    out[perp] = mark[perp]
    _arrays.finite_output("forward", out)
    return out
