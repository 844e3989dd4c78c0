"""Vol units, shared by the market and the vol surfaces (docs/margin-model.md §1.2)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import _arrays
from .errors import ParameterError, VolUnitError

#: Largest vol accepted as a fraction (10.0 = 1000% a year). A larger value is taken to be
#: a percentage passed by mistake (Deribit quotes ``mark_iv`` in percent) and raises
#: :class:`zkmargin.errors.VolUnitError`; pass ``vol_unit="percent"`` for percent input.
MAX_VOL = 10.0

VOL_UNITS = ("fraction", "percent")


def vol_fraction(field: str, vol: Any, vol_unit: str) -> NDArray[np.float64]:
    """``vol`` as fractions: divided by 100 (into a new array) for ``vol_unit="percent"``;
    as a fraction every entry must be at most :data:`MAX_VOL`."""
    if vol_unit not in VOL_UNITS:
        raise ParameterError(f"vol_unit must be one of {VOL_UNITS}, got {vol_unit!r}", "vol_unit")
    v = _arrays.f64(field, vol)
    if vol_unit == "percent":
        return v / 100.0
    big = np.flatnonzero(v > MAX_VOL)
    if big.size:
        i = int(big[0])
        raise VolUnitError(
            f"{field}[{i}]: {v[i]} is above {MAX_VOL} (= {MAX_VOL:.0%} a year) as a fraction; "
            'if these vols are in percent pass vol_unit="percent"',
            field,
            i,
        )
    return v
