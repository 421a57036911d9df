"""Water-quality operations shared by the API and the CLI: stations, lab samples, objective sets, the
CCME WQI per station and period, exceedance listings and a parameter's history against its limit.

Keyword-only, the store first; ``scope`` limits what a caller sees (None: all cities). Writes take the
caller's ``actor`` and are audited; the caller has checked the right to write in the city.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from nagar.core.errors import InvalidInput, NotFound, StoreError
from nagar.core.tenancy import Scope
from nagar.ingest.validate import Rejection
from nagar.registry.service import get_city
from nagar.security import audit

from . import objectives as objx
from .parameters import PARAMETERS, factor, resolve
from .wqi import CATEGORIES, CATEGORY_COLOURS, CATEGORY_KEYS, ccme_wqi, excursions

PERIODS = ("all", "year", "quarter", "month")
MAX_SAMPLES_PER_LOAD = 100_000


def _tables(store):
    if not hasattr(store, "water_samples"):
        raise StoreError("this store has no water tables (nagar.store.water_tables.WaterTables)")
    return store


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _num(x) -> float | None:
    x = float(x)
    return None if math.isnan(x) or math.isinf(x) else round(x, 4)


# stations ---------------------------------------------------------------------------------------------
def put_stations(store, *, city: str, stations: list[dict], actor: str) -> dict:
    get_city(store, city_id=city)
    rows = []
    for i, s in enumerate(stations):
        sid = str(s.get("id") or "").strip()
        if not sid:
            raise InvalidInput(f"stations[{i}]: id is required", field=f"stations.{i}.id")
        for k, lim in (("lat", 90), ("lon", 180)):
            v = s.get(k)
            if v is not None and (not isinstance(v, (int, float)) or not math.isfinite(v) or abs(v) > lim):
                raise InvalidInput(f"stations[{i}]: {k} out of range", field=f"stations.{i}.{k}")
        rows.append({**s, "id": sid, "city": city})
    try:
        inserted, updated = _tables(store).upsert_water_stations(rows, actor=actor, now=_now())
    except ValueError as exc:
        from nagar.core.errors import Conflict

        raise Conflict(str(exc), field="id") from None
    audit.record(store, actor=actor, action="water.stations.put", city=city,
                 details={"inserted": inserted, "updated": updated, "ids": [r["id"] for r in rows][:50]})
    return {"city": city, "inserted": inserted, "updated": updated}


def list_stations(store, *, city: str, scope: Scope = None) -> list[dict]:
    get_city(store, city_id=city, scope=scope)
    return _tables(store).water_stations(city=city, scope=scope)


def _station(store, *, city: str, station: str, scope: Scope) -> dict:
    rows = _tables(store).water_stations(city=city, ids=[station], scope=scope)
    if not rows:
        raise NotFound(f"no water station {station!r} in {city}", field="station")
    return rows[0]


# samples ----------------------------------------------------------------------------------------------
def _parse_time(v, where: str) -> datetime:
    if isinstance(v, datetime):
        t = v
    else:
        s = str(v or "").strip()
        if len(s) == 10:  # a date alone: the lab's sampling day, taken at 00:00 UTC
            s += "T00:00:00+00:00"
        try:
            t = datetime.fromisoformat(s.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInput(f"{where}: {v!r} is not an ISO 8601 time", field=where) from None
    if t.tzinfo is None:
        raise InvalidInput(f"{where}: give a UTC offset (e.g. 2024-01-15T10:00:00+06:00) or a date", field=where)
    return t.astimezone(timezone.utc)


def check_samples(store, *, city: str, rows: list[tuple[int, dict]], now: datetime | None = None,
                  max_future: timedelta = timedelta(minutes=10)) -> tuple[list[dict], list[Rejection]]:
    """Validate lab results and convert them to canonical units, row by row: ``rows`` are (index, row) with
    the index each rejection names (the list index for the API, the file line for a CSV). Returns the
    good rows and one :class:`~nagar.ingest.validate.Rejection` per bad row (its first failing rule, as
    ingest's validator does): station, parameter, value, qualifier, time (with a UTC offset, not more
    than ``max_future`` ahead of ``now``: the observations' rule, ``Settings.max_future_minutes``), unit,
    plausible range."""
    now = now or _now()
    future = now + max_future
    known = {s["id"] for s in _tables(store).water_stations(city=city)}
    factors: dict[tuple[str, str | None], float | str] = {}
    good: list[dict] = []
    bad: list[Rejection] = []
    for i, r in rows:
        try:
            st = str(r.get("station") or "").strip()
            if not st:
                raise _Reject("station", "station is missing")
            if st not in known:
                raise _Reject("station", f"no water station {st!r} in {city} (add it first)")
            try:
                p = resolve(r.get("parameter") or "")
            except InvalidInput as exc:
                raise _Reject("parameter", exc.message) from None
            raw = r.get("value")
            qualifier = str(r.get("qualifier") or "").strip()
            if isinstance(raw, str) and raw.strip().startswith("<"):
                qualifier, raw = "<", raw.strip()[1:]
            try:
                v = float(raw)
            except (TypeError, ValueError):
                raise _Reject("value", f"value {raw!r} is not a number") from None
            if not math.isfinite(v):
                raise _Reject("value", "value must be finite")
            if qualifier not in ("", "<"):
                raise _Reject("qualifier", "qualifier must be empty or '<'")
            t = _parse_time(r.get("time"), "time")
            if t > future:
                raise _Reject("time", f"time {t.isoformat().replace('+00:00', 'Z')} is more than "
                                      f"{int(max_future.total_seconds() // 60)} minutes in the future")
            unit = r.get("unit")
            key = (p.key, unit)
            if key not in factors:
                try:
                    factors[key] = factor(p.key, unit)
                except InvalidInput as exc:
                    factors[key] = exc.message
            f = factors[key]
            if isinstance(f, str):
                raise _Reject("unit", f)
            c = v * f
            if not p.min_value <= c <= p.max_value:
                raise _Reject("value", f"{p.key} {v:g}{' ' + str(unit) if unit else ''} is outside the plausible "
                                       f"range {p.min_value:g}-{p.max_value:g} {p.unit}")
        except _Reject as rej:
            bad.append(Rejection(i, rej.field, rej.reason))
            continue
        except InvalidInput as exc:  # _parse_time
            bad.append(Rejection(i, "time", exc.message.removeprefix("time: ")))
            continue
        good.append({"station": st, "parameter": p.key, "time": t, "value": float(c), "qualifier": qualifier,
                     "source": (str(r["source"])[:500] if r.get("source") else None)})
    return good, bad


class _Reject(Exception):
    def __init__(self, field: str, reason: str):
        self.field, self.reason = field, reason


def _max_future(settings) -> timedelta:
    from nagar.core.settings import get_settings

    return timedelta(minutes=(settings or get_settings()).max_future_minutes)


def clean_samples(store, *, city: str, rows: list[dict], now: datetime | None = None,
                  max_future: timedelta = timedelta(minutes=10)) -> list[dict]:
    """Validate and convert a JSON batch, all or nothing: InvalidInput names the first bad row
    (``samples.<index>``, 0-based) and lists every bad row in ``details``."""
    if not rows:
        raise InvalidInput("no samples given", field="samples")
    if len(rows) > MAX_SAMPLES_PER_LOAD:
        raise InvalidInput(f"at most {MAX_SAMPLES_PER_LOAD} samples per load", field="samples")
    good, bad = check_samples(store, city=city, rows=list(enumerate(rows)), now=now, max_future=max_future)
    if bad:
        first = bad[0]
        more = f" (and {len(bad) - 1} more bad row{'s' if len(bad) > 2 else ''}: see details)" if len(bad) > 1 else ""
        raise InvalidInput(f"samples.{first.index}: {first.reason}{more}; nothing was stored",
                           field=f"samples.{first.index}.{first.field}",
                           details=[{"field": f"samples.{b.index}.{b.field}", "reason": b.reason} for b in bad])
    return good


def _store_samples(store, *, city: str, clean: list[dict], received: int, actor: str, **extra) -> tuple[int, int]:
    inserted, updated = _tables(store).upsert_water_samples(clean) if clean else (0, 0)
    audit.record(store, actor=actor, action="water.samples.load", city=city,
                 details={"received": received, "inserted": inserted, "updated": updated, **extra})
    if clean:
        from nagar.alerts.service import samples_written

        samples_written(store, city=city, rows=clean)
    return inserted, updated


def load_samples(store, *, city: str, rows: list[dict], actor: str, settings=None,
                 now: datetime | None = None) -> dict:
    """Validate, convert and upsert a batch of samples, all or nothing (the API's and the demo's path);
    audited; then hands them to the alert rules of kind water. ``settings`` gives ``max_future_minutes``
    (default: the process's settings)."""
    get_city(store, city_id=city)
    clean = clean_samples(store, city=city, rows=rows, now=now, max_future=_max_future(settings))
    inserted, updated = _store_samples(store, city=city, clean=clean, received=len(rows), actor=actor)
    return {"city": city, "received": len(rows), "inserted": inserted, "updated": updated}


SAMPLE_COLUMNS = {"station", "parameter", "time", "value"}


def load_samples_file(store, *, city: str, path, actor: str, settings=None, now: datetime | None = None,
                      max_errors: int = 1000) -> dict:
    """Load a CSV of samples (header ``station,parameter,time,value[,unit,qualifier,source]``, plain or
    gzip) the way ``nagar ingest`` loads observations: the good rows are stored, every bad row is
    reported with its file line (the header is line 1) and reason (``errors``: the first ``max_errors``;
    ``rejected`` counts them all). A file that cannot be read (not UTF-8, missing columns) stores nothing."""
    from nagar.ingest.files import read_csv_table

    get_city(store, city_id=city)
    rows: list[tuple[int, dict]] = []
    bad: list[Rejection] = []
    for fb in read_csv_table(path, required=SAMPLE_COLUMNS):
        bad += [Rejection(m.line, "line", f"malformed CSV line: {m.reason}") for m in fb.malformed]
        for r in fb.raw.iter_rows(named=True):
            line = r.pop("_row")
            if not any(v not in (None, "") for v in r.values()):
                continue  # a blank line is not a sample
            rows.append((line, {k: (v.strip() if isinstance(v, str) else v) for k, v in r.items()}))
            if len(rows) > MAX_SAMPLES_PER_LOAD:
                raise InvalidInput(f"at most {MAX_SAMPLES_PER_LOAD} samples per file", field="file")
    clean, rejected = check_samples(store, city=city, rows=rows, now=now, max_future=_max_future(settings))
    bad = sorted(bad + rejected, key=lambda b: b.index)
    received = len(rows) + sum(1 for b in bad if b.field == "line")
    inserted, updated = _store_samples(store, city=city, clean=clean, received=received, actor=actor,
                                       rejected=len(bad), file=Path(path).name)
    return {"city": city, "received": received, "inserted": inserted, "updated": updated, "rejected": len(bad),
            "errors": [b.to_dict() for b in bad[:max_errors]]}


# WQI ---------------------------------------------------------------------------------------------------
def _window(start: datetime | None, end: datetime | None) -> tuple[datetime | None, datetime | None]:
    for t, name in ((start, "start"), (end, "end")):
        if t is not None and t.tzinfo is None:
            raise InvalidInput(f"{name} must include a UTC offset", field=name)
    if start is not None and end is not None and end <= start:
        raise InvalidInput("end must be after start", field="end")
    return start, end


def _period_labels(times: list[datetime], period: str, tz: str) -> list[str]:
    zone = ZoneInfo(tz)
    out = []
    for t in times:
        lt = t.astimezone(zone)
        out.append({"all": "all", "year": f"{lt.year}", "quarter": f"{lt.year}-Q{(lt.month - 1) // 3 + 1}",
                    "month": f"{lt.year}-{lt.month:02d}"}[period])
    return out


def _tests(store, *, city: str, oset, stations: list[str], start, end, scope: Scope) -> list[dict]:
    return _tables(store).water_samples(stations=stations, parameters=list(oset.objectives), start=start, end=end,
                                        scope=scope)


def _bounds(oset, params: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lo = np.array([np.nan if oset.objectives[p].lower is None else oset.objectives[p].lower for p in params])
    up = np.array([np.nan if oset.objectives[p].upper is None else oset.objectives[p].upper for p in params])
    dl = np.array([np.nan if oset.objectives[p].detection_limit is None else oset.objectives[p].detection_limit
                   for p in params])
    return lo, up, dl


def wqi(store, *, city: str, objectives: str | None = None, period: str = "year", station: str | None = None,
        start: datetime | None = None, end: datetime | None = None, scope: Scope = None) -> dict:
    """CCME WQI 1.0 per station and period (local calendar periods of the city) against an objective set."""
    c = get_city(store, city_id=city, scope=scope)
    if period not in PERIODS:
        raise InvalidInput(f"period must be one of {', '.join(PERIODS)}", field="period")
    start, end = _window(start, end)
    oset = objx.get_set(store, city=city, set_id=objectives or objx.DEFAULT_SET, scope=scope)
    sts = ([_station(store, city=city, station=station, scope=scope)] if station is not None
           else _tables(store).water_stations(city=city, scope=scope))
    rows = _tests(store, city=city, oset=oset, stations=[s["id"] for s in sts], start=start, end=end, scope=scope)
    items = []
    if rows:
        params = [r["parameter"] for r in rows]
        labels = _period_labels([r["time"] for r in rows], period, c["timezone"])
        keys = sorted({(r["station"], lab) for r, lab in zip(rows, labels)})
        gidx = {k: i for i, k in enumerate(keys)}
        pkeys = sorted(set(params))
        pidx = {p: i for i, p in enumerate(pkeys)}
        group = np.array([gidx[(r["station"], lab)] for r, lab in zip(rows, labels)])
        var = np.array([pidx[p] for p in params])
        vals = np.array([r["value"] for r in rows], dtype=float)
        lo, up, dl = _bounds(oset, params)
        res = ccme_wqi(group, var, vals, lo, up, dl, n_groups=len(keys))
        w, f3, nse, cat = res.wqi, res.f3, res.nse, res.category
        names = {s["id"]: s for s in sts}
        for (st, lab), i in gidx.items():
            k = int(cat[i])
            items.append({
                "station": st, "name": names[st]["name"], "water_body": names[st]["water_body"],
                "lat": names[st]["lat"], "lon": names[st]["lon"], "period": lab,
                "wqi": _num(w[i]), "category": CATEGORIES[k] if k >= 0 else None,
                "category_key": CATEGORY_KEYS[k] if k >= 0 else None,
                "colour": CATEGORY_COLOURS[k] if k >= 0 else None,
                "f1": _num(res.f1[i]), "f2": _num(res.f2[i]), "f3": _num(f3[i]), "nse": _num(nse[i]),
                "variables": int(res.n_variables[i]), "tests": int(res.n_tests[i]),
                "failed_variables": int(res.failed_variables[i]), "failed_tests": int(res.failed_tests[i]),
                "enough_data": bool(res.enough_data[i]),
            })
    return {"city": city, "objectives": oset.id, "objective_source": oset.source, "period": period,
            "timezone": c["timezone"],
            "method": "CCME Water Quality Index 1.0 (CCME 2001, Technical Report and User's Manual)",
            "minimum_data": "at least 4 variables sampled at least 4 times per station and period",
            "items": items}


def exceedances(store, *, city: str, objectives: str | None = None, station: str | None = None,
                start: datetime | None = None, end: datetime | None = None, period: str = "all", limit: int = 1000,
                scope: Scope = None) -> dict:
    """Every sample that failed its objective (newest first, with the objective and the CCME excursion),
    and per station and period (local calendar periods of the city) the tests and failures."""
    c = get_city(store, city_id=city, scope=scope)
    if period not in PERIODS:
        raise InvalidInput(f"period must be one of {', '.join(PERIODS)}", field="period")
    start, end = _window(start, end)
    oset = objx.get_set(store, city=city, set_id=objectives or objx.DEFAULT_SET, scope=scope)
    sts = ([_station(store, city=city, station=station, scope=scope)] if station is not None
           else _tables(store).water_stations(city=city, scope=scope))
    rows = _tests(store, city=city, oset=oset, stations=[s["id"] for s in sts], start=start, end=end, scope=scope)
    items, summary = [], {}
    if rows:
        params = [r["parameter"] for r in rows]
        labels = _period_labels([r["time"] for r in rows], period, c["timezone"])
        vals = np.array([r["value"] for r in rows], dtype=float)
        lo, up, dl = _bounds(oset, params)
        failed, ex = excursions(vals, lo, up, dl)
        for r, lab, f in zip(rows, labels, failed):
            s = summary.setdefault((r["station"], lab), {"station": r["station"], "period": lab, "tests": 0,
                                                         "failed": 0, "parameters_failed": set()})
            s["tests"] += 1
            if f:
                s["failed"] += 1
                s["parameters_failed"].add(r["parameter"])
        for i in np.nonzero(failed)[0]:
            r = rows[int(i)]
            side = "upper" if not np.isnan(up[i]) and vals[i] > up[i] else "lower"
            items.append({"station": r["station"], "parameter": r["parameter"], "period": labels[int(i)],
                          "time": r["time"].isoformat().replace("+00:00", "Z"), "value": r["value"],
                          "unit": PARAMETERS[r["parameter"]].unit, "qualifier": r["qualifier"],
                          "objective": float(up[i] if side == "upper" else lo[i]), "side": side,
                          "excursion": _num(ex[i])})
    total = len(items)
    items.sort(key=lambda x: (x["time"], x["station"], x["parameter"]), reverse=True)
    per = [{**v, "parameters_failed": sorted(v["parameters_failed"])} for _, v in sorted(summary.items())]
    return {"city": city, "objectives": oset.id, "period": period, "tests": len(rows), "failed": total,
            "summary": per, "items": items[:limit]}


def history(store, *, city: str, station: str, parameter: str, objectives: str | None = None,
            start: datetime | None = None, end: datetime | None = None, scope: Scope = None) -> dict:
    """A parameter's samples at a station with the objective set's bounds (for a chart)."""
    get_city(store, city_id=city, scope=scope)
    start, end = _window(start, end)
    p = resolve(parameter)
    st = _station(store, city=city, station=station, scope=scope)
    oset = objx.get_set(store, city=city, set_id=objectives or objx.DEFAULT_SET, scope=scope)
    rows = _tables(store).water_samples(stations=[st["id"]], parameters=[p.key], start=start, end=end, scope=scope)
    o = oset.objectives.get(p.key)
    return {"city": city, "station": st["id"], "name": st["name"], "parameter": p.key, "parameter_name": p.name,
            "unit": p.unit, "objectives": oset.id, "lower": o.lower if o else None, "upper": o.upper if o else None,
            "items": [{"time": r["time"].isoformat().replace("+00:00", "Z"), "value": r["value"],
                       "qualifier": r["qualifier"]} for r in rows]}


# objective sets ---------------------------------------------------------------------------------------
def list_objective_sets(store, *, city: str, scope: Scope = None) -> dict:
    get_city(store, city_id=city, scope=scope)
    return {"city": city, "default": objx.DEFAULT_SET,
            "items": [s.to_dict() for s in objx.available_sets(store, city=city, scope=scope)]}


def put_objective_set(store, *, city: str, data: dict, actor: str) -> dict:
    get_city(store, city_id=city)
    oset = objx.parse_set(data, city=city)
    body = {"id": oset.id, "name": oset.name, "use": oset.use, "source": oset.source, "edition": oset.edition,
            "notes": oset.notes,
            "objectives": {k: {"lower": o.lower, "upper": o.upper, "detection_limit": o.detection_limit,
                               "verified": o.verified, "note": o.note} for k, o in oset.objectives.items()}}
    created = _tables(store).put_water_objective_set(city=city, set_id=oset.id, body=json.dumps(body),
                                                     actor=actor, now=_now())
    audit.record(store, actor=actor, action="water.objectives.put", city=city, target=f"objectives:{oset.id}",
                 details={"created": created, "parameters": sorted(oset.objectives)})
    return {**oset.to_dict(), "created": created}


def parameters() -> list[dict]:
    return [{"key": p.key, "name": p.name, "unit": p.unit} for p in PARAMETERS.values()]
