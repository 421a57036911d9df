"""The lake's AQI job (DuckDB and Spark engines) gives what the store path gives.

Reference: ``nagar.air.service.aqi_series`` on the DuckDB store, per station and per city, hourly and
daily, for three cities under three standards. Every item with an AQI must appear in the job's output
with the same integer AQI, category, dominant pollutant, city station, sub-indices, and concentrations
(to 1e-9 relative: sums may differ in the last bit), and the job may output nothing more.
"""

from __future__ import annotations

import math
import warnings

import pytest

from nagar.air import service
from nagar.core.settings import Settings
from nagar.lake.aqi import lake_aqi

from .conftest import CITIES, END, START, STATIONS

RESOLUTIONS = ("hour", "day")


def _expected(store) -> dict:
    out = {}
    settings = Settings()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # negative PM readings
        for c in CITIES:
            for res in RESOLUTIONS:
                calls = [("city", None, dict(city=c["id"]))] + [("station", s, dict(station=s))
                                                               for s in STATIONS[c["id"]]]
                for level, st, kw in calls:
                    r = service.aqi_series(store, settings=settings, start=START, end=END, resolution=res, **kw)
                    for it in r["items"]:
                        if it["aqi"] is None:
                            continue
                        when = it["time"] if res == "hour" else it["date"]
                        out[(res, level, c["id"], st, when)] = {
                            "aqi": it["aqi"], "category": it["category_key"], "dominant": it["dominant"],
                            "station": it.get("station", st), "standard": r["standard"],
                            "sub": it["sub_indices"], "conc": it["concentrations"],
                        }
    return out


def _got(table) -> dict:
    out = {}
    for r in table.to_pylist():
        when = (r["time"].strftime("%Y-%m-%dT%H:%M:%SZ") if r["resolution"] == "hour" else r["date"].isoformat())
        key = (r["resolution"], r["level"], r["city"], r["station"] if r["level"] == "station" else None, when)
        assert key not in out, f"duplicate row {key}"
        out[key] = {
            "aqi": r["aqi"], "category": r["category"], "dominant": r["dominant"], "station": r["station"],
            "standard": r["standard"],
            "sub": {k[2:]: v for k, v in r.items() if k.startswith("i_") and v is not None},
            "conc": {k[2:]: v for k, v in r.items() if k.startswith("c_") and v is not None},
        }
    return out


@pytest.fixture(scope="module")
def expected(lake_store):
    store, _ = lake_store
    exp = _expected(store)
    # the data must exercise the rules this test is about
    doms = {v["dominant"] for v in exp.values()}
    assert {"pm25_24h", "o3_1h", "so2_24h"} <= doms or {"o3_1h", "so2_24h"} & doms
    assert {v["standard"] for v in exp.values()} == {"us-epa-2024", "in-naqi-2014", "us-epa-2012"}
    assert len(exp) > 1500
    return exp


def _compare(got: dict, exp: dict) -> None:
    missing = sorted(set(exp) - set(got))[:5]
    extra = sorted(set(got) - set(exp))[:5]
    assert not missing and not extra, f"missing {missing}, extra {extra}"
    bad = []
    for k, e in exp.items():
        g = got[k]
        same = (g["aqi"] == e["aqi"] and g["category"] == e["category"] and g["dominant"] == e["dominant"]
                and g["station"] == e["station"] and g["standard"] == e["standard"] and g["sub"] == e["sub"]
                and set(g["conc"]) == set(e["conc"])
                and all(math.isclose(g["conc"][p], e["conc"][p], rel_tol=1e-9, abs_tol=1e-12) for p in e["conc"]))
        if not same:
            bad.append((k, e, g))
    assert not bad, f"{len(bad)} rows differ, first: {bad[0]}"


def test_duckdb_engine_matches_the_store(lake_store, expected):
    _, lake = lake_store
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        table = lake_aqi(lake=str(lake), engine="duckdb", start=START, end=END)
    _compare(_got(table), expected)


@pytest.mark.slow
def test_spark_engine_matches_the_store(lake_store, expected, spark):
    _, lake = lake_store
    table = lake_aqi(lake=str(lake), engine="spark", spark=spark, start=START, end=END)
    _compare(_got(table), expected)
