"""Water-sample rules, forecast rules (``evaluate_forecast`` with synthetic forecast rows) and the
background worker fed by ``store.on_write``."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from nagar.alerts.models import RuleIn
from nagar.alerts.service import AlertWorker, add_rule, evaluate_forecast, history
from nagar.core.errors import InvalidInput
from nagar.water import service as water
from tests.alerts.conftest import pm

DHAKA_TZ = ZoneInfo("Asia/Dhaka")


def test_water_rule_fires_on_consecutive_samples(astore, settings):
    water.put_stations(astore, city="dhaka", stations=[{"id": "bg-1", "water_body": "Buriganga"}], actor="t")
    add_rule(astore, city="dhaka", body=RuleIn(name="low DO", rule={"kind": "water", "parameter": "dissolved_oxygen",
                                                                   "comparison": "lt", "threshold": 4,
                                                                   "duration": 2}), actor="t", settings=settings)
    rows = [{"station": "bg-1", "parameter": "do", "time": f"2024-0{m}-05", "value": v, "unit": "mg/L"}
            for m, v in ((1, 5.0), (2, 3.0), (3, 3500), (4, 6.0))]
    rows[2]["unit"] = "µg/L"  # 3.5 mg/L
    water.load_samples(astore, city="dhaka", rows=rows, actor="t")
    ev = sorted(history(astore, city="dhaka"), key=lambda e: e["id"])
    assert [(e["kind"], e["scope_key"], e["time"].month, e["value"]) for e in ev] == [
        ("onset", "bg-1", 3, 3.5), ("recovery", "bg-1", 4, 6.0)]


def _forecast(day: str, values: dict[int, float]) -> list[dict]:
    """Hourly PM2.5 forecast rows for a local day; ``values`` overrides some local hours (default 20)."""
    d = datetime.fromisoformat(day).replace(tzinfo=DHAKA_TZ)
    return [{"time": (d + timedelta(hours=h)).astimezone(timezone.utc), "parameter": "pm25",
             "value": values.get(h, 20.0)} for h in range(24)]


def test_forecast_category_tomorrow_morning(astore, settings):
    add_rule(astore, city="dhaka", body=RuleIn(name="bad morning", rule={
        "kind": "forecast", "parameter": "pm25", "comparison": "ge", "category": "very_unhealthy",
        "window": {"days_ahead": 1, "from_hour": 6, "to_hour": 12}}), actor="t", settings=settings)
    issued = datetime(2025, 1, 10, 18, tzinfo=DHAKA_TZ)
    # 200 µg/m³ at 15:00 is outside the morning window: nothing
    assert evaluate_forecast(astore, city="dhaka", station=None, forecast_rows=_forecast("2025-01-11", {15: 200}),
                             issued_at=issued, settings=settings) == []
    # 200 µg/m³ at 08:00: EPA 2024 PM2.5 125.5-225.4 µg/m³ -> AQI 201-300 "Very Unhealthy"
    ev = evaluate_forecast(astore, city="dhaka", station=None, forecast_rows=_forecast("2025-01-11", {8: 200}),
                           issued_at=issued, settings=settings)
    assert [(e["kind"], e["scope_key"]) for e in ev] == [("onset", "city@2025-01-11")]
    assert ev[0]["time"] == datetime(2025, 1, 11, 0, tzinfo=timezone.utc)  # 06:00 local, the window's start
    # the same forecast re-issued: no second alert; a revised one below the category: recovery
    assert evaluate_forecast(astore, city="dhaka", station=None, forecast_rows=_forecast("2025-01-11", {8: 200}),
                             issued_at=issued + timedelta(hours=1), settings=settings) == []
    ev = evaluate_forecast(astore, city="dhaka", station=None, forecast_rows=_forecast("2025-01-11", {8: 100}),
                           issued_at=issued + timedelta(hours=2), settings=settings)
    assert [e["kind"] for e in ev] == ["recovery"]
    with pytest.raises(InvalidInput):
        evaluate_forecast(astore, city="dhaka", station=None,
                          forecast_rows=[{"time": datetime(2025, 1, 11, 8), "parameter": "pm25", "value": 1.0}],
                          issued_at=issued, settings=settings)


def test_forecast_threshold_on_concentration_per_station(astore, settings):
    add_rule(astore, city="dhaka", body=RuleIn(name="st1 > 100", rule={
        "kind": "forecast", "parameter": "pm25", "threshold": 100, "station": "st1"}), actor="t", settings=settings)
    issued = datetime(2025, 1, 10, 18, tzinfo=DHAKA_TZ)
    rows = _forecast("2025-01-11", {7: 150})
    assert evaluate_forecast(astore, city="dhaka", station="st2", forecast_rows=rows, issued_at=issued,
                             settings=settings) == []  # another station's forecast
    ev = evaluate_forecast(astore, city="dhaka", station="st1", forecast_rows=rows, issued_at=issued, settings=settings)
    assert [(e["kind"], e["scope_key"], e["value"]) for e in ev] == [("onset", "st1@2025-01-11", 150.0)]


def test_background_worker_evaluates_written_batches(astore, settings):
    add_rule(astore, city="dhaka", body=RuleIn(name="pm", rule={"kind": "observation", "parameter": "pm25",
                                                               "threshold": 55, "station": "st1"}),
             actor="t", settings=settings)
    worker = AlertWorker(astore, settings, tick=0.05).start()
    try:
        astore.write_observations(pm("st1", [(0, 80)]))
        astore.write_observations(pm("st1", [(1, 10)]))
        worker.drain()
    finally:
        worker.stop()
    assert [e["kind"] for e in sorted(history(astore, city="dhaka"), key=lambda e: e["id"])] == ["onset", "recovery"]
    astore.write_observations(pm("st1", [(2, 90)]))  # stopped: no longer listening
    assert len(history(astore, city="dhaka")) == 2
