"""Read a lake with DuckDB: the registry files and the read methods of the Store protocol that the air
service needs (``get_city``, ``get_station``, ``list_stations``, ``hourly_windows``).

``hourly_windows`` is the store's query (``nagar.store.duckdb.DuckDBStore.hourly_windows``) over the
Parquet files instead of the table: same hourly buckets, same trailing RANGE frames, same counted
flags. Only the partitions that can hold rows in the asked span are opened (the city folders of the
stations asked for, and the ``date`` partitions of the span: Hive-partition filter pushdown).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from nagar.core.errors import NotFound, StoreError
from nagar.core.tenancy import Scope
from nagar.store.base import COUNTED_FLAGS

from .layout import meta_path, read_manifest


def _naive_utc(t: datetime) -> datetime:
    return t.astimezone(timezone.utc).replace(tzinfo=None) if t.tzinfo is not None else t


def _allowed(city: str, scope: Scope) -> bool:
    return scope is None or city in scope


class LakeReader:
    """Read-only view of a lake through an in-memory DuckDB connection (one per reader)."""

    def __init__(self, lake: str | Path, *, threads: int | None = None):
        self.lake = Path(lake)
        p = meta_path(self.lake, "cities.parquet")
        if not p.exists():
            raise NotFound(f"no lake at {self.lake} (run `nagar lake export` first)", field="lake")
        self._cities = {c["id"]: c for c in pq.read_table(p).to_pylist()}
        self._stations = {s["id"]: s for s in pq.read_table(meta_path(self.lake, "stations.parquet")).to_pylist()}
        self._con = duckdb.connect()
        self._con.execute("SET TimeZone = 'UTC'")
        if threads:
            self._con.execute(f"SET threads = {int(threads)}")

    def close(self) -> None:
        self._con.close()

    # registry ---------------------------------------------------------------------------------
    def list_cities(self, *, scope: Scope = None) -> list[dict]:
        return [dict(c) for k, c in sorted(self._cities.items()) if _allowed(k, scope)]

    def get_city(self, city_id: str, *, scope: Scope = None) -> dict | None:
        c = self._cities.get(city_id)
        return dict(c) if c is not None and _allowed(city_id, scope) else None

    def list_stations(self, *, city: str | None = None, scope: Scope = None) -> list[dict]:
        return [dict(s) for k, s in sorted(self._stations.items())
                if (city is None or s["city"] == city) and _allowed(s["city"], scope)]

    def get_station(self, station_id: str, *, scope: Scope = None) -> dict | None:
        s = self._stations.get(station_id)
        return dict(s) if s is not None and _allowed(s["city"], scope) else None

    def partitions(self) -> pa.Table:
        """The lake's watermarks: one row per partition (city, date, rows, min_time, max_time ...)."""
        return read_manifest(self.lake)

    # observations -----------------------------------------------------------------------------
    def _source(self, cities: list[str]) -> str | None:
        """``read_parquet`` over the data files of ``cities`` (None when none has any)."""
        globs = [str(self.lake / f"city={c}" / "date=*" / "*.parquet") for c in sorted(set(cities))
                 if (self.lake / f"city={c}").is_dir()]
        if not globs:
            return None
        files = ", ".join("'" + g.replace("'", "''") + "'" for g in globs)
        return (f"read_parquet([{files}], hive_partitioning = true, "
                "hive_types = {'city': VARCHAR, 'date': DATE})")

    def hourly_windows(
        self, *, stations: list[str], parameters: list[str], start: datetime, end: datetime, scope: Scope = None
    ) -> pa.Table:
        """As :meth:`nagar.store.base.Store.hourly_windows`, from the lake's files."""
        s0, e0 = _naive_utc(start), _naive_utc(end)
        cities = sorted({self._stations[s]["city"] for s in stations
                         if s in self._stations and _allowed(self._stations[s]["city"], scope)})
        empty = pa.schema([("station", pa.string()), ("parameter", pa.string()),
                           ("time", pa.timestamp("us", tz="UTC")), ("mean_1h", pa.float64()),
                           ("mean_8h", pa.float64()), ("n_8h", pa.int64()), ("mean_24h", pa.float64()),
                           ("n_24h", pa.int64())]).empty_table()
        src = self._source(cities)
        if src is None:
            return empty
        lo = s0 - timedelta(hours=23)
        sql = f"""
            WITH o AS (
                SELECT station, parameter, timezone('UTC', time) AS time, value
                FROM {src}
                WHERE date BETWEEN ? AND ? AND station IN (SELECT unnest(?)) AND parameter IN (SELECT unnest(?))
                  AND flag IN (SELECT unnest(?))
            ), h AS (
                SELECT station, parameter, time_bucket(INTERVAL 1 HOUR, time) AS hour, avg(value) AS v
                FROM o WHERE time >= ? AND time < ?
                GROUP BY ALL
            ), w AS (
                SELECT station, parameter, hour, v AS mean_1h,
                  avg(v) OVER w8 AS mean_8h, count(v) OVER w8 AS n_8h,
                  avg(v) OVER w24 AS mean_24h, count(v) OVER w24 AS n_24h
                FROM h
                WINDOW w8 AS (PARTITION BY station, parameter ORDER BY hour
                              RANGE BETWEEN INTERVAL 7 HOUR PRECEDING AND CURRENT ROW),
                       w24 AS (PARTITION BY station, parameter ORDER BY hour
                              RANGE BETWEEN INTERVAL 23 HOUR PRECEDING AND CURRENT ROW)
            )
            SELECT station, parameter, timezone('UTC', hour) AS time, mean_1h, mean_8h, n_8h, mean_24h, n_24h
            FROM w WHERE hour >= ? ORDER BY station, parameter, hour
        """
        params = [lo.date(), (e0 - timedelta(microseconds=1)).date(), list(stations), list(parameters),
                  list(COUNTED_FLAGS), lo, e0, s0]
        cur = self._con.cursor()
        try:
            return cur.sql(sql, params=params).to_arrow_table()
        except duckdb.Error as exc:
            raise StoreError(f"lake read failed: {exc}", transient=isinstance(exc, duckdb.IOException)) from exc
        finally:
            cur.close()
