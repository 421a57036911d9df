"""Store methods the Parquet lake export needs (``nagar.lake.export``): partition fingerprints of the
observations table and the rows of chosen partitions, both read in one snapshot.

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

_ROWS = """
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
"""

BATCH_ROWS = 8_000_000
"""Rows per sorted read: partitions are exported in date order, a slice at a time, so the sort stays
bounded (a year of minute data from 100 stations is 52 M rows)."""
READ_ROWS = 1_000_000
"""Rows per Arrow record batch streamed out of DuckDB."""


def _batches(todo: pa.Table) -> list[pa.Table]:
    """Consecutive slices of ``todo`` holding at most :data:`BATCH_ROWS` rows (at least one partition)."""
    out, start, acc = [], 0, 0
    rows = todo.column("rows").to_pylist()
    for i, n in enumerate(rows):
        if acc and acc + n > BATCH_ROWS:
            out.append(todo.slice(start, i - start))
            start, acc = i, 0
        acc += n
    if acc:
        out.append(todo.slice(start))
    return out


def _translate(exc: duckdb.Error) -> StoreError:
    return StoreError(f"database error: {exc}", transient=isinstance(exc, duckdb.IOException))


class LakeTables:
    """Lake export support for a DuckDB store. Requires ``self._read()``."""

    def lake_export(
        self,
        *,
        cities: list[str] | None,
        select: Callable[[pa.Table], pa.Table],
        write: Callable[[str, date, pa.Table], None],
    ) -> tuple[pa.Table, int]:
        """Fingerprint the partitions and hand over the rows of the ones ``select`` picks, from one snapshot.

        Parameters
        ----------
        cities : list of str or None
            Only these cities (None: all).
        select : callable
            Gets the fingerprints (``city``, ``city_key``, ``date``, ``rows``, ``fingerprint`` [uint64],
            ``min_time``, ``max_time``) and returns the rows of it to export (any subset, same columns).
        write : callable
            Called once per picked partition with its city, date and rows: ``station``, ``parameter``,
            ``time`` [UTC], ``value`` [canonical unit], ``unit``, ``flag``, sorted by station, parameter
            and time. Partitions come in date order, read in slices of at most :data:`BATCH_ROWS` rows
            and streamed, so memory stays bounded.

        Returns
        -------
        (fingerprints, rows_exported)
            The fingerprints of every partition of the selected cities and the number of rows handed over.
        """
        cur = self._read()
        try:
            cur.execute("BEGIN TRANSACTION")  # one snapshot for the fingerprints and the rows
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
                todo = select(fps).sort_by([("date", "ascending"), ("city", "ascending")])
                written = 0
                for batch in _batches(todo):
                    days: list[date] = batch.column("date").to_pylist()
                    lo, hi = min(days), max(days) + timedelta(days=1)
                    cur.register("_lake_todo", batch.select(["city_key", "date"]))
                    try:
                        reader = cur.sql(_ROWS, params=[lo, hi]).to_arrow_reader(READ_ROWS)
                        try:
                            written += _split(reader, write)
                        finally:
                            reader.close()
                    finally:
                        cur.unregister("_lake_todo")
                return fps, int(written)
            finally:
                cur.execute("ROLLBACK")  # read only
        except duckdb.Error as exc:
            raise _translate(exc) from exc
        finally:
            cur.close()


def _split(reader: pa.RecordBatchReader, write: Callable[[str, date, pa.Table], None]) -> int:
    """Cut a stream sorted by (city, date) into partitions and hand each to ``write``."""
    import numpy as np
    import pyarrow.compute as pc

    key, parts, n_rows = None, [], 0

    def flush():
        if parts:
            write(key[0], key[1], pa.Table.from_batches(parts).drop_columns(["city", "date"]))

    for rb in reader:
        n = rb.num_rows
        if n == 0:
            continue
        n_rows += n
        city, day = rb.column("city"), rb.column("date")
        if n > 1:
            change = pc.or_(pc.not_equal(city.slice(1), city.slice(0, n - 1)),
                            pc.not_equal(day.slice(1), day.slice(0, n - 1)))
            cuts = (np.flatnonzero(change.to_numpy(zero_copy_only=False)) + 1).tolist()
        else:
            cuts = []
        for a, b in zip([0] + cuts, cuts + [n]):
            k = (city[a].as_py(), day[a].as_py())
            if k != key:
                flush()
                key, parts = k, []
            parts.append(rb.slice(a, b - a))
    flush()
    return n_rows
