"""Forecasts over the store: training records the model and its skill, issues 24 hourly forecasts with
AQI categories under the city's standard, and the API and CLI serve them."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from nagar.core.errors import InvalidInput, NotFound
from nagar.core.settings import Settings
from nagar.forecast import service
from nagar.store.duckdb import DuckDBStore
from tests.conftest import DHAKA, obs_table, utc
from tests.forecast.test_model import diurnal, small_fit

T0 = utc(2025, 1, 1)


@pytest.fixture
def fstore(tmp_path):
    s = DuckDBStore(tmp_path / "f.duckdb")
    s.upsert_city(DHAKA)  # standard us-epa-2024
    s.upsert_station(dict(id="st1", city="dhaka", name="Station 1", lat=23.8, lon=90.4, parameters=["pm25"]))
    s.upsert_station(dict(id="st2", city="dhaka", name="Station 2", lat=23.7, lon=90.4, parameters=["pm25"]))
    y = diurnal(days=16)
    s.write_observations(obs_table([("st1", "pm25", T0 + timedelta(hours=i), float(round(v, 1)))
                                    for i, v in enumerate(y)]))
    s.write_observations(obs_table([("st2", "pm25", T0 + timedelta(hours=i), 30.0) for i in range(48)]))
    yield s
    s.close()


SETTINGS = Settings(db="unused.duckdb")


def test_train_station_stores_model_skill_and_forecast(fstore):
    out = service.train_station(fstore, station="st1", settings=SETTINGS, folds=1, fold_days=2, fit_fn=small_fit,
                                now=utc(2025, 2, 1))
    m = out["model"]
    assert m["train_start"] == T0 and m["train_end"] == T0 + timedelta(days=16) and m["n_samples"] == 16 * 24
    assert m["skill"]["mae"]["model"] < m["skill"]["mae"]["persistence"]
    assert m["skill"]["standard"] == "us-epa-2024" and len(m["skill"]["folds"]) == 1
    rows = fstore.forecasts(city="dhaka", station="st1")
    issued = T0 + timedelta(days=16) - timedelta(hours=1)
    assert [r["target_time"] for r in rows] == [issued + timedelta(hours=h) for h in range(1, 25)]
    assert {r["issued_at"] for r in rows} == {issued} and [r["horizon"] for r in rows] == list(range(1, 25))
    # the category is the one of the stored value on EPA 2024's PM2.5 table (Moderate 9.1-35.4, USG -55.4,
    # Unhealthy -125.4)
    for r in rows:
        v = r["value"]
        want = ("moderate" if v <= 35.4 else "unhealthy_sensitive" if v <= 55.4 else "unhealthy" if v <= 125.4
                else "very_unhealthy")
        assert r["category_key"] == want
    # the diurnal peak (02 UTC, 60 + 45 µg/m³) is forecast above the afternoon low
    by_hour = {r["target_time"].hour: r["value"] for r in rows}
    assert by_hour[2] > by_hour[14] + 40


def test_too_little_history_is_refused_and_skipped(fstore):
    with pytest.raises(InvalidInput):
        service.train_station(fstore, station="st2", settings=SETTINGS, fit_fn=small_fit)
    res = service.train_city(fstore, city="dhaka", settings=SETTINGS, folds=1, fold_days=2, fit_fn=small_fit)
    assert [m["station"] for m in res["trained"]] == ["st1"] and res["skipped"][0]["station"] == "st2"
    with pytest.raises(NotFound):
        service.train_city(fstore, city="nowhere", settings=SETTINGS)


def test_latest_forecast_and_skill_report(fstore):
    service.train_station(fstore, station="st1", settings=SETTINGS, folds=1, fold_days=2, fit_fn=small_fit)
    out = service.latest_forecast(fstore, city="dhaka", settings=SETTINGS)
    assert [i["station"] for i in out["items"]] == ["st1"]
    item = out["items"][0]
    assert len(item["items"]) == 24 and item["model"]["n_samples"] == 16 * 24
    assert item["items"][0]["colour"].startswith("#")
    with pytest.raises(NotFound):
        service.latest_forecast(fstore, city="dhaka", settings=SETTINGS, station="zz")
    rep = service.skill_report(fstore, city="dhaka")
    assert rep["items"][0]["station"] == "st1" and rep["city_pooled"]["n"] == rep["items"][0]["n"] > 0
    assert rep["city_pooled"]["mae"]["model"] == pytest.approx(rep["items"][0]["mae"]["model"])


def test_api_routes(fstore, tmp_path):
    from fastapi.testclient import TestClient

    from nagar.api.app import create_app

    fstore.upsert_city({**DHAKA, "open_data": True})
    service.train_station(fstore, station="st1", settings=SETTINGS, folds=1, fold_days=2, fit_fn=small_fit)
    app = create_app(Settings(db=tmp_path / "unused.duckdb", secret_key="s" * 32), store=fstore)
    with TestClient(app) as c:
        r = c.get("/api/v1/cities/dhaka/stations/st1/forecast")
        assert r.status_code == 200 and len(r.json()["items"][0]["items"]) == 24
        assert c.get("/api/v1/cities/dhaka/forecast").json()["items"][0]["station"] == "st1"
        sk = c.get("/api/v1/cities/dhaka/forecast/skill").json()
        assert sk["items"][0]["mae"]["model"] > 0
        assert c.get("/api/v1/cities/dhaka/stations/st2/forecast").json()["items"] == []
        assert c.get("/api/v1/cities/nowhere/forecast").status_code == 404


def test_trainer_trains_due_cities(fstore, monkeypatch):
    calls = []
    monkeypatch.setattr(service, "train_city", lambda store, city, settings: calls.append(city) or {"trained": []})
    tr = service.ForecastTrainer(fstore, SETTINGS)
    assert tr.due(utc(2025, 2, 1)) == ["dhaka"]
    tr.run_once()
    assert calls == ["dhaka"] and tr.runs == 1


def test_worst_ahead_for_alert_rules(fstore):
    service.train_station(fstore, station="st1", settings=SETTINGS, folds=1, fold_days=2, fit_fn=small_fit)
    rows = fstore.forecasts(city="dhaka", station="st1")
    start, end = rows[0]["target_time"], rows[6]["target_time"]  # the first six hours
    order = ["good", "moderate", "unhealthy_sensitive", "unhealthy", "very_unhealthy", "hazardous"]  # EPA 2024
    want = max(rows[:6], key=lambda r: order.index(r["category_key"]))["category_key"]
    got = service.worst_ahead(fstore, city="dhaka", settings=SETTINGS, start=start, end=end)
    assert [(g["station"], g["category_key"]) for g in got] == [("st1", want)]
    assert got[0]["peak_pm25"] == max(r["value"] for r in rows[:6])
    assert set(got[0]["hours"]) == {r["target_time"] for r in rows[:6] if r["category_key"] == want}
    assert service.worst_ahead(fstore, city="dhaka", settings=SETTINGS, start=end + timedelta(days=5),
                               end=end + timedelta(days=6)) == []
