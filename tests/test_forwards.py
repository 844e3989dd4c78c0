"""Forwards per expiry from futures marks (docs/margin-model.md §1.4), by hand."""

from __future__ import annotations

import math
from datetime import datetime, timezone

import numpy as np
import pytest

import zkmargin
from zkmargin import errors
from zkmargin.forwards import forwards_from_futures

VAL = datetime(2026, 1, 15, 8, tzinfo=timezone.utc)
NAMES = [
    "BTC-PERPETUAL",
    "BTC-27MAR26",
    "BTC-26JUN26",
    "BTC-30JAN26-60000-C",  # before the first future
    "BTC-27MAR26-60000-C",  # at a future's expiry
    "BTC-24APR26-60000-P",  # between the futures
    "BTC-25DEC26-70000-C",  # after the last future
    "ETH-27MAR26-3000-C",  # no ETH futures
]
SPOT = [60_000.0, 3_000.0]


def test_forwards_interpolate_log_forward_linearly_in_expiry() -> None:
    ins = zkmargin.Instruments.from_names(NAMES, VAL, underlyings=["BTC", "ETH"])
    mark = np.full(len(NAMES), np.nan)
    mark[1], mark[2] = 60_600.0, 61_500.0
    fwd = forwards_from_futures(ins, SPOT, mark)
    t = ins.expiry
    t1, t2 = t[1], t[2]
    ls, l1, l2 = math.log(60_000.0), math.log(60_600.0), math.log(61_500.0)
    assert fwd[1] == 60_600.0 and fwd[2] == 61_500.0
    assert fwd[3] == pytest.approx(math.exp(ls + (l1 - ls) * t[3] / t1), rel=1e-14)
    assert fwd[4] == pytest.approx(60_600.0, rel=1e-14)
    assert fwd[5] == pytest.approx(math.exp(l1 + (l2 - l1) * (t[5] - t1) / (t2 - t1)), rel=1e-14)
    assert fwd[6] == pytest.approx(math.exp(ls + (l2 - ls) / t2 * t[6]), rel=1e-14)
    assert fwd[7] == 3_000.0 and fwd[0] == 60_000.0  # no ETH futures; perpetual without a mark
    mark[0] = 60_030.0
    assert forwards_from_futures(ins, SPOT, mark)[0] == 60_030.0
    # the forwards feed the market as they are
    market = zkmargin.Market(SPOT, [0.0, 0.0, 0.0, 0.5, 0.5, 0.5, 0.5, 0.6], [1.0], [0.0], forward=fwd)
    vals = zkmargin.MarginEngine(ins).instrument_values(market)
    assert vals.mark_price[2] == 61_500.0


def test_bad_futures_marks_name_the_future() -> None:
    ins = zkmargin.Instruments.from_names(NAMES, VAL, underlyings=["BTC", "ETH"])
    mark = np.full(len(NAMES), np.nan)
    mark[1] = 60_600.0
    with pytest.raises(errors.ParameterError) as exc:
        forwards_from_futures(ins, SPOT, mark)
    assert exc.value.index == 2 and "BTC-26JUN26" in str(exc.value)
    twin = zkmargin.Instruments.from_names(["BTC-27MAR26", "BTC_USDC-27MAR26"], VAL, underlyings=["BTC"])
    with pytest.raises(errors.DuplicateError):
        forwards_from_futures(twin, [60_000.0], [60_600.0, 60_700.0])
    with pytest.raises(errors.ShapeError):
        forwards_from_futures(ins, SPOT, mark[:3])
