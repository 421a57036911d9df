"""Tests for nagar.demo.generator: contract, determinism and the realism the demo promises."""

from __future__ import annotations

import io
import time
import zoneinfo
from datetime import datetime, timedelta, timezone

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.ipc as ipc
import pytest

from nagar.core.errors import InvalidInput
from nagar.core.ids import validate_id
from nagar.core.units import PARAMETERS
from nagar.demo.generator import OBSERVATION_SCHEMA, DemoData, generate

END = datetime(2026, 11, 27, 15, tzinfo=timezone.utc)
ASEAN = ("bangkok", "hanoi", "jakarta")


@pytest.fixture(scope="module")
def data() -> DemoData:
    return generate(seed=42, days=90, end=END)


@pytest.fixture(scope="module")
def year() -> DemoData:
    # 2025-11-28 .. 2026-11-27: a whole January and July.
    return generate(seed=42, days=365, end=END)


def _frame(d: DemoData) -> pl.DataFrame:
    """Observations with city, local time, local hour/weekday/month, and fault hours removed."""
    cities = {c["id"]: c for c in d.cities}
    st = pl.DataFrame(
        [{"station": s["id"], "city": s["city"], "tz": cities[s["city"]]["timezone"]} for s in d.stations]
    )
    df = pl.from_arrow(d.observations).join(st, on="station", how="left")
    parts = []
    for tz in sorted(set(st["tz"])):
        local = pl.col("time").dt.convert_time_zone(tz)
        parts.append(
            df.filter(pl.col("tz") == tz).with_columns(
                local.dt.hour().alias("hour"), local.dt.weekday().alias("weekday"),
                local.dt.month().alias("month"), local.dt.date().alias("date"),
            )
        )
    df = pl.concat(parts)
    for f in d.faults:
        df = df.filter(~((pl.col("station") == f["station"]) & (pl.col("parameter") == f["parameter"])
                         & pl.col("time").is_between(f["start"], f["end"])))
    return df


def _ipc_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    with ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


# --- determinism -------------------------------------------------------------------------------


def test_same_inputs_give_byte_identical_output(data):
    again = generate(seed=42, days=90, end=END)
    assert _ipc_bytes(again.observations) == _ipc_bytes(data.observations)
    assert again.faults == data.faults
    assert again.outages == data.outages
    assert again.stations == data.stations and again.cities == data.cities


def test_different_seed_gives_different_data(data):
    other = generate(seed=43, days=90, end=END)
    assert not other.observations.equals(data.observations)
    assert other.stations == data.stations  # same network, different weather


def test_end_is_converted_to_utc_and_floored():
    local = datetime(2026, 11, 27, 21, 42, 17, tzinfo=zoneinfo.ZoneInfo("Asia/Dhaka"))  # 15:42 UTC
    a = generate(seed=7, days=2, end=local)
    b = generate(seed=7, days=2, end=END)
    assert a.end == END
    assert a.observations.equals(b.observations)


def test_end_defaults_to_the_current_utc_hour():
    before = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    d = generate(seed=1, days=1)
    after = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    assert d.end in (before, after)
    assert d.observations.column("time").to_pylist()[-1] <= d.end


@pytest.mark.parametrize(
    "kwargs",
    [
        {"end": datetime(2026, 11, 27, 15)},  # naive
        {"days": 0},
        {"days": 1.5},
        {"days": True},
        {"seed": -1},
        {"seed": "42"},
    ],
)
def test_bad_arguments_raise_invalid_input(kwargs):
    args = {"seed": 42, "days": 1, "end": END} | kwargs
    with pytest.raises(InvalidInput):
        generate(**args)


# --- contract ----------------------------------------------------------------------------------


def test_cities(data):
    ids = [c["id"] for c in data.cities]
    assert {"dhaka", "chattogram"} <= set(ids) and len(set(ids) - {"dhaka", "chattogram"}) >= 3
    for c in data.cities:
        assert set(c) == {"id", "name", "country", "timezone", "lat", "lon", "standard"}
        validate_id(c["id"])
        assert len(c["country"]) == 2 and c["country"].isupper()
        zoneinfo.ZoneInfo(c["timezone"])  # a real IANA zone
        assert -90 <= c["lat"] <= 90 and -180 <= c["lon"] <= 180
        assert c["standard"] == ("bd-doe" if c["country"] == "BD" else "us-epa-2024")
    by_id = {c["id"]: c for c in data.cities}
    assert by_id["dhaka"]["country"] == "BD" and by_id["dhaka"]["timezone"] == "Asia/Dhaka"
    assert by_id["chattogram"]["country"] == "BD"


def test_stations(data):
    cities = {c["id"]: c for c in data.cities}
    counts: dict[str, int] = {}
    for s in data.stations:
        assert set(s) == {"id", "city", "name", "lat", "lon", "parameters", "source"}
        assert s["source"]
        validate_id(s["id"])
        assert s["id"].startswith(s["city"] + "-")
        assert s["parameters"] and set(s["parameters"]) <= {"pm25", "pm10", "no2", "o3"}
        c = cities[s["city"]]
        assert abs(s["lat"] - c["lat"]) < 0.4 and abs(s["lon"] - c["lon"]) < 0.4, s["id"]
        counts[s["city"]] = counts.get(s["city"], 0) + 1
    assert len({s["id"] for s in data.stations}) == len(data.stations)
    assert 4 <= counts["dhaka"] <= 6 and 2 <= counts["chattogram"] <= 3
    assert all(2 <= counts[c] <= 3 for c in cities if c not in ("dhaka", "chattogram"))
    assert "dhaka-agargaon" in {s["id"] for s in data.stations}


def test_cities_and_stations_fit_the_registry_models(data):
    models = pytest.importorskip("nagar.registry.models")
    for c in data.cities:
        models.CityCreate(**c)
    for s in data.stations:
        models.StationCreate(**s)


def test_observation_schema_and_units(data):
    t = data.observations
    assert t.schema.equals(OBSERVATION_SCHEMA)
    assert t.schema.field("time").type == pa.timestamp("us", tz="UTC")
    assert t.schema.field("value").type == pa.float64()
    df = pl.from_arrow(t)
    units = df.select("parameter", "unit").unique()
    assert dict(units.iter_rows()) == {"pm25": "µg/m³", "pm10": "µg/m³", "no2": "ppb", "o3": "ppb"}
    assert dict(units.iter_rows()) == {p: PARAMETERS[p].unit for p in ("pm25", "pm10", "no2", "o3")}


def test_times_are_hourly_in_the_window(data):
    df = pl.from_arrow(data.observations)
    us = df["time"].dt.epoch("us")
    assert (us % 3_600_000_000 == 0).all()
    assert df["time"].min() == END - timedelta(hours=90 * 24 - 1) == data.start
    assert df["time"].max() == END == data.end
    assert df["time"].n_unique() == 90 * 24
    assert not df.select("station", "parameter", "time").is_duplicated().any()
    # each series is in time order, and every station reports exactly its own parameters
    for (station, parameter), g in df.group_by("station", "parameter"):
        assert g["time"].is_sorted()
    measured = {s["id"]: set(s["parameters"]) for s in data.stations}
    seen = df.group_by("station").agg(pl.col("parameter").unique())
    assert {r["station"]: set(r["parameter"]) for r in seen.to_dicts()} == measured


def test_values_are_finite_non_negative_and_plausible(data):
    v = data.observations.column("value").to_numpy()
    assert np.isfinite(v).all() and (v >= 0).all()
    df = _frame(data)
    hi = df.group_by("parameter").agg(pl.col("value").max())
    limits = {"pm25": 1000, "pm10": 2000, "no2": 400, "o3": 300}
    for p, m in hi.iter_rows():
        assert m < limits[p], (p, m)


def test_generates_90_days_fast():
    start = time.perf_counter()
    generate(seed=5, days=90, end=END)
    assert time.perf_counter() - start < 2.0


# --- realism -----------------------------------------------------------------------------------


def test_dhaka_january_far_dirtier_than_july(year):
    pm = _frame(year).filter((pl.col("city") == "dhaka") & (pl.col("parameter") == "pm25"))
    jan = pm.filter(pl.col("month") == 1)["value"].mean()
    jul = pm.filter(pl.col("month") == 7)["value"].mean()
    assert jan > 4 * jul, (jan, jul)
    assert 120 < jan < 260 and 15 < jul < 50


def test_dhaka_daily_levels_by_season(year):
    pm = _frame(year).filter((pl.col("city") == "dhaka") & (pl.col("parameter") == "pm25"))
    daily = pm.group_by("date").agg(pl.col("value").mean(), pl.col("month").first())
    winter = daily.filter(pl.col("month").is_in([12, 1, 2]))["value"]
    monsoon = daily.filter(pl.col("month").is_in([6, 7, 8, 9]))["value"]
    assert 140 <= winter.median() <= 220, winter.median()
    assert 20 <= monsoon.median() <= 45, monsoon.median()


def test_city_ranking(year):
    pm = _frame(year).filter(pl.col("parameter") == "pm25")
    mean = dict(pm.group_by("city").agg(pl.col("value").mean()).iter_rows())
    assert mean["dhaka"] > mean["chattogram"] > max(mean[c] for c in ASEAN)
    assert 0.55 < mean["chattogram"] / mean["dhaka"] < 0.9


def test_diurnal_cycle_in_local_time(data):
    df = _frame(data)
    for city in ("dhaka", *ASEAN):
        c = df.filter(pl.col("city") == city)
        pm = c.filter(pl.col("parameter") == "pm25")
        night = pm.filter(pl.col("hour").is_between(0, 5))["value"].mean()
        afternoon = pm.filter(pl.col("hour").is_between(13, 16))["value"].mean()
        assert night > 1.4 * afternoon, (city, night, afternoon)
        o3 = c.filter(pl.col("parameter") == "o3")
        by_hour = o3.group_by("hour").agg(pl.col("value").mean()).sort("hour")
        peak = by_hour.sort("value")["hour"][-1]
        assert 11 <= peak <= 16, (city, peak)
        assert (o3.filter(pl.col("hour").is_between(12, 15))["value"].mean()
                > 2 * o3.filter(pl.col("hour").is_between(0, 5))["value"].mean())


def test_friday_is_the_weekend_in_bangladesh(data):
    df = _frame(data).filter(pl.col("parameter") == "no2")
    dhaka = df.filter(pl.col("city") == "dhaka")
    fri = dhaka.filter(pl.col("weekday") == 5)["value"].mean()
    midweek = dhaka.filter(pl.col("weekday").is_in([1, 2, 3]))["value"].mean()
    assert fri < 0.9 * midweek
    bangkok = df.filter(pl.col("city") == "bangkok")
    sun = bangkok.filter(pl.col("weekday") == 7)["value"].mean()
    assert sun < 0.92 * bangkok.filter(pl.col("weekday").is_in([1, 2, 3]))["value"].mean()


def test_pm10_to_pm25_ratio_in_dhaka(data):
    df = _frame(data).filter((pl.col("city") == "dhaka") & pl.col("parameter").is_in(["pm25", "pm10"]))
    wide = df.pivot(on="parameter", index=["station", "time"], values="value").drop_nulls()
    ratio = (wide["pm10"] / wide["pm25"]).median()
    assert 1.6 <= ratio <= 2.0, ratio


def test_day_to_day_persistence(year):
    pm = _frame(year).filter((pl.col("city") == "dhaka") & (pl.col("parameter") == "pm25"))
    daily = pm.group_by("date").agg(pl.col("value").mean().log()).sort("date")["value"].to_numpy()
    anomaly = daily - np.convolve(daily, np.ones(31) / 31, mode="same")
    a = anomaly[15:-15]
    assert np.corrcoef(a[1:], a[:-1])[0, 1] > 0.3


def test_stations_share_city_weather(data):
    df = _frame(data).filter((pl.col("city") == "dhaka") & (pl.col("parameter") == "pm25"))
    daily = df.group_by("station", "date").agg(pl.col("value").mean().log())
    wide = daily.pivot(on="station", index="date", values="value").drop_nulls().sort("date")
    a, b = wide["dhaka-darus-salam"].to_numpy(), wide["dhaka-farmgate"].to_numpy()
    assert np.corrcoef(np.diff(a), np.diff(b))[0, 1] > 0.5


# --- gaps and the faulty sensor ----------------------------------------------------------------


def test_missing_hours_present(data):
    df = pl.from_arrow(data.observations)
    expected = sum(len(s["parameters"]) for s in data.stations) * 90 * 24
    assert 0.95 * expected < df.height < 0.995 * expected
    per_series = df.group_by("station", "parameter").len()["len"]
    assert (per_series < 90 * 24).sum() >= 0.8 * len(per_series)  # most series have gaps
    assert data.outages, "expected at least one multi-hour station outage"
    for o in data.outages:
        assert o["end"] - o["start"] >= timedelta(hours=5)
        hole = df.filter((pl.col("station") == o["station"]) & pl.col("time").is_between(o["start"], o["end"]))
        assert hole.height == 0


def test_exactly_one_faulty_sensor(data):
    sensors = {(f["station"], f["parameter"]) for f in data.faults}
    assert len(sensors) == 1
    (station, parameter), = sensors
    assert station.startswith("dhaka-") and parameter == "pm25"
    assert {f["kind"] for f in data.faults} == {"stuck", "spike"}
    for f in data.faults:
        assert set(f) == {"station", "parameter", "kind", "start", "end"}
        assert data.start <= f["start"] <= f["end"] <= data.end


def test_stuck_sensor_is_where_faults_say(data):
    (stuck,) = [f for f in data.faults if f["kind"] == "stuck"]
    assert timedelta(hours=40) <= stuck["end"] - stuck["start"] <= timedelta(hours=56)
    df = pl.from_arrow(data.observations).filter(
        (pl.col("station") == stuck["station"]) & (pl.col("parameter") == stuck["parameter"])
    )
    window = df.filter(pl.col("time").is_between(stuck["start"], stuck["end"]))
    hours = int((stuck["end"] - stuck["start"]).total_seconds() // 3600) + 1
    assert window.height == hours  # reported every hour
    assert window["value"].n_unique() == 1


def test_spikes_are_where_faults_say(data):
    df = pl.from_arrow(data.observations)
    for f in (f for f in data.faults if f["kind"] == "spike"):
        series = df.filter((pl.col("station") == f["station"]) & (pl.col("parameter") == f["parameter"]))
        at = series.filter(pl.col("time") == f["start"])["value"]
        assert at.len() == 1
        near = series.filter(
            pl.col("time").is_between(f["start"] - timedelta(hours=3), f["start"] + timedelta(hours=3))
            & (pl.col("time") != f["start"])
        )["value"]
        assert at[0] > 800 and at[0] > 3 * near.median()


def test_no_other_sensor_looks_stuck(data):
    df = _frame(data).sort("station", "parameter", "time")
    runs = (
        df.with_columns(
            (pl.col("value") != pl.col("value").shift(1)).over("station", "parameter").fill_null(True)
            .cum_sum().over("station", "parameter").alias("run")
        )
        .group_by("station", "parameter", "run")
        .len()
    )
    assert runs["len"].max() <= 4
