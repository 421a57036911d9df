"""Renewable share: pure function worked by hand, and the service over ingested meter readings."""

from __future__ import annotations

import polars as pl
import pytest

from nagar.climate import renewables, service
from nagar.climate.renewables import prorate_annual, renewable_share


def frame(d: dict) -> pl.DataFrame:
    return pl.DataFrame({"month": list(d), "kwh": [float(v) for v in d.values()]},
                        schema={"month": pl.String, "kwh": pl.Float64})


def test_monthly_and_annual_share_with_metered_consumption():
    # 2024: generation 310 kWh every month, consumption 3 100 kWh every month
    # local share per month = 310 / 3 100 = 0.10; year = 3 720 / 37 200 = 0.10
    months = renewables.months_of(2024)
    res = renewable_share(frame(dict.fromkeys(months, 310)), frame(dict.fromkeys(months, 3100)), year=2024)
    m = res["monthly"]
    assert m.height == 12 and m["local_share"].to_list() == pytest.approx([0.1] * 12)
    assert set(m["consumption_basis"].to_list()) == {"metered"} and m["grid_share"].null_count() == 12
    a = res["annual"].row(0, named=True)
    assert (a["generation_kwh"], a["consumption_kwh"]) == (3720.0, 37200.0) and a["total_share"] == pytest.approx(0.1)


def test_grid_mix_counts_only_when_given():
    # grid renewable fraction 0.2: January local 0.1, grid 0.2 x (3 100 - 310) / 3 100 = 0.18, total 0.28
    months = renewables.months_of(2024)
    res = renewable_share(frame(dict.fromkeys(months, 310)), frame(dict.fromkeys(months, 3100)), year=2024,
                          grid_renewable_fraction=0.2)
    jan = res["monthly"].row(0, named=True)
    assert (jan["local_share"], jan["grid_share"], jan["total_share"]) == pytest.approx((0.1, 0.18, 0.28))
    # a net exporter: local share above 1 is kept, the total is capped at 1
    over = renewable_share(frame({"2024-01": 5000}), frame({"2024-01": 4000}), year=2024, grid_renewable_fraction=0.5)
    jan = over["monthly"].row(0, named=True)
    assert jan["local_share"] == pytest.approx(1.25) and jan["grid_share"] == 0 and jan["total_share"] == 1.0
    with pytest.raises(ValueError, match="between 0 and 1"):
        renewable_share(frame({}), frame({}), year=2024, grid_renewable_fraction=1.5)


def test_annual_activity_data_is_prorated_by_days():
    # 36 600 kWh in leap year 2024: January 31/366 x 36 600 = 3 100, February 29/366 x 36 600 = 2 900
    p = prorate_annual(2024, 36600.0)
    assert p["kwh"].to_list()[:2] == pytest.approx([3100.0, 2900.0]) and p["kwh"].sum() == pytest.approx(36600.0)
    res = renewable_share(frame({"2024-01": 310, "2024-02": 290}), frame({"2024-01": 9999}), year=2024,
                          annual_consumption_kwh=36600.0)  # one metered month is not a full year: activity data
    m = res["monthly"]
    assert m["consumption_basis"].unique().to_list() == ["annual_prorated"]
    assert m["local_share"].to_list()[:3] == pytest.approx([0.1, 0.1, 0.0])
    assert res["annual"]["local_share"][0] == pytest.approx(600 / 36600)
    # without consumption for a month there is no share for it, nor for the year
    res = renewable_share(frame({"2024-01": 100}), frame({"2024-01": 1000}), year=2024)
    assert res["monthly"]["total_share"].to_list()[:2] == [0.1, None] and res["annual"]["total_share"][0] is None


def test_service_sums_meter_readings_per_local_month(cstore):
    # Dhaka is UTC+6: 2023-12-31T18:30Z is 00:30 on 1 January 2024 (January); 2024-01-31T18:30Z is in February
    from nagar.core.settings import Settings
    from nagar.ingest.service import ingest_rows

    cstore.upsert_station(dict(id="roof1", city="dhaka", name="Roof", lat=23.8, lon=90.4, parameters=["generation"]))
    rows = [{"station": "roof1", "parameter": p, "time": t, "value": v, "unit": u}
            for p, t, v, u in (("generation", "2023-12-31T18:30:00Z", 1.5, "MWh"),
                               ("pv_energy", "2024-01-15T06:00:00Z", 500, "kWh"),
                               ("generation", "2024-01-31T18:30:00Z", 0.2, "MWh"))]
    res = ingest_rows(cstore, rows=rows, settings=Settings(db="x.duckdb"))
    assert res.inserted == 3 and res.rejected == 0
    service.put_activity(cstore, city="dhaka", rows=[dict(year=2024, kind="electricity", sector="residential",
                                                          quantity=36.6, unit="MWh")], actor="test")
    out = service.renewable_share(cstore, city="dhaka", year=2024)
    jan, feb = out["monthly"][0], out["monthly"][1]
    # January: 1 500 + 500 = 2 000 kWh over 3 100 kWh; February: 200 kWh over 2 900 kWh
    assert jan["generation_kwh"] == pytest.approx(2000.0) and jan["local_share"] == pytest.approx(2000 / 3100)
    assert feb["generation_kwh"] == pytest.approx(200.0) and feb["local_share"] == pytest.approx(200 / 2900)
    assert out["annual"]["local_share"] == pytest.approx(2200 / 36600)
    assert out["year"] == 2024 and out["grid_renewable_fraction"] is None
