"""WHO Global Air Quality Guidelines 2021 (ISBN 978-92-4-003422-8), Table 0.1, and exceedance counts."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from nagar.air.who import WHO_2021, exceedances, guideline_level, o3_peak_season
from nagar.core.errors import InvalidInput

# Table 0.1 of the executive summary: (parameter, averaging) -> (IT-1, IT-2, IT-3, IT-4, AQG)
TABLE_0_1 = {
    ("pm25", "annual"): (35, 25, 15, 10, 5),
    ("pm25", "24h"): (75, 50, 37.5, 25, 15),
    ("pm10", "annual"): (70, 50, 30, 20, 15),
    ("pm10", "24h"): (150, 100, 75, 50, 45),
    ("o3", "peak_season"): (100, 70, None, None, 60),
    ("o3", "8h"): (160, 120, None, None, 100),
    ("no2", "annual"): (40, 30, 20, None, 10),
    ("no2", "24h"): (120, 50, None, None, 25),
    ("so2", "24h"): (125, 50, None, None, 40),
    ("co", "24h"): (7, None, None, None, 4),
}
CASES = [(p, a, lvl, v) for (p, a), vals in TABLE_0_1.items()
         for lvl, v in zip(("it1", "it2", "it3", "it4", "aqg"), vals)]


def test_table_is_complete():
    assert set(WHO_2021) == set(TABLE_0_1)
    assert WHO_2021[("co", "24h")].unit == "mg/m³" and WHO_2021[("pm25", "24h")].unit == "µg/m³"
    assert WHO_2021[("pm25", "24h")].statistic == "p99" and WHO_2021[("pm25", "annual")].statistic == "mean"


@pytest.mark.parametrize("parameter, averaging, level, value", CASES)
def test_levels(parameter, averaging, level, value):
    if value is None:
        with pytest.raises(InvalidInput) as e:
            guideline_level(parameter, averaging, level)
        assert e.value.field == "level"
    else:
        assert guideline_level(parameter, averaging, level) == value


def test_level_aliases_and_errors():
    assert guideline_level("PM2.5", "daily") == 15
    assert guideline_level("ozone", "peak") == 60
    with pytest.raises(InvalidInput):
        guideline_level("co", "annual")
    with pytest.raises(InvalidInput):
        guideline_level("pm25", "24h", "it5")


DAYS_2023 = np.arange("2023-01-01", "2024-01-01", dtype="datetime64[D]")


@pytest.mark.parametrize("n_above, meets", [(3, True), (4, True), (5, False)])
def test_99th_percentile_allows_three_to_four_days(n_above, meets):
    # 365 daily means: 10 µg/m³, and n days at 20 µg/m³ (above the 15 µg/m³ AQG).
    # numpy's 99th percentile sits at rank 0.99*364 = 360.36 of the sorted values:
    # n=4: values[360]=10, values[361]=20 -> 10 + 0.36*10 = 13.6 <= 15 -> met
    # n=5: values[360]=values[361]=20 -> 20 > 15 -> not met
    v = np.full(365, 10.0)
    v[:n_above] = 20.0
    r = exceedances(v, "pm25", "24h", times=DAYS_2023)
    assert r.periods.tolist() == [np.datetime64("2023", "Y")]
    assert r.exceedance_days.tolist() == [n_above]
    assert r.valid_days.tolist() == [365]
    assert r.allowed_days.tolist() == [3]  # floor(0.01 * 365)
    assert bool(r.meets[0]) is meets
    if n_above == 4:
        assert r.statistic[0] == pytest.approx(13.6)


def test_per_year_and_month_with_missing_days():
    days = np.arange("2023-01-01", "2025-01-01", dtype="datetime64[D]")
    v = np.full(len(days), 30.0)  # PM10, AQG 45
    v[days == np.datetime64("2023-02-10")] = 50.0
    v[days == np.datetime64("2024-02-11")] = 60.0
    v[days == np.datetime64("2024-02-12")] = np.nan
    y = exceedances(v, "pm10", "24h", times=days)
    assert y.exceedance_days.tolist() == [1, 1]
    assert y.valid_days.tolist() == [365, 365]  # 2024 has 366 days, one missing
    m = exceedances(v, "pm10", "24h", times=days, period="month")
    assert len(m.periods) == 24 and m.periods[13] == np.datetime64("2024-02")
    assert m.exceedance_days.sum() == 2 and m.exceedance_days[1] == 1 and m.exceedance_days[13] == 1
    assert m.valid_days[13] == 28  # 29 days in February 2024, one missing
    # interim target IT-1 (150 µg/m³): no exceedance
    assert exceedances(v, "pm10", "24h", "it1", times=days).exceedance_days.tolist() == [0, 0]


def test_without_dates_one_period_and_polars():
    r = exceedances(pl.Series([10.0, 16.0, None, 15.0]), "pm25")
    # 16 > 15 is an exceedance; 15 is not (strictly above); the null day is not valid
    assert r.exceedance_days.tolist() == [1] and r.valid_days.tolist() == [3]


def test_annual_mean():
    # annual AQG for PM2.5 is 5 µg/m³: mean of 4 and 8 over two halves of the year = 6 -> not met
    v = np.where(np.arange(365) < 182, 4.0, 8.0)
    r = exceedances(v, "pm25", "annual", times=DAYS_2023)
    # mean = (182*4 + 183*8)/365 = 6.005
    assert r.statistic[0] == pytest.approx((182 * 4 + 183 * 8) / 365)
    assert not r.meets[0] and r.allowed_days.tolist() == [0]
    assert exceedances(v, "pm25", "annual", "it4", times=DAYS_2023).meets.tolist() == [True]  # IT-4 10


def test_unit_conversion_of_gases():
    # NO2 24-h AQG 25 µg/m³ = 25 / (46.005/24.45) = 13.29 ppb at 25 °C:
    # 14 ppb = 26.34 µg/m³ exceeds, 13 ppb = 24.46 µg/m³ does not
    r = exceedances([14.0, 13.0], "no2", "24h", unit="ppb")
    assert r.exceedance_days.tolist() == [1] and r.unit == "µg/m³"
    # CO 24-h AQG 4 mg/m³ compared in mg/m³; 5 ppm = 5 * 28.010/24.45 = 5.73 mg/m³ exceeds
    assert exceedances([5.0, 3.0], "co", "24h", unit="ppm").exceedance_days.tolist() == [1]
    with pytest.raises(InvalidInput):
        exceedances([1.0], "no2", "24h", unit="furlongs")


def test_exceedance_errors():
    with pytest.raises(InvalidInput):
        exceedances([1.0, 2.0], "pm25", times=DAYS_2023[:3])
    with pytest.raises(InvalidInput):
        exceedances([1.0], "pm25", times=DAYS_2023[:1], period="week")
    with pytest.raises(InvalidInput):
        exceedances([1.0], "o3", "peak_season")


def test_o3_peak_season():
    days = np.arange("2023-01-01", "2024-01-01", dtype="datetime64[D]")
    month = days.astype("datetime64[M]").astype(int) % 12 + 1
    # daily maximum 8-h O3: 40 µg/m³, and 80 µg/m³ from April to September
    v = np.where((month >= 4) & (month <= 9), 80.0, 40.0)
    # best six consecutive months: April-September, all 80 -> 80 > AQG 60
    assert o3_peak_season(v, days) == 80.0
    # shift the high months by one: May-October -> windows Apr-Sep and May-Oct;
    # May-Oct is all 80, Apr-Sep has April at 40: (40 + 5*80)/6 = 73.3 -> maximum 80
    v2 = np.where((month >= 5) & (month <= 10), 80.0, 40.0)
    assert o3_peak_season(v2, days) == 80.0
    # 30 ppb everywhere = 30 * 47.997/24.45 = 58.89 µg/m³, below the AQG of 60
    assert o3_peak_season(np.full(len(days), 30.0), days, unit="ppb") == pytest.approx(30 * 47.997 / 24.45)
    assert np.isnan(o3_peak_season(v[:100], days[:100]))  # fewer than six months
