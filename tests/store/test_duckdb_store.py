import os
import signal
import subprocess
import sys
import textwrap
from datetime import timedelta

import pytest

from nagar.core.errors import Conflict, InvalidInput
from nagar.store.duckdb import DuckDBStore
from tests.conftest import obs_table, utc


def test_same_key_twice_keeps_one_row_last_write_wins(store):
    t = utc(2025, 1, 1, 0)
    c1 = store.write_observations(obs_table([("st1", "pm25", t, 10.0)]))
    c2 = store.write_observations(obs_table([("st1", "pm25", t, 20.0)]))
    assert (c1.inserted, c1.updated) == (1, 0)
    assert (c2.inserted, c2.updated) == (0, 1)
    rows = store.observations().to_pylist()
    assert len(rows) == 1 and rows[0]["value"] == 20.0


def test_duplicates_inside_one_batch_keep_the_last_and_count_as_updates(store):
    t = utc(2025, 1, 1, 0)
    c = store.write_observations(obs_table([("st1", "pm25", t, 1.0), ("st2", "pm25", t, 5.0), ("st1", "pm25", t, 3.0)]))
    assert (c.inserted, c.updated) == (2, 1)
    vals = {r["station"]: r["value"] for r in store.observations().to_pylist()}
    assert vals == {"st1": 3.0, "st2": 5.0}


def test_different_parameters_and_times_are_distinct_rows(store):
    t = utc(2025, 1, 1, 0)
    c = store.write_observations(obs_table([("st1", "pm25", t, 1.0), ("st1", "pm10", t, 2.0),
                                            ("st1", "pm25", t + timedelta(hours=1), 3.0)]))
    assert (c.inserted, c.updated) == (3, 0)
    assert store.stats().observations == 3


def test_unknown_station_in_a_batch_is_refused_and_nothing_written(store):
    with pytest.raises(InvalidInput, match="unknown station"):
        store.write_observations(obs_table([("st1", "pm25", utc(2025, 1, 1), 1.0), ("nope", "pm25", utc(2025, 1, 1), 1.0)]))
    assert store.stats().observations == 0


def test_station_cannot_move_city(store):
    store.upsert_city(dict(id="ctg", name="Chattogram", country="BD", timezone="Asia/Dhaka", lat=22.3, lon=91.8))
    with pytest.raises(Conflict):
        store.upsert_station(dict(id="st1", city="ctg", name="x", lat=0, lon=0, parameters=[]))


def test_hourly_and_daily_means_are_computed_in_local_days(store):
    # 18:00 and 19:00 UTC on 1 Jan are 00:00 and 01:00 on 2 Jan in Dhaka (UTC+6)
    rows = [("st1", "pm25", utc(2025, 1, 1, 17, 30), 10.0), ("st1", "pm25", utc(2025, 1, 1, 17, 45), 20.0),
            ("st1", "pm25", utc(2025, 1, 1, 18, 0), 30.0), ("st1", "pm25", utc(2025, 1, 1, 19, 0), 50.0)]
    store.write_observations(obs_table(rows))
    hourly = store.observations(aggregation="hour").to_pylist()
    assert [(r["time"].hour, r["value"], r["n"]) for r in hourly] == [(17, 15.0, 2), (18, 30.0, 1), (19, 50.0, 1)]
    daily = store.observations(aggregation="day", tz="Asia/Dhaka").to_pylist()
    assert [(str(r["date"]), r["value"]) for r in daily] == [("2025-01-01", 15.0), ("2025-01-02", 40.0)]


def test_flagged_values_are_kept_but_excluded_from_aggregates(store):
    t = utc(2025, 1, 1, 0)
    store.write_observations(obs_table([("st1", "pm25", t, 10.0), ("st1", "pm25", t + timedelta(minutes=30), 900.0, "µg/m³", "invalid")]))
    assert len(store.observations().to_pylist()) == 2
    assert store.observations(aggregation="hour").to_pylist()[0]["value"] == 10.0


def test_hourly_windows_count_present_hours(store):
    base = utc(2025, 1, 1, 0)
    # hours 0..9 present except hour 3
    rows = [("st1", "pm25", base + timedelta(hours=h), float(h)) for h in range(10) if h != 3]
    store.write_observations(obs_table(rows))
    w = {r["time"].hour: r for r in store.hourly_windows(stations=["st1"], parameters=["pm25"], start=base, end=base + timedelta(hours=10)).to_pylist()}
    # window ending 09:00 covers 02..09 -> hours 2,4,5,6,7,8,9 present (7), mean = 41/7
    assert w[9]["n_8h"] == 7
    assert w[9]["mean_8h"] == pytest.approx(41 / 7)
    assert w[9]["n_24h"] == 9 and w[9]["mean_24h"] == pytest.approx(42 / 9)
    assert 3 not in w


def test_schema_migrations_are_recorded_and_reopen_is_idempotent(tmp_path):
    p = tmp_path / "m.duckdb"
    DuckDBStore(p).close()
    s = DuckDBStore(p)
    assert s._rows("SELECT max(version) AS v FROM schema_version")[0]["v"] >= 1
    s.close()


CHILD = textwrap.dedent(
    """
    import sys, os
    from datetime import datetime, timezone, timedelta
    from nagar.store.duckdb import DuckDBStore
    from tests.conftest import obs_table, DHAKA
    s = DuckDBStore(sys.argv[1])
    s.upsert_city(DHAKA)
    s.upsert_station(dict(id="st1", city="dhaka", name="S", lat=23.7, lon=90.4, parameters=["pm25"]))
    t0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
    c = s.write_observations(obs_table([("st1", "pm25", t0 + timedelta(minutes=i), float(i)) for i in range(5000)]))
    print("ACK", c.inserted, flush=True)
    import time
    time.sleep(60)  # killed with SIGKILL before it would close the store
    """
)


def test_acknowledged_write_survives_sigkill(tmp_path):
    db = tmp_path / "crash.duckdb"
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    p = subprocess.Popen([sys.executable, "-c", CHILD, str(db)], stdout=subprocess.PIPE, text=True, cwd=root,
                         env={**os.environ, "PYTHONPATH": root})
    try:
        line = p.stdout.readline()
        assert line.strip() == "ACK 5000"
        os.kill(p.pid, signal.SIGKILL)  # no close, no checkpoint: only the WAL holds the batch
    finally:
        p.wait(timeout=30)
    assert p.returncode == -signal.SIGKILL
    s = DuckDBStore(db)
    try:
        assert s.stats().observations == 5000
        assert s.observations().column("value").to_pylist()[-1] == 4999.0
    finally:
        s.close()
