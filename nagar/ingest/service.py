"""Bringing observations in: an HTTP/JSON batch or a file, validated, then written in one path."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

import polars as pl

from nagar.core.errors import InvalidInput, PayloadTooLarge
from nagar.core.ids import validate_id
from nagar.core.settings import Settings
from nagar.core.tenancy import Scope
from nagar.registry.service import nearest_city
from nagar.store.base import Store, WriteCounts

from .files import read_file
from .models import IngestResult, RejectedRow
from .validate import Rejection, validate

_FIELDS = ("station", "parameter", "time", "value", "unit", "flag")


def _column(rows: list[dict], name: str, kind: str) -> tuple[list, list[Rejection]]:
    """Extract one column from JSON rows, nulling values of the wrong JSON type."""
    out, bad = [], []
    for i, r in enumerate(rows):
        v = r.get(name) if isinstance(r, dict) else None
        if v is None:
            out.append(None)
        elif kind == "number":
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                out.append(None)
                bad.append(Rejection(i, name, f"{name} must be a number, got {type(v).__name__}"))
            elif isinstance(v, float) and not math.isfinite(v):
                out.append(None)
                bad.append(Rejection(i, name, f"{name} must be finite"))
            else:
                out.append(float(v))
        else:
            if not isinstance(v, str):
                out.append(None)
                bad.append(Rejection(i, name, f"{name} must be a string, got {type(v).__name__}"))
            else:
                out.append(v)
    return out, bad


def ingest_rows(store: Store, *, rows: list[Any], settings: Settings, now: datetime | None = None,
                scope: Scope = None, only_station: str | None = None) -> IngestResult:
    """Validate and store a JSON batch; good rows are kept even when others are rejected.

    Stations outside ``scope`` are reported as unknown (their existence is not revealed). With
    ``only_station`` (a device's own station) every other station's row is rejected."""
    if not isinstance(rows, list):
        raise InvalidInput("observations must be a list of objects", field="observations")
    if len(rows) > settings.max_batch_rows:
        raise PayloadTooLarge(
            f"batch has {len(rows)} rows; the limit is {settings.max_batch_rows} per request",
            field="observations",
        )
    pre: dict[int, Rejection] = {}
    for i, r in enumerate(rows):
        if not isinstance(r, dict):
            pre[i] = Rejection(i, "observations", "row must be a JSON object")
    cols: dict[str, list] = {}
    for name in _FIELDS:
        cols[name], bad = _column(rows, name, "number" if name == "value" else "string")
        for b in bad:
            pre.setdefault(b.index, b)
    keep = [i for i in range(len(rows)) if i not in pre]
    raw = pl.DataFrame(
        {"_row": keep, **{k: [v[i] for i in keep] for k, v in cols.items()}},
        schema={"_row": pl.Int64, "station": pl.String, "parameter": pl.String, "time": pl.String,
                "value": pl.Float64, "unit": pl.String, "flag": pl.String},
    )
    stations = raw.get_column("station").drop_nulls().unique().to_list()
    known = store.existing_stations(stations, scope=scope)
    if only_station is not None:
        for i in keep:
            if cols["station"][i] is not None and cols["station"][i] != only_station:
                pre[i] = Rejection(i, "station", f"this device may only write station '{only_station}'")
        keep = [i for i in keep if i not in pre]
        raw = raw.filter(pl.col("_row").is_in(keep))
        known = {k: v for k, v in known.items() if k == only_station}
    v = validate(raw, known_stations=set(known), now=now,
                 max_future=timedelta(minutes=settings.max_future_minutes))
    counts = store.write_observations(v.good, scope=scope)
    rejected = sorted([*pre.values(), *v.rejected], key=lambda r: r.index)
    return IngestResult(
        received=len(rows), inserted=counts.inserted, updated=counts.updated, rejected=len(rejected),
        errors=[RejectedRow(**r.to_dict()) for r in rejected],
    )


def ingest_file(
    store: Store,
    *,
    path: str | Path,
    settings: Settings,
    city: str | None = None,
    batch_rows: int = 1_000_000,
    max_errors: int = 1000,
    on_progress: Callable[[int, int], None] | None = None,
    now: datetime | None = None,
    scope: Scope = None,
) -> IngestResult:
    """Stream a CSV/Parquet file into the store in bounded batches, each batch committed on its own.

    Unknown stations of an OpenAQ file are created from the file's name and coordinates, in ``city``
    or else in the registered city whose centre is nearest (within 100 km). ``errors`` keeps the
    first ``max_errors`` rejections (``index`` = file line for CSV, row for Parquet); ``rejected``
    counts them all.
    """
    total, batches = read_file(path, batch_rows=batch_rows)
    if city is not None and store.get_city(city, scope=scope) is None:
        raise InvalidInput(f"unknown city {city!r}; create it first", field="city")
    result = IngestResult(received=0, inserted=0, updated=0, rejected=0)
    counts = WriteCounts()
    known: set[str] = set()
    created: list[str] = []
    unplaced: dict[str, str] = {}
    max_future = timedelta(minutes=settings.max_future_minutes)

    def prepare(fb):
        """Reader side (runs ahead in a thread): station creation and validation."""
        errs: list[Rejection] = [Rejection(m.line, "line", f"malformed CSV line: {m.reason}") for m in fb.malformed]
        good = None
        if fb.raw.height:
            if fb.stations is not None:
                new, why = _create_stations(store, fb.stations, city=city, scope=scope)
                created.extend(new)
                unplaced.update(why)
            ids = set(fb.raw.get_column("station").drop_nulls().unique().to_list()) - known
            if ids:
                known.update(store.existing_stations(ids, scope=scope))
            v = validate(fb.raw, known_stations=known, now=now, max_future=max_future)
            for r in v.rejected:
                if r.field == "station" and r.reason.startswith("unknown station '"):
                    sid = r.reason[len("unknown station '"):-1]
                    if sid in unplaced:
                        r.reason += f": {unplaced[sid]}"
            good, errs = v.good, errs + v.rejected
        return fb.raw.height + len(fb.malformed), good, errs, fb.progress

    # Three stages in three threads: parsing batch k+2, validating k+1 and writing k overlap (Arrow,
    # Polars and DuckDB release the GIL). Each queue holds one batch, so at most about five batches
    # are in memory whatever the file's size.
    for received, good, errs, progress in _pipelined(map(prepare, _pipelined(batches, depth=1)), depth=1):
        result.received += received
        if good is not None and good.num_rows:
            counts += store.write_observations(good, scope=scope)
        result.rejected += len(errs)
        room = max_errors - len(result.errors)
        if room > 0:
            result.errors += [RejectedRow(**e.to_dict()) for e in sorted(errs, key=lambda e: e.index)[:room]]
        if on_progress:
            on_progress(progress, total)
    result.inserted, result.updated = counts.inserted, counts.updated
    result.stations_created = created
    return result


def _pipelined(items, *, depth: int):
    """Iterate ``items`` in a background thread, ``depth`` items ahead; re-raise its errors here."""
    import queue
    import threading

    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def run():
        try:
            for it in items:
                while not stop.is_set():
                    try:
                        q.put((None, it), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put((None, done))
        except BaseException as exc:  # handed to the consumer
            q.put((exc, None))

    th = threading.Thread(target=run, name="nagar-ingest-reader", daemon=True)
    th.start()
    try:
        while True:
            exc, it = q.get()
            if exc is not None:
                raise exc
            if it is done:
                return
            yield it
    finally:
        stop.set()
        while th.is_alive():
            try:
                q.get_nowait()
            except queue.Empty:
                th.join(timeout=0.05)


def _create_stations(store: Store, stations: pl.DataFrame, *, city: str | None,
                     scope: Scope = None) -> tuple[list[str], dict[str, str]]:
    """Create the file's unknown stations; return the new ids and, for those that could not be placed,
    why (added to their rows' rejection reasons)."""
    ids = stations.get_column("id").to_list()
    existing = store.existing_stations(ids)
    new = []
    why: dict[str, str] = {}
    for s in stations.iter_rows(named=True):
        if s["id"] in existing:
            continue
        try:
            validate_id(s["id"], field="station")
        except InvalidInput:
            continue
        if s["lat"] is None or s["lon"] is None:
            why[s["id"]] = "the file gives no coordinates for it"
            continue
        target = city
        if target is None:
            near = nearest_city(store, lat=s["lat"], lon=s["lon"], scope=scope)
            if near is None:
                why[s["id"]] = (f"no registered city within 100 km of ({s['lat']:g}, {s['lon']:g}); "
                                "create the city first or pass --city")
                continue
            target = near["id"]
        from nagar.core.units import normalise_parameter

        params = sorted({p for p in (normalise_parameter(x) for x in s["parameter"] or []) if p})
        new.append({"id": s["id"], "city": target, "name": s["name"] or s["id"], "lat": s["lat"],
                    "lon": s["lon"], "parameters": params, "source": "OpenAQ archive file"})
    if new:
        store.upsert_stations(new)
    return [s["id"] for s in new], why




def query_observations(
    store: Store,
    *,
    stations: list[str] | None,
    city: str | None,
    parameters: list[str] | None,
    start: datetime | None,
    end: datetime | None,
    aggregation: str = "raw",
    limit: int | None = 10_000,
    scope: Scope = None,
) -> dict:
    """Observations for the API/CLI. Daily means use each station's own city's local days; times are
    ISO 8601 UTC with "Z". ``truncated`` tells when ``limit`` cut the answer (continue from the last time)."""
    from nagar.core.units import normalise_parameter
    from nagar.registry.service import get_city, get_station

    for t, name in ((start, "start"), (end, "end")):
        if t is not None and t.tzinfo is None:
            raise InvalidInput(f"{name} must include a UTC offset", field=name)
    if start and end and end <= start:
        raise InvalidInput("end must be after start", field="end")
    if city is not None:
        get_city(store, city_id=city, scope=scope)
    for s in stations or []:
        st = get_station(store, station_id=s, scope=scope)
        if city is not None and st["city"] != city:
            raise InvalidInput(f"station {s!r} is not in city {city!r}", field="station")
    params = None
    if parameters:
        params = []
        for p in parameters:
            k = normalise_parameter(p)
            if k is None:
                raise InvalidInput(f"unknown parameter {p!r}", field="parameter")
            params.append(k)
    tbl = store.observations(stations=stations, city=city, parameters=params, start=start, end=end,
                             aggregation=aggregation, limit=limit, scope=scope)
    rows = tbl.to_pylist()
    for r in rows:
        if r.get("time") is not None:
            r["time"] = r["time"].astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
        if r.get("date") is not None:
            r["date"] = r["date"].isoformat()
    return {"aggregation": aggregation, "days": "local days of each station's city",
            "count": len(rows), "limit": limit, "truncated": limit is not None and len(rows) >= limit,
            "items": rows}
