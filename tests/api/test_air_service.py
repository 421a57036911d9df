"""The air service over a real store: SQL windows + the standards' averaging rules + WHO 2021."""

from datetime import timedelta

import pytest

from nagar.air import service
from nagar.core.settings import Settings
from tests.conftest import obs_table, utc


def hourly(station, parameter, start, values, unit=None):
    return [(station, parameter, start + timedelta(hours=h), v) + ((unit,) if unit else ()) for h, v in enumerate(values)]


def test_who_24h_and_annual_from_local_days(store):
    # Dhaka is UTC+6: local day 2 Jan starts at 18:00 UTC on 1 Jan. Three full local days of constant
    # hourly PM2.5: 10, 20, 30 µg/m³.
    d0 = utc(2025, 1, 1, 18)
    rows = hourly("st1", "pm25", d0, [10.0] * 24 + [20.0] * 24 + [30.0] * 24)
    store.write_observations(obs_table(rows))
    r = service.who_exceedances(store, station="st1", start=d0, end=d0 + timedelta(days=3))
    got = {(i["parameter"], i["averaging"]): i for i in r["items"]}
    short = got[("pm25", "24h")]
    # AQG 24-h level 15 µg/m³: days above it are 20 and 30 -> 2; 99th percentile of [10, 20, 30]
    # (linear): position 0.99 x 2 = 1.98 -> 20 + 0.98 x 10 = 29.8 > 15 -> not met; allowed floor(0.03) = 0
    assert (short["valid_days"], short["exceedance_days"], short["allowed_days"]) == (3, 2, 0)
    assert short["value"] == pytest.approx(29.8) and short["meets"] is False
    annual = got[("pm25", "annual")]
    assert annual["value"] == pytest.approx(20.0) and annual["level_value"] == 5.0 and annual["meets"] is False
    assert short["period"] == "2025"


def test_who_interim_target_and_incomplete_days(store):
    d0 = utc(2025, 1, 1, 18)
    # day 1: 24 h at 40 (IT-3 is 37.5 -> exceeds); day 2: only 17 hours -> not a valid day (needs 18)
    rows = hourly("st1", "pm25", d0, [40.0] * 24 + [100.0] * 17)
    store.write_observations(obs_table(rows))
    r = service.who_exceedances(store, station="st1", start=d0, end=d0 + timedelta(days=2), level="it3")
    short = next(i for i in r["items"] if i["averaging"] == "24h")
    assert (short["valid_days"], short["exceedance_days"], short["level_value"]) == (1, 1, 37.5)


def test_daily_aqi_uses_local_day_mean_and_8h_max(store):
    # EPA 2024, one local day (2 Jan, Dhaka): PM2.5 mean of 24 hourly values 30 and 42 alternating = 36.0
    # -> 35.5-55.4 -> (150-101)/(55.4-35.5) x (36.0-35.5) + 101 = 102.23 -> 102
    d0 = utc(2025, 1, 1, 18)
    store.write_observations(obs_table(hourly("st1", "pm25", d0, [30.0, 42.0] * 12)))
    r = service.aqi_series(store, settings=Settings(), station="st1", start=d0, end=d0 + timedelta(days=1),
                           standard="us-epa-2024", resolution="day")
    assert [(i["date"], i["aqi"]) for i in r["items"]] == [("2025-01-02", 102.0)]


def test_city_value_is_the_worst_station(store):
    d0 = utc(2025, 1, 1, 0)
    store.write_observations(obs_table(hourly("st1", "pm25", d0, [10.0] * 24) + hourly("st2", "pm25", d0, [60.0] * 24)))
    r = service.aqi_series(store, settings=Settings(), city="dhaka", start=d0 + timedelta(hours=23),
                           end=d0 + timedelta(hours=24), standard="us-epa-2024")
    item = r["items"][0]
    # NowCast of a constant 60.0 is 60.0 -> 55.5-125.4 -> (200-151)/(125.4-55.5) x (60.0-55.5) + 151 = 154.15 -> 154
    assert item["station"] == "st2" and item["aqi"] == 154.0


def test_eight_hour_ozone_needs_six_hours(store):
    # O3 in ppb stored; EPA 8-h in ppm. 5 hours at 80 ppb: no 8-h value (needs 6 of 8) -> no AQI;
    # at 6 hours: mean 0.080 ppm -> 0.071-0.085 -> (150-101)/(0.085-0.071) x (0.080-0.071) + 101 = 132.5 -> 133
    d0 = utc(2025, 1, 1, 0)
    store.upsert_station(dict(id="oz", city="dhaka", name="o", lat=23.7, lon=90.4, parameters=["o3"]))
    store.write_observations(obs_table(hourly("oz", "o3", d0, [80.0] * 6)))
    r = service.aqi_series(store, settings=Settings(), station="oz", start=d0, end=d0 + timedelta(hours=6),
                           standard="us-epa-2024")
    aqis = [i["aqi"] for i in r["items"]]
    assert aqis[:5] == [None] * 5 and aqis[5] == 133.0
