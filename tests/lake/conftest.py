"""Fixtures for the lake: a store with three cities and a week of awkward data, its lake, one Spark session.

The data is chosen to reach every rule of the AQI paths: three standards (EPA 2024, EPA 2012, India),
a half-hour time zone (Kolkata: local days start at 18:30 UTC) and a DST change (London, 30 March
2025), 20-minute readings with random and long gaps, suspect/invalid/estimated flags, negative PM
readings, O3 above the 1-hour table's start and the 8-hour table's end, SO2 above 304 ppb for long
enough to make a 24-hour value, and stations without some parameters.
"""

from __future__ import annotations

import os
import shutil
from datetime import datetime, timedelta, timezone

import numpy as np
import pyarrow as pa
import pytest

from nagar.store.base import OBSERVATION_SCHEMA
from nagar.store.duckdb import DuckDBStore
from nagar.store.lake_tables import LakeTables

START = datetime(2025, 3, 26, tzinfo=timezone.utc)
END = datetime(2025, 4, 2, tzinfo=timezone.utc)

CITIES = [
    dict(id="dhaka", name="Dhaka", country="BD", timezone="Asia/Dhaka", lat=23.81, lon=90.41, standard="us-epa-2024"),
    dict(id="kolkata", name="Kolkata", country="IN", timezone="Asia/Kolkata", lat=22.57, lon=88.36,
         standard="in-naqi-2014"),
    dict(id="london", name="London", country="GB", timezone="Europe/London", lat=51.51, lon=-0.13,
         standard="us-epa-2012"),
]
STATIONS = {"dhaka": ["d1", "d2", "d3"], "kolkata": ["k1", "k2"], "london": ["l1", "l2"]}
PARAMS = ("pm25", "pm10", "o3", "no2", "so2", "co")
UNITS = {"pm25": "µg/m³", "pm10": "µg/m³", "co": "ppm"}


class LakeStore(LakeTables, DuckDBStore):
    pass


def synthetic_rows(seed: int = 11, start: datetime = START, end: datetime = END) -> pa.Table:
    """Deterministic observations for :data:`STATIONS` (values in canonical units)."""
    rng = np.random.default_rng(seed)
    n = int((end - start) / timedelta(minutes=20))
    base_t = np.datetime64(start.replace(tzinfo=None), "us") + np.arange(n) * np.timedelta64(20, "m")
    hours = np.arange(n) / 3.0
    cols = {k: [] for k in OBSERVATION_SCHEMA.names}
    for city, sts in STATIONS.items():
        for si, st in enumerate(sts):
            for p in PARAMS:
                if st == "l2" and p in ("so2", "co"):  # a station without some parameters
                    continue
                diurnal = 1 + 0.6 * np.sin(2 * np.pi * (hours + 3 * si) / 24)
                if p == "pm25":
                    v = rng.gamma(2.0, 22.0, n) * diurnal
                    v[rng.random(n) < 0.01] = -1.5  # instrument noise below zero
                elif p == "pm10":
                    v = rng.gamma(2.5, 45.0, n) * diurnal
                elif p == "o3":
                    v = 35 + 40 * diurnal + rng.normal(0, 8, n)
                    if st in ("d1", "k1"):  # an ozone episode: 1-h above 125 ppb, 8-h above 200 ppb
                        ep = (hours > 50) & (hours < 62)
                        v[ep] = rng.uniform(150, 260, ep.sum())
                elif p == "no2":
                    v = rng.gamma(3.0, 15.0, n) * diurnal
                elif p == "so2":
                    v = rng.gamma(2.0, 8.0, n)
                    if st == "d2":  # above the 1-h table for a day and more: 24-h >= 305 ppb
                        ep = (hours > 80) & (hours < 112)
                        v[ep] = rng.uniform(330, 520, ep.sum())
                else:  # co [ppm]
                    v = rng.gamma(2.0, 0.9, n) * diurnal
                v = np.round(v, 1 if p != "co" else 2)
                keep = rng.random(n) > 0.12
                for _ in range(3):  # outages of 2-9 hours
                    a = int(rng.integers(0, n))
                    keep[a:a + int(rng.integers(6, 27))] = False
                u = rng.random(n)
                flag = np.where(u < 0.03, "suspect", np.where(u < 0.04, "invalid", np.where(u < 0.06, "estimated",
                                                                                             "valid")))
                jitter = rng.integers(0, 60, n).astype("timedelta64[s]")
                t = (base_t + jitter)[keep]
                m = int(keep.sum())
                cols["station"] += [st] * m
                cols["parameter"] += [p] * m
                cols["time"] += list(t)
                cols["value"] += list(v[keep])
                cols["unit"] += [UNITS.get(p, "ppb")] * m
                cols["flag"] += list(flag[keep])
    cols["time"] = pa.array(np.array(cols["time"], dtype="datetime64[us]"), pa.timestamp("us")).cast(
        pa.timestamp("us", tz="UTC"))
    return pa.table(cols, schema=OBSERVATION_SCHEMA)


def make_store(path) -> LakeStore:
    s = LakeStore(path)
    for c in CITIES:
        s.upsert_city(c)
    for city, sts in STATIONS.items():
        s.upsert_stations([dict(id=st, city=city, name=st.upper(), lat=0.0, lon=0.0, parameters=list(PARAMS))
                           for st in sts])
    s.write_observations(synthetic_rows())
    return s


@pytest.fixture(scope="session")
def lake_store(tmp_path_factory):
    """A store (read-only use!) and its exported lake, shared by the AQI tests."""
    from nagar.lake.export import export_lake

    d = tmp_path_factory.mktemp("lake")
    s = make_store(d / "nagar.duckdb")
    export_lake(s, out=d / "lake")
    yield s, d / "lake"
    s.close()


@pytest.fixture(scope="session")
def spark():
    """One local Spark session for the whole test session (it costs ~6 s to start)."""
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("Spark needs Java (no `java` on PATH and no JAVA_HOME)")
    pytest.importorskip("pyspark", reason="pyspark is the `spark` extra")
    from nagar.lake.spark_job import spark_session

    s = spark_session("local[2]", conf={"spark.sql.shuffle.partitions": "2"})
    s.sparkContext.setLogLevel("ERROR")
    yield s
    s.stop()
