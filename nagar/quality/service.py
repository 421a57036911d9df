"""Data quality over the store: run the detectors of :mod:`nagar.quality.detect` on stored readings,
record the faults, flag the readings through the store's one write path, and let operators override.

Every finding is recorded in ``quality_faults`` with its severity (:data:`detect.SEVERITIES`). Flags are
kept *with* the observation: a reading with a ``suspect`` or ``invalid`` finding keeps its raw value and
gets that flag (the worst of its findings), so the air service's aggregates and AQI leave it out
(``nagar.store.base.COUNTED_FLAGS``). A ``notice`` (a reading off its series' clock, a burst) is recorded
and shown but changes no flag: the reading stays in its hour's mean and the AQI. A flag is only ever
raised here (valid/estimated -> suspect -> invalid), never lowered, except by an operator's override
(audited), which re-detection respects: an overridden reading is never flagged again.

As data arrives, :class:`QualityWatcher` (a ``store.on_write`` listener) re-examines only the written
stations' recent window; its own flag rewrites are recognised and ignored, so it cannot loop.
"""

from __future__ import annotations

import logging
import queue
import threading
import time as _time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import numpy as np
import polars as pl
import pyarrow as pa

from nagar.core.errors import InvalidInput, NotFound
from nagar.core.tenancy import Scope
from nagar.registry.service import get_city, get_station
from nagar.store.base import FLAGS, OBSERVATION_SCHEMA, Store

from . import detect

log = logging.getLogger("nagar.quality")

DETECTORS = {
    "stuck": "flat-run/v1",
    "spike": "hampel+rate/v1",
    "out_of_range": "range/v1",
    "drift": "neighbour-theil-sen/v1",
    "timestamp": "clock/v2",
}
"""Detector versions recorded with each fault. clock/v2: off-cadence readings and bursts are notices
(clock/v1 flagged them suspect, which left real readings out of their hour's mean and the AQI)."""
FLAGGING = ("suspect", "invalid")
"""Severities that are also the reading's flag; a ``notice`` changes no flag."""
MAX_SCAN = timedelta(days=400)
DRIFT_CONTEXT = timedelta(days=28)
"""Drift needs a history before the scanned period: two windows of 14 days."""
CONTEXT = timedelta(hours=24)
"""Around a scanned period, for the flat-run and Hampel windows."""

_local = threading.local()


def _rewriting() -> bool:
    return getattr(_local, "active", False)


def _utc(t: datetime | None, name: str = "time") -> datetime | None:
    """``t`` in UTC; refuses naive times and years outside 1900-2200 (no sensor reading is there, and the
    windows around a time must not overflow the calendar)."""
    if t is None:
        return None
    if t.tzinfo is None or t.utcoffset() is None:
        raise InvalidInput(f"{name} must include a UTC offset", field=name)
    if not 1900 <= t.year <= 2200:
        raise InvalidInput(f"{name} must lie between the years 1900 and 2200", field=name)
    return t.astimezone(timezone.utc)


def _us(t: datetime) -> int:
    return int(_utc(t).timestamp() * 1_000_000)


def _from_us(us: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=int(us))


# ---------------------------------------------------------------------------------------------
# detection over a frame of readings (pure)
# ---------------------------------------------------------------------------------------------


@dataclass
class Fault:
    station: str
    parameter: str
    time_us: int
    kind: str
    severity: str
    value: float
    detail: str

    def key(self) -> tuple[str, str, int]:
        return self.station, self.parameter, self.time_us


def detect_frame(obs: pl.DataFrame, *, stations: list[dict], now_us: int,
                 kinds: tuple[str, ...] = detect.KINDS, drift: detect.DriftParams = detect.DriftParams(),
                 ) -> list[Fault]:
    """All faults in ``obs`` (columns station, parameter, us (int64 µs UTC), value, flag).

    ``stations`` (id, lat, lon, city) locates neighbours for the drift test. Readings already flagged
    suspect/invalid are still examined (their faults are recorded) but are left out of the neighbour
    medians. Each fault's severity is set here per detector (``invalid`` for out-of-range values,
    ``notice`` for off-cadence readings and bursts, ``suspect`` otherwise); a notice neither explains a
    PM2.5/PM10 inconsistency nor keeps a reading out of the drift comparison.
    """
    out: list[Fault] = []
    if obs.height == 0:
        return out
    obs = obs.sort("station", "parameter", "us")
    for (st, par), g in obs.group_by(["station", "parameter"], maintain_order=True):
        t = g.get_column("us").to_numpy()
        v = g.get_column("value").to_numpy().astype(float)

        def add(mask, details, kind, severity="suspect"):
            for i, d in zip(np.flatnonzero(mask), details):
                out.append(Fault(st, par, int(t[i]), kind, severity, float(v[i]), d))

        if "out_of_range" in kinds:
            add(*detect.out_of_range(v, par), "out_of_range", "invalid")
        if "stuck" in kinds:
            add(*detect.stuck(t, v, par), "stuck")
        if "spike" in kinds:
            add(*detect.spikes(t, v, par), "spike")
        if "timestamp" in kinds:
            add(*detect.future_times(t, now_us=now_us), "timestamp")
            add(*detect.off_cadence(t, now_us=now_us), "timestamp", "notice")
    if "out_of_range" in kinds:
        out.extend(_pm_pairs(obs, explained={f.key() for f in out if f.severity in FLAGGING}))
    if "drift" in kinds:
        out.extend(_drift(obs, stations, drift, already={f.key() for f in out if f.severity in FLAGGING}))
    return out


def _pm_pairs(obs: pl.DataFrame, explained: set) -> list[Fault]:
    """PM2.5 > PM10 pairs, except where either reading already has a fault (the spike or the stuck
    value explains the inconsistency; flagging its partner too would only add a false alarm)."""
    a = obs.filter(pl.col("parameter") == "pm25").select("station", "us", pl.col("value").alias("pm25"))
    b = obs.filter(pl.col("parameter") == "pm10").select("station", "us", pl.col("value").alias("pm10"))
    j = a.join(b, on=["station", "us"], how="inner")
    if j.height == 0:
        return []
    bad = detect.pm25_above_pm10(j.get_column("pm25").to_numpy(), j.get_column("pm10").to_numpy())
    out = []
    for st, us, x25, x10 in j.filter(pl.Series(bad)).iter_rows():
        if (st, "pm25", int(us)) in explained or (st, "pm10", int(us)) in explained:
            continue
        d = f"PM2.5 {x25:g} above PM10 {x10:g} at the same station and time"
        out.append(Fault(st, "pm25", int(us), "out_of_range", "suspect", float(x25), d))
        out.append(Fault(st, "pm10", int(us), "out_of_range", "suspect", float(x10), d))
    return out


def _drift(obs: pl.DataFrame, stations: list[dict], p: detect.DriftParams, already: set) -> list[Fault]:
    """Station vs neighbour-median log-ratio per UTC day, then :func:`detect.drift_days` per station."""
    out: list[Fault] = []
    loc = {s["id"]: s for s in stations if s.get("lat") is not None and s.get("lon") is not None}
    # compare only readings nothing else has found wrong (flagged before, or by this scan's detectors)
    bad = pl.DataFrame({"station": [k[0] for k in already], "parameter": [k[1] for k in already],
                        "us": [k[2] for k in already]}, schema={"station": pl.String, "parameter": pl.String,
                                                                 "us": pl.Int64})
    counted = (obs.filter(pl.col("flag").is_in(["valid", "estimated"]) & (pl.col("value") >= 0))
               .join(bad, on=["station", "parameter", "us"], how="anti"))
    for par in counted.get_column("parameter").unique().sort().to_list():
        if par not in detect.DRIFT_PARAMETERS:
            continue
        h = (counted.filter(pl.col("parameter") == par)
             .with_columns((pl.col("us") // detect.HOUR_US * detect.HOUR_US).alias("hour"))
             .group_by("station", "hour").agg(pl.col("value").mean()))
        ids = sorted(set(h.get_column("station").to_list()) & set(loc))
        if len(ids) < p.min_neighbours + 1:
            continue
        wide = h.pivot(on="station", index="hour", values="value").sort("hour")
        hours = wide.get_column("hour").to_numpy()
        M = np.column_stack([wide.get_column(s).to_numpy().astype(float) if s in wide.columns
                             else np.full(len(hours), np.nan) for s in ids])
        lat = np.array([loc[s]["lat"] for s in ids], dtype=float)
        lon = np.array([loc[s]["lon"] for s in ids], dtype=float)
        days = hours // (24 * detect.HOUR_US)
        uday, dpos = np.unique(days, return_inverse=True)
        for k, st in enumerate(ids):
            near = (detect.haversine_km(lat[k], lon[k], lat, lon) <= p.radius_km)
            near[k] = False
            if near.sum() < p.min_neighbours:
                continue
            nb = M[:, near]
            enough = np.sum(np.isfinite(nb), axis=1) >= p.min_neighbours
            med = np.full(len(hours), np.nan)
            if enough.any():
                med[enough] = np.nanmedian(nb[enough], axis=1)
            r = np.log((M[:, k] + p.offset) / (med + p.offset))
            daily = np.full(len(uday), np.nan)
            ok = np.isfinite(r)
            if not ok.any():
                continue
            frame = pl.DataFrame({"d": dpos[ok], "r": r[ok]}).group_by("d").agg(pl.col("r").median(), pl.len())
            frame = frame.filter(pl.col("len") >= 12)
            daily[frame.get_column("d").to_numpy()] = frame.get_column("r").to_numpy()
            flag, level = detect.drift_days(daily, p)
            if not flag.any():
                continue
            g = obs.filter((pl.col("station") == st) & (pl.col("parameter") == par))
            gd = g.get_column("us").to_numpy() // (24 * detect.HOUR_US)
            fd = set(uday[flag].tolist())
            lev = dict(zip(uday[flag].tolist(), level[flag].tolist()))
            for us, val, dd in zip(g.get_column("us").to_numpy(), g.get_column("value").to_numpy(), gd):
                if dd in fd and (st, par, int(us)) not in already:
                    pct = (np.exp(lev[dd]) - 1) * 100
                    out.append(Fault(st, par, int(us), "drift", "suspect", float(val),
                                     f"ratio to the median of {int(near.sum())} neighbours within {p.radius_km:g} km "
                                     f"moved {pct:+.0f} % (Theil-Sen over {p.window_days} days)"))
    return out


# ---------------------------------------------------------------------------------------------
# store side
# ---------------------------------------------------------------------------------------------


def _load(store: Store, *, city: str, stations: list[str] | None, start: datetime | None, end: datetime | None,
          scope: Scope = None) -> pl.DataFrame:
    tbl = store.observations(city=city, stations=stations, start=start, end=end, aggregation="raw",
                             include_flagged=True, scope=scope)
    df = pl.from_arrow(tbl)
    if df.height == 0:
        return pl.DataFrame(schema={"station": pl.String, "parameter": pl.String, "us": pl.Int64,
                                    "value": pl.Float64, "unit": pl.String, "flag": pl.String})
    return df.with_columns(pl.col("time").dt.epoch("us").alias("us")).drop("time")


@dataclass
class ScanResult:
    city: str
    start: datetime | None
    end: datetime | None
    readings: int = 0
    faults: int = 0
    new_faults: int = 0
    notices: int = 0
    flagged: int = 0
    skipped_overridden: int = 0
    by_kind: dict = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {k: (v.isoformat().replace("+00:00", "Z") if isinstance(v, datetime) else v)
                for k, v in self.__dict__.items()}


def _apply(store: Store, *, city: str, obs: pl.DataFrame, faults: list[Fault], start_us: int | None,
           end_us: int | None, now: datetime, res: ScanResult) -> None:
    """Record the faults inside [start, end), skip overridden readings, raise the readings' flags."""
    if start_us is not None or end_us is not None:
        lo = start_us if start_us is not None else -(2 ** 62)
        hi = end_us if end_us is not None else 2 ** 62
        faults = [f for f in faults if lo <= f.time_us < hi]
    if not faults:
        return
    sts = sorted({f.station for f in faults})
    t0 = min(f.time_us for f in faults)
    t1 = max(f.time_us for f in faults)
    overridden = {(o["station"], o["parameter"], _us(o["time"]))
                  for o in store.quality_overrides(stations=sts, start=_from_us(t0), end=_from_us(t1 + 1))}
    kept = [f for f in faults if f.key() not in overridden]
    res.skipped_overridden += len(faults) - len(kept)
    res.faults += len(kept)
    for f in kept:
        res.by_kind[f.kind] = res.by_kind.get(f.kind, 0) + 1
        res.notices += f.severity == "notice"
    rows = [{"city": city, "station": f.station, "parameter": f.parameter, "time": _from_us(f.time_us),
             "kind": f.kind, "severity": f.severity, "value": f.value, "detail": f.detail[:500],
             "detector": DETECTORS[f.kind], "detected_at": now} for f in kept]
    res.new_faults += store.add_quality_faults(rows)
    # the flag each reading should carry: the worst severity of its faults (notices change no flag)
    want: dict[tuple, str] = {}
    for f in kept:
        if f.severity in FLAGGING and FLAGS.index(f.severity) > FLAGS.index(want.get(f.key(), "valid")):
            want[f.key()] = f.severity
    if not want:
        return
    cur = obs.select("station", "parameter", "us", "value", "unit", "flag")
    keys = pl.DataFrame({"station": [k[0] for k in want], "parameter": [k[1] for k in want],
                         "us": [k[2] for k in want], "new": list(want.values())},
                        schema={"station": pl.String, "parameter": pl.String, "us": pl.Int64, "new": pl.String})
    j = cur.join(keys, on=["station", "parameter", "us"], how="inner")
    rank = {f: i for i, f in enumerate(FLAGS)}
    j = j.filter(pl.col("new").replace_strict(rank, return_dtype=pl.Int64)
                 > pl.col("flag").replace_strict(rank, return_dtype=pl.Int64))
    if j.height == 0:
        return
    batch = pa.table({
        "station": j.get_column("station").to_arrow(),
        "parameter": j.get_column("parameter").to_arrow(),
        "time": pa.array(j.get_column("us").to_numpy(), pa.timestamp("us", tz="UTC")),
        "value": j.get_column("value").to_arrow(),
        "unit": j.get_column("unit").to_arrow(),
        "flag": j.get_column("new").to_arrow(),
    }).cast(OBSERVATION_SCHEMA)
    write_flags(store, batch)
    res.flagged += batch.num_rows


def write_flags(store: Store, batch: pa.Table) -> None:
    """Rewrite readings (same values, new flags) through the store's one write path, marked as the
    quality service's own write so that :class:`QualityWatcher` ignores it."""
    _local.active = True
    try:
        store.write_observations(batch)
    finally:
        _local.active = False


def scan(store: Store, *, city: str, start: datetime | None = None, end: datetime | None = None,
         stations: list[str] | None = None, kinds: tuple[str, ...] = detect.KINDS, now: datetime | None = None,
         scope: Scope = None) -> ScanResult:
    """Examine a city's readings in [start, end) (default: all), record faults and flag the readings."""
    t_start = _time.perf_counter()
    c = get_city(store, city_id=city, scope=scope)
    start, end = _utc(start, "start"), _utc(end, "end")
    if start is not None and end is not None:
        if end <= start:
            raise InvalidInput("end must be after start", field="end")
        if end - start > MAX_SCAN:
            raise InvalidInput(f"a scan covers at most {MAX_SCAN.days} days; scan in parts", field="end")
    unknown = kinds and [k for k in kinds if k not in detect.KINDS]
    if unknown:
        raise InvalidInput(f"unknown fault kind(s): {', '.join(unknown)}; kinds are {', '.join(detect.KINDS)}",
                           field="kinds")
    now = _utc(now) or datetime.now(timezone.utc)
    meta = store.list_stations(city=city, scope=scope)
    if stations is not None:
        known = {s["id"] for s in meta}
        bad = [s for s in stations if s not in known]
        if bad:
            raise NotFound(f"no station {bad[0]!r} in city {city!r}", field="station")
    ctx = DRIFT_CONTEXT if "drift" in kinds else CONTEXT
    lstart = start - ctx if start is not None else None
    lend = end + CONTEXT if end is not None else None
    # drift compares with neighbours: load the whole city even when only some stations are examined
    obs = _load(store, city=c["id"], stations=None if "drift" in kinds else stations, start=lstart, end=lend,
                scope=scope)
    res = ScanResult(city=c["id"], start=start, end=end)
    if obs.height:
        faults = detect_frame(obs, stations=meta, now_us=_us(now), kinds=kinds)
        if stations is not None:
            faults = [f for f in faults if f.station in set(stations)]
        mine = obs if stations is None else obs.filter(pl.col("station").is_in(stations))
        res.readings = int(mine.filter(pl.col("us") >= (_us(start) if start else -(2 ** 62)))
                           .filter(pl.col("us") < (_us(end) if end else 2 ** 62)).height)
        _apply(store, city=c["id"], obs=obs, faults=faults, start_us=_us(start) if start else None,
               end_us=_us(end) if end else None, now=now, res=res)
    res.seconds = round(_time.perf_counter() - t_start, 3)
    return res


def override(store: Store, *, station: str, parameter: str, time: datetime, reason: str, actor: str,
             scope: Scope = None, now: datetime | None = None) -> dict:
    """Mark one reading valid again (an operator's verdict), audited; re-detection will not flag it."""
    from nagar.security import audit

    if not reason or not reason.strip():
        raise InvalidInput("an override needs a reason", field="reason")
    st = get_station(store, station_id=station, scope=scope)
    t = _utc(time)
    tbl = store.observations(stations=[station], parameters=[parameter], start=t, end=t + timedelta(microseconds=1),
                             include_flagged=True, scope=scope)
    if tbl.num_rows == 0:
        raise NotFound(f"no {parameter} reading of {station} at {t.isoformat()}", field="time")
    row = tbl.to_pylist()[0]
    now = _utc(now) or datetime.now(timezone.utc)
    store.put_quality_override({"city": st["city"], "station": station, "parameter": parameter, "time": t,
                                "flag": "valid", "reason": reason.strip()[:500], "actor": actor, "created_at": now})
    if row["flag"] != "valid":
        write_flags(store, pa.table({"station": [station], "parameter": [parameter],
                                     "time": pa.array([t], pa.timestamp("us", tz="UTC")), "value": [row["value"]],
                                     "unit": [row["unit"]], "flag": ["valid"]}).cast(OBSERVATION_SCHEMA))
    audit.record(store, actor=actor, action="quality.override", city=st["city"],
                 target=f"observation:{station}/{parameter}/{t.isoformat()}",
                 details={"from": row["flag"], "to": "valid", "reason": reason.strip()[:500]})
    return {"station": station, "parameter": parameter, "time": t, "value": row["value"], "previous_flag": row["flag"],
            "flag": "valid", "reason": reason.strip()[:500], "actor": actor, "created_at": now}


def faults(store: Store, *, city: str, station: str | None = None, parameter: str | None = None,
           kind: str | None = None, start: datetime | None = None, end: datetime | None = None,
           limit: int = 500, offset: int = 0, scope: Scope = None) -> list[dict]:
    """A city's findings, newest first, each with its ``severity`` (``notice``: recorded only, the
    reading still counted; ``suspect`` / ``invalid``: the flag the reading was given) and its override."""
    get_city(store, city_id=city, scope=scope)
    if station is not None:
        st = get_station(store, station_id=station, scope=scope)
        if st["city"] != city:
            raise NotFound(f"no station {station!r} in city {city!r}", field="station")
    if kind is not None and kind not in detect.KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(detect.KINDS)}", field="kind")
    rows = store.quality_faults(city=city, station=station, parameter=parameter, kind=kind, start=_utc(start),
                                end=_utc(end), limit=limit, offset=offset, scope=scope)
    for r in rows:
        actor, reason, at = r.pop("override_actor"), r.pop("override_reason"), r.pop("override_at")
        r["overridden"] = None if actor is None else {"actor": actor, "reason": reason, "at": at}
    return rows


def summary(store: Store, *, city: str, start: datetime | None = None, end: datetime | None = None,
            scope: Scope = None) -> dict:
    """Per station of a city: finding counts by kind (``total``), how many of them are notices (the
    reading's flag left alone, so ``total - notices`` readings × kinds were flagged) and how many were
    overridden."""
    c = get_city(store, city_id=city, scope=scope)
    counts = store.quality_fault_counts(city=city, start=_utc(start), end=_utc(end), scope=scope)

    def empty(station: str, name: str) -> dict:
        return {"station": station, "name": name, "total": 0, "notices": 0, "overridden": 0,
                "by_kind": {k: 0 for k in detect.KINDS}}

    by: dict[str, dict] = {s["id"]: empty(s["id"], s["name"]) for s in store.list_stations(city=city, scope=scope)}
    for r in counts:
        item = by.setdefault(r["station"], empty(r["station"], r["station"]))
        item["by_kind"][r["kind"]] = item["by_kind"].get(r["kind"], 0) + r["n"]
        item["total"] += r["n"]
        item["notices"] += r["notices"]
        item["overridden"] += r["overridden"]
    return {"city": c["id"], "kinds": list(detect.KINDS), "severities": list(detect.SEVERITIES),
            "items": list(by.values())}


def series(store: Store, *, city: str, station: str, parameter: str, start: datetime, end: datetime,
           scope: Scope = None) -> dict:
    """A station's raw readings of one parameter with their flags, and its faults, for the chart."""
    st = get_station(store, station_id=station, scope=scope)
    if st["city"] != city:
        raise NotFound(f"no station {station!r} in city {city!r}", field="station")
    start, end = _utc(start, "start"), _utc(end, "end")
    if end <= start:
        raise InvalidInput("end must be after start", field="end")
    if end - start > MAX_SCAN:
        raise InvalidInput(f"at most {MAX_SCAN.days} days", field="end")
    tbl = store.observations(stations=[station], parameters=[parameter], start=start, end=end,
                             include_flagged=True, scope=scope)
    fl = store.quality_faults(city=city, station=station, parameter=parameter, start=start, end=end,
                              limit=100000, scope=scope)
    kinds: dict[datetime, list[str]] = {}
    for f in fl:
        kinds.setdefault(f["time"], []).append(f["kind"])
    points = [{"time": r["time"], "value": r["value"], "flag": r["flag"], "kinds": sorted(kinds.get(r["time"], []))}
              for r in tbl.to_pylist()]
    return {"city": city, "station": station, "parameter": parameter, "unit": tbl.column("unit")[0].as_py()
            if tbl.num_rows else None, "points": points}


# ---------------------------------------------------------------------------------------------
# as data arrives
# ---------------------------------------------------------------------------------------------

STREAM_KINDS = ("stuck", "spike", "out_of_range", "timestamp")
"""Kinds re-examined on every write. Drift needs weeks of the neighbours' data: the watcher examines a
city's last two days for drift at most once a day (:data:`DRIFT_EVERY`), and batch scans do the rest."""
DRIFT_EVERY = timedelta(hours=24)
STREAM_LOOKBACK = timedelta(hours=48)
DEVICE_PUSH_ROWS = 10_000
"""Batches up to this size are treated as device pushes for the out-of-order test; larger ones are
archive imports (a file or a backfill), whose age says nothing about the device's clock."""


class QualityWatcher:
    """A ``store.on_write`` listener that re-examines the written stations' recent readings.

    ``background=True`` (the app): batches are queued and examined by one worker thread, so a write's
    caller never waits for detection. ``background=False`` (the CLI): written spans are collected and
    examined when :meth:`drain` is called (once, after a file is loaded). Its own flag rewrites
    (:func:`write_flags`) are recognised and ignored, so detection never loops on itself.
    """

    def __init__(self, store: Store, *, background: bool = True, lookback: timedelta = STREAM_LOOKBACK,
                 now=None):
        self.store = store
        self.background = background
        self.lookback = lookback
        self._now = now or (lambda: datetime.now(timezone.utc))
        self._pending: dict[str, list[int]] = {}  # station -> [min us, max us]
        self._last_push: dict[tuple[str, str], int] = {}
        self._drift_checked: dict[str, datetime] = {}
        self._lock = threading.Lock()
        self._queue: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self.scans = 0
        self.errors = 0

    # listener ---------------------------------------------------------------------------------
    def __call__(self, batch: pa.Table) -> None:
        if _rewriting() or batch.num_rows == 0:
            return
        df = pl.from_arrow(batch.select(["station", "parameter", "time", "value", "unit", "flag"]))
        df = df.with_columns(pl.col("time").dt.epoch("us").alias("us"))
        order_faults = self._out_of_order(df) if batch.num_rows <= DEVICE_PUSH_ROWS else []
        spans = df.group_by("station").agg(pl.col("us").min().alias("lo"), pl.col("us").max().alias("hi"))
        with self._lock:
            for st, lo, hi in spans.iter_rows():
                cur = self._pending.get(st)
                self._pending[st] = [min(lo, cur[0]), max(hi, cur[1])] if cur else [lo, hi]
        if order_faults:
            if self.background:
                self._queue.put(("order", order_faults))
            else:
                self._record_order(order_faults)
        if self.background:
            self._queue.put(("scan", None))
            self._ensure_thread()

    def _out_of_order(self, df: pl.DataFrame) -> list[tuple]:
        out = []
        for (st, par), g in df.group_by(["station", "parameter"], maintain_order=True):
            t = g.get_column("us").to_numpy()
            last = self._last_push.get((st, par))  # pushes seen since this watcher started
            bad = detect.out_of_order(t, last)
            newest = int(t.max()) if last is None else max(last, int(t.max()))
            self._last_push[(st, par)] = newest
            vals = g.get_column("value").to_numpy()
            for i in np.flatnonzero(bad):
                out.append((st, par, int(t[i]), float(vals[i])))
        return out

    def _record_order(self, items: list[tuple]) -> None:
        by_city: dict[str, list] = {}
        cities = self.store.existing_stations({i[0] for i in items})
        for st, par, us, val in items:
            by_city.setdefault(cities.get(st), []).append(Fault(
                st, par, us, "timestamp", "suspect", val,
                "out of order: more than 72 h before the device's newest earlier push"))
        for city, fs in by_city.items():
            if city is None:
                continue
            obs = _load(self.store, city=city, stations=sorted({f.station for f in fs}),
                        start=_from_us(min(f.time_us for f in fs)), end=_from_us(max(f.time_us for f in fs) + 1))
            _apply(self.store, city=city, obs=obs, faults=fs, start_us=None, end_us=None, now=self._now(),
                   res=ScanResult(city=city, start=None, end=None))

    # work -------------------------------------------------------------------------------------
    def drain(self) -> list[ScanResult]:
        """Examine every station written since the last drain (their window, lookback included)."""
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return []
        cities = self.store.existing_stations(pending)
        groups: dict[str, list[str]] = {}
        for st, city in cities.items():
            groups.setdefault(city, []).append(st)
        out = []
        for city, sts in groups.items():
            lo = min(pending[s][0] for s in sts)
            hi = max(pending[s][1] for s in sts)
            start = _from_us(lo) - self.lookback
            end = _from_us(hi) + timedelta(hours=1)
            if end - start > MAX_SCAN:
                start = end - MAX_SCAN
            out.append(scan(self.store, city=city, stations=sorted(sts), start=start, end=end,
                            kinds=STREAM_KINDS, now=self._now()))
            self.scans += 1
            now = self._now()
            if now - self._drift_checked.get(city, datetime.min.replace(tzinfo=timezone.utc)) >= DRIFT_EVERY:
                self._drift_checked[city] = now
                out.append(scan(self.store, city=city, start=end - timedelta(days=2), end=end, kinds=("drift",),
                                now=now))
        return out

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="nagar-quality", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                if item[0] == "order":
                    self._record_order(item[1])
                else:
                    self.drain()  # examines everything written so far: later "scan" items find little
            except Exception:  # detection must never take the server down; logged and counted
                self.errors += 1
                log.exception("quality examination failed")
            finally:
                self._queue.task_done()

    def join(self) -> None:
        """Wait until every queued batch has been examined (tests, shutdown)."""
        if self.background:
            self._queue.join()
        else:
            self.drain()

    def stop(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=30)


def attach(store: Store, *, background: bool = True) -> QualityWatcher:
    """Create a watcher and register it with ``store.on_write``."""
    w = QualityWatcher(store, background=background)
    store.on_write(w)
    return w


def data_cities(store: Store) -> list[str]:
    """Cities that have stations (the ones a scan can examine)."""
    return sorted({s["city"] for s in store.list_stations()})
