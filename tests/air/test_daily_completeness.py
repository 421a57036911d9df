"""Daily AQI over a store: a day where a pollutant has readings but fails 75 % completeness gets no AQI
(nagar.air.service, module docstring), with the pollutants lacking data named in the API and in the
open-data file; values above the scale are marked "beyond the AQI". Numbers worked by hand from the US EPA
2024 table (EPA-454/B-24-002 Table 6 as in nagar/air/standards/us-epa-2024.json)."""

from datetime import timedelta
from types import SimpleNamespace

import pytest

from nagar.air import service
from nagar.core.errors import NotFound
from nagar.core.settings import Settings
from tests.conftest import obs_table, utc

D0 = utc(2025, 1, 1, 18)  # 2 Jan 00:00 in Dhaka (UTC+6): one local day is D0 .. D0 + 24 h


def hourly(station, parameter, values, start=D0):
    return [(station, parameter, start + timedelta(hours=h), v) for h, v in enumerate(values)]


def day(store, **kw):
    r = service.aqi_series(store, settings=Settings(), start=D0, end=D0 + timedelta(days=1), standard="us-epa-2024",
                           resolution="day", **kw)
    assert len(r["items"]) == 1
    return r["items"][0]


def test_part_day_of_pm25_is_not_reported_good_from_one_no2_hour(store):
    # the trial's day: 6 hours of PM2.5 at 141 µg/m³ and one NO2 hour at 20 ppb. Before: PM2.5 dropped (6 < 18
    # hours) and NO2 1-h 20 ppb -> 0-53 ppb -> 50 / 53 x 20 = 18.9 -> AQI 19 "Good" set the day.
    store.write_observations(obs_table(hourly("st1", "pm25", [141.0] * 6) + hourly("st1", "no2", [20.0])))
    it = day(store, station="st1")
    assert (it["aqi"], it["category"], it["dominant"]) == (None, None, None)
    assert it["incomplete"] == [
        {"pollutant": "pm25_24h", "have": 6, "need": 18, "of": "hourly means", "partial_value": 141.0, "unit": "µg/m³"},
        {"pollutant": "no2_1h", "have": 1, "need": 18, "of": "hourly means", "partial_value": 20.0, "unit": "ppb"},
    ]
    assert it["reason"].startswith("incomplete day, no AQI: pm25_24h has 6 of the 18 hourly means")
    assert it["sub_indices"] == {} and it["concentrations"] == {}


def test_eighteen_hours_complete_seventeen_not(store):
    # PM2.5 24 h alternating 30 / 42 -> mean 36.0 -> 35.5-55.4 -> (150-101)/(55.4-35.5) x (36.0-35.5) + 101
    # = 102.23 -> 102. NO2 at 20 ppb for 18 hours: complete, sub-index 50/53 x 20 = 18.87 -> 19; PM2.5 sets the day.
    store.write_observations(obs_table(hourly("st1", "pm25", [30.0, 42.0] * 12) + hourly("st1", "no2", [20.0] * 18)))
    it = day(store, station="st1")
    assert (it["aqi"], it["dominant"], it["incomplete"], it["reason"]) == (102.0, "pm25_24h", [], None)
    assert it["sub_indices"] == {"pm25_24h": 102.0, "no2_1h": 19.0}
    # NO2 with 17 hours (one removed by a flag): not enough, and the day is withheld though PM2.5 is complete
    store.write_observations(obs_table([("st1", "no2", D0 + timedelta(hours=17), 20.0, "ppb", "invalid")]))
    it = day(store, station="st1")
    assert it["aqi"] is None and [x["pollutant"] for x in it["incomplete"]] == ["no2_1h"]
    assert it["sub_indices"] == {"pm25_24h": 102.0}  # the complete pollutant's own sub-index stays visible


def test_daily_8h_ozone_needs_18_valid_8h_means(store):
    # O3 80 ppb = 0.080 ppm -> 0.071-0.085 -> (150-101)/(0.085-0.071) x (0.080-0.071) + 101 = 132.5 -> 133.
    # 24 hours from local midnight: the trailing 8-h means ending at 05:00 .. 23:00 have >= 6 hours -> 19 valid.
    store.upsert_station(dict(id="oz", city="dhaka", name="o", lat=23.7, lon=90.4, parameters=["o3"]))
    store.write_observations(obs_table(hourly("oz", "o3", [80.0] * 24)))
    it = day(store, station="oz")
    assert (it["aqi"], it["dominant"]) == (133.0, "o3_8h")
    # 22 hours (00:00-21:00): 8-h means ending 05:00 .. 21:00 -> 17 valid < 18 -> incomplete (the 1-h value has
    # 22 of 18 hours: complete, and 0.080 ppm is below the 1-h table's first row 0.125: no 1-h sub-index)
    store.write_observations(obs_table([("oz", "o3", D0 + timedelta(hours=h), 80.0, "ppb", "invalid") for h in (22, 23)]))
    it = day(store, station="oz")
    assert it["aqi"] is None
    assert [(x["pollutant"], x["have"], x["of"]) for x in it["incomplete"]] == [("o3_8h", 17, "8-h means")]


def test_city_day_from_complete_stations_names_the_incomplete_ones(store):
    # st1: 24 h of PM2.5 at 5.0 -> 0-9.0 -> 50/9 x 5.0 = 27.8 -> 28; st2: 6 h at 141 -> incomplete
    store.write_observations(obs_table(hourly("st1", "pm25", [5.0] * 24) + hourly("st2", "pm25", [141.0] * 6)))
    it = day(store, city="dhaka")
    assert (it["aqi"], it["station"], it["incomplete_stations"]) == (28.0, "st1", ["st2"])
    # with st1 gone too, the city has no value and says why
    store.write_observations(obs_table([("st1", "pm25", D0 + timedelta(hours=h), 5.0, "µg/m³", "invalid")
                                        for h in range(24)]))
    it = day(store, city="dhaka")
    assert it["aqi"] is None and it["incomplete_stations"] == ["st2"] and "no station has a complete day" in it["reason"]


def test_open_data_file_has_the_incomplete_day_without_an_aqi(store):
    from nagar.opendata.providers import _aqi_batches

    store.write_observations(obs_table(hourly("st1", "pm25", [30.0, 42.0] * 12)
                                       + hourly("st2", "pm25", [141.0] * 6) + hourly("st2", "no2", [20.0])))
    ctx = SimpleNamespace(city=store.get_city("dhaka"), store=store, scope=None, settings=Settings())
    rows = [r for b in _aqi_batches(ctx) for r in b.to_pylist()]
    got = {r["station"]: (str(r["date"]), r["aqi"], r["category"], r["dominant"], r["incomplete"]) for r in rows}
    assert got == {"st1": ("2025-01-02", 102.0, "Unhealthy for Sensitive Groups", "pm25_24h", None),
                   "st2": ("2025-01-02", None, None, None, "pm25_24h 6/18 h, no2_1h 1/18 h")}


def test_beyond_the_aqi_is_marked(store):
    # 24 h of PM2.5 at 600 µg/m³: above the top row 225.5-325.4 -> 301-500; extrapolated
    # (500-301)/(325.4-225.5) x (600.0-225.5) + 301 = 1047.0 -> "beyond the AQI", still Hazardous
    store.write_observations(obs_table(hourly("st1", "pm25", [600.0] * 24)))
    it = day(store, station="st1")
    assert (it["aqi"], it["category"], it["beyond_scale"]) == (1047.0, "Hazardous", True)
    store.write_observations(obs_table(hourly("st2", "pm25", [325.4] * 24)))  # the top breakpoint: 500, on the scale
    it = day(store, station="st2")
    assert (it["aqi"], it["beyond_scale"]) == (500.0, False)


def test_unknown_standard_names_the_known_ones_and_the_cli_command():
    with pytest.raises(NotFound) as e:
        service.get_standard(Settings(), "bd")
    assert "did you mean 'bd-doe'?" in e.value.message and "`nagar standards`" in e.value.message
    assert "us-epa-2024" in e.value.message


def test_cli_says_beyond_the_aqi_and_names_nagar_standards():
    import json

    from typer.testing import CliRunner

    from nagar.cli import app

    runner = CliRunner()
    # 600 µg/m³ over the 2024 top row 225.5-325.4 -> 301-500: 199 / 99.9 x 374.5 + 301 = 1047.0
    r = runner.invoke(app, ["aqi", "pm25=600", "--json"])
    out = json.loads(r.stdout)
    assert (out["aqi"], out["category"], out["beyond_scale"]) == (1047.0, "Hazardous", True)
    r = runner.invoke(app, ["aqi", "pm25=600"])
    assert "Beyond the AQI" in r.output and "extrapolated" in r.output
    assert "Beyond" not in runner.invoke(app, ["aqi", "pm25=325.4"]).output  # exactly 500: on the scale
    r = runner.invoke(app, ["aqi", "--standard", "bd", "pm25=1"])
    assert r.exit_code == 2 and "did you mean 'bd-doe'?" in r.output and "nagar standards" in " ".join(r.output.split())
