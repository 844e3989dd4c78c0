"""Shifting today's market by joint moves, and collateral value by the core (§3)."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from .. import _arrays
from ..book import Accounts, Instruments
from ..errors import ParameterError
from ..market import Market
from ..results import MarginResult
from ..surface import VolSurface


class EngineLike(Protocol):
    """What the dynamic layer needs from an engine: the Rust ``zkmargin.MarginEngine`` and
    the pure-Python ``zkmargin.baseline.MarginEngine`` both qualify."""

    def compute(self, accounts: Accounts, market: Market, model: str = ...) -> MarginResult: ...

    def risk_arrays(self, market: Market) -> NDArray[np.float64]: ...


def shocked_market(
    market: Market, instruments: Instruments, move: Any, asset_underlying: Any, vol_multiplier: float = 1.0
) -> Market:
    """Today's market after relative moves ``move`` (per underlying): spots and forwards
    scale by ``1 + m``, every implied vol (and vol surface) by ``vol_multiplier``, and each collateral asset
    mapped to an underlying (``asset_underlying[j] >= 0``; ``-1`` for stable assets) moves
    with it."""
    m = np.asarray(move, dtype=np.float64)
    au = _arrays.i64("asset_underlying", asset_underlying)
    _arrays.same_length("asset_underlying", au, market.asset_price.shape[0], "asset_price")
    if np.any(au >= m.shape[0]) or np.any(au < -1):
        raise ParameterError("asset_underlying entries must be -1 or an underlying index", "asset_underlying")
    factor = 1.0 + m
    asset = market.asset_price * np.where(au >= 0, factor[np.maximum(au, 0)], 1.0)
    fwd = None if market.forward is None else market.forward * factor[instruments.underlying]
    surfaces = None
    if market.surfaces is not None:
        surfaces = [
            None if s is None else VolSurface(s.expiry, s.log_moneyness, s.vol * vol_multiplier)
            for s in market.surfaces
        ]
    return Market(
        market.spot * factor,
        market.vol * vol_multiplier,
        np.ascontiguousarray(asset),
        market.haircut,
        market.rate,
        None if fwd is None else np.ascontiguousarray(fwd),
        surfaces=surfaces,
        rate_curve=market.rate_curve,
    )


def collateral_value(engine: EngineLike, balances: Any, market: Market) -> NDArray[np.float64]:
    """§3 collateral value per row of ``balances`` (``A x J``), computed by the engine on a
    book without positions (so the haircut rule is the core's, not a copy)."""
    bal = _arrays.f64("balances", balances, ndim=2)
    n = bal.shape[0]
    empty = Accounts(np.zeros(n + 1, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0), bal)
    return engine.compute(empty, market, "cross").equity
