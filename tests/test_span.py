"""SPAN scenarios (docs/margin-model.md §6.1-§6.2): a published SPAN risk array, absolute
(vol-point) shocks and the one-day look-ahead, on every engine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import zkmargin
from zkmargin import baseline, errors
from zkmargin.baseline import numpy_engine

ENGINES: dict[str, type[Any]] = {
    "rust": zkmargin.MarginEngine,
    "python": baseline.MarginEngine,
    "numpy": numpy_engine.MarginEngine,
}
ALL = pytest.mark.parametrize("engine", list(ENGINES))
FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "span_sp500_risk_arrays.json").read_text())


@ALL
def test_published_sp500_futures_risk_array(engine: str) -> None:
    """CME's S&P 500 futures array as McMillan publishes it: scan range 20 points of $500
    ($10,000), extreme move 35% of twice the range ($7,000). The futures price does not
    matter; any level with the range expressed relative to it gives the same array."""
    c = FIXTURE["contract"]
    published = np.array(FIXTURE["long_future"], dtype=np.float64)
    for level in (400.0, 2790.0):
        ins = zkmargin.Instruments([2], [0], [0.0], [0.25], [float(c["multiplier_usd_per_point"])], [0])
        mkt = zkmargin.Market([level], [0.0], [1.0], [0.0])
        table = zkmargin.span_scenarios(1, c["scan_range_points"] / level)
        risk = ENGINES[engine](ins, table).risk_arrays(mkt)[0]
        # the publication rounds to $10; the full range and the extreme rows are exact
        assert np.all(np.abs(risk - published) <= FIXTURE["rounding_usd"] / 2)
        for k in (10, 11, 12, 13, 14, 15):
            assert risk[k] == pytest.approx(published[k], rel=1e-12)
        assert np.array_equal(risk[0::2][:7], risk[1::2][:7])  # vol up = vol down for a future
        # SPAN requirement of the long future: the largest loss, the full down move
        res = ENGINES[engine](ins, table, aggregation="span").compute(
            zkmargin.Accounts([0, 1], [0], [1.0], [[0.0]]), mkt
        )
        assert res.scenario_loss[0] == pytest.approx(c["scan_range_usd"], rel=1e-12)


def test_published_covered_write_is_the_sum_of_its_legs_and_scans_to_its_requirement() -> None:
    fut = np.array(FIXTURE["long_future"])
    call = np.array(FIXTURE["long_dec_410_call"])
    covered = np.array(FIXTURE["covered_write"])
    assert np.array_equal(covered, fut - call)  # long future, short call, scenario by scenario
    # SPAN's scan risk is the largest loss of the combined array (docs §6.3: max(0, max -P))
    assert max(0.0, float((-covered).max())) == FIXTURE["span_requirement"]["covered_write"]
    assert max(0.0, float((-call).max())) == FIXTURE["span_requirement"]["long_dec_410_call"]
    # the published option array loses more with vol down at every price move
    assert np.all(call[1:14:2] < call[0:14:2])


CALL = zkmargin.Instruments([3, 3], [0, 0], [100.0, 95.0], [0.25, 0.5 / 365], [1.0, 1.0], [0, 0])
CALL_MARKET = zkmargin.Market([100.0], [0.5, 0.4], [1.0], [0.0])


def price(f: float, k: float, t: float, vol: float) -> float:
    return float(zkmargin.black76([True], [f], [k], [t], [vol], [0.0]).price[0])


@ALL
def test_absolute_vol_shock_moves_vol_by_points(engine: str) -> None:
    table = zkmargin.span_scenarios(1, 0.1, vol_range=0.04, vol_shift="absolute")
    risk = ENGINES[engine](CALL, table).risk_arrays(CALL_MARKET)
    today = price(100.0, 100.0, 0.25, 0.5)
    # scenario 1: price unchanged, vol 0.50 + 0.04; scenario 2: 0.50 - 0.04
    assert risk[0, 0] == pytest.approx(price(100.0, 100.0, 0.25, 0.54) - today, rel=1e-12)
    assert risk[0, 1] == pytest.approx(price(100.0, 100.0, 0.25, 0.46) - today, rel=1e-12)
    # scenario 12: up the full range with vol down
    assert risk[0, 11] == pytest.approx(price(110.0, 100.0, 0.25, 0.46) - today, rel=1e-12)
    relative = ENGINES[engine](CALL, zkmargin.span_scenarios(1, 0.1, vol_range=0.04)).risk_arrays(CALL_MARKET)
    assert relative[0, 0] == pytest.approx(price(100.0, 100.0, 0.25, 0.52) - today, rel=1e-12)


@ALL
def test_one_day_look_ahead_prices_time_decay_into_the_scenarios(engine: str) -> None:
    day = 1 / 365
    table = zkmargin.span_scenarios(1, 0.1, vol_range=0.0, look_ahead_days=1.0)
    assert table.look_ahead == day
    risk = ENGINES[engine](CALL, table).risk_arrays(CALL_MARKET)
    today = price(100.0, 100.0, 0.25, 0.5)
    # unchanged price and vol: the loss is one day of time decay
    assert risk[0, 0] == pytest.approx(price(100.0, 100.0, 0.25 - day, 0.5) - today, rel=1e-12)
    assert risk[0, 0] < 0.0
    # an option expiring within the look-ahead is worth its intrinsic value at the move
    short_dated = price(100.0, 95.0, 0.5 / 365, 0.4)
    assert risk[1, 0] == pytest.approx(5.0 - short_dated, rel=1e-12)
    assert risk[1, 10] == pytest.approx(110.0 - 95.0 - short_dated, rel=1e-12)
    assert risk[1, 12] == pytest.approx(0.0 - short_dated, rel=1e-12)
    none = ENGINES[engine](CALL, zkmargin.span_scenarios(1, 0.1, vol_range=0.0)).risk_arrays(CALL_MARKET)
    assert none[0, 0] == 0.0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"vol_shift": "points"}, "vol_shift"),
        ({"look_ahead_days": -1.0}, "look_ahead"),
        ({"look_ahead_days": float("nan")}, "look_ahead"),
    ],
)
def test_bad_span_scenario_settings_are_typed(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(errors.ParameterError) as info:
        zkmargin.span_scenarios(1, 0.1, **kwargs)
    assert info.value.field == field
