"""The water and alert store mixins run unchanged on DuckDB and PostgreSQL (``backend`` fixture)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from nagar.store.alerts_tables import AlertTables
from nagar.store.water_tables import WaterTables
from tests.store.test_backends import _seed, backend  # noqa: F401  (the fixture)


def utc(*a):
    return datetime(*a, tzinfo=timezone.utc)


def test_water_mixin(backend):
    s = backend.open((WaterTables,))
    try:
        _seed(s)
        now = utc(2025, 5, 1)
        assert s.upsert_water_stations([{"id": "w1", "city": "dhaka", "name": "W1", "water_body": "Turag",
                                         "lat": 23.8, "lon": 90.3}], actor="t", now=now) == (1, 0)
        assert s.upsert_water_stations([{"id": "w1", "city": "dhaka", "name": "W1b"}], actor="t", now=now) == (0, 1)
        assert [r["name"] for r in s.water_stations(city="dhaka")] == ["W1b"]
        assert s.water_stations(city="dhaka", scope=frozenset({"ctg"})) == []
        rows = [{"station": "w1", "parameter": "do", "time": utc(2024, 1, d), "value": float(d)} for d in (1, 2, 3)]
        assert s.upsert_water_samples(rows) == (3, 0)
        assert s.upsert_water_samples([{**rows[0], "value": 9.0, "qualifier": "<"}]) == (0, 1)
        got = s.water_samples(stations=["w1"], parameters=["do"], start=utc(2024, 1, 1), end=utc(2024, 1, 3))
        assert [(r["time"], r["value"], r["qualifier"]) for r in got] == [(utc(2024, 1, 1), 9.0, "<"),
                                                                          (utc(2024, 1, 2), 2.0, "")]
        assert s.water_samples(stations=["w1"], scope=frozenset({"ctg"})) == []
        assert s.put_water_objective_set(city="dhaka", set_id="x", body="{}", actor="t", now=now) is True
        assert s.put_water_objective_set(city="dhaka", set_id="x", body='{"a": 1}', actor="t", now=now) is False
        assert [json.loads(r["body"]) for r in s.water_objective_sets(city="dhaka")] == [{"a": 1}]
    finally:
        s.close()


def test_latest_water_samples_and_write_listener(backend):
    """``latest_water_samples`` (the NGSI-LD water views' one query) gives the newest sample per (station,
    parameter) of a city on both backends; ``on_water_write`` listeners hear committed station and sample
    writes, and a failing listener does not fail the write."""
    s = backend.open((WaterTables,))
    try:
        _seed(s)
        heard = []
        s.on_water_write(lambda cities, stations: heard.append((set(cities), set(stations))))
        s.on_water_write(lambda cities, stations: 1 / 0)
        now = utc(2025, 5, 1)
        assert s.upsert_water_stations([{"id": "w1", "city": "dhaka", "name": "W1"},
                                        {"id": "w2", "city": "dhaka", "name": "W2"}], actor="t", now=now) == (2, 0)
        rows = [{"station": "w1", "parameter": "do", "time": utc(2024, 1, d), "value": float(d)} for d in (1, 3, 2)]
        rows.append({"station": "w2", "parameter": "ph", "time": utc(2024, 2, 1), "value": 7.0, "qualifier": "<"})
        assert s.upsert_water_samples(rows) == (4, 0)
        assert heard == [({"dhaka"}, {"w1", "w2"}), (set(), {"w1", "w2"})]
        got = [(r["station"], r["parameter"], r["time"], r["value"], r["qualifier"])
               for r in s.latest_water_samples(city="dhaka")]
        assert got == [("w1", "do", utc(2024, 1, 3), 3.0, ""), ("w2", "ph", utc(2024, 2, 1), 7.0, "<")]
        assert s.latest_water_samples(city="ctg") == []
    finally:
        s.close()


def test_alerts_mixin(backend):
    s = backend.open((AlertTables,))
    try:
        _seed(s)
        now = utc(2025, 5, 1)
        r = s.add_alert_rule(city="dhaka", name="r", kind="observation", spec={"threshold": 5}, actor="t", now=now)
        assert r["id"] == 1 and r["spec"] == {"threshold": 5} and r["enabled"] is True
        assert [x["id"] for x in s.alert_rules(city="dhaka", kinds=["observation"], enabled_only=True)] == [1]
        assert s.alert_rules(city="dhaka", scope=frozenset({"ctg"})) == []
        ep = s.add_alert_endpoint(city="dhaka", name="e", url="http://x", secret="k", max_attempts=3, actor="t",
                                  now=now)
        e1, e2 = s.next_alert_episode(), s.next_alert_episode()
        assert e2 == e1 + 1
        ev = s.advance_alert_state(rule_id=1, scope_key="st1", now=now,
                                   state={"last_time": now, "last_cond": True, "run_before": 2, "episode": e1,
                                          "last_value": 7.5},
                                   events=[{"city": "dhaka", "kind": "onset", "episode": e1, "time": now, "value": 7.5,
                                            "message": "m", "suppressed": False},
                                           {"city": "dhaka", "kind": "recovery", "episode": e1, "time": now,
                                            "value": None, "message": "q", "suppressed": True}])
        st = s.alert_states([1])[(1, "st1")]
        assert (st["last_time"], st["last_cond"], st["run_before"], st["episode"]) == (now, True, 2, e1)
        assert [e["kind"] for e in s.alert_events(city="dhaka")] == ["recovery", "onset"]
        due = s.due_alert_deliveries(now=now)
        assert [(d["event_id"], d["endpoint_id"], d["secret"]) for d in due] == [(ev[0]["id"], ep["id"], "k")]
        assert s.claim_alert_delivery(due[0]["id"], now=now, until=now + timedelta(seconds=60)) is True
        assert s.claim_alert_delivery(due[0]["id"], now=now, until=now + timedelta(seconds=60)) is False  # leased
        s.record_alert_attempt(due[0]["id"], status="pending", attempts=1, next_attempt_at=now + timedelta(seconds=5),
                               last_status=500, last_error="HTTP 500", now=now)
        assert s.due_alert_deliveries(now=now) == []
        assert len(s.due_alert_deliveries(now=now + timedelta(seconds=5))) == 1
        assert s.alert_event_rows([ev[0]["id"]])[ev[0]["id"]]["message"] == "m"
        s.update_alert_rule(1, name="r2", kind="observation", spec={"threshold": 5}, enabled=False, now=now)
        assert s.alert_states([1]) != {} and s.alert_rule(1)["enabled"] is False  # same condition: state kept
        s.update_alert_rule(1, name="r2", kind="observation", spec={"threshold": 6}, enabled=False, now=now)
        assert s.alert_states([1]) == {}  # a changed condition starts afresh
        assert s.delete_alert_endpoint(ep["id"]) and s.delete_alert_rule(1) and not s.delete_alert_rule(1)
        assert [(d["status"], d["last_error"]) for d in s.alert_deliveries(city="dhaka")] == [("dead", "endpoint removed")]
    finally:
        s.close()


def test_alert_engine_and_wqi_run_on_both_backends(backend, tmp_path):
    """The engine's reads (hourly windows, AQI grid) and writes, and the WQI service, on each backend."""
    from nagar.alerts.models import RuleIn
    from nagar.alerts.service import AlertEngine, add_rule, history
    from nagar.core.settings import Settings
    from nagar.water import service as water
    from tests.conftest import obs_table

    s = backend.open((AlertTables, WaterTables))
    try:
        _seed(s)
        settings = Settings(db=tmp_path / "unused.duckdb", secret_key="x" * 32)
        add_rule(s, city="dhaka", body=RuleIn(name="pm", rule={"kind": "observation", "parameter": "pm25",
                                                              "threshold": 55, "duration": 2, "station": "st1"}),
                 actor="t", settings=settings)
        add_rule(s, city="dhaka", body=RuleIn(name="aqi", rule={"kind": "aqi", "threshold": 150}), actor="t",
                 settings=settings)
        s.on_write(AlertEngine(s, settings).process_batch)
        for h, v in enumerate([80, 90, 90, 10]):
            s.write_observations(obs_table([("st1", "pm25", utc(2025, 1, 10, h), float(v))]))
        got = sorted((e["rule_id"], e["kind"], e["time"]) for e in history(s, city="dhaka"))
        # pm: > 55 at hours 0-2 -> onset at hour 1 (2 hours), recovery at hour 3
        # aqi: NowCast from hour 1; 80-90 µg/m³ is AQI 160-170 (> 150) -> onset at hour 1, ends when it falls
        assert (1, "onset", utc(2025, 1, 10, 1)) in got and (1, "recovery", utc(2025, 1, 10, 3)) in got
        assert (2, "onset", utc(2025, 1, 10, 1)) in got
        water.put_stations(s, city="dhaka", stations=[{"id": "w1"}], actor="t")
        rows = [{"station": "w1", "parameter": p, "time": f"2024-0{m}-01", "value": v}
                for m in range(1, 5) for p, v in (("do", 6.0), ("ph", 7.0), ("bod", 2.0), ("ammonia", 0.1))]
        water.load_samples(s, city="dhaka", rows=rows, actor="t")
        assert water.wqi(s, city="dhaka", period="all")["items"][0]["wqi"] == 100.0
    finally:
        s.close()
