"""Incremental export: Hive layout, exactly the store's rows, only changed partitions rewritten."""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta, timezone

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from nagar.core.errors import Conflict, NotFound
from nagar.lake import layout
from nagar.lake.export import export_lake
from tests.conftest import obs_table

from .conftest import START, make_store


@pytest.fixture
def store(tmp_path):
    s = make_store(tmp_path / "n.duckdb")
    yield s
    s.close()


def lake_rows(lake) -> list[tuple]:
    """Every row of the lake's data files, with city and date from the path, sorted."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    rows = con.execute(
        f"SELECT city, date, station, parameter, time, value, unit, flag FROM read_parquet('{lake}/{layout.DATA_GLOB}', "
        "hive_partitioning = true, hive_types = {'city': VARCHAR, 'date': DATE})").fetchall()
    return sorted(rows)


def store_rows(store) -> list[tuple]:
    city_of = {s["id"]: s["city"] for s in store.list_stations()}
    t = store.observations()  # raw: every flag
    return sorted((city_of[r["station"]], r["time"].astimezone(timezone.utc).date(), r["station"], r["parameter"],
                   r["time"], r["value"], r["unit"], r["flag"]) for r in t.to_pylist())


def test_first_export_writes_the_store_in_hive_layout(store, tmp_path):
    lake = tmp_path / "lake"
    r = export_lake(store, out=lake)
    assert r.partitions == len(r.written) == 3 * 7 and r.unchanged == 0 and not r.removed
    assert r.rows == r.rows_written == store.stats().observations
    # Hive layout, one file per partition, the documented columns
    f = next((lake / "city=kolkata" / "date=2025-03-28").glob("part-*.parquet"))
    assert pq.read_schema(f).remove_metadata() == layout.FILE_SCHEMA
    assert lake_rows(lake) == store_rows(store)
    # rows inside a partition are sorted by station, parameter, time (row groups prune by station)
    t = pq.read_table(f)
    keys = list(zip(t.column("station").to_pylist(), t.column("parameter").to_pylist(), t.column("time").to_pylist()))
    assert keys == sorted(keys)
    # the registry and the watermarks sit beside the data, under _meta
    assert {c["id"] for c in pq.read_table(lake / "_meta" / "cities.parquet").to_pylist()} == {"dhaka", "kolkata",
                                                                                            "london"}
    man = layout.read_manifest(lake)
    assert man.num_rows == 21 and sum(man.column("rows").to_pylist()) == r.rows
    assert not (lake / layout.STAGING).exists() and not (lake / "_meta" / "export.lock").exists()


def test_second_export_without_changes_writes_nothing(store, tmp_path):
    lake = tmp_path / "lake"
    export_lake(store, out=lake)
    before = {p: p.stat().st_mtime_ns for p in lake.glob(layout.DATA_GLOB)}
    r = export_lake(store, out=lake)
    assert r.written == [] and r.rows_written == 0 and r.unchanged == 21
    assert {p: p.stat().st_mtime_ns for p in lake.glob(layout.DATA_GLOB)} == before


def test_updates_to_old_dates_and_new_rows_rewrite_only_their_partitions(store, tmp_path):
    lake = tmp_path / "lake"
    export_lake(store, out=lake)
    old = lake_rows(lake)
    # a corrected value on the first day, a re-flagged reading three days later, and a new day of data
    t_old = next(r[4] for r in old if r[0] == "dhaka" and r[2] == "d1" and r[3] == "pm25")
    t_flag = next(r[4] for r in old if r[0] == "london" and r[1] == date(2025, 3, 29) and r[3] == "no2")
    st_flag = next(r[2] for r in old if r[4] == t_flag and r[3] == "no2")
    new_day = datetime(2025, 4, 3, 5, tzinfo=timezone.utc)
    c = store.write_observations(obs_table([
        ("d1", "pm25", t_old, 999.0),
        (st_flag, "no2", t_flag, next(r[5] for r in old if r[4] == t_flag and r[2] == st_flag and r[3] == "no2"),
         "ppb", "invalid"),
        ("k2", "pm10", new_day, 80.0),
    ]))
    assert (c.inserted, c.updated) == (1, 2)
    r = export_lake(store, out=lake)
    assert sorted(r.written) == [("dhaka", t_old.date().isoformat()), ("kolkata", "2025-04-03"),
                                 ("london", "2025-03-29")]
    assert r.rows_written == sum(1 for x in store_rows(store) if (x[0], x[1].isoformat()) in set(r.written))
    assert lake_rows(lake) == store_rows(store)
    assert export_lake(store, out=lake).written == []


def test_partitions_that_lose_all_rows_are_removed(store, tmp_path):
    lake = tmp_path / "lake"
    export_lake(store, out=lake)
    # the store has no delete path yet; a purge (retention, GDPR request) would look like this
    store._con.execute("DELETE FROM observations WHERE city_key = (SELECT key FROM cities WHERE id = 'london') "
                       "AND CAST(time AS DATE) = DATE '2025-03-31'")
    r = export_lake(store, out=lake)
    assert r.removed == [("london", "2025-03-31")] and r.written == []
    assert not (lake / "city=london" / "date=2025-03-31").exists()
    assert lake_rows(lake) == store_rows(store)
    assert ("london", date(2025, 3, 31)) not in set(zip(*(layout.read_manifest(lake).column(k).to_pylist()
                                                          for k in ("city", "date"))))


def test_a_missing_partition_folder_is_written_again(store, tmp_path):
    import shutil

    lake = tmp_path / "lake"
    export_lake(store, out=lake)
    shutil.rmtree(lake / "city=dhaka" / "date=2025-03-30")
    assert export_lake(store, out=lake).written == [("dhaka", "2025-03-30")]
    assert lake_rows(lake) == store_rows(store)


def test_an_export_that_dies_before_its_watermarks_is_redone(store, tmp_path, monkeypatch):
    from nagar.lake import export as export_mod

    lake = tmp_path / "lake"
    export_lake(store, out=lake)
    store.write_observations(obs_table([("d2", "o3", START + timedelta(hours=30, minutes=7), 55.0)]))
    real = export_mod.write_parquet_atomic

    def die_on_manifest(table, path):
        if path.name == "partitions.parquet":
            raise KeyboardInterrupt("killed")
        return real(table, path)

    monkeypatch.setattr(export_mod, "write_parquet_atomic", die_on_manifest)
    with pytest.raises(KeyboardInterrupt):
        export_lake(store, out=lake)
    assert not (lake / "_meta" / "export.lock").exists()  # the lock goes with the process
    monkeypatch.setattr(export_mod, "write_parquet_atomic", real)
    (lake / layout.STAGING / "leftover").mkdir(parents=True)
    r = export_lake(store, out=lake)
    assert r.written == [("dhaka", "2025-03-27")]  # the watermark was not committed: done again
    assert not (lake / layout.STAGING).exists()
    assert lake_rows(lake) == store_rows(store)


def test_one_export_at_a_time(store, tmp_path):
    lake = tmp_path / "lake"
    lock = lake / "_meta" / "export.lock"
    lock.parent.mkdir(parents=True)
    import socket

    lock.write_text(f"{socket.gethostname()} {os.getpid()} now")  # alive: this process
    with pytest.raises(Conflict):
        export_lake(store, out=lake)
    lock.write_text(f"{socket.gethostname()} 999999999 then")  # a dead process: taken over
    assert export_lake(store, out=lake).partitions == 21


def test_city_filter_leaves_other_cities_alone(store, tmp_path):
    lake = tmp_path / "lake"
    r = export_lake(store, out=lake, cities=["kolkata"])
    assert {c for c, _ in r.written} == {"kolkata"} and not (lake / "city=dhaka").exists()
    export_lake(store, out=lake)
    store.write_observations(obs_table([("d3", "co", START + timedelta(hours=1, minutes=1), 1.0),
                                        ("k1", "co", START + timedelta(hours=1, minutes=1), 1.0)]))
    r = export_lake(store, out=lake, cities=["dhaka"])
    assert r.written == [("dhaka", "2025-03-26")]
    assert layout.read_manifest(lake).num_rows == 21  # kolkata's watermarks kept
    assert export_lake(store, out=lake).written == [("kolkata", "2025-03-26")]
    with pytest.raises(NotFound):
        export_lake(store, out=lake, cities=["atlantis"])
    assert lake_rows(lake) == store_rows(store)


def test_full_export_rewrites_everything(store, tmp_path):
    lake = tmp_path / "lake"
    export_lake(store, out=lake)
    r = export_lake(store, out=lake, full=True)
    assert len(r.written) == 21 and lake_rows(lake) == store_rows(store)


def test_fingerprint_sees_value_and_flag_changes_but_not_a_rewrite_of_the_same_value(store, tmp_path):
    lake = tmp_path / "lake"
    export_lake(store, out=lake)
    row = store.observations(stations=["l1"], parameters=["pm10"], limit=1).to_pylist()[0]
    store.write_observations(obs_table([("l1", "pm10", row["time"], row["value"], row["unit"], row["flag"])]))
    assert export_lake(store, out=lake).written == []  # an upsert of identical data changes nothing
    store.write_observations(obs_table([("l1", "pm10", row["time"], row["value"] + 0.1)]))
    assert len(export_lake(store, out=lake).written) == 1


@pytest.mark.slow
def test_spark_reads_the_lake_with_partition_pruning(store, tmp_path, spark):
    from nagar.lake.spark_job import _read

    lake = tmp_path / "lake"
    export_lake(store, out=lake)
    df = _read(spark, str(lake), ["kolkata"], date(2025, 3, 28), date(2025, 3, 29))
    plan = df._jdf.queryExecution().executedPlan().toString()
    assert "PartitionFilters: [isnotnull(date" in plan
    n = sum(1 for r in store_rows(store) if r[0] == "kolkata" and date(2025, 3, 28) <= r[1] <= date(2025, 3, 29))
    assert df.count() == n
    assert isinstance(df.schema["time"].dataType, type(spark.sql("SELECT current_timestamp() AS t").schema["t"].dataType))
    assert pa.types.is_timestamp(df.limit(1).toArrow().schema.field("time").type)


def test_large_exports_are_copied_in_batches(store, tmp_path, monkeypatch):
    from nagar.store import lake_tables

    monkeypatch.setattr(lake_tables, "BATCH_ROWS", 1500)  # ~2 partitions per sorted read
    monkeypatch.setattr(lake_tables, "READ_ROWS", 333)  # record batches cut across partitions
    lake = tmp_path / "lake"
    r = export_lake(store, out=lake)
    assert len(r.written) == 21 and r.rows_written == r.rows
    assert lake_rows(lake) == store_rows(store)
    assert all(len(list(p.glob("*.parquet"))) == 1 for p in lake.glob("city=*/date=*"))


def test_a_failing_write_leaves_the_lake_as_it_was(store, tmp_path, monkeypatch):
    from nagar.lake import export as export_mod

    lake = tmp_path / "lake"
    export_lake(store, out=lake)
    before = lake_rows(lake)
    store.write_observations(obs_table([("k1", "so2", START + timedelta(days=2, minutes=1), 9.0)]))

    def full_disk(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(export_mod.pq, "write_table", full_disk)
    with pytest.raises(OSError):
        export_lake(store, out=lake)
    monkeypatch.undo()
    assert lake_rows(lake) == before and not (lake / "_meta" / "export.lock").exists()
    assert export_lake(store, out=lake).written == [("kolkata", "2025-03-28")]
    assert lake_rows(lake) == store_rows(store)
