"""Store methods the Parquet lake export needs (``nagar.lake.export``): partition fingerprints of the
observations table and a partitioned Parquet copy, both read in one snapshot.

Mixed into the DuckDB backend (``class DuckDBStore(..., LakeTables)``); needs ``self._read()`` (a
cursor on the store's database). No table of its own: the export's watermarks live in the lake
(``_meta/partitions.parquet``), beside the files they describe. Read-only: nothing here writes to the
store, so an export never takes the writer lock.

A *partition* is one city and one UTC calendar date of observations. Its *fingerprint* is the XOR of
DuckDB's 64-bit ``hash`` of every row's (station key, parameter code, time, value, flag code): any
inserted, updated (value or flag) or removed row changes it (unless two 64-bit hashes collide), whatever
the date of the row, so an export can find changed old partitions without an ingest timestamp on the
rows. DuckDB does not promise that ``hash`` stays the same across its releases; a different DuckDB
version only makes the next export rewrite everything once (the lake records the version).
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Callable

import duckdb
import pyarrow as pa

from nagar.core.errors import StoreError

_FINGERPRINTS = """
    SELECT c.id AS city, o.city_key, CAST(o.time AS DATE) AS date, count(*) AS rows,
           bit_xor(hash(o.station_key, o.parameter, o.time, o.value, o.flag)) AS fingerprint,
           timezone('UTC', min(o.time)) AS min_time, timezone('UTC', max(o.time)) AS max_time
    FROM observations o JOIN cities c ON c.key = o.city_key
    {where}
    GROUP BY ALL ORDER BY city, date
"""

_EXPORT = """
    COPY (
        SELECT c.id AS city, t.date, s.id AS station, p.key AS parameter, timezone('UTC', o.time) AS time,
               o.value, p.unit, f.name AS flag
        FROM observations o
        JOIN _lake_todo t ON t.city_key = o.city_key AND t.date = CAST(o.time AS DATE)
        JOIN cities c ON c.key = o.city_key
        JOIN stations s ON s.key = o.station_key
        JOIN parameters p ON p.code = o.parameter
        JOIN flags f ON f.code = o.flag
        WHERE o.time >= ? AND o.time < ?
        ORDER BY city, t.date, station, parameter, time
    ) TO '{dest}' (FORMAT parquet, PARTITION_BY (city, date), FILENAME_PATTERN 'part-{{uuid}}',
                   COMPRESSION zstd, ROW_GROUP_SIZE {row_group})
"""

ROW_GROUP_SIZE = 131_072
"""Rows per Parquet row group: rows are sorted by station, parameter and time inside a partition, so
row-group statistics let readers skip other stations."""


def _translate(exc: duckdb.Error) -> StoreError:
    return StoreError(f"database error: {exc}", transient=isinstance(exc, duckdb.IOException))


class LakeTables:
    """Lake export support for a DuckDB store. Requires ``self._read()``."""

    def lake_export(
        self,
        *,
        dest: Path,
        cities: list[str] | None,
        select: Callable[[pa.Table], pa.Table],
    ) -> tuple[pa.Table, int]:
        """Fingerprint the partitions and write the ones ``select`` picks, from one snapshot.

        Parameters
        ----------
        dest : Path
            Empty staging folder; partitions are written under it in the Hive layout
            ``city=<id>/date=<YYYY-MM-DD>/part-<uuid>.parquet`` (columns station, parameter, time [UTC],
            value [canonical unit], unit, flag; sorted by station, parameter, time).
        cities : list of str or None
            Only these cities (None: all).
        select : callable
            Gets the fingerprints (``city``, ``city_key``, ``date``, ``rows``, ``fingerprint`` [uint64],
            ``min_time``, ``max_time``) and returns the rows of it to write (any subset, same columns).

        Returns
        -------
        (fingerprints, rows_written)
            The fingerprints of every partition of the selected cities and the number of rows copied.
        """
        cur = self._read()
        try:
            cur.execute("BEGIN TRANSACTION")  # one snapshot for the fingerprints and the copy
            try:
                where, params = "", []
                if cities is not None:
                    where, params = "WHERE c.id IN (SELECT unnest(?::VARCHAR[]))", [sorted(cities)]
                fps = cur.sql(_FINGERPRINTS.format(where=where), params=params).to_arrow_table()
                fps = fps.cast(pa.schema([
                    ("city", pa.string()), ("city_key", pa.int32()), ("date", pa.date32()), ("rows", pa.int64()),
                    ("fingerprint", pa.uint64()), ("min_time", pa.timestamp("us", tz="UTC")),
                    ("max_time", pa.timestamp("us", tz="UTC")),
                ]))
                todo = select(fps)
                written = 0
                if todo.num_rows:
                    days: list[date] = todo.column("date").to_pylist()
                    lo, hi = min(days), max(days) + timedelta(days=1)
                    cur.register("_lake_todo", todo.select(["city_key", "date"]))
                    try:
                        sql = _EXPORT.format(dest=str(dest).replace("'", "''"), row_group=ROW_GROUP_SIZE)
                        written = cur.execute(sql, [lo, hi]).fetchone()[0]
                    finally:
                        cur.unregister("_lake_todo")
                return fps, int(written)
            finally:
                cur.execute("ROLLBACK")  # read only
        except duckdb.Error as exc:
            raise _translate(exc) from exc
        finally:
            cur.close()
