"""EPA PM NowCast (nagar.air.nowcast) against AirNow's worked example and hand calculations."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from nagar.air.nowcast import nowcast, nowcast_aqi, nowcast_series
from nagar.core.errors import InvalidInput

nan = np.nan

# AirNow "Computing the NowCast" example, oldest hour first (the most recent hour is 13 µg/m³):
# range 90-10 = 80, scaled rate 80/90, w = 1 - 0.89 = 0.11 < 0.5 -> w = 0.5;
# (13 + 16/2 + 10/4 + 21/8 + 74/16 + ...) / (1 + 1/2 + 1/4 + ...) = 17.41 -> 17.4 µg/m³
AIRNOW = [50, 80, 75, 90, 82, 53, 64, 74, 21, 10, 16, 13]


def test_airnow_worked_example():
    assert nowcast(AIRNOW) == 17.4
    assert nowcast(np.array(AIRNOW, dtype=float)) == 17.4
    assert nowcast(pl.Series("pm25", AIRNOW)) == 17.4
    # only the last 12 hours count: older hours are ignored
    assert nowcast([500, 500] + AIRNOW) == 17.4


def test_nowcast_aqi_of_the_example():
    # 2024: 17.4 -> 9.1-35.4 -> 51-100: 49/26.3*(17.4-9.1)+51 = 66.46 -> 66
    assert nowcast_aqi(AIRNOW) == 66
    # 2012: 17.4 -> 12.1-35.4 -> 51-100: 49/23.3*(17.4-12.1)+51 = 62.15 -> 62
    assert nowcast_aqi(AIRNOW, standard="us-epa-2012") == 62


HAND = [
    # steady air: w = 1, the NowCast is the 12-hour mean
    ([20.0] * 12, "pm25", 20.0),
    # w = min/max = 40/50 = 0.8 (above 0.5): (50 + 40*(0.8+...+0.8^11)) / (1 + 0.8+...+0.8^11)
    # = (50 + 40*3.6564) / 4.6564 = 42.148 -> 42.1
    ([40.0] * 11 + [50.0], "pm25", 42.1),
    # missing hours drop out of both sums: valid 10..30, w = 10/30 -> 0.5;
    # hours ago 0,1,3,4,5,6,7,8,10,11 hold 28,30,24,22,20,18,16,14,12,10:
    # num = 28 + 15 + 3 + 1.375 + 0.625 + 0.28125 + 0.125 + 0.0546875 + 0.01171875 + 0.0048828125 = 48.4775
    # den = 1 + .5 + .125 + .0625 + .03125 + .015625 + .0078125 + .00390625 + .0009765625 + .00048828125
    #     = 1.74756; 48.4775 / 1.74756 = 27.740 -> 27.7
    ([10, 12, nan, 14, 16, 18, 20, 22, 24, nan, 30, 28], "pm25", 27.7),
    # negative hours are taken as 0: w = 0/10 -> 0.5; (10 + 10/2) / (2 - 0.5^11) = 7.502 -> 7.5
    ([-2.0] * 10 + [10.0, 10.0], "pm25", 7.5),
    # PM10 is truncated to whole µg/m³: steady 54.9 -> 54
    ([54.9] * 12, "pm10", 54.0),
    # 2 of the 3 most recent hours valid (the newest missing is allowed)
    ([20.0] * 10 + [20.0, nan], "pm25", 20.0),
    ([20.0] * 9 + [20.0, nan, 20.0], "pm25", 20.0),
]


@pytest.mark.parametrize("hours, parameter, expected", HAND)
def test_hand_calculations(hours, parameter, expected):
    assert nowcast(hours, parameter) == expected


@pytest.mark.parametrize("recent", [[nan, nan, 20.0], [20.0, nan, nan], [nan, 20.0, nan], [nan, nan, nan]])
def test_two_of_three_most_recent_hours_rule(recent):
    assert np.isnan(nowcast([20.0] * 9 + recent))


def test_stations_by_hours_and_axis():
    a = np.array([AIRNOW, [20.0] * 12, [20.0] * 9 + [nan, nan, 20.0]])
    np.testing.assert_array_equal(nowcast(a), [17.4, 20.0, nan])
    np.testing.assert_array_equal(nowcast(a.T, axis=0), [17.4, 20.0, nan])


def test_series_one_value_per_hour():
    s = nowcast_series(AIRNOW)
    assert s.shape == (12,)
    # hour 1: only one hour -> fewer than 2 of the last 3 valid -> NaN
    assert np.isnan(s[0])
    # hour 2: 50 then 80: w = 50/80 = 0.625; (80 + 0.625*50) / 1.625 = 68.46 -> 68.4
    assert s[1] == 68.4
    # hour 12: the full window of the AirNow example
    assert s[-1] == 17.4
    # each value equals the NowCast of its own trailing window
    for t in range(1, 12):
        assert s[t] == nowcast(AIRNOW[: t + 1])
    # 2-D (stations x hours), the other axis order, and polars
    two = nowcast_series(np.array([AIRNOW, AIRNOW]))
    np.testing.assert_array_equal(two[1], s)
    np.testing.assert_array_equal(nowcast_series(np.array([AIRNOW, AIRNOW]).T, axis=0)[:, 0], s)
    ps = nowcast_series(pl.Series("pm25", AIRNOW))
    assert isinstance(ps, pl.Series) and ps.name == "pm25"
    np.testing.assert_array_equal(ps.to_numpy(), s)


def test_series_long_and_blocked():
    rng = np.random.default_rng(5)
    x = rng.gamma(2.0, 20.0, (3, 2000))
    x[rng.random(x.shape) < 0.1] = nan
    out = nowcast_series(x)
    for t in (0, 1, 11, 12, 500, 1999):
        np.testing.assert_array_equal(out[:, t], nowcast(x[:, max(0, t - 11): t + 1]))


def test_errors():
    with pytest.raises(InvalidInput):
        nowcast(AIRNOW, "o3")
    with pytest.raises(InvalidInput):
        nowcast(AIRNOW, hours=2)
    with pytest.raises(InvalidInput):
        nowcast(AIRNOW, min_weight=1.5)
    with pytest.raises(InvalidInput):
        nowcast(5.0)
    with pytest.raises(InvalidInput):  # India reports running 24-hour means, not a NowCast
        nowcast_aqi(AIRNOW, standard="in-naqi-2014")
