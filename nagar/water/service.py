"""Water-quality operations shared by the API and the CLI: stations, lab samples, objective sets, the
CCME WQI per station and period, exceedance listings and a parameter's history against its limit.

Keyword-only, the store first; ``scope`` limits what a caller sees (None: all cities). Writes take the
caller's ``actor`` and are audited; the caller has checked the right to write in the city.
"""

from __future__ import annotations

import csv
import io
import json
import math
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import numpy as np

from nagar.core.errors import InvalidInput, NotFound, StoreError
from nagar.core.tenancy import Scope
from nagar.registry.service import get_city
from nagar.security import audit

from . import objectives as objx
from .parameters import PARAMETERS, resolve, to_canonical
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


def clean_samples(store, *, city: str, rows: list[dict]) -> list[dict]:
    """Validate and convert lab results to canonical units; all or nothing (InvalidInput names the row)."""
    if not rows:
        raise InvalidInput("no samples given", field="samples")
    if len(rows) > MAX_SAMPLES_PER_LOAD:
        raise InvalidInput(f"at most {MAX_SAMPLES_PER_LOAD} samples per load", field="samples")
    known = {s["id"] for s in _tables(store).water_stations(city=city)}
    params, values, units, out = [], [], [], []
    for i, r in enumerate(rows):
        where = f"samples.{i}"
        st = str(r.get("station") or "").strip()
        if st not in known:
            raise InvalidInput(f"{where}: no water station {st!r} in {city} (add it first)", field=f"{where}.station")
        try:
            p = resolve(r.get("parameter") or "")
        except InvalidInput as exc:
            raise InvalidInput(f"{where}: {exc.message}", field=f"{where}.parameter") from None
        raw = r.get("value")
        qualifier = str(r.get("qualifier") or "").strip()
        if isinstance(raw, str) and raw.strip().startswith("<"):
            qualifier, raw = "<", raw.strip()[1:]
        try:
            v = float(raw)
        except (TypeError, ValueError):
            raise InvalidInput(f"{where}: value {raw!r} is not a number", field=f"{where}.value") from None
        if not math.isfinite(v):
            raise InvalidInput(f"{where}: value must be finite", field=f"{where}.value")
        if qualifier not in ("", "<"):
            raise InvalidInput(f"{where}: qualifier must be empty or '<'", field=f"{where}.qualifier")
        params.append(p.key)
        values.append(v)
        units.append(r.get("unit"))
        out.append({"station": st, "parameter": p.key, "time": _parse_time(r.get("time"), f"{where}.time"),
                    "qualifier": qualifier, "source": (str(r["source"])[:500] if r.get("source") else None)})
    try:
        canon = to_canonical(params, values, units)
    except InvalidInput as exc:
        for i in range(len(params)):  # name the first row whose unit does not convert
            try:
                to_canonical(params[i:i + 1], values[i:i + 1], units[i:i + 1])
            except InvalidInput as row_exc:
                raise InvalidInput(f"samples.{i}: {row_exc.message}", field=f"samples.{i}.unit") from None
        raise InvalidInput(f"samples: {exc.message}", field="samples.unit") from None
    lo = np.array([PARAMETERS[p].min_value for p in params])
    hi = np.array([PARAMETERS[p].max_value for p in params])
    bad = np.nonzero((canon < lo) | (canon > hi))[0]
    if bad.size:
        i = int(bad[0])
        raise InvalidInput(f"samples.{i}: {params[i]} {values[i]} is outside the plausible range "
                           f"{lo[i]:g}-{hi[i]:g} {PARAMETERS[params[i]].unit}", field=f"samples.{i}.value")
    for r, v in zip(out, canon):
        r["value"] = float(v)
    return out


def load_samples(store, *, city: str, rows: list[dict], actor: str) -> dict:
    """Validate, convert and upsert samples; audited; then hands them to the alert rules of kind water."""
    get_city(store, city_id=city)
    clean = clean_samples(store, city=city, rows=rows)
    inserted, updated = _tables(store).upsert_water_samples(clean)
    audit.record(store, actor=actor, action="water.samples.load", city=city,
                 details={"received": len(rows), "inserted": inserted, "updated": updated})
    from nagar.alerts.service import samples_written

    samples_written(store, city=city, rows=clean)
    return {"city": city, "received": len(rows), "inserted": inserted, "updated": updated}


def parse_samples_csv(text: str) -> list[dict]:
    """Rows of a CSV with header ``station,parameter,time,value,unit`` (optional ``qualifier,source``)."""
    reader = csv.DictReader(io.StringIO(text))
    need = {"station", "parameter", "time", "value"}
    have = {(h or "").strip() for h in (reader.fieldnames or [])}
    if not need <= have:
        raise InvalidInput(f"CSV header needs {', '.join(sorted(need))} (and unit); got {', '.join(sorted(have))}",
                           field="csv")
    return [{(k or "").strip(): (v.strip() if isinstance(v, str) else v) for k, v in row.items()} for row in reader]


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
