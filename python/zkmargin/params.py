"""Margin model parameters (docs/margin-model.md §8)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from .errors import ParameterError


@dataclass(frozen=True)
class MarginParams:
    linear_im: float = 0.10
    linear_mm: float = 0.05
    option_im_base: float = 0.15
    option_im_floor: float = 0.10
    option_mm: float = 0.075
    im_factor: float = 1.0
    mm_factor: float = 0.8
    annual_move_risk: float = 0.075
    min_annual_move: float = 0.01
    short_option_min: float = 0.003

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ParameterError(f"{name} must be a finite number >= 0, got {value!r}", name)
        if self.im_factor <= 0 or self.mm_factor <= 0:
            raise ParameterError("im_factor and mm_factor must be > 0", "mm_factor")
        if self.mm_factor > self.im_factor:
            raise ParameterError("mm_factor must not exceed im_factor", "mm_factor")
        if self.linear_mm > self.linear_im:
            raise ParameterError("linear_mm must not exceed linear_im", "linear_mm")

    def as_dict(self) -> dict[str, float]:
        """The parameters as a name -> value dict (the form the native core takes)."""
        return {k: float(v) for k, v in asdict(self).items()}
