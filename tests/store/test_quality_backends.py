"""The quality and forecast store mixins on both backends (DuckDB and a throw-away PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

from nagar.store.forecast_tables import ForecastTables
from nagar.store.quality_tables import QualityTables
from tests.conftest import obs_table, utc
from tests.store.test_backends import _seed, backend  # noqa: F401 (the fixture)


def test_quality_mixin(backend):
    s = backend.open((QualityTables,))
    try:
        _seed(s)
        t = utc(2025, 1, 1, 5)
        now = utc(2025, 1, 2)
        row = dict(city="dhaka", station="st1", parameter="pm25", time=t, kind="spike", severity="suspect",
                   value=950.0, detail="950 vs 80", detector="hampel+rate/v1", detected_at=now)
        assert s.add_quality_faults([row, {**row, "kind": "out_of_range", "time": t + timedelta(hours=1)}]) == 2
        assert s.add_quality_faults([{**row, "detail": "again"}]) == 0  # kept as first recorded
        got = s.quality_faults(city="dhaka")
        assert [(r["kind"], r["time"], r["detail"]) for r in got] == [
            ("out_of_range", t + timedelta(hours=1), "950 vs 80"), ("spike", t, "950 vs 80")]
        assert got[1]["override_actor"] is None
        assert s.quality_faults(city="dhaka", scope=frozenset({"ctg"})) == []
        assert [r["kind"] for r in s.quality_faults(city="dhaka", start=t, end=t + timedelta(hours=1))] == ["spike"]
        s.put_quality_override(dict(city="dhaka", station="st1", parameter="pm25", time=t, flag="valid",
                                    reason="checked", actor="op", created_at=now))
        s.put_quality_override(dict(city="dhaka", station="st1", parameter="pm25", time=t, flag="valid",
                                    reason="checked twice", actor="op2", created_at=now))
        ov = s.quality_overrides(stations=["st1"])
        assert [(o["actor"], o["reason"], o["time"]) for o in ov] == [("op2", "checked twice", t)]
        assert s.quality_faults(city="dhaka", kind="spike")[0]["override_actor"] == "op2"
        counts = s.quality_fault_counts(city="dhaka")
        assert counts == [{"station": "st1", "kind": "out_of_range", "n": 1, "notices": 0, "overridden": 0},
                          {"station": "st1", "kind": "spike", "n": 1, "notices": 0, "overridden": 1}]
        s.add_quality_faults([{**row, "kind": "timestamp", "severity": "notice", "time": t + timedelta(hours=2),
                               "detail": "off the series' 60-minute clock", "detector": "clock/v2"}])
        assert s.quality_fault_counts(city="dhaka")[-1] == {"station": "st1", "kind": "timestamp", "n": 1,
                                                            "notices": 1, "overridden": 0}
        assert s.quality_overrides(city="dhaka", scope=frozenset({"ctg"})) == []
    finally:
        s.close()


def test_forecast_mixin(backend):
    s = backend.open((ForecastTables,))
    try:
        _seed(s)
        t = utc(2025, 1, 1, 5)
        m = s.add_forecast_model(dict(city="dhaka", station="st1", parameter="pm25", model="hgbr", trained_at=t,
                                      train_start=t - timedelta(days=30), train_end=t, n_samples=100, seconds=1.5,
                                      skill={"mae": {"model": 10.0}}, params={"horizons": 24}))
        assert m["id"] == 1 and m["skill"] == {"mae": {"model": 10.0}} and m["train_end"] == t
        m2 = s.add_forecast_model({**m, "trained_at": t + timedelta(hours=1)})
        assert [x["id"] for x in s.latest_forecast_models(city="dhaka")] == [m2["id"]]
        assert s.latest_forecast_models(city="dhaka", scope=frozenset({"ctg"})) == []
        rows = [dict(city="dhaka", station="st1", parameter="pm25", issued_at=issued, target_time=issued + timedelta(hours=h),
                     horizon=h, value=50.0 + h, standard="us-epa-2024", category_key="moderate", category="Moderate",
                     model_id=m2["id"]) for issued in (t, t + timedelta(hours=1)) for h in (1, 2)]
        assert s.put_forecasts(rows) == 4
        assert s.put_forecasts([{**rows[-1], "value": 99.0}]) == 1  # replaced, not added
        latest = s.forecasts(city="dhaka", station="st1")
        assert [(r["issued_at"], r["horizon"], r["value"]) for r in latest] == [
            (t + timedelta(hours=1), 1, 51.0), (t + timedelta(hours=1), 2, 99.0)]
        assert len(s.forecasts(city="dhaka", latest=False)) == 4
        assert [r["horizon"] for r in s.forecasts(city="dhaka", issued_at=t)] == [1, 2]
        assert s.forecasts(city="dhaka", scope=frozenset({"ctg"})) == []
        # observations written beside them are untouched
        s.write_observations(obs_table([("st1", "pm25", t, 5.0)]))
        assert s.stats().observations == 1
    finally:
        s.close()
