"""Sub-indices and the combined AQI against the published tables, worked by hand.

The breakpoint rows below are typed from the published documents, not read from Nagar's JSON files, so
that a transcription error in either place fails a test:

* US EPA 2024: EPA-454/B-24-002 (May 2024) Table 6; Hazardous 301+ with AQI 500 at the listed tops.
* US EPA 2012: EPA 454/B-18-007 (September 2018) Table 5.
* India: CPCB National Air Quality Index (2014) breakpoint table (Severe upper ends are Nagar's reading).
"""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl
import pytest

from nagar.air.aqi import AQIResult, compute_aqi, sub_index, truncate
from nagar.air.standards import load_standard
from nagar.core.errors import InvalidInput

# --- published rows: key -> [(c_lo, c_hi, i_lo, i_hi), ...] ---------------------------------------

EPA_2024 = {
    "pm25_24h": [(0.0, 9.0, 0, 50), (9.1, 35.4, 51, 100), (35.5, 55.4, 101, 150), (55.5, 125.4, 151, 200),
                 (125.5, 225.4, 201, 300), (225.5, 325.4, 301, 500)],
    "pm10_24h": [(0, 54, 0, 50), (55, 154, 51, 100), (155, 254, 101, 150), (255, 354, 151, 200),
                 (355, 424, 201, 300), (425, 604, 301, 500)],
    "o3_8h": [(0.000, 0.054, 0, 50), (0.055, 0.070, 51, 100), (0.071, 0.085, 101, 150),
              (0.086, 0.105, 151, 200), (0.106, 0.200, 201, 300)],
    "o3_1h": [(0.125, 0.164, 101, 150), (0.165, 0.204, 151, 200), (0.205, 0.404, 201, 300),
              (0.405, 0.604, 301, 500)],
    "co_8h": [(0.0, 4.4, 0, 50), (4.5, 9.4, 51, 100), (9.5, 12.4, 101, 150), (12.5, 15.4, 151, 200),
              (15.5, 30.4, 201, 300), (30.5, 50.4, 301, 500)],
    "so2_1h": [(0, 35, 0, 50), (36, 75, 51, 100), (76, 185, 101, 150), (186, 304, 151, 200)],
    "so2_24h": [(305, 604, 201, 300), (605, 1004, 301, 500)],
    "no2_1h": [(0, 53, 0, 50), (54, 100, 51, 100), (101, 360, 101, 150), (361, 649, 151, 200),
               (650, 1249, 201, 300), (1250, 2049, 301, 500)],
}
EPA_2012 = {
    **EPA_2024,
    "pm25_24h": [(0.0, 12.0, 0, 50), (12.1, 35.4, 51, 100), (35.5, 55.4, 101, 150), (55.5, 150.4, 151, 200),
                 (150.5, 250.4, 201, 300), (250.5, 350.4, 301, 400), (350.5, 500.4, 401, 500)],
    "pm10_24h": [(0, 54, 0, 50), (55, 154, 51, 100), (155, 254, 101, 150), (255, 354, 151, 200),
                 (355, 424, 201, 300), (425, 504, 301, 400), (505, 604, 401, 500)],
    "o3_1h": [(0.125, 0.164, 101, 150), (0.165, 0.204, 151, 200), (0.205, 0.404, 201, 300),
              (0.405, 0.504, 301, 400), (0.505, 0.604, 401, 500)],
    "co_8h": [(0.0, 4.4, 0, 50), (4.5, 9.4, 51, 100), (9.5, 12.4, 101, 150), (12.5, 15.4, 151, 200),
              (15.5, 30.4, 201, 300), (30.5, 40.4, 301, 400), (40.5, 50.4, 401, 500)],
    "so2_24h": [(305, 604, 201, 300), (605, 804, 301, 400), (805, 1004, 401, 500)],
    "no2_1h": [(0, 53, 0, 50), (54, 100, 51, 100), (101, 360, 101, 150), (361, 649, 151, 200),
               (650, 1249, 201, 300), (1250, 1649, 301, 400), (1650, 2049, 401, 500)],
}
INDIA = {  # µg/m³ except CO mg/m³; Severe upper ends (last row's c_hi) are Nagar's continuation
    "pm10_24h": [(0, 50, 0, 50), (51, 100, 51, 100), (101, 250, 101, 200), (251, 350, 201, 300),
                 (351, 430, 301, 400), (431, 510, 401, 500)],
    "pm25_24h": [(0, 30, 0, 50), (31, 60, 51, 100), (61, 90, 101, 200), (91, 120, 201, 300),
                 (121, 250, 301, 400), (251, 380, 401, 500)],
    "no2_24h": [(0, 40, 0, 50), (41, 80, 51, 100), (81, 180, 101, 200), (181, 280, 201, 300),
                (281, 400, 301, 400), (401, 520, 401, 500)],
    "o3_8h": [(0, 50, 0, 50), (51, 100, 51, 100), (101, 168, 101, 200), (169, 208, 201, 300)],
    "o3_1h": [(209, 748, 301, 400), (749, 1288, 401, 500)],
    "co_8h": [(0.0, 1.0, 0, 50), (1.1, 2.0, 51, 100), (2.1, 10.0, 101, 200), (10.1, 17.0, 201, 300),
              (17.1, 34.0, 301, 400), (34.1, 51.0, 401, 500)],
    "so2_24h": [(0, 40, 0, 50), (41, 80, 51, 100), (81, 380, 101, 200), (381, 800, 201, 300),
                (801, 1600, 301, 400), (1601, 2400, 401, 500)],
}
TABLES = {"us-epa-2024": EPA_2024, "us-epa-2012": EPA_2012, "bd-doe": EPA_2012, "in-naqi-2014": INDIA}


def test_json_tables_equal_the_published_rows():
    for sid, table in TABLES.items():
        std = load_standard(sid)
        assert set(std.keys) == set(table), sid
        for key, rows in table.items():
            assert [tuple(r) for r in std.pollutant(key).breakpoints] == [tuple(map(float, r)) for r in rows]


EDGES = [
    pytest.param(sid, key, c, i, id=f"{sid}:{key}:{c}")
    for sid, table in TABLES.items()
    for key, rows in table.items()
    for (c_lo, c_hi, i_lo, i_hi) in rows
    for c, i in ((c_lo, i_lo), (c_hi, i_hi))
]


@pytest.mark.parametrize("sid, key, c, expected", EDGES)
def test_every_breakpoint_edge_scalar(sid, key, c, expected):
    # at a row's lower (upper) concentration the equation gives exactly its lower (upper) index
    assert sub_index(c, key, sid) == expected


@pytest.mark.parametrize("sid", list(TABLES))
def test_every_breakpoint_edge_array_and_series(sid):
    for key, rows in TABLES[sid].items():
        c = np.array([v for r in rows for v in (r[0], r[1])], dtype=float)
        i = np.array([v for r in rows for v in (r[2], r[3])], dtype=float)
        np.testing.assert_array_equal(sub_index(c, key, sid), i)
        s = sub_index(pl.Series("c", c), key, sid)
        assert isinstance(s, pl.Series) and s.to_list() == i.tolist()
        np.testing.assert_array_equal(sub_index(c.reshape(-1, 2), key, sid), i.reshape(-1, 2))
        np.testing.assert_array_equal(sub_index(c.tolist(), key, sid), i)


# --- worked examples ------------------------------------------------------------------------------

WORKED = [
    # US EPA 2024
    ("us-epa-2024", "pm25", 35.9, 102),  # 35.5-55.4 -> 101-150: 49/19.9*(35.9-35.5)+101 = 101.98 -> 102
    ("us-epa-2024", "pm25", 35.49, 100),  # truncated to 35.4, top of 9.1-35.4 -> 100 (not 101)
    ("us-epa-2024", "pm25", 9.09, 50),  # truncated to 9.0 -> 50
    ("us-epa-2024", "pm25", 12.0, 56),  # 9.1-35.4 -> 51-100: 49/26.3*(12.0-9.1)+51 = 56.40 -> 56
    ("us-epa-2024", "pm25", 20.0, 71),  # 49/26.3*(20.0-9.1)+51 = 71.31 -> 71
    ("us-epa-2024", "pm25", 17.4, 66),  # 49/26.3*(17.4-9.1)+51 = 66.46 -> 66
    ("us-epa-2024", "pm25", 400.0, 649),  # above 325.4: last row extended: 199/99.9*(400-225.5)+301 = 648.6
    ("us-epa-2024", "pm10", 155.9, 101),  # truncated to 155 -> 101
    ("us-epa-2024", "pm10", 500, 384),  # 425-604 -> 301-500: 199/179*(500-425)+301 = 384.38 -> 384
    ("us-epa-2024", "o3_8h", 0.0709, 100),  # truncated to 0.070 -> top of 0.055-0.070 -> 100
    ("us-epa-2024", "o3_8h", 0.078, 126),  # 49/0.014*(0.078-0.071)+101 = 125.5 -> 126 (halves up)
    ("us-epa-2024", "o3_8h", 0.090, 161),  # 49/0.019*(0.090-0.086)+151 = 161.32 -> 161
    ("us-epa-2024", "o3_8h", 0.029, 27),  # 0.029 (28.999... ppb in binary) truncates to 0.029: 50/0.054*0.029 = 26.85
    ("us-epa-2024", "o3_1h", 0.130, 107),  # 49/0.039*(0.130-0.125)+101 = 107.28 -> 107
    ("us-epa-2024", "o3_1h", 0.201, 196),  # 0.165-0.204: 49/0.039*(0.201-0.165)+151 = 196.23 -> 196
    ("us-epa-2024", "o3_1h", 0.300, 248),  # 0.205-0.404: 99/0.199*(0.300-0.205)+201 = 248.26 -> 248
    ("us-epa-2024", "co", 9.45, 100),  # truncated to 9.4 -> 100
    ("us-epa-2024", "co", 10.0, 109),  # 9.5-12.4 -> 101-150: 49/2.9*(10.0-9.5)+101 = 109.45 -> 109
    ("us-epa-2024", "so2_1h", 304.9, 200),  # truncated to 304 -> top of the 1-hour table
    ("us-epa-2024", "so2_24h", 320, 206),  # 305-604 -> 201-300: 99/299*(320-305)+201 = 205.97 -> 206
    ("us-epa-2024", "no2", 54.7, 51),  # truncated to 54 -> 51
    ("us-epa-2024", "no2", 200, 120),  # 101-360 -> 101-150: 49/259*(200-101)+101 = 119.73 -> 120
    # US EPA 2012
    ("us-epa-2012", "pm25", 12.05, 50),  # truncated to 12.0 -> 50
    ("us-epa-2012", "pm25", 17.4, 62),  # 12.1-35.4 -> 51-100: 49/23.3*(17.4-12.1)+51 = 62.15 -> 62
    ("us-epa-2012", "pm25", 35.9, 102),  # same row as 2024: 101.98 -> 102
    ("us-epa-2012", "pm10", 500, 395),  # 425-504 -> 301-400: 99/79*(500-425)+301 = 394.99 -> 395
    ("us-epa-2012", "co", 45.0, 446),  # 40.5-50.4 -> 401-500: 99/9.9*(45.0-40.5)+401 = 446
    ("us-epa-2012", "pm25", 600.0, 566),  # beyond 500.4, last row extended: 99/149.9*(600-350.5)+401 = 565.78
    # India (CPCB 2014); concentrations rounded half up to integers (CO to 0.1 mg/m³)
    ("in-naqi-2014", "pm25", 45, 75),  # CPCB's example: 31-60 -> 51-100: 49/29*(45-31)+51 = 74.66 -> 75
    ("in-naqi-2014", "pm25", 30.4, 50),  # rounds to 30 -> top of Good
    ("in-naqi-2014", "pm25", 30.5, 51),  # rounds to 31 -> bottom of Satisfactory (the 30/31 gap)
    ("in-naqi-2014", "pm10", 300, 250),  # 251-350 -> 201-300: 99/99*(300-251)+201 = 250
    ("in-naqi-2014", "no2", 30, 38),  # 0-40 -> 0-50: 50/40*30 = 37.5 -> 38 (halves up)
    ("in-naqi-2014", "co", 5.0, 137),  # 2.1-10 -> 101-200: 99/7.9*(5.0-2.1)+101 = 137.34 -> 137
    ("in-naqi-2014", "co", 1.04, 50),  # rounds to 1.0 -> top of Good
    ("in-naqi-2014", "co", 1.05, 51),  # rounds to 1.1 -> bottom of Satisfactory
    ("in-naqi-2014", "o3_8h", 150, 173),  # 101-168 -> 101-200: 99/67*(150-101)+101 = 173.40 -> 173
    ("in-naqi-2014", "o3_1h", 300, 318),  # 209-748 -> 301-400: 99/539*(300-209)+301 = 317.71 -> 318
    ("in-naqi-2014", "so2", 500, 229),  # 381-800 -> 201-300: 99/419*(500-381)+201 = 229.12 -> 229
    ("in-naqi-2014", "pm25", 500, 500),  # above the Severe row: CPCB's scale ends at 500 (capped)
]


@pytest.mark.parametrize("sid, key, c, expected", WORKED, ids=[f"{w[0]}:{w[1]}:{w[2]}" for w in WORKED])
def test_worked_examples(sid, key, c, expected):
    assert sub_index(c, key, sid) == expected
    assert sub_index(np.array([c, c]), key, sid).tolist() == [expected, expected]
    assert sub_index(pl.Series([c]), key, sid).to_list() == [expected]


UNDEFINED = [
    ("us-epa-2024", "o3_8h", 0.201),  # no 8-hour index above 0.200 ppm: the 1-hour value must be used
    ("us-epa-2024", "o3_1h", 0.124),  # the 1-hour table starts at 0.125 ppm
    ("us-epa-2024", "so2_24h", 304),  # the 24-hour table starts at 305 ppb
    ("in-naqi-2014", "o3_8h", 209),  # India: 8-hour table ends at 208 µg/m³
    ("in-naqi-2014", "o3_1h", 208),  # India: 1-hour table starts at 209 µg/m³
    ("us-epa-2024", "pm25", float("nan")),
]


@pytest.mark.parametrize("sid, key, c", UNDEFINED)
def test_undefined_values_are_nan(sid, key, c):
    assert np.isnan(sub_index(c, key, sid))


def test_so2_one_hour_above_table_caps_at_200():
    # TAD: a 1-hour SO2 of 305 ppb or more does not define an AQI above 200
    assert sub_index([305, 1000], "so2_1h", "us-epa-2024").tolist() == [200, 200]


def test_negative_values_warn_and_become_nan():
    with pytest.warns(RuntimeWarning, match="negative"):
        out = sub_index([-0.1, 5.0], "pm25")
    assert np.isnan(out[0]) and out[1] == 28  # 50/9.0*5.0 = 27.78 -> 28


def test_truncate_rules():
    assert truncate(35.49, 1) == 35.4
    assert truncate(0.0709, 3) == 0.070
    assert truncate(0.029, 3) == 0.029  # 0.029*1000 = 28.999999999999996 in binary: not truncated to 0.028
    assert truncate(54.99, 0) == 54
    assert truncate(-1.25, 1) == -1.2  # toward zero
    assert truncate(30.5, 0, "round") == 31 and truncate(30.49, 0, "round") == 30
    assert truncate(1.05, 1, "round") == 1.1
    np.testing.assert_array_equal(truncate(np.array([9.09, np.nan]), 1), [9.0, np.nan])
    assert truncate(pl.Series("x", [9.09]), 1).to_list() == [9.0]
    with pytest.raises(InvalidInput):
        truncate(1.0, 1, "floor")
    with pytest.raises(InvalidInput):
        truncate(1.0, -1)


# --- combined index -------------------------------------------------------------------------------


def test_compute_aqi_scalar():
    # PM2.5 35.9 -> 102 (above); O3 8-h 0.060 -> 49/0.015*(0.060-0.055)+51 = 67.33 -> 67
    r = compute_aqi({"pm25": 35.9, "o3_8h": 0.060})
    assert isinstance(r, AQIResult)
    assert r.aqi == 102 and r.dominant == "pm25_24h"
    assert r.category == 2 and r.category_key == "unhealthy_sensitive"
    assert r.sub_indices == {"pm25_24h": 102, "o3_8h": 67}


@pytest.mark.parametrize("wrap", [np.asarray, list, lambda v: pl.Series("v", v)], ids=["numpy", "list", "polars"])
def test_compute_aqi_arrays(wrap):
    r = compute_aqi({"pm25": wrap([35.9, 5.0, np.nan]), "o3": wrap([0.060, 0.090, np.nan])})
    aqi = r.aqi.to_list() if isinstance(r.aqi, pl.Series) else list(r.aqi)
    assert aqi[:2] == [102, 161]  # O3 0.090 -> 161 beats PM2.5 5.0 -> 28
    assert np.isnan(aqi[2])
    dom = r.dominant.to_list() if isinstance(r.dominant, pl.Series) else list(r.dominant)
    assert dom == ["pm25_24h", "o3_8h", ""]
    cat = r.category.to_list() if isinstance(r.category, pl.Series) else list(r.category)
    assert cat == [2, 3, -1]
    df = r.to_frame()
    assert df.columns == ["aqi", "category", "dominant", "pm25_24h", "o3_8h"] and df.height == 3


def test_o3_eight_hour_and_one_hour_switch():
    r = compute_aqi({"o3_8h": [0.090, 0.210, 0.210, 0.060], "o3_1h": [0.130, 0.300, np.nan, 0.100]})
    # 1) both defined: 8-h 161 vs 1-h 107 -> 161 (the larger is reported)
    # 2) 8-h above 0.200 has no index; 1-h 0.300 -> 248
    # 3) 8-h above 0.200 and no 1-h value: no O3 index at all
    # 4) 1-h below 0.125 has no index; 8-h 0.060 -> 67
    assert r.aqi[[0, 1, 3]].tolist() == [161, 248, 67] and np.isnan(r.aqi[2])
    assert r.dominant.tolist() == ["o3_8h", "o3_1h", "", "o3_8h"]


def test_so2_one_hour_and_24_hour_rule():
    r = compute_aqi({"so2_1h": [304, 400, 400, 100], "so2_24h": [np.nan, 200, 320, np.nan]})
    # 1) 1-h 304 -> 200; 2) 1-h >= 305 and 24-h < 305 -> 200 (highest the 1-h can give)
    # 3) 1-h >= 305 and 24-h 320 >= 305 -> 24-h table: 206; 4) 1-h 100 -> 49/109*(100-76)+101 = 111.79 -> 112
    assert r.aqi.tolist() == [200, 200, 206, 112]
    assert r.dominant.tolist() == ["so2_1h", "so2_1h", "so2_24h", "so2_1h"]


def test_ties_go_to_the_first_pollutant_of_the_table():
    # PM2.5 35.4 and PM10 154 are both exactly 100
    r = compute_aqi({"pm10": 154, "pm25": 35.4})
    assert r.aqi == 100 and r.dominant == "pm25_24h"


def test_india_three_pollutant_rule():
    std = "in-naqi-2014"
    # PM2.5 45 -> 75, NO2 30 -> 38, SO2 100 -> 81-380 -> 101-200: 99/299*(100-81)+101 = 107.29 -> 107
    ok = compute_aqi({"pm25": 45, "no2": 30, "so2": 100}, std)
    assert ok.aqi == 107 and ok.dominant == "so2_24h" and ok.category_key == "moderate"
    two = compute_aqi({"pm25": 45, "no2": 30}, std)  # only two pollutants
    assert np.isnan(two.aqi) and two.dominant == "" and two.category == -1
    assert two.sub_indices == {"pm25_24h": 75, "no2_24h": 38}  # sub-indices are still given
    no_pm = compute_aqi({"no2": 30, "so2": 100, "co": 5.0}, std)  # three, but no PM2.5/PM10
    assert np.isnan(no_pm.aqi)
    # a PM value that is missing does not count
    gaps = compute_aqi({"pm10": [60, np.nan], "no2": [30, 30], "so2": [100, 100]}, std)
    assert gaps.aqi[0] == 107 and np.isnan(gaps.aqi[1])
    # O3 8-h and 1-h are one pollutant: PM2.5, O3 (both averages) -> two pollutants
    o3 = compute_aqi({"pm25": 45, "o3_8h": 150, "o3_1h": 300}, std)
    assert np.isnan(o3.aqi)


def test_india_o3_one_hour_only_above_208():
    std = "in-naqi-2014"
    base = {"pm25": [45, 45, 45], "no2": [30, 30, 30]}
    r = compute_aqi({**base, "o3_8h": [150, 210, np.nan], "o3_1h": [300, 300, 300]}, std)
    # 8-h 150 <= 208: the 1-h value is not used -> 173 (8-h); 8-h 210 > 208: 1-h 300 -> 318;
    # 8-h missing: the 1-h value is used -> 318
    assert r.aqi.tolist() == [173, 318, 318]
    assert r.dominant.tolist() == ["o3_8h", "o3_1h", "o3_1h"]
    assert np.isnan(r.sub_indices["o3_1h"][0])


def test_compute_aqi_broadcasts_and_keeps_shape():
    r = compute_aqi({"pm25": np.array([[5.0, 35.9], [100.0, np.nan]]), "no2": 54})
    # PM2.5 100 -> 55.5-125.4 -> 151-200: 49/69.9*(100-55.5)+151 = 182.19 -> 182; NO2 54 -> 51
    assert r.aqi.shape == (2, 2)
    assert r.aqi.tolist() == [[51, 102], [182, 51]]
    assert r.dominant.tolist() == [["no2_1h", "pm25_24h"], ["pm25_24h", "no2_1h"]]


def test_compute_aqi_errors():
    with pytest.raises(InvalidInput) as e:
        compute_aqi({"pm25": 1, "pm25_24h": 2})
    assert "both" in e.value.message
    with pytest.raises(InvalidInput):
        compute_aqi({"nh3": 1})
    with pytest.raises(InvalidInput):
        compute_aqi({})
    with pytest.raises(InvalidInput):
        compute_aqi({"pm25": [1, 2], "no2": [1, 2, 3]})


def test_provisional_bangladesh_table_uses_its_own_categories():
    r = compute_aqi({"pm25": [40.0, 300.0]}, "bd-doe")
    # EPA-2012 rows (provisional): 40.0 -> 49/19.9*(40.0-35.5)+101 = 112.08 -> 112 -> Caution;
    # 300.0 -> 250.5-350.4 -> 301-400: 99/99.9*(300-250.5)+301 = 350.05 -> 350 -> Extremely Unhealthy
    assert r.aqi.tolist() == [112, 350]
    assert r.category_key.tolist() == ["caution", "extremely_unhealthy"]


def test_no_warning_for_clean_input():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compute_aqi({"pm25": np.linspace(0, 600, 1001), "o3_8h": np.linspace(0, 0.3, 1001)})


# --- properties -----------------------------------------------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_PAIRS = [(sid, key) for sid, table in TABLES.items() for key in table]


@settings(max_examples=60, deadline=None)
@given(pair=st.sampled_from(_PAIRS), frac=st.lists(st.floats(0, 1.3), min_size=1, max_size=40))
def test_sub_index_is_monotone_and_scalar_equals_array(pair, frac):
    sid, key = pair
    rows = TABLES[sid][key]
    c = np.sort(np.array(frac) * rows[-1][1])
    out = sub_index(c, key, sid)
    finite = out[np.isfinite(out)]
    assert np.all(np.diff(finite) >= 0)  # higher concentration, never a lower index
    for ci, oi in zip(c[:5], out[:5]):
        s = sub_index(float(ci), key, sid)
        assert (np.isnan(s) and np.isnan(oi)) or s == oi
    # defined values lie on the published index scale of the table
    inside = (c >= rows[0][0]) & (c <= rows[-1][1])
    assert np.all((out[inside] >= rows[0][2]) & (out[inside] <= rows[-1][3]))


@pytest.mark.filterwarnings("ignore:.*negative.*:RuntimeWarning")
def test_row_lookup_path_equals_table_lookup(monkeypatch):
    # very long user tables skip the precomputed lookup table; both paths must agree
    import nagar.air.aqi as aqi_mod
    from nagar.air.standards import standard_from_dict

    c = np.concatenate([np.linspace(0, 700, 7001), [np.nan, -1.0]])
    expected = {sid: {k: sub_index(c * (0.001 if k.startswith("o3") and sid != "in-naqi-2014" else 1), k, sid)
                      for k in TABLES[sid]} for sid in TABLES}
    monkeypatch.setattr(aqi_mod, "_LUT_MAX", 0)
    for sid in TABLES:
        fresh = standard_from_dict(load_standard(sid).to_dict())  # new objects: no cached tables
        for k in TABLES[sid]:
            scale = 0.001 if k.startswith("o3") and sid != "in-naqi-2014" else 1
            got = sub_index(c * scale, k, fresh)
            np.testing.assert_array_equal(got, expected[sid][k])
