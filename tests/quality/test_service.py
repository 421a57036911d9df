"""Quality over the store: flags kept with the raw value, the AQI leaves flagged readings out, overrides
are audited and respected, the listener does not loop, and the demo's faulty sensor is found."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pyarrow as pa
import pytest

from nagar.core.errors import InvalidInput, NotFound
from nagar.core.settings import Settings
from nagar.quality import service
from nagar.store.duckdb import DuckDBStore
from tests.conftest import DHAKA, obs_table, utc

T0 = utc(2025, 1, 1)


@pytest.fixture
def qstore(tmp_path):
    s = DuckDBStore(tmp_path / "q.duckdb")
    s.upsert_city(DHAKA)
    for i in range(1, 4):
        s.upsert_station(dict(id=f"st{i}", city="dhaka", name=f"Station {i}", lat=23.78 + i / 100, lon=90.38,
                              parameters=["pm25"]))
    yield s
    s.close()


def series(station: str, values, start=T0, parameter="pm25") -> pa.Table:
    return obs_table([(station, parameter, start + timedelta(hours=i), float(v)) for i, v in enumerate(values)])


def wavy(n=48, seed=0):
    rng = np.random.default_rng(seed)
    return np.round(80 + 20 * np.sin(np.arange(n) / 24 * 2 * np.pi) + rng.normal(0, 4, n), 1)


def flags(store, station, parameter="pm25"):
    t = store.observations(stations=[station], parameters=[parameter], include_flagged=True)
    return {r["time"]: (r["value"], r["flag"]) for r in t.to_pylist()}


def city_aqi_at(store, t):
    from nagar.air.service import aqi_series

    out = aqi_series(store, settings=Settings(db="unused.duckdb"), city="dhaka", start=t, end=t + timedelta(hours=1))
    return out["items"][0]["aqi"]


def test_scan_flags_with_raw_value_kept_and_aqi_excludes_them(qstore):
    v = wavy()
    v[20] = 950.0  # a spike
    v[30:40] = 61.0  # stuck 10 h
    qstore.write_observations(series("st1", v))
    spike_t = T0 + timedelta(hours=20)
    before = city_aqi_at(qstore, spike_t)
    res = service.scan(qstore, city="dhaka", now=T0 + timedelta(days=3))
    assert res.by_kind == {"spike": 1, "stuck": 9} and res.flagged == 10 and res.new_faults == 10
    f = flags(qstore, "st1")
    assert f[spike_t] == (950.0, "suspect")  # raw value kept, flag raised
    assert [f[T0 + timedelta(hours=h)][1] for h in range(30, 40)] == ["valid"] + ["suspect"] * 9
    after = city_aqi_at(qstore, spike_t)
    assert before > 400 and after < 200  # the 950 µg/m³ hour no longer drives NowCast
    rows = qstore.quality_faults(city="dhaka", station="st1", kind="spike")
    assert len(rows) == 1 and rows[0]["value"] == 950.0 and rows[0]["detector"] == "hampel+rate/v1"
    # a second scan finds the same faults but records and flags nothing new
    again = service.scan(qstore, city="dhaka", now=T0 + timedelta(days=3))
    assert again.faults == 10 and again.new_faults == 0 and again.flagged == 0


def test_out_of_range_is_invalid(qstore):
    v = wavy()
    v[10] = 1200.0  # above the instrument range: impossible
    qstore.write_observations(series("st1", v))
    service.scan(qstore, city="dhaka", now=T0 + timedelta(days=3))
    assert flags(qstore, "st1")[T0 + timedelta(hours=10)] == (1200.0, "invalid")


def test_override_is_audited_and_never_reflagged(qstore):
    v = wavy()
    v[20] = 950.0
    qstore.write_observations(series("st1", v))
    t = T0 + timedelta(hours=20)
    service.scan(qstore, city="dhaka", now=T0 + timedelta(days=3))
    with pytest.raises(InvalidInput):
        service.override(qstore, station="st1", parameter="pm25", time=t, reason=" ", actor="op")
    with pytest.raises(NotFound):
        service.override(qstore, station="st1", parameter="pm25", time=t + timedelta(minutes=1), reason="x",
                         actor="op")
    out = service.override(qstore, station="st1", parameter="pm25", time=t, reason="fireworks, confirmed",
                           actor="op")
    assert out["previous_flag"] == "suspect" and flags(qstore, "st1")[t] == (950.0, "valid")
    entry = qstore.audit_entries(city="dhaka")[-1]
    assert entry["action"] == "quality.override" and entry["actor"] == "op"
    res = service.scan(qstore, city="dhaka", now=T0 + timedelta(days=3))
    assert res.skipped_overridden == 1 and res.flagged == 0
    assert flags(qstore, "st1")[t] == (950.0, "valid")
    listed = service.faults(qstore, city="dhaka", station="st1")
    assert listed[0]["overridden"]["actor"] == "op" and listed[0]["overridden"]["reason"] == "fireworks, confirmed"
    assert service.summary(qstore, city="dhaka")["items"][0]["overridden"] == 1


def test_listener_examines_written_window_and_does_not_loop(qstore):
    calls = []
    qstore.on_write(lambda b: calls.append(b.num_rows))
    w = service.attach(qstore, background=False)
    v = wavy()
    v[20] = 950.0
    qstore.write_observations(series("st1", v))
    assert len(calls) == 1 and set(w._pending) == {"st1"}
    results = w.drain()
    assert [r.flagged for r in results] == [1, 0]  # the written window, then the daily drift check
    assert len(calls) == 2  # the flag rewrite went through the one write path ...
    assert w._pending == {}  # ... and the watcher ignored it: nothing left to examine
    assert w.drain() == []
    assert flags(qstore, "st1")[T0 + timedelta(hours=20)][1] == "suspect"


def test_listener_checks_drift_once_a_day(qstore):
    clock = [T0 + timedelta(days=40)]
    w = service.QualityWatcher(qstore, background=False, now=lambda: clock[0])
    qstore.on_write(w)
    qstore.write_observations(series("st1", wavy(24), start=T0 + timedelta(days=39)))
    assert [r.by_kind for r in w.drain()] == [{}, {}]  # the window, then the city's drift check
    qstore.write_observations(series("st2", wavy(24), start=T0 + timedelta(days=39)))
    assert len(w.drain()) == 1  # drift was checked less than a day ago
    clock[0] += timedelta(days=1)
    qstore.write_observations(series("st3", wavy(24), start=T0 + timedelta(days=40)))
    assert len(w.drain()) == 2


def test_listener_out_of_order_push(qstore):
    w = service.attach(qstore, background=False)
    qstore.write_observations(series("st2", wavy(24), start=T0 + timedelta(days=10)))
    qstore.write_observations(series("st2", [55.0], start=T0))  # 10 days behind the device's newest push
    assert flags(qstore, "st2")[T0] == (55.0, "suspect")
    assert qstore.quality_faults(city="dhaka", kind="timestamp")[0]["detail"].startswith("out of order")
    w.drain()


def test_app_lifespan_watches_its_own_store(tmp_path):
    from fastapi.testclient import TestClient

    from nagar.api.app import create_app

    app = create_app(Settings(db=tmp_path / "app.duckdb", secret_key="s" * 32))
    with TestClient(app):
        store = app.state.store
        store.upsert_city(DHAKA)
        store.upsert_station(dict(id="st1", city="dhaka", name="S", lat=23.8, lon=90.4, parameters=["pm25"]))
        v = wavy()
        v[20] = 950.0
        store.write_observations(series("st1", v))
        app.state.quality.join()
        assert app.state.quality.errors == 0
        assert flags(store, "st1")[T0 + timedelta(hours=20)][1] == "suspect"


def test_scan_input_errors(qstore):
    with pytest.raises(NotFound):
        service.scan(qstore, city="nowhere")
    with pytest.raises(InvalidInput):
        service.scan(qstore, city="dhaka", start=T0, end=T0)
    with pytest.raises(InvalidInput):
        service.scan(qstore, city="dhaka", start=datetime(2025, 1, 1), end=T0)
    with pytest.raises(NotFound):
        service.scan(qstore, city="dhaka", stations=["zz"])
    with pytest.raises(InvalidInput):  # the context window before it would leave the calendar
        service.scan(qstore, city="dhaka", start=datetime(1, 1, 1, tzinfo=timezone.utc), end=T0)


@pytest.mark.parametrize("seed", [42, 7])
def test_demo_faulty_sensor_found(tmp_path, seed):
    from nagar.demo.service import load_demo
    from nagar.demo.generator import generate

    end = datetime(2026, 3, 1, tzinfo=timezone.utc)
    s = DuckDBStore(":memory:")
    load_demo(s, seed=seed, days=90, end=end)
    data = generate(seed=seed, days=90, end=end)
    res = service.scan(s, city="dhaka", now=end)
    st = data.faults[0]["station"]
    want = {}
    for f in data.faults:
        t = f["start"]
        while t <= f["end"]:
            want[t] = f["kind"]
            t += timedelta(hours=1)
    got = {}
    for r in s.quality_faults(city="dhaka", station=st, parameter="pm25", limit=100000):
        if r["kind"] in ("stuck", "spike"):
            got[r["time"]] = r["kind"]
    assert got == want  # every hour of the episodes, with the right kind, and nothing else
    others = [r for r in s.quality_faults(city="dhaka", limit=100000)
              if not (r["station"] == st and r["time"] in want)]
    assert len(others) <= 3, others  # false alarms on the rest of Dhaka's 90 days (measured: 1)
    assert res.flagged >= len(want)
    s.close()


def test_drift_against_neighbours_end_to_end(qstore):
    qstore.upsert_station(dict(id="st4", city="dhaka", name="Station 4", lat=23.82, lon=90.40, parameters=["pm25"]))
    n = 60 * 24
    rng = np.random.default_rng(9)
    common = 80 * np.exp(0.4 * np.sin(np.arange(n) / 24 * 2 * np.pi) + np.cumsum(rng.normal(0, 0.02, n)))
    for k, st in enumerate(["st1", "st2", "st3", "st4"]):
        v = common * (1 + 0.1 * k) * np.exp(rng.normal(0, 0.05, n))
        if st == "st1":  # the sensor drifts up to x1.8 over days 30-50, then stays there
            day = np.arange(n) / 24
            v = v * (1 + 0.8 * np.clip((day - 30) / 20, 0, 1))
        qstore.write_observations(series(st, np.round(v, 1)))
    res = service.scan(qstore, city="dhaka", now=T0 + timedelta(days=61))
    rows = qstore.quality_faults(city="dhaka", kind="drift", limit=100000)
    assert {r["station"] for r in rows} == {"st1"} and res.by_kind.get("drift") == len(rows)
    days = sorted({(r["time"] - T0).days for r in rows})
    assert days[0] >= 33 and days[-1] == 59  # flagged once it has moved, and while it stays moved
    assert all(d in days for d in range(42, 60))
    assert "neighbours" in rows[0]["detail"]


def test_off_clock_reading_is_a_notice_and_still_counts_in_its_hour(qstore):
    # 24 hourly readings on the hour (28.0 and 32.0 alternating), one more at 06:30 of 76.0 (a device
    # reporting between its hours) and one 2 h in the future (a clock running ahead)
    now = T0 + timedelta(hours=24)
    off = T0 + timedelta(hours=6, minutes=30)
    qstore.write_observations(obs_table([("st1", "pm25", T0 + timedelta(hours=h), 28.0 + 4 * (h % 2)) for h in range(24)]
                                        + [("st1", "pm25", off, 76.0), ("st1", "pm25", now + timedelta(hours=2), 30.0)]))
    res = service.scan(qstore, city="dhaka", now=now)
    assert (res.by_kind, res.notices, res.flagged) == ({"timestamp": 2}, 1, 1)
    f = flags(qstore, "st1")
    assert f[off] == (76.0, "valid")  # recorded, not flagged
    assert f[now + timedelta(hours=2)] == (30.0, "suspect")  # a time in the future still is
    got = {(r["time"], r["severity"]) for r in service.faults(qstore, city="dhaka", station="st1")}
    assert got == {(off, "notice"), (now + timedelta(hours=2), "suspect")}
    item = next(i for i in service.summary(qstore, city="dhaka")["items"] if i["station"] == "st1")
    assert (item["total"], item["notices"], item["by_kind"]["timestamp"]) == (2, 1, 2)
    # the 06:00 hour's mean is (28 + 76) / 2 = 52 with the off-clock reading in it
    hourly = qstore.observations(stations=["st1"], aggregation="hour").to_pylist()
    assert next(r["value"] for r in hourly if r["time"] == T0 + timedelta(hours=6)) == 52.0
    # a notice does not explain away a PM2.5 > PM10 pair: both readings of the pair are still flagged
    qstore.write_observations(obs_table([("st1", "pm10", off, 60.0)]))
    service.scan(qstore, city="dhaka", now=now)
    assert flags(qstore, "st1")[off] == (76.0, "suspect")  # 76 > 60 + max(5, 6)
    assert flags(qstore, "st1", "pm10")[off] == (60.0, "suspect")


def test_off_clock_reading_posted_to_the_api_counts_in_the_daily_aqi(tmp_path):
    """End to end: a device posts a day of hourly PM2.5 and one reading at 00:30Z; after the quality worker has
    run, the reading is a notice on /quality's API and is in the day's AQI."""
    from fastapi.testclient import TestClient

    from nagar.api.app import create_app
    from tests.conftest import bearer, make_user

    app = create_app(Settings(db=tmp_path / "app.duckdb", secret_key="s" * 32))
    with TestClient(app) as c:
        store = app.state.store
        store.upsert_city(DHAKA)
        store.upsert_station(dict(id="dhaka-agargaon", city="dhaka", name="Agargaon", lat=23.78, lon=90.38,
                                  parameters=["pm25"]))
        h = bearer(app, make_user(store, "root", platform_admin=True))
        d0 = datetime(2025, 1, 1, 18, tzinfo=timezone.utc)  # 2 Jan 00:00 in Dhaka (UTC+6)

        def row(t, v):
            return {"station": "dhaka-agargaon", "parameter": "pm25", "time": t.isoformat().replace("+00:00", "Z"),
                    "value": v, "unit": "µg/m³"}

        rows = ([row(d0 + timedelta(hours=k), 28.0 + 4 * (k % 2)) for k in range(24)]
                + [row(d0 + timedelta(hours=6, minutes=30), 76.0)])
        r = c.post("/api/v1/observations", json=rows, headers=h)
        assert r.status_code == 200 and r.json()["inserted"] == 25
        app.state.quality.join()
        assert app.state.quality.errors == 0
        faults = c.get("/api/v1/cities/dhaka/quality/faults", headers=h).json()["items"]
        assert [(f["kind"], f["severity"], f["value"]) for f in faults] == [("timestamp", "notice", 76.0)]
        day = c.get("/api/v1/aqi", params={"station": "dhaka-agargaon", "start": d0.isoformat(),
                                           "end": (d0 + timedelta(days=1)).isoformat(), "resolution": "day"},
                    headers=h).json()["items"]
        # hourly means: 28 and 32 alternating (sum 720) with (28 + 76) / 2 = 52 at 06:00 instead of 28 -> day
        # mean (720 + 24) / 24 = 31.0 µg/m³; EPA 2024 PM2.5 9.1-35.4 -> 51-100:
        # (100 - 51) / (35.4 - 9.1) x (31.0 - 9.1) + 51 = 91.80 -> 92 (without the 06:30 reading: 30.0 -> 89.94 -> 90)
        assert [(i["date"], i["concentrations"]["pm25_24h"], i["aqi"]) for i in day] == [("2025-01-02", 31.0, 92.0)]
