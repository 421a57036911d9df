"""Incremental export of the store's observations to the Parquet lake.

Watermarks are kept per partition (one city, one UTC date) in the lake itself,
``_meta/partitions.parquet``: its row count and a 64-bit fingerprint of its rows (see
:mod:`nagar.store.lake_tables`). An export

1. takes the lake's lock and clears what an interrupted export left in ``_staging/``;
2. in one read snapshot of the store, fingerprints every partition of the selected cities (one
   aggregate scan of the observations table) and writes to ``_staging/`` exactly the partitions whose
   fingerprint or row count differs from the watermark, that are new, or whose folder is missing (one
   file each, rows sorted by station, parameter and time, streamed out of the store in date order);
3. moves each written partition into place by directory rename (the old one goes to a trash folder),
   and removes the folders of partitions that no longer have rows;
4. writes the registry (``_meta/cities.parquet``, ``_meta/stations.parquet``) and then the new
   watermarks, each by write-to-temp-and-rename; the watermarks are the commit point.

Guarantee: when an export returns, each partition of the selected cities holds exactly the store's
rows of that city and UTC date as of the snapshot taken in step 2 - new rows, updated values or flags
and changes to old dates included. A second export with no change in between writes nothing. If an
export dies part-way, the watermarks still describe the previous export, so the next one rewrites what
differs (a partition is always rewritten whole, so redoing it is harmless). Readers never see a
half-written file; during an export they may see some partitions already new and others still old,
and a partition being replaced is absent for the instant between its two renames.
"""

from __future__ import annotations

import shutil
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from nagar.core.errors import InvalidInput, NotFound

from .layout import (
    FILE_SCHEMA, FORMAT_VERSION, MANIFEST_SCHEMA, ROW_GROUP_SIZE, STAGING, clean_staging, export_lock, meta_path,
    partition_dir, read_manifest, remove_dir, replace_dir, write_json_atomic, write_parquet_atomic,
)

CITY_SCHEMA = pa.schema([
    ("id", pa.string()), ("name", pa.string()), ("country", pa.string()), ("timezone", pa.string()),
    ("lat", pa.float64()), ("lon", pa.float64()), ("standard", pa.string()), ("open_data", pa.bool_()),
])
STATION_SCHEMA = pa.schema([
    ("id", pa.string()), ("city", pa.string()), ("name", pa.string()), ("lat", pa.float64()),
    ("lon", pa.float64()), ("parameters", pa.list_(pa.string())), ("source", pa.string()),
])


@dataclass
class ExportReport:
    """What one export did."""

    lake: str
    partitions: int = 0
    """Partitions of the selected cities after the export."""
    written: list[tuple[str, str]] = field(default_factory=list)
    """(city, date) of the partitions (re)written."""
    removed: list[tuple[str, str]] = field(default_factory=list)
    rows_written: int = 0
    rows: int = 0
    """Rows in the selected cities' partitions after the export."""
    seconds: float = 0.0

    @property
    def unchanged(self) -> int:
        return self.partitions - len(self.written)


def _key(city: str, day) -> tuple[str, str]:
    return city, day.isoformat()


def export_lake(store, *, out: str | Path, cities: list[str] | None = None, full: bool = False) -> ExportReport:
    """Export observations to the lake at ``out``, writing only partitions that changed.

    Parameters
    ----------
    store : DuckDBStore with :class:`nagar.store.lake_tables.LakeTables`
    out : path
        Lake folder (created if absent). Must be a local or mounted file system: partitions are swapped
        in by rename; publish to an object store afterwards (see docs/lake.md).
    cities : list of str, optional
        Export only these cities; the other cities' partitions and watermarks are left as they are.
    full : bool
        Rewrite every partition of the selected cities.

    Raises
    ------
    NotFound
        A city in ``cities`` does not exist.
    Conflict
        Another export holds the lake's lock.
    """
    t0 = time.perf_counter()
    lake = Path(out)
    if lake.exists() and not lake.is_dir():
        raise InvalidInput(f"{lake} is not a folder", field="out")
    known = {c["id"]: c for c in store.list_cities()}
    if cities is not None:
        missing = sorted(set(cities) - set(known))
        if missing:
            raise NotFound(f"unknown city {', '.join(missing)}", field="city")
        cities = sorted(set(cities))
    lake.mkdir(parents=True, exist_ok=True)
    report = ExportReport(lake=str(lake))
    with export_lock(lake):
        clean_staging(lake)
        run = lake / STAGING / uuid.uuid4().hex
        data, trash = run / "data", run / "trash"
        data.mkdir(parents=True)
        old = read_manifest(lake)
        in_scope = (pc.is_in(old.column("city"), value_set=pa.array(cities, pa.string()))
                    if cities is not None else pa.array([True] * old.num_rows, pa.bool_()))
        old_sel = old.filter(in_scope)
        before = {
            _key(c, d): (n, f)
            for c, d, n, f in zip(*(old_sel.column(k).to_pylist() for k in ("city", "date", "rows", "fingerprint")))
        }

        picked: list[pa.Table] = []

        def select(fps: pa.Table) -> pa.Table:
            if full:
                picked.append(fps)
                return fps
            keep = []
            for c, d, n, f in zip(*(fps.column(k).to_pylist() for k in ("city", "date", "rows", "fingerprint"))):
                k = _key(c, d)
                keep.append(before.get(k) != (n, f) or not partition_dir(lake, c, d).is_dir())
            picked.append(fps.filter(pa.array(keep, pa.bool_())))
            return picked[-1]

        def write(city: str, day, rows: pa.Table) -> None:
            d = partition_dir(data, city, day)
            d.mkdir(parents=True, exist_ok=True)
            pq.write_table(rows.select(FILE_SCHEMA.names).cast(FILE_SCHEMA), d / f"part-{uuid.uuid4()}.parquet",
                           compression="zstd", row_group_size=ROW_GROUP_SIZE)

        fps, report.rows_written = store.lake_export(cities=cities, select=select, write=write)
        now = datetime.now(timezone.utc)
        current = {_key(c, d) for c, d in zip(fps.column("city").to_pylist(), fps.column("date").to_pylist())}
        todo = picked[-1]
        for c, d in zip(todo.column("city").to_pylist(), todo.column("date").to_pylist()):
            src = partition_dir(data, c, d)
            if src.is_dir():
                replace_dir(src, partition_dir(lake, c, d), trash)
                report.written.append(_key(c, d))
        for (c, d) in sorted(set(before) - current):
            remove_dir(partition_dir(lake, c, datetime.fromisoformat(d).date()), trash)
            report.removed.append((c, d))

        # registry, then the watermarks (the commit point)
        write_parquet_atomic(pa.Table.from_pylist(
            [{k: c.get(k) for k in CITY_SCHEMA.names} for c in known.values()], schema=CITY_SCHEMA),
            meta_path(lake, "cities.parquet"))
        write_parquet_atomic(pa.Table.from_pylist(
            [{k: s.get(k) for k in STATION_SCHEMA.names} for s in store.list_stations()], schema=STATION_SCHEMA),
            meta_path(lake, "stations.parquet"))
        written = set(report.written)
        prev_at = dict(zip(
            (_key(c, d) for c, d in zip(old_sel.column("city").to_pylist(), old_sel.column("date").to_pylist())),
            old_sel.column("exported_at").to_pylist()))
        exported_at = [now if _key(c, d) in written else prev_at.get(_key(c, d), now)
                       for c, d in zip(fps.column("city").to_pylist(), fps.column("date").to_pylist())]
        new_rows = fps.drop_columns(["city_key"]).append_column(
            "exported_at", pa.array(exported_at, pa.timestamp("us", tz="UTC"))).cast(MANIFEST_SCHEMA)
        manifest = pa.concat_tables([old.filter(pc.invert(in_scope)), new_rows]).sort_by([("city", "ascending"),
                                                                                           ("date", "ascending")])
        write_parquet_atomic(manifest, meta_path(lake, "partitions.parquet"))
        write_json_atomic({
            "format_version": FORMAT_VERSION,
            "last_export": now.isoformat(),
            "duckdb_version": duckdb.__version__,
            "partitions": manifest.num_rows,
            "rows": int(pc.sum(manifest.column("rows")).as_py() or 0),
        }, meta_path(lake, "lake.json"))
        shutil.rmtree(lake / STAGING, ignore_errors=True)
    report.partitions = len(current)
    report.rows = int(pc.sum(fps.column("rows")).as_py() or 0)
    report.seconds = time.perf_counter() - t0
    return report
