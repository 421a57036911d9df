"""Forecasts drive alerts: a stored forecast is evaluated against the city's ``forecast`` rules
("tomorrow morning very unhealthy") by the trainer, the CLI and the storing function; a city without such
rules costs no alert work; a failing evaluation never fails the forecast."""

from __future__ import annotations

import logging
from datetime import timedelta

import numpy as np
import pytest
from typer.testing import CliRunner

from nagar.alerts import service as alerts_service
from nagar.alerts.models import RuleIn
from nagar.alerts.service import add_rule, history
from nagar.cli import app
from nagar.core.settings import Settings
from nagar.forecast import service
from nagar.store.duckdb import DuckDBStore
from tests.conftest import DHAKA, obs_table, utc
from tests.forecast.test_model import small_fit

T0 = utc(2025, 1, 1)
HOURS = 16 * 24 + 13
"""The series ends 2025-01-17 12:00 UTC = 18:00 in Dhaka (UTC+6): the 24-hour forecast issued from that hour
reaches 2025-01-18 18:00 local, so it covers all of tomorrow morning (06-12 local = 00-06 UTC)."""
ISSUED = T0 + timedelta(hours=HOURS - 1)
TOMORROW = "2025-01-18"
WINDOW_START = utc(2025, 1, 18, 0)  # 06:00 in Dhaka
SETTINGS = Settings(db="unused.duckdb")
BAD_MORNING = {"name": "forecast PM2.5 AQI very unhealthy tomorrow morning", "rule": {
    "kind": "forecast", "parameter": "pm25", "comparison": "ge", "category": "very_unhealthy",
    "window": {"days_ahead": 1, "from_hour": 6, "to_hour": 12}}}
# EPA 2024 (40 CFR 58 App. G, Table 2, as revised 2024): PM2.5 24-h 125.5-225.4 µg/m³ -> AQI 201-300
# "Very Unhealthy"; 55.5-125.4 "Unhealthy".
VERY_UNHEALTHY_FROM = 125.5


def series() -> np.ndarray:
    """A strong diurnal cycle peaking at 02 UTC (08:00 in Dhaka) at 180 µg/m³, lowest (20) in the afternoon."""
    h = np.arange(HOURS)
    noise = np.random.default_rng(3).normal(0, 0.04, HOURS)
    return np.round((100 + 80 * np.cos((h % 24 - 2) / 24 * 2 * np.pi)) * np.exp(noise), 1)


def _fill(s) -> None:
    s.upsert_city(DHAKA)  # standard us-epa-2024
    s.upsert_station(dict(id="st1", city="dhaka", name="Station 1", lat=23.8, lon=90.4, parameters=["pm25"]))
    s.write_observations(obs_table([("st1", "pm25", T0 + timedelta(hours=i), float(v))
                                    for i, v in enumerate(series())]))


@pytest.fixture
def store(tmp_path):
    s = DuckDBStore(tmp_path / "fa.duckdb")
    _fill(s)
    yield s
    s.close()


def _rule(store, body=BAD_MORNING, **extra) -> dict:
    b = {**body, "rule": {**body["rule"], **extra.pop("rule", {})}, **extra}
    return add_rule(store, city="dhaka", body=RuleIn(**b), actor="t", settings=SETTINGS)


def _train(store, now):
    # folds=1 x 6 days needs more history than the 16.5 days here: no rolling-origin evaluation, one fit
    return service.train_station(store, station="st1", settings=SETTINGS, folds=1, fold_days=6, fit_fn=small_fit,
                                 now=now)


def test_trained_forecast_fires_once_per_day_and_a_revision_withdraws_it(store):
    rule = _rule(store)
    out = _train(store, utc(2025, 1, 17, 13))
    morning = [r["value"] for r in out["forecast"]
               if WINDOW_START <= r["target_time"] < WINDOW_START + timedelta(hours=6)]
    assert len(morning) == 6 and max(morning) >= VERY_UNHEALTHY_FROM  # the premise: the 08:00 peak is forecast
    assert {r["issued_at"] for r in out["forecast"]} == {ISSUED}
    assert [(e["kind"], e["rule_id"], e["scope_key"], e["time"]) for e in out["alerts"]] == [
        ("onset", rule["id"], f"st1@{TOMORROW}", WINDOW_START)]
    ev = history(store, city="dhaka")
    assert [(e["kind"], e["scope_key"]) for e in ev] == [("onset", f"st1@{TOMORROW}")]
    assert "st1@2025-01-18" in ev[0]["message"] and not ev[0]["suppressed"]

    # the same data trained again an hour later: the same forecast issue, no second alert
    again = _train(store, utc(2025, 1, 17, 14))
    assert [r["value"] for r in again["forecast"]] == [r["value"] for r in out["forecast"]]
    assert again["alerts"] == [] and len(history(store, city="dhaka")) == 1

    # a revised forecast issued an hour later, below "very unhealthy" all morning: the alert is withdrawn
    revised = [{**r, "issued_at": ISSUED + timedelta(hours=1), "value": min(r["value"], 100.0)}
               for r in out["forecast"]]
    ev = service.store_forecast(store, revised, city="dhaka", station="st1", issued_at=ISSUED + timedelta(hours=1),
                                settings=SETTINGS, now=utc(2025, 1, 17, 15))
    assert [(e["kind"], e["scope_key"], e["episode"]) for e in ev] == [
        ("recovery", f"st1@{TOMORROW}", out["alerts"][0]["episode"])]
    assert sorted(e["kind"] for e in history(store, city="dhaka")) == ["onset", "recovery"]
    # the revision is what the forecast now says
    latest = service.latest_forecast(store, city="dhaka", settings=SETTINGS)["items"][0]
    assert latest["issued_at"] == ISSUED + timedelta(hours=1) and max(i["pm25"] for i in latest["items"]) == 100.0


def _rows(value: float) -> list[dict]:
    return [{"city": "dhaka", "station": "st1", "parameter": "pm25", "issued_at": ISSUED,
             "target_time": ISSUED + timedelta(hours=h), "horizon": h, "value": value, "standard": "us-epa-2024",
             "category_key": None, "category": None, "model_id": 1} for h in range(1, 25)]


def test_a_city_without_forecast_rules_costs_no_alert_work(store, monkeypatch):
    store.upsert_station(dict(id="st2", city="dhaka", name="Station 2", lat=23.7, lon=90.4, parameters=["pm25"]))
    calls = []
    monkeypatch.setattr(alerts_service, "evaluate_forecast", lambda *a, **kw: calls.append(kw) or [])
    _rule(store, {"name": "pm", "rule": {"kind": "observation", "parameter": "pm25", "threshold": 55}})
    _rule(store, rule={"station": "st2"})  # another station's forecast rule (a station of the city)
    _rule(store, enabled=False)  # disabled
    assert service.store_forecast(store, _rows(200.0), city="dhaka", station="st1", issued_at=ISSUED,
                                  settings=SETTINGS) == []
    assert calls == [] and len(store.forecasts(city="dhaka", station="st1")) == 24  # stored all the same
    # a rule that applies: evaluated with the contract of nagar/alerts/README.md
    _rule(store, rule={"station": "st1"})
    service.store_forecast(store, _rows(200.0), city="dhaka", station="st1", issued_at=ISSUED, settings=SETTINGS)
    assert len(calls) == 1
    kw = calls[0]
    assert (kw["city"], kw["station"], kw["issued_at"]) == ("dhaka", "st1", ISSUED)
    assert len(kw["forecast_rows"]) == 24 and {r["parameter"] for r in kw["forecast_rows"]} == {"pm25"}
    assert all(r["time"].tzinfo is not None and r["value"] == 200.0 for r in kw["forecast_rows"])


def test_a_failing_evaluation_never_fails_the_forecast(store, monkeypatch, caplog):
    _rule(store)

    def boom(*a, **kw):
        raise RuntimeError("alert tables unavailable")

    monkeypatch.setattr(alerts_service, "evaluate_forecast", boom)
    with caplog.at_level(logging.ERROR, logger="nagar.forecast"):
        out = service.store_forecast(store, _rows(200.0), city="dhaka", station="st1", issued_at=ISSUED,
                                     settings=SETTINGS)
    assert out == [] and len(store.forecasts(city="dhaka", station="st1")) == 24
    assert "forecast alert evaluation failed for station st1" in caplog.text


def test_background_trainer_records_the_alert(store):
    """The server's ForecastTrainer trains through the same path (default model, no evaluation folds)."""
    _rule(store)
    trainer = service.ForecastTrainer(store, SETTINGS)
    assert trainer.run_once() == 1
    ev = history(store, city="dhaka")
    assert [(e["kind"], e["scope_key"]) for e in ev] == [("onset", f"st1@{TOMORROW}")]


def test_cli_train_records_and_prints_the_alert(tmp_path):
    path = tmp_path / "cli.duckdb"
    s = DuckDBStore(path)
    _fill(s)
    _rule(s)
    s.close()
    r = CliRunner().invoke(app, ["forecast", "train", "--city", "dhaka", "--days", "30", "--folds", "1",
                                 "--fold-days", "6", "--db", str(path)])
    assert r.exit_code == 0, r.output
    assert "forecast alert onset" in r.output
    s = DuckDBStore(path)
    try:
        ev = history(s, city="dhaka")
        assert [(e["kind"], e["scope_key"], e["time"]) for e in ev] == [
            ("onset", f"st1@{TOMORROW}", WINDOW_START)]
    finally:
        s.close()


def test_demo_forecast_rule_added_once_to_an_existing_demo(store):
    from nagar.water import demo

    demo.load_water_demo(store, settings=SETTINGS)
    names = [r["name"] for r in store.alert_rules(city="dhaka")]
    assert names.count(demo.FORECAST_DEMO_RULE["name"]) == 1
    # a demo loaded before the rule existed gets it on the next `nagar demo`, once
    rid = next(r["id"] for r in store.alert_rules(city="dhaka") if r["name"] == demo.FORECAST_DEMO_RULE["name"])
    store.delete_alert_rule(rid)
    demo.load_water_demo(store, settings=SETTINGS)
    demo.load_water_demo(store, settings=SETTINGS)
    names = [r["name"] for r in store.alert_rules(city="dhaka")]
    assert names.count(demo.FORECAST_DEMO_RULE["name"]) == 1 and len(names) == len(demo.DEMO_RULES)
