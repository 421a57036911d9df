"""Smart Data Models entities <-> Nagar stations and observations.

Which entities map (by the last segment of an expanded type IRI, so both the default vocabulary and the
Smart Data Models context, ``https://smartdatamodels.org/dataModel.Environment/AirQualityObserved``, work):

* ``AirQualityObserved`` (dataModel.Environment): its pollutant and weather attributes become Nagar
  observations through :func:`nagar.ingest.smartdatamodels.airquality_observed_rows` (the MQTT
  ingestor's mapping: names, UN/CEFACT unit codes, ``dateObserved`` / ``observedAt``) and then the one
  ingest path (validation, unit conversion, ``store.write_observations``), so the AQI moves;
* ``WaterQualityObserved`` (dataModel.Environment): every numeric attribute whose name is a Nagar
  parameter key (``temperature``, and whatever the registry of parameters holds) becomes an
  observation, in the unit given by ``unitCode`` (Rec. 20 codes of the module above) or, without one, the
  parameter's canonical unit;
* ``Device`` (dataModel.Device): becomes (or updates) a Nagar station; no observations.

Station id: the station the entity names (``refDevice``, ``refPointOfInterest``, ``stationCode``, with
a URN prefix removed), else the last ``:``-separated segment of the entity id
(``urn:ngsi-ld:AirQualityObserved:dhaka-agargaon`` -> ``dhaka-agargaon``). It must be a valid Nagar id.
A station that does not exist is created in the tenant's city (name from ``name``, position from
``location`` when it is a Point); one that exists in another city is refused. Only the attributes a write
changes become observations. Observation time: the attribute's ``observedAt``, else ``dateObserved`` when
the same write sets it, else the time of the write.

The other way (stations without an entity of their own shown as ``urn:ngsi-ld:AirQualityObserved:<station
id>``, the id this rule maps back to the same station) is :mod:`nagar.ngsild.stations`.
"""

from __future__ import annotations

from typing import Any

from nagar.core.errors import NagarError
from nagar.core.ids import validate_id
from nagar.core.units import PARAMETERS
from nagar.ingest.smartdatamodels import UNIT_CODES, airquality_observed_rows, station_of

from .errors import BadRequestData

MAPPED = ("AirQualityObserved", "WaterQualityObserved", "Device")


def short(iri: str) -> str:
    """The local name of an IRI (after the last ``/`` or ``#``)."""
    cut = max(iri.rfind("/"), iri.rfind("#"))
    return iri[cut + 1:]


def kind_of(ent: dict) -> str | None:
    for t in ent["type"]:
        s = short(t)
        if s in MAPPED:
            return s
    return None


def flat(ent: dict) -> dict:
    """The entity with short attribute names and one (the default) instance each, in the NGSI-LD
    attribute shape that :mod:`nagar.ingest.smartdatamodels` reads."""
    out: dict = {"id": ent["id"], "type": kind_of(ent) or short(ent["type"][0])}
    for iri, insts in ent["attrs"].items():
        inst = next((i for i in insts if "datasetId" not in i), insts[0])
        out[short(iri)] = {k: v for k, v in inst.items() if k in ("type", "value", "object", "unitCode", "observedAt")}
    return out


def station_id(ent: dict, f: dict | None = None) -> str:
    f = f or flat(ent)
    sid = station_of(f) or ent["id"].rsplit(":", 1)[-1]
    try:
        return validate_id(sid, field="station")
    except NagarError:
        raise BadRequestData(
            f"entity {ent['id']} maps to Nagar station {sid!r}, which is not a valid station id (1-64 of a-z, 0-9, "
            "'_', '.', '-'); name the station with refDevice or use such an id as the entity id's last segment",
            field="id") from None


def _point(f: dict) -> tuple[float | None, float | None]:
    loc = f.get("location")
    v = loc.get("value") if isinstance(loc, dict) else None
    if isinstance(v, dict) and v.get("type") == "Point":
        return float(v["coordinates"][1]), float(v["coordinates"][0])
    return None, None


def _text(v: Any) -> str | None:
    v = v.get("value") if isinstance(v, dict) else v
    return v if isinstance(v, str) else None


def rows_for(ent: dict, *, when: str, only: set[str] | None = None) -> tuple[str, dict, list[dict],
                                                                              list[tuple[str, str]]]:
    """(station id, station row to upsert, observation rows, attribute problems) for a mapped entity;
    ``only`` (short attribute names) keeps the rows of the attributes a write changed, so that an update of
    one attribute does not write the others again."""
    kind = kind_of(ent)
    f = flat(ent)
    sid = station_id(ent, f)
    lat, lon = _point(f)
    station = {"id": sid, "name": _text(f.get("name")) or _text(f.get("stationName")) or sid, "lat": lat, "lon": lon}
    rows: list[dict] = []
    problems: list[tuple[str, str]] = []
    if only is not None and "dateObserved" not in only:
        f.pop("dateObserved", None)  # not part of this write: the new values were observed now
    if kind == "AirQualityObserved":
        if "dateObserved" not in f:
            f["dateObserved"] = when
        res = airquality_observed_rows(f, station=sid)
        rows = [{k: r[k] for k in ("station", "parameter", "time", "value", "unit")} for r in res.rows
                if only is None or r["attribute"] in only]
        problems = [p for p in res.errors if only is None or p[0] in only or p[0] == "entity"]
    elif kind == "WaterQualityObserved":
        t0 = _text(f.get("dateObserved")) or when
        for name, attr in f.items():
            prm = PARAMETERS.get(name.lower())
            if prm is None or not isinstance(attr, dict) or attr.get("type") != "Property" \
                    or (only is not None and name not in only):
                continue
            v = attr.get("value")
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                problems.append((name, f"{name} must be a number"))
                continue
            code = attr.get("unitCode")
            unit = UNIT_CODES.get(code, code) if code else prm.unit
            rows.append({"station": sid, "parameter": prm.key, "time": attr.get("observedAt") or t0,
                         "value": float(v), "unit": unit})
    for r in rows:
        r["flag"] = "valid"
    station["parameters"] = sorted({r["parameter"] for r in rows})
    return sid, station, rows, problems
