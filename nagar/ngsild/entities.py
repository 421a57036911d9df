"""NGSI-LD entities: validation of request bodies into one internal form, and the three representations
out (ETSI GS CIM 009 V1.6.1 clause 4.5, data representation: entities normalized and concise 4.5.1,
simplified (keyValues) 4.5.4; Property / Relationship / LanguageProperty 4.5.2 / 4.5.3 / 4.5.18;
clause 4.5.5 multi-attribute instances with ``datasetId``; clause 4.6.2 names).

Internal form (what is stored, JSON text, ready to serve)::

    {"id": "urn:...", "type": [<expanded type IRI>, ...], "createdAt": "...Z", "modifiedAt": "...Z",
     "attrs": {<expanded attribute IRI>: [<instance>, ...]}}

An instance is the normalized attribute with its members: ``type`` (Property, Relationship, GeoProperty,
LanguageProperty), ``value`` / ``object`` / ``languageMap``, optional ``datasetId``, ``observedAt``,
``unitCode``, ``createdAt``, ``modifiedAt`` and ``sub`` (sub-attributes: expanded name -> one instance).
Bodies are validated by hand (no per-request Pydantic model: entity bodies are open-ended), each error
naming the attribute and what is wrong.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone
from typing import Any

from .context import Context
from .errors import BadRequestData

ATTR_TYPES = ("Property", "Relationship", "GeoProperty", "LanguageProperty")
_INSTANCE_MEMBERS = {"type", "value", "object", "languageMap", "datasetId", "observedAt", "unitCode", "createdAt",
                     "modifiedAt", "instanceId", "@context", "objectType"}
_ENTITY_MEMBERS = {"id", "type", "@context", "createdAt", "modifiedAt", "scope", "deletedAt"}
_GEO_TYPES = {"Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon"}
GEO_ATTRS = ("location", "observationSpace", "operationSpace")
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:\S+$")
_BAD_NAME = re.compile(r"[<>\"'=;()\s\\]")


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_PARSED: dict[str, datetime] = {}


def parse_time(value: Any, where: str) -> datetime:
    """An ISO 8601 date-time with an offset (or ``Z``) -> aware UTC datetime. Memoised: the write path
    parses the same createdAt / modifiedAt strings again and again (at most 8,192 kept)."""
    hit = _PARSED.get(value) if isinstance(value, str) else None
    if hit is not None:
        return hit
    t = _parse_time(value, where)
    if len(_PARSED) >= 8192:
        _PARSED.clear()
    _PARSED[value] = t
    return t


def _parse_time(value: Any, where: str) -> datetime:
    if not isinstance(value, str):
        raise BadRequestData(f"{where} must be an ISO 8601 date-time string", field=where)
    s = value.strip()
    try:
        t = datetime.fromisoformat(s[:-1] + "+00:00" if s.endswith(("Z", "z")) else s)
    except ValueError:
        raise BadRequestData(f"{where}: {value!r} is not an ISO 8601 date-time", field=where) from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)  # NGSI-LD DateTime is UTC (clause 4.6.3)
    return t.astimezone(timezone.utc)


def iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ").replace(".000000Z", "Z")


def check_uri(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _URI.match(value) or len(value) > 1024:
        raise BadRequestData(f"{where} must be a URI (e.g. urn:ngsi-ld:Type:id), got {value!r}", field=where)
    return value


def check_name(name: Any, where: str = "attribute") -> str:
    if not isinstance(name, str) or not name or len(name) > 512 or _BAD_NAME.search(name):
        raise BadRequestData(f"{where} name {name!r} is not a valid NGSI-LD name", field=where)
    return name


def _is_geojson(v: Any) -> bool:
    return isinstance(v, dict) and v.get("type") in _GEO_TYPES and "coordinates" in v


def _check_position(p: Any, where: str) -> None:
    if not isinstance(p, list) or not 2 <= len(p) <= 3 or not all(
            isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in p):
        raise BadRequestData(f"{where}: a position is [longitude, latitude] in numbers", field=where)
    if not (-180 <= p[0] <= 180 and -90 <= p[1] <= 90):
        raise BadRequestData(f"{where}: position {p} is outside longitude -180..180 / latitude -90..90", field=where)


def check_geometry(v: Any, where: str) -> dict:
    """A GeoJSON geometry (RFC 7946 clause 3.1) as NGSI-LD GeoProperty values use it."""
    if not _is_geojson(v):
        raise BadRequestData(f"{where} must be a GeoJSON geometry (Point, Polygon, ...)", field=where)
    kind, c = v["type"], v["coordinates"]
    depth = {"Point": 0, "MultiPoint": 1, "LineString": 1, "MultiLineString": 2, "Polygon": 2, "MultiPolygon": 3}[kind]

    def walk(x: Any, d: int) -> None:
        if d == 0:
            _check_position(x, where)
            return
        if not isinstance(x, list) or not x:
            raise BadRequestData(f"{where}: {kind} coordinates are malformed", field=where)
        for y in x:
            walk(y, d - 1)

    walk(c, depth)
    if kind == "Polygon":
        for ring in c:
            if len(ring) < 4 or ring[0] != ring[-1]:
                raise BadRequestData(f"{where}: a Polygon ring needs 4 or more positions, first = last", field=where)
    return {"type": kind, "coordinates": c}


def _looks_like_instance(v: Any) -> bool:
    return isinstance(v, dict) and (v.get("type") in ATTR_TYPES or "value" in v or "object" in v
                                    or "languageMap" in v)


def normalize_attr(name: str, raw: Any, ctx: Context, *, now: str, sub: bool = False) -> list[dict]:
    """One attribute of a request body (normalized or concise) -> its list of instances."""
    if isinstance(raw, list) and raw and not sub and all(_looks_like_instance(x) for x in raw):
        out = [_instance(name, x, ctx, now=now) for x in raw]
        seen: set = set()
        for inst in out:
            if inst.get("datasetId") in seen:
                raise BadRequestData(f"attribute {name}: two instances with the same datasetId "
                                     f"{inst.get('datasetId')!r}", field=name)
            seen.add(inst.get("datasetId"))
        return out
    return [_instance(name, raw, ctx, now=now)]


def _instance(name: str, raw: Any, ctx: Context, *, now: str) -> dict:
    if raw is None:
        raise BadRequestData(f"attribute {name} has a null value", field=name)
    if not isinstance(raw, dict):  # concise Property
        return {"type": "Property", "value": _plain_value(name, raw), "createdAt": now, "modifiedAt": now}
    kind = raw.get("type")
    if kind is not None and kind not in ATTR_TYPES:
        if _is_geojson(raw):  # concise GeoProperty
            return {"type": "GeoProperty", "value": check_geometry(raw, name), "createdAt": now, "modifiedAt": now}
        raise BadRequestData(f"attribute {name}: type must be one of {', '.join(ATTR_TYPES)}, got {kind!r}",
                             field=name)
    if kind is None:
        if "object" in raw:
            kind = "Relationship"
        elif "languageMap" in raw:
            kind = "LanguageProperty"
        elif "value" in raw:
            kind = "GeoProperty" if _is_geojson(raw["value"]) else "Property"
        else:
            raise BadRequestData(f"attribute {name} has no value, object or languageMap", field=name)
    inst: dict = {"type": kind}
    if kind == "Property":
        if "value" not in raw:
            raise BadRequestData(f"Property {name} has no value", field=name)
        inst["value"] = _plain_value(name, raw["value"])
    elif kind == "GeoProperty":
        if "value" not in raw:
            raise BadRequestData(f"GeoProperty {name} has no value", field=name)
        inst["value"] = check_geometry(raw["value"], name)
    elif kind == "Relationship":
        obj = raw.get("object")
        if isinstance(obj, list) and obj:
            inst["object"] = [check_uri(o, f"{name}.object") for o in obj]
        else:
            inst["object"] = check_uri(obj, f"{name}.object")
    else:
        lm = raw.get("languageMap")
        def text(v):
            return isinstance(v, str) or (isinstance(v, list) and all(isinstance(x, str) for x in v))

        if not isinstance(lm, dict) or not lm or not all(isinstance(k, str) and text(v) for k, v in lm.items()):
            raise BadRequestData(f"LanguageProperty {name}: languageMap must map language tags to strings", field=name)
        inst["languageMap"] = lm
    if "datasetId" in raw:
        inst["datasetId"] = check_uri(raw["datasetId"], f"{name}.datasetId")
    if "observedAt" in raw:
        inst["observedAt"] = iso(parse_time(raw["observedAt"], f"{name}.observedAt"))
    if "unitCode" in raw:
        if not isinstance(raw["unitCode"], str) or not raw["unitCode"]:
            raise BadRequestData(f"{name}.unitCode must be a UN/CEFACT code string", field=f"{name}.unitCode")
        inst["unitCode"] = raw["unitCode"]
    inst["createdAt"] = now
    inst["modifiedAt"] = now
    subs = {}
    for k, v in raw.items():
        if k in _INSTANCE_MEMBERS:
            continue
        check_name(k, f"{name}.{k}")
        subs[ctx.expand(k)] = _instance(f"{name}.{k}", v, ctx, now=now)
    if subs:
        inst["sub"] = subs
    return inst


def _plain_value(name: str, v: Any) -> Any:
    if v is None:
        raise BadRequestData(f"Property {name} has a null value", field=name)
    if isinstance(v, float) and not math.isfinite(v):
        raise BadRequestData(f"Property {name} must be finite", field=name)
    if isinstance(v, dict) and "@value" in v:  # a typed literal {"@type": "DateTime", "@value": "..."}
        return v
    return v


def parse_types(raw: Any, ctx: Context) -> list[str]:
    types = raw if isinstance(raw, list) else [raw]
    if not types or raw is None:
        raise BadRequestData("entity type is missing", field="type")
    out = []
    for t in types:
        check_name(t, "type")
        out.append(ctx.expand(t))
    return out


def parse_entity(body: Any, ctx: Context, *, require_id: bool = True, now: str | None = None) -> dict:
    """A create/replace/upsert body -> the internal form (clause 5.6.1 "Create Entity" requirements:
    an ``id`` URI and a ``type``)."""
    if not isinstance(body, dict):
        raise BadRequestData("an entity must be a JSON object", field="body")
    now = now or now_iso()
    ent: dict = {}
    if require_id or "id" in body:
        ent["id"] = check_uri(body.get("id"), "id")
    ent["type"] = parse_types(body.get("type"), ctx)
    ent["createdAt"] = now
    ent["modifiedAt"] = now
    ent["attrs"] = parse_attrs(body, ctx, now=now)
    return ent


def parse_attrs(body: Any, ctx: Context, *, now: str) -> dict[str, list[dict]]:
    """The attributes of a body (entity or fragment): expanded name -> instances."""
    if not isinstance(body, dict):
        raise BadRequestData("the body must be a JSON object", field="body")
    attrs: dict[str, list[dict]] = {}
    for k, v in body.items():
        if k in _ENTITY_MEMBERS:
            continue
        check_name(k)
        attrs[ctx.expand(k)] = normalize_attr(k, v, ctx, now=now)
    return attrs


# representations ----------------------------------------------------------------------------------
def _render_instance(inst: dict, ctx: Context, fmt: str, sysattrs: bool, lang: str | None) -> Any:
    kind = inst["type"]
    if fmt == "keyValues":
        if kind == "Relationship":
            return inst["object"]
        if kind == "LanguageProperty":
            return _pick_lang(inst["languageMap"], lang) if lang else {"languageMap": inst["languageMap"]}
        return inst["value"]
    out: dict = {} if fmt == "concise" else {"type": kind}
    if kind == "Relationship":
        out["object"] = inst["object"]
    elif kind == "LanguageProperty":
        if lang:
            out["value"] = _pick_lang(inst["languageMap"], lang)
            if fmt != "concise":
                out["type"] = "Property"
        else:
            out["languageMap"] = inst["languageMap"]
    else:
        out["value"] = inst["value"]
    for m in ("datasetId", "observedAt", "unitCode"):
        if m in inst:
            out[m] = inst[m]
    if sysattrs:
        out["createdAt"] = inst.get("createdAt")
        out["modifiedAt"] = inst.get("modifiedAt")
    for k, s in (inst.get("sub") or {}).items():
        out[ctx.compact(k)] = _render_instance(s, ctx, fmt, sysattrs, lang)
    if fmt == "concise" and list(out) == ["value"] and kind == "Property" \
            and not isinstance(out["value"], (dict, list)):
        return out["value"]
    if fmt == "concise" and list(out) == ["value"] and kind == "GeoProperty":
        return out["value"]
    return out


def _pick_lang(lm: dict, lang: str) -> Any:
    for tag in [t.strip().split(";")[0] for t in lang.split(",")]:
        if tag == "*" and lm:
            return next(iter(lm.values()))
        if tag in lm:
            return lm[tag]
    return lm.get("en", next(iter(lm.values())))


def render(ent: dict, ctx: Context, *, fmt: str = "normalized", attrs: set[str] | None = None,
           sysattrs: bool = False, lang: str | None = None) -> dict:
    """The entity in ``fmt`` (normalized, concise or keyValues) with names compacted against ``ctx``;
    ``attrs`` (expanded names) restricts the attributes (clause 5.7.1 "Retrieve Entity")."""
    types = [ctx.compact(t) for t in ent["type"]]
    out: dict = {"id": ent["id"], "type": types[0] if len(types) == 1 else types}
    if sysattrs and fmt != "keyValues":
        out["createdAt"] = ent.get("createdAt")
        out["modifiedAt"] = ent.get("modifiedAt")
    for name, insts in ent["attrs"].items():
        if attrs is not None and name not in attrs:
            continue
        if fmt == "keyValues":
            default = next((i for i in insts if "datasetId" not in i), insts[0])
            out[ctx.compact(name)] = _render_instance(default, ctx, fmt, sysattrs, lang)
            continue
        rendered = [_render_instance(i, ctx, fmt, sysattrs, lang) for i in insts]
        out[ctx.compact(name)] = rendered[0] if len(rendered) == 1 else rendered
    return out


# operations on the internal form ------------------------------------------------------------------
def merge_instances(current: list[dict], new: list[dict], *, now: str) -> list[dict]:
    """Instances after an append/update: a new instance replaces the one with the same datasetId."""
    by_ds = {i.get("datasetId"): i for i in current}
    for inst in new:
        old = by_ds.get(inst.get("datasetId"))
        if old is not None:
            inst["createdAt"] = old.get("createdAt", now)
        by_ds[inst.get("datasetId")] = inst
    return list(by_ds.values())


def partial_update(inst: dict, fragment: dict, *, now: str) -> dict:
    """Clause 5.6.4 "Partial Attribute update": the members given replace those of the instance;
    sub-attributes are merged one by one."""
    out = dict(inst)
    for m in ("value", "object", "languageMap", "observedAt", "unitCode"):
        if m in fragment:
            out[m] = fragment[m]
    if fragment.get("sub"):
        out["sub"] = {**(inst.get("sub") or {}), **fragment["sub"]}
    if fragment.get("type") and fragment["type"] != inst["type"]:
        out["type"] = fragment["type"]
        for m in ("value", "object", "languageMap"):
            if m not in fragment:
                out.pop(m, None)
    out["modifiedAt"] = now
    return out
