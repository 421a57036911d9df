"""The store contract, held to the same assertions on both backends (DuckDB file, PostgreSQL server).

The PostgreSQL cases use a throw-away server (tests/store/conftest.py) and are skipped, with the reason,
where the server binaries are absent. Tests that compare the two backends directly, crash the server
or test the SQL translator stand alone below the parametrised suite.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
from datetime import datetime, timedelta, timezone

import pyarrow as pa
import pytest

from nagar.core.errors import Conflict, InvalidInput, StoreError
from nagar.store.base import OBSERVATION_SCHEMA
from nagar.store.duckdb import DuckDBStore
from tests.conftest import DHAKA, obs_table, utc

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CTG = dict(id="ctg", name="Chattogram", country="BD", timezone="Asia/Dhaka", lat=22.36, lon=91.78)
KTM = dict(id="ktm", name="Kathmandu", country="NP", timezone="Asia/Kathmandu", lat=27.7, lon=85.3)
NYC = dict(id="nyc", name="New York", country="US", timezone="America/New_York", lat=40.7, lon=-74.0)


class Backend:
    """How to open (and reopen) one backend's store for a test."""

    def __init__(self, kind: str, target: str):
        self.kind, self.target = kind, target

    def open(self, mixins: tuple = ()):
        from nagar.store.postgres import PostgresStore

        base = DuckDBStore if self.kind == "duckdb" else PostgresStore
        extra = tuple(m for m in mixins if not issubclass(base, m))
        cls = type(f"{base.__name__}With", (*extra, base), {}) if extra else base
        return cls(self.target) if self.kind == "duckdb" else cls(self.target, pool_size=4)


@pytest.fixture(params=["duckdb", "postgres"])
def backend(request, tmp_path) -> Backend:
    if request.param == "duckdb":
        return Backend("duckdb", str(tmp_path / "t.duckdb"))
    return Backend("postgres", request.getfixturevalue("pg_url"))


@pytest.fixture(params=["duckdb", "postgres"])
def backend_own_db(request, tmp_path) -> Backend:
    """As ``backend``, with a database of its own on PostgreSQL (its ``public`` schema)."""
    if request.param == "duckdb":
        return Backend("duckdb", str(tmp_path / "t.duckdb"))
    return Backend("postgres", request.getfixturevalue("pg_db_url"))


def _seed(s) -> None:
    s.upsert_city(DHAKA)
    s.upsert_station(dict(id="st1", city="dhaka", name="Station 1", lat=23.78, lon=90.38, parameters=["pm25"]))
    s.upsert_station(dict(id="st2", city="dhaka", name="Station 2", lat=23.76, lon=90.39, parameters=["pm25"]))


@pytest.fixture
def bstore(backend):
    s = backend.open()
    _seed(s)
    yield s
    s.close()


# writes ------------------------------------------------------------------------------------------
def test_same_key_twice_keeps_one_row_last_write_wins(bstore):
    t = utc(2025, 1, 1, 0)
    c1 = bstore.write_observations(obs_table([("st1", "pm25", t, 10.0)]))
    c2 = bstore.write_observations(obs_table([("st1", "pm25", t, 20.0, "µg/m³", "estimated")]))
    assert (c1.inserted, c1.updated) == (1, 0)
    assert (c2.inserted, c2.updated) == (0, 1)
    rows = bstore.observations().to_pylist()
    assert [(r["value"], r["flag"]) for r in rows] == [(20.0, "estimated")]


def test_duplicates_inside_one_batch_keep_the_last_and_count_as_updates(bstore):
    t = utc(2025, 1, 1, 0)
    bstore.write_observations(obs_table([("st2", "pm25", t, 4.0)]))
    c = bstore.write_observations(obs_table([("st1", "pm25", t, 1.0), ("st2", "pm25", t, 5.0),
                                             ("st1", "pm25", t, 3.0), ("st1", "pm25", t, 2.0)]))
    assert (c.inserted, c.updated) == (1, 3)
    assert {r["station"]: r["value"] for r in bstore.observations().to_pylist()} == {"st1": 2.0, "st2": 5.0}


def test_different_parameters_and_times_are_distinct_rows(bstore):
    t = utc(2025, 1, 1, 0)
    c = bstore.write_observations(obs_table([("st1", "pm25", t, 1.0), ("st1", "pm10", t, 2.0),
                                             ("st1", "pm25", t + timedelta(hours=1), 3.0)]))
    assert (c.inserted, c.updated) == (3, 0)
    assert bstore.stats().observations == 3
    assert bstore.write_observations(obs_table([])).inserted == 0


def test_unknown_station_or_parameter_refuses_the_batch_and_nothing_is_written(bstore):
    t = utc(2025, 1, 1)
    with pytest.raises(InvalidInput, match="unknown station") as e:
        bstore.write_observations(obs_table([("st1", "pm25", t, 1.0), ("nope", "pm25", t, 1.0)]))
    assert e.value.field == "station"
    bad = obs_table([("st1", "pm25", t, 1.0)]).set_column(1, "parameter", pa.array(["nope"]))
    with pytest.raises(InvalidInput, match="unknown parameter"):
        bstore.write_observations(bad)
    assert bstore.stats().observations == 0


def test_write_listeners_see_committed_batches_and_cannot_undo_them(bstore):
    t = utc(2025, 1, 1)
    seen, stored_then = [], []

    def listener(batch):
        seen.append(batch.column("value").to_pylist())
        stored_then.append(bstore.stats().observations)  # the write is committed before listeners run

    def broken(batch):
        raise RuntimeError("listener bug")

    assert bstore.on_write(listener) is listener
    bstore.on_write(listener)  # registering twice calls it once
    bstore.on_write(broken)
    c = bstore.write_observations(obs_table([("st1", "pm25", t, 1.0), ("st2", "pm25", t, 2.0)]))
    assert (c.inserted, seen, stored_then) == (2, [[1.0, 2.0]], [2])
    with pytest.raises(InvalidInput):  # a refused batch is not announced
        bstore.write_observations(obs_table([("nope", "pm25", t, 1.0)]))
    bstore.off_write(listener)
    bstore.write_observations(obs_table([("st1", "pm25", t, 3.0)]))
    assert seen == [[1.0, 2.0]]


def test_registry_rules(bstore):
    assert bstore.upsert_city(CTG) is True
    assert bstore.upsert_city({**CTG, "name": "Chittagong", "open_data": True}) is False
    assert bstore.get_city("ctg")["name"] == "Chittagong" and bstore.get_city("ctg")["open_data"] is True
    with pytest.raises(Conflict):
        bstore.upsert_station(dict(id="st1", city="ctg", name="x", lat=0, lon=0, parameters=[]))
    with pytest.raises(InvalidInput):
        bstore.upsert_station(dict(id="st9", city="atlantis", name="x", lat=0, lon=0, parameters=[]))
    assert bstore.upsert_stations([dict(id="c1", city="ctg", name="C1", lat=1, lon=2, parameters=["pm25", "o3", "o3"]),
                                   dict(id="st1", city="dhaka", name="Renamed", lat=3, lon=4)]) == 1
    assert bstore.get_station("c1")["parameters"] == ["o3", "pm25"]
    assert bstore.get_station("st1")["name"] == "Renamed" and bstore.get_station("st1")["parameters"] == []
    assert [s["id"] for s in bstore.list_stations()] == ["c1", "st1", "st2"]
    assert [s["id"] for s in bstore.list_stations(city="ctg")] == ["c1"]
    assert bstore.existing_stations(["c1", "st2", "zz"]) == {"c1": "ctg", "st2": "dhaka"}
    assert bstore.existing_stations([]) == {}
    assert bstore.get_city("nope") is None and bstore.get_station("nope") is None


def test_text_sorts_and_compares_by_bytes(bstore):
    # DuckDB compares strings bytewise; the PostgreSQL columns are COLLATE "C" to match
    for sid in ("b", "B", "a_1", "a-1", "Ä", "a"):
        bstore.upsert_station(dict(id=sid, city="dhaka", name=sid, lat=0, lon=0))
    assert [s["id"] for s in bstore.list_stations()] == sorted(["b", "B", "a_1", "a-1", "Ä", "a", "st1", "st2"])


# scope -------------------------------------------------------------------------------------------
def test_scope_filters_every_read_and_refuses_writes_outside_it(bstore):
    bstore.upsert_city(CTG)
    bstore.upsert_station(dict(id="c1", city="ctg", name="C1", lat=1, lon=2, parameters=["pm25"]))
    t = utc(2025, 1, 1)
    only_dhaka, only_ctg, nothing = frozenset({"dhaka"}), frozenset({"ctg"}), frozenset()
    with pytest.raises(InvalidInput, match="unknown station"):
        bstore.write_observations(obs_table([("st1", "pm25", t, 1.0)]), scope=only_ctg)
    c = bstore.write_observations(obs_table([("st1", "pm25", t, 1.0), ("st2", "pm25", t, 2.0)]), scope=only_dhaka)
    assert c.inserted == 2
    bstore.write_observations(obs_table([("c1", "pm25", t, 3.0)]))
    assert [c["id"] for c in bstore.list_cities(scope=only_ctg)] == ["ctg"]
    assert bstore.list_cities(scope=nothing) == []
    assert bstore.get_city("dhaka", scope=only_ctg) is None and bstore.get_city("ctg", scope=only_ctg)["id"] == "ctg"
    assert [s["id"] for s in bstore.list_stations(scope=only_dhaka)] == ["st1", "st2"]
    assert bstore.list_stations(city="ctg", scope=only_dhaka) == []
    assert bstore.get_station("c1", scope=only_dhaka) is None
    assert bstore.existing_stations(["c1", "st1"], scope=only_ctg) == {"c1": "ctg"}
    for agg in ("raw", "hour", "day"):
        assert {r["station"] for r in bstore.observations(aggregation=agg, scope=only_ctg).to_pylist()} == {"c1"}
        assert bstore.observations(aggregation=agg, scope=nothing).num_rows == 0
    w = bstore.hourly_windows(stations=["st1", "c1"], parameters=["pm25"], start=t, end=t + timedelta(hours=1),
                              scope=only_dhaka)
    assert w.column("station").to_pylist() == ["st1"]
    assert set(bstore.latest_time(stations=["st1", "c1"], scope=only_ctg)) == {"c1"}


# reads and aggregation ---------------------------------------------------------------------------
def test_hourly_and_daily_means_are_computed_in_local_days(bstore):
    # 18:00 and 19:00 UTC on 1 Jan are 00:00 and 01:00 on 2 Jan in Dhaka (UTC+6)
    rows = [("st1", "pm25", utc(2025, 1, 1, 17, 30), 10.0), ("st1", "pm25", utc(2025, 1, 1, 17, 45), 20.0),
            ("st1", "pm25", utc(2025, 1, 1, 18, 0), 30.0), ("st1", "pm25", utc(2025, 1, 1, 19, 0), 50.0)]
    bstore.write_observations(obs_table(rows))
    hourly = bstore.observations(aggregation="hour").to_pylist()
    assert [(r["time"], r["value"], r["n"]) for r in hourly] == [
        (utc(2025, 1, 1, 17), 15.0, 2), (utc(2025, 1, 1, 18), 30.0, 1), (utc(2025, 1, 1, 19), 50.0, 1)]
    for tz in ("Asia/Dhaka", None):  # None: each station's own city (Dhaka)
        daily = bstore.observations(aggregation="day", tz=tz).to_pylist()
        assert [(str(r["date"]), r["value"], r["n"]) for r in daily] == [("2025-01-01", 15.0, 2),
                                                                          ("2025-01-02", 40.0, 2)]
    assert [str(r["date"]) for r in bstore.observations(aggregation="day", tz="UTC").to_pylist()] == ["2025-01-01"]


def test_each_station_uses_its_own_citys_day(bstore):
    for city in (KTM, NYC):
        bstore.upsert_city(city)
    bstore.upsert_station(dict(id="k1", city="ktm", name="K", lat=0, lon=0))
    bstore.upsert_station(dict(id="n1", city="nyc", name="N", lat=0, lon=0))
    # 18:14 UTC is 23:59 in Kathmandu (+5:45) and 18:15 is 00:00 the next day; 04:30 UTC on 10 March
    # is 00:30 EDT (DST began at 07:00 UTC on 9 March) but would be 23:30 in EST
    rows = [("k1", "pm25", utc(2025, 3, 1, 18, 14), 1.0), ("k1", "pm25", utc(2025, 3, 1, 18, 15), 3.0),
            ("n1", "pm25", utc(2025, 3, 10, 4, 30), 5.0), ("n1", "pm25", utc(2025, 3, 9, 4, 30), 7.0)]
    bstore.write_observations(obs_table(rows))
    got = [(r["station"], str(r["date"]), r["value"]) for r in bstore.observations(aggregation="day").to_pylist()]
    assert got == [("k1", "2025-03-01", 1.0), ("k1", "2025-03-02", 3.0), ("n1", "2025-03-08", 7.0),
                   ("n1", "2025-03-10", 5.0)]


def test_filters_limit_and_order(bstore):
    t = utc(2025, 1, 1)
    bstore.write_observations(obs_table([(s, p, t + timedelta(minutes=10 * i), float(i))
                                         for i in range(12) for s in ("st2", "st1") for p in ("pm25", "o3")]))
    raw = bstore.observations(stations=["st1"], parameters=["o3"], start=t + timedelta(minutes=20),
                              end=t + timedelta(minutes=60))
    assert raw.column("value").to_pylist() == [2.0, 3.0, 4.0, 5.0]
    assert raw.column("unit").to_pylist() == ["ppb"] * 4
    first = bstore.observations(limit=3).to_pylist()
    assert [(r["station"], r["parameter"]) for r in first] == [("st1", "o3"), ("st1", "pm25"), ("st2", "o3")]
    assert bstore.observations(city="dhaka", aggregation="hour", limit=1).num_rows == 1
    assert bstore.observations(city="atlantis").num_rows == 0
    assert bstore.observations(stations=[]).num_rows == 0
    with pytest.raises(InvalidInput):
        bstore.observations(aggregation="week")
    with pytest.raises(StoreError):
        bstore.observations(aggregation="day", tz="Not/AZone")


def test_flagged_values_are_kept_but_excluded_from_aggregates(bstore):
    t = utc(2025, 1, 1, 0)
    bstore.write_observations(obs_table([("st1", "pm25", t, 10.0),
                                         ("st1", "pm25", t + timedelta(minutes=20), 12.0, "µg/m³", "estimated"),
                                         ("st1", "pm25", t + timedelta(minutes=30), 900.0, "µg/m³", "invalid"),
                                         ("st1", "pm25", t + timedelta(minutes=40), 800.0, "µg/m³", "suspect")]))
    assert bstore.observations().column("flag").to_pylist() == ["valid", "estimated", "invalid", "suspect"]
    assert bstore.observations(aggregation="hour").to_pylist()[0]["value"] == 11.0
    assert bstore.observations(aggregation="hour", include_flagged=True).to_pylist()[0]["n"] == 4
    assert bstore.latest_time(stations=["st1"]) == {"st1": t + timedelta(minutes=20)}


def test_hourly_windows_count_present_hours(bstore):
    base = utc(2025, 1, 1, 0)
    rows = [("st1", "pm25", base + timedelta(hours=h), float(h)) for h in range(10) if h != 3]
    rows += [("st1", "pm25", base + timedelta(hours=9, minutes=30), 11.0)]  # hour 9 mean: 10
    rows += [("st1", "pm25", base - timedelta(hours=23), 100.0), ("st1", "pm25", base - timedelta(hours=24), 1e6)]
    bstore.write_observations(obs_table(rows))
    w = {r["time"]: r for r in bstore.hourly_windows(stations=["st1"], parameters=["pm25"], start=base,
                                                     end=base + timedelta(hours=10)).to_pylist()}
    assert sorted(w) == [base + timedelta(hours=h) for h in range(10) if h != 3]
    # the 8 h ending 09:00 cover 02..09: hours 2,4,5,6,7,8,9 present (7); a mean of the hourly means
    assert w[base + timedelta(hours=9)]["n_8h"] == 7
    assert w[base + timedelta(hours=9)]["mean_8h"] == pytest.approx((2 + 4 + 5 + 6 + 7 + 8 + 10) / 7)
    # the 24 h ending 09:00 start at -14 h: hours 0..9 but 3
    assert w[base + timedelta(hours=9)]["n_24h"] == 9
    # the 24 h ending 00:00 start at -23 h (read although before ``start``); -24 h is outside
    assert (w[base]["n_24h"], w[base]["mean_24h"]) == (2, pytest.approx(50.0))
    assert w[base]["mean_1h"] == 0.0


def test_latest_time_and_stats(bstore):
    empty = bstore.stats()
    assert (empty.cities, empty.stations, empty.observations, empty.first, empty.last) == (1, 2, 0, None, None)
    t = utc(2025, 6, 1, 12, 0, 0)
    bstore.write_observations(obs_table([("st1", "pm25", t, 1.0), ("st1", "pm25", t + timedelta(seconds=1.5), 2.0),
                                         ("st2", "pm25", t - timedelta(days=1), 3.0)]))
    assert bstore.latest_time(stations=["st1", "st2", "zz"]) == {"st1": t + timedelta(seconds=1.5),
                                                                "st2": t - timedelta(days=1)}
    st = bstore.stats()
    assert (st.cities, st.stations, st.observations) == (1, 2, 3)
    assert (st.first, st.last) == (t - timedelta(days=1), t + timedelta(seconds=1.5))
    assert st.last.utcoffset() == timedelta(0)


def test_result_schemas(bstore):
    t = utc(2025, 1, 1)
    bstore.write_observations(obs_table([("st1", "pm25", t, 1.0)]))
    tz = pa.timestamp("us", tz="Etc/UTC")
    assert bstore.observations().schema.types == [pa.string(), pa.string(), tz, pa.float64(), pa.string(), pa.string()]
    hour = bstore.observations(aggregation="hour")
    assert hour.schema.names == ["station", "parameter", "time", "value", "unit", "n"]
    assert bstore.observations(aggregation="day").schema.types[2] == pa.date32()
    empty = bstore.observations(aggregation="hour", start=t + timedelta(days=9))
    assert empty.num_rows == 0 and empty.schema.types[2] == tz and empty.schema.types[5] == pa.int64()
    w = bstore.hourly_windows(stations=["st1"], parameters=["pm25"], start=t, end=t + timedelta(hours=1))
    assert w.schema.names == ["station", "parameter", "time", "mean_1h", "mean_8h", "n_8h", "mean_24h", "n_24h"]
    assert w.schema.types[2] == tz and w.schema.types[5] == pa.int64()


# migrations --------------------------------------------------------------------------------------
def test_migrations_are_recorded_once_and_reopen_is_idempotent(backend_own_db):
    from nagar.store.migrations import MIGRATIONS

    backend = backend_own_db
    s = backend.open()
    _seed(s)
    s.write_observations(obs_table([("st1", "pm25", utc(2025, 1, 1), 1.0)]))
    s.close()
    s = backend.open()
    try:
        rows = s._rows("SELECT version FROM schema_version ORDER BY version")
        assert [r["version"] for r in rows] == [n for n, _ in MIGRATIONS]
        assert s.stats().observations == 1 and s.get_station("st1")["city"] == "dhaka"
        assert s.write_observations(obs_table([("st1", "pm25", utc(2025, 1, 1), 2.0)])).updated == 1
        assert len(s._rows("SELECT code FROM parameters")) >= 12 and len(s._rows("SELECT code FROM flags")) == 4
    finally:
        s.close()


# security tables ---------------------------------------------------------------------------------
def test_users_and_grants(bstore):
    now = utc(2025, 5, 1, 8)
    u = bstore.create_user(username="asha", password_hash="h1", now=now)
    assert (u["id"], u["username"], u["platform_admin"], u["disabled"], u["failed_logins"]) == (1, "asha", False,
                                                                                                 False, 0)
    assert u["created_at"] == now and u["locked_until"] is None
    with pytest.raises(Conflict):
        bstore.create_user(username="asha", password_hash="h2", now=now)
    admin = bstore.create_user(username="root", password_hash="h", platform_admin=True, now=now)
    assert bstore.get_user(user_id=admin["id"])["platform_admin"] is True
    bstore.update_user(u["id"], failed_logins=3, locked_until=now + timedelta(minutes=15), bogus=1)
    bstore.update_user(u["id"])
    got = bstore.get_user(username="asha")
    assert got["failed_logins"] == 3 and got["locked_until"] == now + timedelta(minutes=15)
    assert got["locked_until"].tzinfo is not None
    assert [x["username"] for x in bstore.list_users()] == ["asha", "root"]
    assert bstore.get_user(username="nobody") is None
    bstore.set_grant(user_id=u["id"], city="dhaka", role="viewer")
    bstore.set_grant(user_id=u["id"], city="dhaka", role="editor")
    bstore.set_grant(user_id=u["id"], city="ctg", role="viewer")
    bstore.set_grant(user_id=admin["id"], city="dhaka", role="admin")
    assert bstore.grants_of(u["id"]) == {"dhaka": "editor", "ctg": "viewer"}
    assert bstore.grants_in("dhaka") == [{"user_id": u["id"], "username": "asha", "role": "editor"},
                                         {"user_id": admin["id"], "username": "root", "role": "admin"}]
    bstore.set_grant(user_id=u["id"], city="ctg", role=None)
    assert bstore.grants_of(u["id"]) == {"dhaka": "editor"}


def test_api_and_device_keys(bstore):
    now = utc(2025, 5, 1, 8)
    u = bstore.create_user(username="asha", password_hash="h", now=now)
    for i, name in enumerate(("b", "a")):
        bstore.create_api_key(dict(id=f"k{i}", user_id=u["id"], name=name, secret_hash="s",
                                   created_at=now + timedelta(seconds=i), expires_at=now + timedelta(days=30)))
    k = bstore.get_api_key("k0")
    assert (k["name"], k["expires_at"], k["revoked_at"]) == ("b", now + timedelta(days=30), None)
    assert [x["id"] for x in bstore.list_api_keys(u["id"])] == ["k0", "k1"]
    bstore.update_api_key("k0", revoked_at=now + timedelta(hours=1), last_used_at=now)
    k = bstore.get_api_key("k0")
    assert k["revoked_at"] == now + timedelta(hours=1) and k["last_used_at"] == now
    assert bstore.get_api_key("zz") is None
    bstore.create_device_key(dict(id="d1", station="st1", created_by=u["id"], created_at=now))
    bstore.create_device_key(dict(id="d2", station="st1", created_by=None, created_at=now + timedelta(minutes=1)))
    assert [d["id"] for d in bstore.list_device_keys("st1")] == ["d1", "d2"]
    bstore.revoke_device_key("d1", now=now + timedelta(hours=2))
    bstore.revoke_device_key("d1", now=now + timedelta(hours=3))  # the first revocation stands
    assert bstore.get_device_key("d1")["revoked_at"] == now + timedelta(hours=2)
    assert bstore.get_device_key("d2")["revoked_at"] is None and bstore.get_device_key("d3") is None


def test_nonces_and_revoked_tokens(bstore):
    now = utc(2025, 5, 1, 8)
    assert bstore.use_nonce(key_id="d1", nonce="n1", now=now, forget_before=now - timedelta(minutes=5)) is True
    assert bstore.use_nonce(key_id="d1", nonce="n1", now=now, forget_before=now - timedelta(minutes=5)) is False
    assert bstore.use_nonce(key_id="d2", nonce="n1", now=now, forget_before=now - timedelta(minutes=5)) is True
    later = now + timedelta(minutes=10)
    assert bstore.use_nonce(key_id="d1", nonce="n1", now=later, forget_before=later - timedelta(minutes=5)) is True
    bstore.revoke_token(jti="j1", expires_at=now + timedelta(minutes=15), now=now)
    bstore.revoke_token(jti="j1", expires_at=now + timedelta(minutes=15), now=now)
    assert bstore.token_revoked("j1") and not bstore.token_revoked("j2")
    bstore.revoke_token(jti="j2", expires_at=now + timedelta(days=1), now=now + timedelta(hours=1))
    assert not bstore.token_revoked("j1") and bstore.token_revoked("j2")  # expired entries are purged


def test_audit_log_chain(bstore):
    from nagar.security import audit

    t = utc(2025, 5, 1, 8)
    e1 = audit.record(bstore, actor="root", action="city.create", city="dhaka", target="dhaka",
                      details={"name": "Dhaka", "n": 1}, now=t)
    e2 = audit.record(bstore, actor="root", action="user.create", target="asha", now=t + timedelta(seconds=1))
    e3 = audit.record(bstore, actor="asha", action="station.update", city="dhaka", target="st1",
                      details={"name": "ü"}, now=t + timedelta(seconds=2, microseconds=1))
    assert [e["seq"] for e in (e1, e2, e3)] == [1, 2, 3]
    assert e1["prev_hash"] == "0" * 64 and e2["prev_hash"] == e1["hash"] and e3["prev_hash"] == e2["hash"]
    entries = bstore.audit_entries()
    assert [e["hash"] for e in entries] == [e1["hash"], e2["hash"], e3["hash"]]
    assert entries[2]["time"] == t + timedelta(seconds=2, microseconds=1)
    assert json.loads(entries[2]["details"]) == {"name": "ü"}
    assert [e["seq"] for e in bstore.audit_entries(city="dhaka")] == [1, 3]
    assert [e["seq"] for e in bstore.audit_entries(after_seq=1, limit=1)] == [2]
    assert audit.verify_store(bstore).ok and audit.head(bstore) == (3, e3["hash"])


# the domain mixins run unchanged on both backends ------------------------------------------------
def test_climate_mixin(backend):
    from nagar.store.climate_tables import ClimateTables

    s = backend.open((ClimateTables,))
    try:
        _seed(s)
        now = utc(2025, 5, 1)
        row = dict(city="dhaka", year=2023, kind="electricity", subsector="I.1.2", quantity=10.0, unit="MWh",
                   params={"grid": "bd"})
        assert s.upsert_climate_activity([row, {**row, "quantity": 12.0}], actor="t", now=now) == (1, 1)
        acts = s.climate_activity(city="dhaka")
        assert [(a["quantity"], a["params"]) for a in acts] == [(12.0, {"grid": "bd"})]
        assert s.climate_activity(city="dhaka", scope=frozenset({"ctg"})) == []
        assert s.climate_years(city="dhaka") == [2023]
        f = s.add_climate_factor(dict(city="dhaka", kind="electricity", value=0.6, unit="kgCO2e/kWh", year=2020,
                                      source="DoE"), actor="t", now=now)
        assert f["id"] == 1 and f["item"] == "" and [x["value"] for x in s.climate_factors(city="dhaka")] == [0.6]
        assert s.delete_climate_activity(acts[0]["id"]) is True and s.delete_climate_activity(acts[0]["id"]) is False
        s.upsert_station(dict(id="m1", city="dhaka", name="Meter", lat=0, lon=0, parameters=["consumption"]))
        # 18:30 UTC on 31 Jan is 00:30 on 1 Feb in Dhaka
        s.write_observations(obs_table([("m1", "consumption", utc(2025, 1, 31, 17), 5.0, "kWh"),
                                        ("m1", "consumption", utc(2025, 1, 31, 18, 30), 7.0, "kWh"),
                                        ("m1", "consumption", utc(2025, 1, 31, 19), 1.0, "kWh", "invalid")]))
        sums = s.energy_monthly(city="dhaka", parameters=["consumption", "generation"], start=utc(2025, 1, 1),
                                end=utc(2025, 3, 1), tz="Asia/Dhaka")
        assert [(r["month"], r["parameter"], r["total"], r["n"]) for r in sums] == [
            ("2025-01", "consumption", 5.0, 1), ("2025-02", "consumption", 7.0, 1)]
        assert s.climate_drivers(city="dhaka") is None
        for gdp in (0.05, {2030: 0.04, 2031: 0.03}):  # the second put replaces the first
            d = s.put_climate_drivers(dict(city="dhaka", population_growth=0.02, gdp_growth=gdp, intensity_change=0,
                                           grid_change=-0.01, source="WUP 2018"), actor="t", now=now)
        assert (d["gdp_growth"], d["population_growth"], d["source"]) == ({2030: 0.04, 2031: 0.03}, 0.02, "WUP 2018")
        assert s.climate_drivers(city="dhaka", scope=frozenset({"ctg"})) is None
    finally:
        s.close()


def test_funding_mixin(backend):
    from nagar.store.funding_tables import FundingTables

    s = backend.open((FundingTables,))
    try:
        _seed(s)
        assert s.put_fund(dict(id="f1", name="Green", base_currency="USD", fx={"BDT": 0.0083})) is True
        assert s.get_fund("f1")["fx"] == {"BDT": 0.0083}
        assert s.put_fund(dict(id="f1", name="G", base_currency="USD")) is False
        p = dict(city="dhaka", sector="energy", capital_cost=100.0, currency="USD", annual_saving=1.0,
                 lifetime_years=20.0, start_year=2026, annual_abatement=5.0, pm25=0.0, water=0.0,
                 eligible_instruments=["i1"])
        assert s.put_projects([{**p, "id": "p1", "name": "Solar"}, {**p, "id": "p2", "name": "Bus"}]) == 2
        assert s.put_projects([{**p, "id": "p1", "name": "Solar roofs"}]) == 0
        got = s.list_projects(city="dhaka")
        assert [(x["id"], x["name"], x["status"], x["eligible_instruments"]) for x in got] == [
            ("p1", "Solar roofs", "candidate", ["i1"]), ("p2", "Bus", "candidate", ["i1"])]
        assert s.list_projects(scope=frozenset({"ctg"})) == []
        s.save_plan(dict(id="plan1", fund_id="f1", created_at=utc(2025, 1, 1), actor="t", status="draft",
                         objective=1.5, request={}, result={"ok": True}))
        s.adopt_plan("plan1", [dict(plan_id="plan1", project_id="p1", city="dhaka", instrument_id="i1",
                                    amount_base=50.0, amount=50.0, currency="USD")], now=utc(2025, 2, 1))
        assert s.get_project("p1")["status"] == "funded" and s.get_project("p2")["status"] == "candidate"
        assert s.get_plan("plan1")["adopted_at"] == utc(2025, 2, 1)
        assert [a["amount"] for a in s.list_allocations(plan_id="plan1")] == [50.0]
        # an all-NULL column (grid_factor) in a registered Arrow table
        assert s.put_mrv([dict(project_id="p1", city="dhaka", year=2026, metric="tco2e", value=4.0, actor="t")]) == 1
        assert [(m["value"], m["grid_factor"]) for m in s.list_mrv(project_id="p1")] == [(4.0, None)]
        assert s.delete_project("p2") is True and s.delete_project("p2") is False
    finally:
        s.close()


def test_mqtt_mixin(backend):
    mqtt = pytest.importorskip("nagar.store.mqtt_tables")
    s = backend.open((mqtt.MqttTables,))
    try:
        now = utc(2025, 5, 1, 8)
        s.use_nonce(key_id="d1", nonce="old", now=now, forget_before=now - timedelta(hours=1))
        s.mqtt_record(now=now, client_id="c", seen_keys=["a", "b"], nonces=[("d1", "n1"), ("d1", "old")],
                      dead_letters=[dict(topic="t/x", payload="{", payload_bytes=1, truncated=False, reason="json")],
                      flush=dict(messages=3, inserted=2))
        assert s.mqtt_seen_keys(["a", "z"], since=now - timedelta(minutes=1)) == {"a"}
        assert s.mqtt_used_nonces([("d1", "n1"), ("d1", "n2")]) == {("d1", "n1")}
        dead = s.mqtt_dead_letters(topic_prefix="t/")
        assert [(d["topic"], d["item"], d["time"]) for d in dead] == [("t/x", None, now)]
        assert s.mqtt_dead_letter_count() == 1
        assert s.mqtt_flush_totals()["inserted"] == 2 and s.mqtt_flush_totals(client_id="zz")["flushes"] == 0
        assert s.mqtt_prune(seen_before=now + timedelta(seconds=1)) == 2
    finally:
        s.close()


# durability --------------------------------------------------------------------------------------
CHILD = textwrap.dedent(
    """
    import sys, time
    from datetime import datetime, timezone, timedelta
    from tests.conftest import obs_table, DHAKA
    kind, target = sys.argv[1], sys.argv[2]
    if kind == "duckdb":
        from nagar.store.duckdb import DuckDBStore
        s = DuckDBStore(target)
    else:
        from nagar.store.postgres import PostgresStore
        s = PostgresStore(target, pool_size=2)
    s.upsert_city(DHAKA)
    s.upsert_station(dict(id="st1", city="dhaka", name="S", lat=23.7, lon=90.4, parameters=["pm25"]))
    t0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
    c = s.write_observations(obs_table([("st1", "pm25", t0 + timedelta(minutes=i), float(i)) for i in range(5000)]))
    s.revoke_token(jti="j", expires_at=t0 + timedelta(days=9999), now=t0)
    print("ACK", c.inserted, flush=True)
    time.sleep(60)  # killed with SIGKILL before it would close the store
    """
)


def test_acknowledged_write_survives_sigkill_of_the_writer(backend):
    p = subprocess.Popen([sys.executable, "-c", CHILD, backend.kind, backend.target], stdout=subprocess.PIPE,
                         text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": ROOT})
    try:
        assert p.stdout.readline().strip() == "ACK 5000"
        os.kill(p.pid, signal.SIGKILL)
    finally:
        p.wait(timeout=30)
    assert p.returncode == -signal.SIGKILL
    s = backend.open()
    try:
        assert s.stats().observations == 5000
        assert s.observations().column("value").to_pylist()[-1] == 4999.0
        assert s.token_revoked("j")
    finally:
        s.close()


def test_acknowledged_write_survives_a_postgres_crash(pg_cluster, pg_url):
    from nagar.store.postgres import PostgresStore

    s = PostgresStore(pg_url, pool_size=2)
    _seed(s)
    t0 = utc(2025, 1, 1)
    assert s.write_observations(obs_table([("st1", "pm25", t0 + timedelta(minutes=i), float(i))
                                           for i in range(3000)])).inserted == 3000
    s.create_user(username="asha", password_hash="h", now=t0)
    pg_cluster.crash()  # SIGKILL to the postmaster and every backend: no checkpoint, WAL only
    try:
        with pytest.raises(StoreError) as down:
            PostgresStore(pg_url, timeout=0.5)
    finally:
        pg_cluster.start()  # crash recovery replays the WAL (and the other tests need the server)
    assert down.value.transient
    try:
        # the old pool finds its connections dead, drops them and connects again
        assert s.stats().observations == 3000 and s.get_user(username="asha") is not None
        s.close()
        s = PostgresStore(pg_url)
        assert s.observations(aggregation="hour").column("n").to_pylist() == [60] * 50
    finally:
        s.close()


# PostgreSQL specifics ----------------------------------------------------------------------------
def test_backends_give_identical_results(tmp_path, pg_url):
    """Same batches into both backends: same counts, same tables out (floats to 1e-12)."""
    from nagar.store.postgres import PostgresStore

    rng = random.Random(7)
    stations = [("d1", "dhaka"), ("d2", "dhaka"), ("k1", "ktm"), ("n1", "nyc"), ("n2", "nyc")]
    t0 = utc(2025, 3, 7)

    def batch(n: int, dup: bool) -> pa.Table:
        rows = []
        for _ in range(n):
            sid, _city = rng.choice(stations)
            prm = rng.choice(["pm25", "o3"])
            t = t0 + timedelta(minutes=5 * rng.randrange(4 * 24 * 12))
            flag = rng.choices(["valid", "estimated", "suspect", "invalid"], [85, 5, 5, 5])[0]
            value = round(rng.uniform(0, 300), rng.choice([0, 1, 3, 9]))
            rows.append((sid, prm, t, value, "ppb" if prm == "o3" else "µg/m³", flag))
        if dup:  # repeated keys inside the batch: the last one wins
            rows += [(r[0], r[1], r[2], r[3] + 1, r[4], r[5]) for r in rows[: n // 20]]
        return obs_table(rows)

    batches = [batch(3000, False), batch(3000, True), pa.concat_tables([batch(500, True), batch(300, False)])]
    duck, pg = DuckDBStore(tmp_path / "d.duckdb"), PostgresStore(pg_url)
    try:
        for s in (duck, pg):
            for c in (DHAKA, KTM, NYC):
                s.upsert_city(c)
            for sid, city in stations:
                s.upsert_station(dict(id=sid, city=city, name=sid.upper(), lat=0, lon=0, parameters=["pm25", "o3"]))
        for b in batches:
            assert duck.write_observations(b) == pg.write_observations(b)
        t_end = t0 + timedelta(days=4)
        queries = [dict(), dict(aggregation="hour"), dict(aggregation="day"),
                   dict(aggregation="day", tz="Asia/Kathmandu"), dict(aggregation="hour", include_flagged=True),
                   dict(stations=["n1", "k1"], parameters=["o3"]),
                   dict(city="nyc", aggregation="day", start=t0 + timedelta(days=1), end=t_end),
                   dict(scope=frozenset({"ktm", "nyc"}), aggregation="hour", limit=50), dict(limit=10)]
        for q in queries:
            _same(duck.observations(**q), pg.observations(**q))
        ids = [sid for sid, _ in stations]
        _same(duck.hourly_windows(stations=ids, parameters=["pm25", "o3"], start=t0 + timedelta(days=1), end=t_end),
              pg.hourly_windows(stations=ids, parameters=["pm25", "o3"], start=t0 + timedelta(days=1), end=t_end))
        assert duck.latest_time(stations=ids) == pg.latest_time(stations=ids)
        assert duck.stats() == pg.stats()
        assert duck.list_stations() == pg.list_stations() and duck.list_cities() == pg.list_cities()
    finally:
        duck.close()
        pg.close()


def _same(a: pa.Table, b: pa.Table) -> None:
    assert a.schema == b.schema and a.num_rows == b.num_rows
    for name in a.schema.names:
        x, y = a.column(name).to_pylist(), b.column(name).to_pylist()
        if pa.types.is_floating(a.schema.field(name).type):
            assert y == pytest.approx(x, rel=1e-12, abs=1e-12), name
        else:
            assert x == y, name


def test_concurrent_writers_keep_the_audit_chain_and_upsert_counts(pg_url):
    """Two stores (two pools, as two processes would have) writing at once."""
    from nagar.security import audit
    from nagar.store.postgres import PostgresStore

    a, b = PostgresStore(pg_url, pool_size=3), PostgresStore(pg_url, pool_size=3)
    _seed(a)
    t0 = utc(2025, 1, 1)
    rows = obs_table([("st1", "pm25", t0 + timedelta(minutes=i), float(i)) for i in range(500)])
    counts, errors = [], []

    def work(store, k):
        try:
            for i in range(10):
                audit.record(store, actor=f"w{k}", action="x", details={"i": i})
            counts.append(store.write_observations(rows))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s, k)) for k, s in enumerate((a, b, a, b))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    try:
        assert errors == []
        assert sum(c.inserted for c in counts) == 500 and sum(c.updated for c in counts) == 1500
        assert [e["seq"] for e in a.audit_entries()] == list(range(1, 41)) and audit.verify_store(b).ok
    finally:
        a.close()
        b.close()


def test_errors_are_translated_and_the_adapter_behaves_like_duckdb(pg_url, tmp_path):
    from nagar.store.postgres import PostgresStore

    with pytest.raises(StoreError) as e:
        PostgresStore(f"host={tmp_path} port=1 dbname=x user=nagar password=secret", timeout=0.5)
    assert e.value.transient and "secret" not in e.value.message
    s = PostgresStore(pg_url)
    try:
        with pytest.raises(StoreError) as e:
            s._rows("SELECT * FROM no_such_table")
        assert not e.value.transient
        with pytest.raises(StoreError, match="not supported on PostgreSQL"):
            s._rows("SELECT TRY_CAST(? AS INTEGER) AS x", ["1"])
        with pytest.raises(Conflict):  # a project error inside a transaction rolls it back and passes through
            with s._tx() as con:
                con.execute("INSERT INTO cities (id, name, country, timezone, lat, lon) VALUES (?, ?, ?, ?, ?, ?)",
                            ["zz", "Z", "ZZ", "UTC", 0, 0])
                raise Conflict("no")
        assert s.get_city("zz") is None
        with s._tx() as con:  # DuckDB-shaped results: DML reads as its row count, RETURNING as rows
            assert con.execute("UPDATE cities SET name = name").fetchone() == (0,)
            s.upsert_city(DHAKA)  # joins the open transaction (no self-deadlock on the write lock)
            assert s._rows("SELECT count(*) AS n FROM cities")[0]["n"] == 1  # and reads see it
            assert con.execute("DELETE FROM cities WHERE id = ? RETURNING name", ["dhaka"]).fetchall() == [("Dhaka",)]
            con.execute("SELECT 1 AS one")
            assert con.fetchall() == [(1,)]  # the connection reads as its last result, as in DuckDB
            con.register("_arrow_in", pa.table({"a": [1, 2], "b": ["x", None]}))
            assert con.execute("SELECT sum(a) AS s, count(b) AS n FROM _arrow_in").fetchall() == [(3, 1)]
            con.unregister("_arrow_in")
            assert con.execute("SELECT list_contains(?, 2) AS x, ifnull(NULL, 'y') AS y", [[1, 2]]).to_arrow_table() \
                .to_pylist() == [{"x": True, "y": "y"}]
    finally:
        s.close()


def test_open_store_picks_the_backend(pg_db_url, tmp_path):
    from nagar.core.settings import Settings
    from nagar.store import open_store
    from nagar.store.postgres import PostgresStore

    s = open_store(Settings(db=tmp_path / "x.duckdb", database_url=pg_db_url))
    try:
        assert isinstance(s, PostgresStore) and pg_db_url not in repr(Settings(database_url=pg_db_url))
        assert s._rows("SELECT current_schema() AS s")[0]["s"] == "public"
    finally:
        s.close()
    d = open_store(Settings(db=tmp_path / "x.duckdb"))
    try:
        assert isinstance(d, DuckDBStore)
    finally:
        d.close()


# the translator on its own -----------------------------------------------------------------------
@pytest.mark.parametrize("duck, pg, order", [
    ("SELECT a FROM t WHERE b = ? AND c IN (SELECT unnest(?::VARCHAR[]))",
     "SELECT a FROM t WHERE b = %s AND c = ANY(%s::VARCHAR[])", (0, 1)),
    ("SELECT list_contains(?, x), '?%' AS \"q?\" FROM t -- why?",
     "SELECT (x = ANY(%s)), '?%%' AS \"q?\" FROM t -- why?", (0,)),
    ("SELECT * FROM t WHERE list_contains(col, ?) AND y = ?",
     "SELECT * FROM t WHERE (%s = ANY(col)) AND y = %s", (0, 1)),
    ("SELECT list_contains(?, ?)", "SELECT (%s = ANY(%s))", (1, 0)),
    ("SELECT a, b, sum(c) AS s FROM t GROUP BY ALL ORDER BY ALL",
     "SELECT a, b, sum(c) AS s FROM t GROUP BY 1, 2 ORDER BY 1, 2, 3", ()),
    ("SELECT count(*) FROM t GROUP BY ALL", "SELECT count(*) FROM t ", ()),
    ("SELECT x FROM t WHERE t > ? - INTERVAL 23 HOUR AND u < INTERVAL ? DAY",
     "SELECT x FROM t WHERE t > %s - INTERVAL '23 HOUR' AND u < (%s * INTERVAL '1 DAY')", (0, 1)),
    ("SELECT time_bucket(INTERVAL 1 HOUR, t), strftime(t, '%Y-%m-%d %H:%M')",
     "SELECT date_bin(INTERVAL '1 HOUR', t, TIMESTAMP '2000-01-03'), "
     "to_char(t, 'YYYY\"-\"MM\"-\"DD\" \"HH24\":\"MI')", ()),
    ("CREATE TABLE t (id VARCHAR PRIMARY KEY, v DOUBLE, f UTINYINT, l VARCHAR[], n VARCHAR(3))",
     "CREATE TABLE t (id VARCHAR COLLATE \"C\" PRIMARY KEY, v DOUBLE PRECISION, f SMALLINT, l VARCHAR[], "
     "n VARCHAR(3) COLLATE \"C\")", ()),
    ("INSERT OR IGNORE INTO t VALUES (?) RETURNING id",
     "INSERT INTO t VALUES (%s)  ON CONFLICT DO NOTHING RETURNING id", (0,)),
    ("ALTER TABLE t RENAME COLUMN text TO body", "ALTER TABLE t RENAME COLUMN text TO body", ()),
])
def test_translation(duck, pg, order):
    from nagar.store.pg_dialect import to_postgres

    t = to_postgres(duck)
    assert (t.sql, t.order) == (pg, order)


def test_insert_or_replace_uses_the_tables_key():
    from nagar.store.pg_dialect import TranslationError, to_postgres

    t = to_postgres("INSERT OR REPLACE INTO t (k, a, b) VALUES (?, ?, ?)", lambda table: (["k"], ["k", "a", "b", "c"]))
    assert t.sql.strip() == ("INSERT INTO t (k, a, b) VALUES (%s, %s, %s) "
                             "ON CONFLICT (k) DO UPDATE SET a = excluded.a, b = excluded.b")
    everything = to_postgres("INSERT OR REPLACE INTO t VALUES (?, ?)", lambda table: (["k"], ["k", "a"]))
    assert everything.sql.strip() == "INSERT INTO t VALUES (%s, %s) ON CONFLICT (k) DO UPDATE SET a = excluded.a"
    with pytest.raises(TranslationError):
        to_postgres("SELECT TRY_CAST(x AS INTEGER)")
    with pytest.raises(TranslationError):
        to_postgres("SELECT 'unterminated")


# the API test module, against PostgreSQL (opt-in: NAGAR_TEST_API_ON_POSTGRES=1; ~10 s) -----------
if os.environ.get("NAGAR_TEST_API_ON_POSTGRES"):
    from tests.api import test_api as _api

    client = _api.client  # its fixture, fed by the ``store`` below

    @pytest.fixture
    def store(pg_url):
        from nagar.store.postgres import PostgresStore

        s = PostgresStore(pg_url, pool_size=4)
        _seed(s)
        yield s
        s.close()

    for _name in dir(_api):
        if _name.startswith("test_"):
            globals()[f"test_api_on_postgres_{_name[5:]}"] = getattr(_api, _name)
