"""Temporal evolution of entities (ETSI GS CIM 009 V1.6.1 clauses 5.7.3 "Retrieve temporal evolution of an
Entity" and 5.7.4 "Query temporal evolution of Entities"; clause 4.11 temporal query language; clauses
4.5.6-4.5.8 temporal representation, 4.5.9 simplified temporal representation (temporalValues) and
4.5.19 aggregated temporal representation, whose aggregation methods (clause 4.5.19.1) used here are
totalCount, distinctCount, sum, avg, min, max).

The history is the ``ngsild_history`` table: one row per attribute instance written through the
NGSI-LD API, at its ``observedAt`` (else its modification time). Observation-backed attributes (the
pollutants and weather of an AirQualityObserved, the parameters of a WaterQualityObserved mapped to a
station) are read from Nagar's ``observations`` table instead, so readings that arrived by any path (file,
MQTT, ingest API) are in their history, in Nagar's canonical units; suspect/invalid readings are left out
as in every aggregate of Nagar. Aggregation runs in SQL
(``NgsildTables.ngsild_history_aggregate``); periods are ``aggrPeriodDuration`` (ISO 8601 durations of
days, hours, minutes and seconds; years and months are refused since they have no fixed length) counted
from ``timeAt`` (or the first instance).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from . import entities as E
from .context import Context
from .errors import BadRequestData
from .service import loads

_DUR = re.compile(r"^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$")
METHODS = ("totalCount", "distinctCount", "sum", "avg", "min", "max")


def parse_duration(text: str) -> int:
    """ISO 8601 duration (weeks, days, hours, minutes, seconds) -> seconds."""
    m = _DUR.match(text or "")
    if not m or text in ("P", "PT") or text.endswith("T"):
        raise BadRequestData(f"aggrPeriodDuration {text!r} is not an ISO 8601 duration of W/D/H/M/S "
                             "(e.g. PT1H, P1D)", field="aggrPeriodDuration")
    w, d, h, mi, s = (float(x) if x else 0.0 for x in m.groups())
    secs = int(round(((w * 7 + d) * 24 + h) * 3600 + mi * 60 + s))
    if secs <= 0:
        raise BadRequestData("aggrPeriodDuration must be positive", field="aggrPeriodDuration")
    return secs


def time_range(timerel: str | None, time_at: str | None,
               end_time_at: str | None) -> tuple[datetime | None, datetime | None]:
    """Clause 4.11: before -> [-, timeAt); after -> (timeAt, -) (inclusive here, to the microsecond);
    between -> [timeAt, endTimeAt). V1.9.1's text of clause 4.11 makes timeAt an inclusive bound for
    ``after`` too; the V1.6.1 wording was not found, so ``after`` stays exclusive (see README, "Clause
    numbers")."""
    if timerel is None:
        if time_at or end_time_at:
            raise BadRequestData("timeAt needs timerel", field="timerel")
        return None, None
    if timerel not in ("before", "after", "between"):
        raise BadRequestData("timerel must be before, after or between", field="timerel")
    if not time_at:
        raise BadRequestData("timerel needs timeAt", field="timeAt")
    t = E.parse_time(time_at, "timeAt")
    if timerel == "before":
        return None, t
    if timerel == "after":
        return t + timedelta(microseconds=1), None
    if not end_time_at:
        raise BadRequestData("timerel=between needs endTimeAt", field="endTimeAt")
    e = E.parse_time(end_time_at, "endTimeAt")
    if e <= t:
        raise BadRequestData("endTimeAt must be after timeAt", field="endTimeAt")
    return t, e


def temporal_entity(store, tenant: str, ent: dict, ctx: Context, *, attrs: set[str] | None, start, end,
                    last_n: int | None, fmt: str, methods: list[str] | None, period_s: int | None,
                    origin: datetime | None = None) -> dict:
    """One entity's temporal representation (normalized, temporalValues or aggregatedValues)."""
    from . import waterviews

    if waterviews.is_water_view(ent):  # from the water_samples table
        return waterviews.temporal(store, ent, ctx, attrs=attrs, start=start, end=end, last_n=last_n, fmt=fmt,
                                   methods=methods, period_s=period_s, origin=origin)
    types = [ctx.compact(t) for t in ent["type"]]
    out: dict = {"id": ent["id"], "type": types[0] if len(types) == 1 else types}
    backed = observation_backed(ent)
    if attrs is not None:
        backed = {k: v for k, v in backed.items() if k in attrs}
    names = sorted(attrs) if attrs is not None else None
    if backed:
        names = sorted(set(names if names is not None else ent["attrs"]) - set(backed))
    _observations(store, out, ent, backed, ctx, start=start, end=end, last_n=last_n, fmt=fmt, methods=methods,
                  period_s=period_s, origin=origin)
    if names == [] and backed:
        return out
    if methods is not None:
        lo = start or datetime(1970, 1, 1, tzinfo=timezone.utc)
        hi = end or datetime(9999, 1, 1, tzinfo=timezone.utc)
        origin = origin or start
        if origin is None:
            first = store.ngsild_history(tenant, ent["id"], attrs=names, start=lo, end=hi)
            if not first:
                return out
            t0 = min(r["time"] for r in first)
            origin = t0 if t0.tzinfo else t0.replace(tzinfo=timezone.utc)
        if methods is not None and origin is None:
            origin = lo
        rows = store.ngsild_history_aggregate(tenant, ent["id"], attrs=names, period_s=period_s, start=lo, end=hi,
                                              origin=origin)
        for r in rows:
            name = ctx.compact(r["attr"])
            a = out.setdefault(name, {"type": "Property"})
            p0 = origin + timedelta(seconds=period_s * int(r["bucket"]))
            span = [E.iso(p0), E.iso(p0 + timedelta(seconds=period_s))]
            for m in methods:
                v = {"totalCount": r["total_count"], "distinctCount": r["distinct_count"], "sum": r["sum"],
                     "avg": r["avg"], "min": r["min"], "max": r["max"]}[m]
                v = _num(v, m)
                a.setdefault(m, []).append([v, *span])
        return out
    rows = store.ngsild_history(tenant, ent["id"], attrs=names, start=start, end=end, last_n=last_n)
    for r in rows:
        name = ctx.compact(r["attr"])
        inst = loads(r["instance"])
        t = r["time"] if r["time"].tzinfo else r["time"].replace(tzinfo=timezone.utc)
        if fmt == "temporalValues":
            a = out.setdefault(name, {"type": inst["type"], "values": []})
            v = inst.get("value", inst.get("object", inst.get("languageMap")))
            a["values"].append([v, E.iso(t)])
        else:
            rendered = E._render_instance(inst, ctx, "normalized", False, None)
            rendered.setdefault("observedAt", E.iso(t))
            out.setdefault(name, []).append(rendered)
    return out


def observation_backed(ent: dict) -> dict[str, str]:
    """Expanded attribute name -> Nagar parameter, for the attributes of a mapped entity whose values live
    in the observations table."""
    from nagar.core.units import PARAMETERS
    from nagar.ingest.smartdatamodels import ATTRIBUTES

    from . import mapping

    kind = mapping.kind_of(ent)
    if not ent.get("station") or kind not in ("AirQualityObserved", "WaterQualityObserved"):
        return {}
    out = {}
    for iri in ent["attrs"]:
        short = mapping.short(iri)
        p = ATTRIBUTES.get(short.lower().replace(".", "").replace("_", "")) if kind == "AirQualityObserved" \
            else (short.lower() if short.lower() in PARAMETERS else None)
        if p is not None:
            out[iri] = p
    return out


_UNIT_CODE_OF = {"µg/m³": "GQ", "mg/m³": "GP", "ppm": "59", "ppb": "61", "°C": "CEL", "%": "P1"}


def _observations(store, out: dict, ent: dict, backed: dict, ctx: Context, *, start, end, last_n, fmt, methods,
                  period_s, origin) -> None:
    sid = ent.get("station")
    for iri, param in sorted(backed.items()):
        name = ctx.compact(iri)
        if methods is not None:
            lo = start or datetime(1970, 1, 1, tzinfo=timezone.utc)
            hi = end or datetime(9999, 1, 1, tzinfo=timezone.utc)
            org = origin or start
            if org is None:
                first = store.ngsild_observation_series(sid, param, start=lo, end=hi, last_n=None)
                if not first:
                    continue
                t0 = first[0]["time"]
                org = t0 if t0.tzinfo else t0.replace(tzinfo=timezone.utc)
            rows = store.ngsild_observation_aggregate(sid, param, period_s=period_s, start=lo, end=hi, origin=org)
            a = out.setdefault(name, {"type": "Property"})
            for r in rows:
                p0 = org + timedelta(seconds=period_s * int(r["bucket"]))
                span = [E.iso(p0), E.iso(p0 + timedelta(seconds=period_s))]
                for m in methods:
                    v = {"totalCount": r["total_count"], "distinctCount": r["distinct_count"], "sum": r["sum"],
                         "avg": r["avg"], "min": r["min"], "max": r["max"]}[m]
                    v = _num(v, m)
                    a.setdefault(m, []).append([v, *span])
            continue
        rows = store.ngsild_observation_series(sid, param, start=start, end=end, last_n=last_n)
        if not rows:
            continue
        unit = _UNIT_CODE_OF.get(rows[0]["unit"], rows[0]["unit"])
        if fmt == "temporalValues":
            out[name] = {"type": "Property", "values": [[r["value"], E.iso(_utc(r["time"]))] for r in rows]}
        else:
            out[name] = [{"type": "Property", "value": r["value"], "observedAt": E.iso(_utc(r["time"])),
                          "unitCode": unit} for r in rows]


def _utc(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def _num(v, method: str):
    """An aggregate as JSON: floats for sum/avg/min/max, integers for the counts (PostgreSQL gives
    Decimal for some), None for an aggregate over no number."""
    if v is None:
        return None
    return float(v) if method in ("sum", "avg", "min", "max") else int(v)
