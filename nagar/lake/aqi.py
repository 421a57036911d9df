"""The AQI job over the lake: hourly and daily AQI per station, and the city's worst station.

Two engines give the same table (:func:`output_schema`):

``duckdb``
    :class:`nagar.lake.reader.LakeReader` answers the store's ``hourly_windows`` query from the Parquet
    files, and the air service's own grid functions (``nagar.air.service.hourly_grid`` / ``daily_grid``:
    NowCast, 8-h / 24-h completeness, local days) and ``grid_aqi`` (:func:`nagar.air.aqi.compute_aqi`,
    incomplete days withheld) do the rest, so the result is the store path's by construction. Fast on one
    machine.
``spark``
    :mod:`nagar.lake.spark_job`: the same steps written as Spark SQL / DataFrame operations, generated
    from the standard's table, for a cluster and an object store.

Rows: one per station and period where an index exists (``level = "station"``), and one per city and
period where any station has one (``level = "city"``: the station with the highest AQI, ties to the
first station id, with that station's values; as ``nagar.air.service.aqi_series``). ``resolution`` is
``hour`` (``time`` = start of the UTC hour; ``date`` = its local date) or ``day`` (``date`` = the
city's local calendar day; ``time`` = its local midnight in UTC). ``c_<key>`` are the concentrations
each pollutant's table was entered with [the table's unit], ``i_<key>`` its sub-index.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterable
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa

from nagar.core.errors import InvalidInput, NotFound
from nagar.core.settings import Settings

HOUR = timedelta(hours=1)
RESOLUTIONS = ("hour", "day")
HOUR_CHUNK = timedelta(days=92)
"""The DuckDB engine computes hourly grids a quarter at a time (bounded memory for long spans)."""
DAY_CHUNK = 366

BASE_FIELDS = [
    pa.field("resolution", pa.string()),
    pa.field("level", pa.string()),
    pa.field("city", pa.string()),
    pa.field("station", pa.string()),
    pa.field("time", pa.timestamp("us", tz="UTC")),
    pa.field("date", pa.date32()),
    pa.field("standard", pa.string()),
    pa.field("aqi", pa.float64()),
    pa.field("category", pa.string()),
    pa.field("dominant", pa.string()),
]
SORT_KEYS = [("resolution", "ascending"), ("level", "ascending"), ("city", "ascending"),
             ("time", "ascending"), ("station", "ascending")]


def output_schema(standards: Iterable) -> pa.Schema:
    """Base columns, then ``c_<key>`` and ``i_<key>`` for every pollutant key of ``standards``."""
    keys = list(dict.fromkeys(p.key for std in standards for p in std.pollutants))
    return pa.schema(BASE_FIELDS + [pa.field(f"c_{k}", pa.float64()) for k in keys]
                     + [pa.field(f"i_{k}", pa.float64()) for k in keys])


@dataclass(frozen=True)
class CityPlan:
    """What the job computes for one city."""

    city: str
    timezone: str
    standard: object  # nagar.air.standards.Standard
    stations: tuple[str, ...]
    start: datetime
    """First hour (UTC, on the hour)."""
    end: datetime
    """End of the last hour (exclusive)."""

    @property
    def day_start(self) -> datetime:
        """Local midnight starting the first local day that overlaps [start, end)."""
        return self.start.astimezone(ZoneInfo(self.timezone)).replace(hour=0, minute=0, second=0, microsecond=0)

    @property
    def day_end(self) -> datetime:
        d1 = self.end.astimezone(ZoneInfo(self.timezone))
        if d1.time() != datetime.min.time():
            d1 = d1.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
        return d1


def _utc(t: datetime) -> datetime:
    return t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t.astimezone(timezone.utc)


def _floor_hour(t: datetime) -> datetime:
    return t.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)


def parse_time(value: str | datetime | None, name: str) -> datetime | None:
    """ISO date or date-time; without an offset it is UTC."""
    if value is None or isinstance(value, datetime):
        return None if value is None else _utc(value)
    try:
        return _utc(datetime.fromisoformat(value))
    except ValueError:
        raise InvalidInput(f"{name}: not an ISO date or date-time: {value!r}", field=name) from None


def resolve_standard(settings: Settings, name: str):
    """A standard by id (shipped or in ``settings.standards_dir``) or a JSON table path (the CLI is an
    operator's tool; the API never takes paths)."""
    from nagar.air.service import get_standard
    from nagar.air.standards import load_standard

    if name.lower().endswith(".json") and Path(name).is_file():
        return load_standard(Path(name))
    return get_standard(settings, name)


def plan_cities(
    *,
    cities_meta: list[dict],
    stations_meta: list[dict],
    spans: dict[str, tuple[datetime, datetime]],
    settings: Settings,
    standard: str | None = None,
    cities: list[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[CityPlan]:
    """One plan per city: its standard (``standard`` or the city's own), stations (the registry's, by
    id, as the store lists them) and hours. Without ``start``/``end`` a city's span is its data's
    (``spans``: first and last observation time); cities without data are left out."""
    meta = {c["id"]: c for c in cities_meta}
    if cities:
        missing = sorted(set(cities) - set(meta))
        if missing:
            raise NotFound(f"the lake has no city {', '.join(missing)}", field="city")
        chosen = sorted(set(cities))
    else:
        chosen = sorted(meta)
    if start is not None and end is not None and end <= start:
        raise InvalidInput("--to must be after --from", field="to")
    std_cache: dict[str, object] = {}
    plans = []
    for cid in chosen:
        c = meta[cid]
        s, e = start, end
        if cid in spans:
            s = s if s is not None else spans[cid][0]
            e = e if e is not None else spans[cid][1] + timedelta(microseconds=1)
        if s is None or e is None or e <= s:
            continue
        sid = standard or c.get("standard") or settings.default_standard
        if sid not in std_cache:
            std_cache[sid] = resolve_standard(settings, sid)
        s, e = _floor_hour(s), _floor_hour(e - timedelta(microseconds=1)) + HOUR  # as aqi_series
        st = tuple(sorted(x["id"] for x in stations_meta if x["city"] == cid))
        plans.append(CityPlan(cid, c["timezone"], std_cache[sid], st, s, e))
    return plans


# --------------------------------------------------------------------------------------------------
# DuckDB engine


def _local_dates(times_utc: np.ndarray, tz: str) -> pa.Array:
    import polars as pl

    s = pl.Series("t", times_utc.astype("datetime64[us]")).dt.replace_time_zone("UTC")
    return s.dt.convert_time_zone(tz).dt.date().to_arrow()


def _local_midnights(days: np.ndarray, tz: str) -> pa.Array:
    import polars as pl

    s = pl.Series("d", days.astype("datetime64[D]")).cast(pl.Datetime("us"))
    s = s.dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null").dt.convert_time_zone("UTC")
    return s.to_arrow()


def grid_rows(plan: CityPlan, grid, resolution: str, schema: pa.Schema) -> pa.Table:
    """Station and city rows (where an AQI exists) from a :class:`nagar.air.service.Grid`."""
    from nagar.air.service import grid_aqi

    std = plan.standard
    S, T = len(grid.stations), len(grid.times)
    if S == 0 or T == 0:
        return schema.empty_table()
    res = grid_aqi(grid, std)  # as aqi_series: incomplete days get no AQI (nagar.air.service)
    aqi, code, cat, subs = res.aqi, res.dominant_code, res.category, res.sub_indices
    keys_lut = np.array(list(res.keys) + [None], dtype=object)
    cat_lut = np.array([c.key for c in std.categories] + [None], dtype=object)
    if resolution == "hour":
        times = grid.times.astype("datetime64[us]")
        t_col, d_col = pa.array(times, pa.timestamp("us")).cast(pa.timestamp("us", tz="UTC")), _local_dates(times, plan.timezone)
    else:
        t_col, d_col = _local_midnights(grid.times, plan.timezone), pa.array(grid.times.astype("datetime64[D]"), pa.date32())
    stations = np.array(grid.stations, dtype=object)

    def rows(level: str, si: np.ndarray, ti: np.ndarray) -> pa.Table:
        n = len(si)
        cols = {
            "resolution": pa.array([resolution] * n, pa.string()),
            "level": pa.array([level] * n, pa.string()),
            "city": pa.array([plan.city] * n, pa.string()),
            "station": pa.array(stations[si], pa.string()),
            "time": t_col.take(pa.array(ti)),
            "date": d_col.take(pa.array(ti)),
            "standard": pa.array([std.id] * n, pa.string()),
            "aqi": pa.array(aqi[si, ti]),
            "category": pa.array(cat_lut[cat[si, ti]], pa.string()),
            "dominant": pa.array(keys_lut[code[si, ti]], pa.string()),
        }
        for k, v in grid.conc.items():
            x = v[si, ti]
            cols[f"c_{k}"] = pa.array(x, pa.float64(), mask=np.isnan(x))
        for k, v in subs.items():
            x = v[si, ti]
            cols[f"i_{k}"] = pa.array(x, pa.float64(), mask=np.isnan(x))
        return pa.table({f.name: cols.get(f.name, pa.nulls(n, f.type)) for f in schema}, schema=schema)

    si, ti = np.nonzero(~np.isnan(aqi))
    out = [rows("station", si, ti)]
    # the city: the worst station (NaN never wins; ties go to the first station id), as aqi_series
    filled = np.where(np.isnan(aqi), -np.inf, aqi)
    pick = np.argmax(filled, axis=0)
    cols = np.nonzero(~np.isnan(aqi[pick, np.arange(T)]))[0]
    out.append(rows("city", pick[cols], cols))
    return pa.concat_tables(out)


def aqi_duckdb(lake: str | Path, plans: list[CityPlan], *, resolutions=RESOLUTIONS, reader=None) -> pa.Table:
    """The AQI table from the lake with DuckDB and the air service's NumPy functions."""
    from nagar.air.service import daily_grid, hourly_grid

    from .reader import LakeReader

    schema = output_schema(p.standard for p in plans)
    own = reader is None
    reader = reader or LakeReader(lake)
    parts = [schema.empty_table()]
    try:
        for plan in plans:
            if not plan.stations:
                continue
            if "hour" in resolutions:
                t = plan.start
                while t < plan.end:
                    e = min(t + HOUR_CHUNK, plan.end)
                    grid = hourly_grid(reader, plan.standard, list(plan.stations), t, e)
                    parts.append(grid_rows(plan, grid, "hour", schema))
                    t = e
            if "day" in resolutions:
                zone = ZoneInfo(plan.timezone)
                d, d_end = plan.day_start, plan.day_end
                while d < d_end:
                    e = min((d.replace(tzinfo=None) + timedelta(days=DAY_CHUNK)).replace(tzinfo=zone), d_end)
                    grid = daily_grid(reader, plan.standard, list(plan.stations), d, e, plan.timezone)
                    parts.append(grid_rows(plan, grid, "day", schema))
                    d = e
    finally:
        if own:
            reader.close()
    return pa.concat_tables(parts).sort_by(SORT_KEYS)


# --------------------------------------------------------------------------------------------------
# the job


def lake_meta(lake: str | Path) -> tuple[list[dict], list[dict], dict[str, tuple[datetime, datetime]]]:
    """Cities, stations and each city's data span from a local lake's ``_meta`` files."""
    import pyarrow.parquet as pq

    from .layout import meta_path, read_manifest

    lake = Path(lake)
    if not meta_path(lake, "cities.parquet").exists():
        raise NotFound(f"no lake at {lake} (run `nagar lake export` first)", field="lake")
    cities = pq.read_table(meta_path(lake, "cities.parquet")).to_pylist()
    stations = pq.read_table(meta_path(lake, "stations.parquet")).to_pylist()
    man = read_manifest(lake)
    spans = {}
    if man.num_rows:
        g = man.group_by("city").aggregate([("min_time", "min"), ("max_time", "max")])
        for c, lo, hi in zip(g.column("city").to_pylist(), g.column("min_time_min").to_pylist(),
                             g.column("max_time_max").to_pylist()):
            spans[c] = (lo, hi)
    return cities, stations, spans


def lake_aqi(
    *,
    lake: str,
    engine: str = "duckdb",
    settings: Settings | None = None,
    standard: str | None = None,
    cities: list[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    resolutions: Iterable[str] = RESOLUTIONS,
    spark=None,
    master: str | None = None,
) -> pa.Table:
    """Run the AQI job on ``engine`` (``"duckdb"`` or ``"spark"``) and return the table.

    ``spark``: an existing SparkSession (else one is started with ``master``, default ``local[*]``).
    """
    settings = settings or Settings.from_env()
    resolutions = tuple(resolutions)
    bad = [r for r in resolutions if r not in RESOLUTIONS]
    if bad or not resolutions:
        raise InvalidInput("resolution must be hour, day or both", field="resolution")
    if engine == "duckdb":
        if "://" in str(lake):
            raise InvalidInput("the duckdb engine reads a local lake; use --engine spark for URIs", field="lake")
        c, s, spans = lake_meta(lake)
        plans = plan_cities(cities_meta=c, stations_meta=s, spans=spans, settings=settings, standard=standard,
                            cities=cities, start=start, end=end)
        return aqi_duckdb(lake, plans, resolutions=resolutions)
    if engine == "spark":
        from .spark_job import aqi_spark, spark_lake_meta, spark_session

        spark = spark or spark_session(master or "local[*]")
        c, s, spans = spark_lake_meta(spark, str(lake))
        plans = plan_cities(cities_meta=c, stations_meta=s, spans=spans, settings=settings, standard=standard,
                            cities=cities, start=start, end=end)
        return aqi_spark(spark, str(lake), plans, resolutions=resolutions)
    raise InvalidInput(f"engine must be spark or duckdb, got {engine!r}", field="engine")


def write_table(table: pa.Table, out: str | Path) -> Path:
    """Write the result by suffix: ``.parquet`` (default), ``.csv`` or ``.jsonl``/``.json`` (lines)."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    suffix = out.suffix.lower()
    if suffix == ".csv":
        pacsv.write_csv(table, out)
    elif suffix in (".json", ".jsonl", ".ndjson"):
        import json

        with out.open("w", encoding="utf-8") as f:
            for row in table.to_pylist():
                f.write(json.dumps(row, default=str) + "\n")
    else:
        pq.write_table(table, out, compression="zstd")
    return out
