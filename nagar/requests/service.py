"""Citizen service requests: the city's services, filing a request (Open311 POST), duplicate linking,
the operator workflow, SLA breaches, Open311 app keys and photos.

Plain functions, the store first and keyword-only arguments; no HTTP objects. The Open311 wire format
(JSON and XML) lives in :mod:`nagar.requests.open311`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import secrets
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path

import numpy as np

from nagar.core.errors import Forbidden, InvalidInput, NagarError, NotFound, PayloadTooLarge
from nagar.core.tenancy import Scope
from nagar.security import audit

# statuses -------------------------------------------------------------------------------------------
STATUSES = ("new", "acknowledged", "in_progress", "resolved", "rejected", "duplicate")
OPEN311_STATUS = {"new": "open", "acknowledged": "open", "in_progress": "open",
                  "resolved": "closed", "rejected": "closed", "duplicate": "closed"}
"""Internal status -> the Open311 status (the spec knows only ``open`` and ``closed``)."""
OPEN_STATUSES = tuple(s for s, o in OPEN311_STATUS.items() if o == "open")
TRANSITIONS = {
    "new": {"acknowledged", "in_progress", "resolved", "rejected", "duplicate"},
    "acknowledged": {"in_progress", "resolved", "rejected", "duplicate"},
    "in_progress": {"acknowledged", "resolved", "rejected", "duplicate"},
    "resolved": {"in_progress"},  # reopened
    "rejected": {"acknowledged"},  # reconsidered
    "duplicate": {"acknowledged"},  # not a duplicate after all
}
"""Allowed workflow moves (from -> to)."""

DUPLICATE_RADIUS_M = 100.0
"""A new request this close (great-circle distance) to an open one of the same service is linked to it."""
DUPLICATE_WINDOW = timedelta(hours=24)
"""... if that open one was filed at most this long before."""
MAX_PHOTO_BYTES = 5 * 2**20
"""Largest photo accepted with a request [bytes]."""
MAX_DESCRIPTION = 4000
"""GeoReport v2: description is "free form text limited to 4,000 characters"."""
MAX_FIELD = 500
DEFAULT_WINDOW = timedelta(days=90)
"""GeoReport v2, GET Service Requests: "When not specified, the range defaults to most recent 90 days"
and a range "may not span more than 90 days"."""
DEFAULT_LIMIT = 1000
"""GeoReport v2: "Default query limit is a span of 90 days or first 1000 requests returned, whichever is
smallest"."""
EARTH_RADIUS_M = 6_371_008.8
"""Mean Earth radius R1 = 6371.0088 km (IUGG; Moritz, "Geodetic Reference System 1980", Bull. Géod. 54, 1980)."""
MEDIA_PATH = "/api/v1/service-requests/media/"


class UnsupportedMedia(NagarError):
    """An upload that is not one of the accepted image types (HTTP 415)."""

    status_code = 415
    code = "unsupported_media_type"


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _utc(t: datetime | None) -> datetime | None:
    """Stored naive UTC -> aware UTC."""
    if t is None:
        return None
    return t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t.astimezone(timezone.utc)


# pure helpers ---------------------------------------------------------------------------------------
def haversine_m(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance [m] between points given in degrees (WGS84 latitude/longitude), vectorised.

    Haversine formula (R. W. Sinnott, "Virtues of the Haversine", Sky and Telescope 68(2):159, 1984):
    ``d = 2 R asin(sqrt(sin²(Δφ/2) + cos φ1 cos φ2 sin²(Δλ/2)))`` on a sphere of radius
    :data:`EARTH_RADIUS_M` (the IUGG mean radius); the spherical error against the ellipsoid is below
    0.5 %, far inside a 100 m duplicate radius.
    """
    p1, p2 = np.radians(np.asarray(lat1, dtype=float)), np.radians(np.asarray(lat2, dtype=float))
    dp = p2 - p1
    dl = np.radians(np.asarray(lon2, dtype=float) - np.asarray(lon1, dtype=float))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def parse_w3(value: str, field: str) -> datetime:
    """A W3C-DTF date-time (the GeoReport v2 date format) with its time zone, e.g. 2010-01-01T00:00:00Z."""
    try:
        t = datetime.fromisoformat(value.strip())
    except (ValueError, AttributeError):
        raise InvalidInput(f"{field} must be a w3 date-time such as 2010-01-01T00:00:00Z", field=field) from None
    if t.tzinfo is None:
        raise InvalidInput(f"{field} must include a time zone (Z or +HH:MM)", field=field)
    return t.astimezone(timezone.utc)


def format_w3(t: datetime | None) -> str | None:
    """UTC, to the second, with ``Z`` (GeoReport v2: "Returned in w3 format, eg 2010-01-01T00:00:00Z")."""
    if t is None:
        return None
    return _utc(t).strftime("%Y-%m-%dT%H:%M:%SZ")


def sniff_image(data: bytes) -> tuple[str, str] | None:
    """(media type, file suffix) of a JPEG, PNG or WebP image by its first bytes, else None.

    Signatures: JPEG starts with the SOI marker FF D8 then a marker FF (ITU-T T.81 | ISO/IEC 10918-1,
    B.1.1.3); PNG with 89 50 4E 47 0D 0A 1A 0A (PNG specification, 3rd ed., 5.2); WebP is a RIFF
    container, "RIFF", a 4-byte size, then "WEBP" (RFC 9649, 2).
    """
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg", ".jpg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png", ".png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp", ".webp"
    return None


# services -------------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _defaults() -> dict:
    return json.loads((Path(__file__).parent / "services.json").read_text(encoding="utf-8"))


def departments() -> dict[str, str]:
    return dict(_defaults()["departments"])


def city_services(store, *, city: str, include_disabled: bool = False) -> list[dict]:
    """The shipped default services with the city's settings applied (enabled, department, SLA hours)."""
    settings = {r["service_code"]: r for r in store.request_service_settings(city=city)}
    deps = departments()
    out = []
    for s in _defaults()["services"]:
        s = dict(s)
        own = settings.get(s["service_code"])
        s["enabled"] = True if own is None else bool(own["enabled"])
        if own is not None and own["department"]:
            s["department"] = own["department"]
        if own is not None and own["sla_hours"] is not None:
            s["sla_hours"] = float(own["sla_hours"])
        s["agency_responsible"] = deps.get(s["department"], s["department"])
        s["metadata"] = bool(s["attributes"])
        s["type"] = "realtime"
        if s["enabled"] or include_disabled:
            out.append(s)
    return out


def get_service(store, *, city: str, code: str) -> dict:
    for s in city_services(store, city=city):
        if s["service_code"] == code:
            return s
    raise NotFound(f"service_code {code!r} not found", field="service_code")


def service_notice(service: dict) -> str:
    hours = service["sla_hours"]
    return f"{service['agency_responsible']} aims to act within {hours:g} hours."


def set_service(store, *, city: str, code: str, enabled: bool, department: str | None, sla_hours: float | None,
                actor: str) -> dict:
    if code not in {s["service_code"] for s in _defaults()["services"]}:
        raise NotFound(f"no service {code!r}", field="service_code")
    if department is not None and department not in departments():
        raise InvalidInput(f"department must be one of {', '.join(departments())}", field="department")
    store.put_request_service_setting({"city": city, "service_code": code, "enabled": enabled,
                                       "department": department, "sla_hours": sla_hours, "updated_at": _now(),
                                       "updated_by": actor})
    audit.record(store, actor=actor, action="requests.service.update", city=city, target=f"service:{code}",
                 details={"enabled": enabled, "department": department, "sla_hours": sla_hours})
    return next(s for s in city_services(store, city=city, include_disabled=True) if s["service_code"] == code)


def validate_attributes(service: dict, given: dict[str, list[str]]) -> dict:
    """Check ``attribute[code]`` answers against the service definition (GeoReport v2 datatypes);
    returns {code: value} with lists for multivaluelist. Unknown codes are refused."""
    defs = {a["code"]: a for a in service["attributes"]}
    unknown = sorted(set(given) - set(defs))
    if unknown:
        raise InvalidInput(f"attribute[{unknown[0]}] is not an attribute of service {service['service_code']}",
                           field=f"attribute[{unknown[0]}]")
    out: dict = {}
    for code, a in defs.items():
        values = [v for v in given.get(code, []) if v != ""]
        field = f"attribute[{code}]"
        if not values:
            if a["required"]:
                raise InvalidInput(f"{field} is required for service {service['service_code']}", field=field)
            continue
        keys = {str(v["key"]) for v in a.get("values", [])}
        dt = a["datatype"]
        if dt == "multivaluelist":
            bad = [v for v in values if v not in keys]
            if bad:
                raise InvalidInput(f"{field}: {bad[0]!r} is not one of {', '.join(sorted(keys))}", field=field)
            out[code] = sorted(set(values))
            continue
        if len(values) > 1:
            raise InvalidInput(f"{field} takes one value", field=field)
        v = values[0]
        if len(v) > MAX_DESCRIPTION:
            raise InvalidInput(f"{field} is longer than {MAX_DESCRIPTION} characters", field=field)
        if dt == "singlevaluelist" and v not in keys:
            raise InvalidInput(f"{field}: {v!r} is not one of {', '.join(sorted(keys))}", field=field)
        if dt == "number":
            try:
                x = float(v)
            except ValueError:
                raise InvalidInput(f"{field} must be a number", field=field) from None
            if not math.isfinite(x):
                raise InvalidInput(f"{field} must be a finite number", field=field)
            out[code] = x
            continue
        if dt == "datetime":
            out[code] = format_w3(parse_w3(v, field))
            continue
        if dt == "string" and ("\n" in v or "\r" in v):
            raise InvalidInput(f"{field} is a string without line breaks", field=field)
        out[code] = v
    return out


# Open311 app keys -----------------------------------------------------------------------------------
KEY_PREFIX = "o311_"


def issue_client_key(store, *, city: str, name: str, actor: str) -> dict:
    """A new Open311 app key for one city; the full key is shown once, only its SHA-256 is kept."""
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    row = {"id": key_id, "city": city, "name": name, "secret_hash": hashlib.sha256(secret.encode()).hexdigest(),
           "created_at": _now(), "created_by": actor, "revoked_at": None}
    store.add_open311_client(row)
    audit.record(store, actor=actor, action="requests.open311_key.create", city=city, target=f"open311_key:{key_id}",
                 details={"name": name})
    return {"id": key_id, "city": city, "name": name, "key": f"{KEY_PREFIX}{key_id}.{secret}",
            "created_at": row["created_at"]}


def revoke_client_key(store, *, key_id: str, actor: str) -> None:
    if not store.revoke_open311_client(key_id, now=_now()):
        raise NotFound(f"no active Open311 key {key_id!r}", field="key_id")
    row = store.open311_client(key_id)
    audit.record(store, actor=actor, action="requests.open311_key.revoke", city=row["city"],
                 target=f"open311_key:{key_id}")


def check_client_key(store, *, api_key: str | None, city: str) -> dict:
    """The app of a valid, unrevoked Open311 key issued for ``city``; otherwise a 403 that says no more
    (it never tells whether the jurisdiction exists)."""
    import hmac

    if not api_key:
        raise Forbidden("api_key was not provided -- can't proceed with create_request", field="api_key")
    invalid = Forbidden("Invalid api_key received -- can't proceed with create_request.", field="api_key")
    if not api_key.startswith(KEY_PREFIX) or "." not in api_key:
        raise invalid
    key_id, _, secret = api_key[len(KEY_PREFIX):].partition(".")
    row = store.open311_client(key_id)
    if row is None or row["revoked_at"] is not None or row["city"] != city:
        raise invalid
    if not hmac.compare_digest(row["secret_hash"], hashlib.sha256(secret.encode()).hexdigest()):
        raise invalid
    return row


# filing a request -----------------------------------------------------------------------------------
def media_dir(settings) -> Path:
    """Photos live under the data directory (the folder of the DuckDB file), in ``media/requests``."""
    return Path(str(settings.db)).parent / "media" / "requests"


def check_photo(data: bytes) -> tuple[str, str]:
    """(media type, suffix) of an acceptable photo, or a 413 / 415 saying what is wrong."""
    if len(data) > MAX_PHOTO_BYTES:
        raise PayloadTooLarge(f"media: photo larger than {MAX_PHOTO_BYTES // 2**20} MiB", field="media")
    if not data:
        raise InvalidInput("media: empty file", field="media")
    kind = sniff_image(data)
    if kind is None:
        raise UnsupportedMedia("media: not a JPEG, PNG or WebP image (checked by its first bytes)", field="media")
    return kind


def _save_photo(settings, data: bytes, suffix: str) -> dict:
    folder = media_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    name = secrets.token_urlsafe(18) + suffix
    tmp = folder / f".{name}.tmp"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, folder / name)
    return {"name": name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def _text(form: dict, name: str, limit: int = MAX_FIELD) -> str | None:
    v = form.get(name)
    if v is None:
        return None
    v = str(v).strip()
    if v == "":
        return None  # GeoReport v2: an empty optional argument is the same as an absent one
    if len(v) > limit:
        raise InvalidInput(f"{name} is longer than {limit} characters", field=name)
    return v


def _coordinate(form: dict, name: str, bound: float) -> float | None:
    v = _text(form, name, 64)
    if v is None:
        return None
    try:
        x = float(v)
    except ValueError:
        raise InvalidInput(f"{name} must be a number (WGS84 degrees)", field=name) from None
    if not math.isfinite(x) or abs(x) > bound:
        raise InvalidInput(f"{name} must be within ±{bound:g} degrees", field=name)
    return x


def find_duplicate(store, *, city: str, service_code: str, lat: float, lon: float, now: datetime) -> dict | None:
    """The nearest open, original request of the same service within :data:`DUPLICATE_RADIUS_M` filed in
    the last :data:`DUPLICATE_WINDOW`, or None."""
    dlat = DUPLICATE_RADIUS_M / 111_000.0 * 1.5  # a generous box; exact distances below
    dlon = dlat / max(math.cos(math.radians(lat)), 0.01)
    cands = store.open_requests_near(city=city, service_code=service_code, since=now - DUPLICATE_WINDOW,
                                     lat_min=lat - dlat, lat_max=lat + dlat, lon_min=lon - dlon, lon_max=lon + dlon)
    if not cands:
        return None
    d = haversine_m(lat, lon, [c["lat"] for c in cands], [c["lon"] for c in cands])
    i = int(np.argmin(d))
    return cands[i] if d[i] <= DUPLICATE_RADIUS_M else None


def submit(store, *, settings, city: str, form: dict, attributes: dict[str, list[str]], photo: bytes | None,
           client: dict | None, actor: str, now: datetime | None = None) -> dict:
    """File a request from GeoReport v2 POST arguments (``form``: the single-valued fields;
    ``attributes``: ``attribute[code]`` answers). Returns the stored request, its service, and the
    request it was linked to as a duplicate (or None)."""
    now = now or _now()
    code = _text(form, "service_code", 64)
    if code is None:
        raise InvalidInput("service_code was not provided", field="service_code")
    service = get_service(store, city=city, code=code)
    lat, lon = _coordinate(form, "lat", 90), _coordinate(form, "long", 180)
    if (lat is None) != (lon is None):
        raise InvalidInput("lat and long must be sent together", field="lat" if lat is None else "long")
    address, address_id = _text(form, "address_string"), _text(form, "address_id", 100)
    if lat is None and address is None and address_id is None:
        raise InvalidInput("a location is required: lat & long, address_string or address_id", field="lat")
    if lat is not None:
        from nagar.registry.service import check_near_city

        jurisdiction = store.get_city(city)
        if jurisdiction is not None:
            check_near_city(jurisdiction, lat, lon, what="a request to this jurisdiction")
    description = _text(form, "description", MAX_DESCRIPTION)
    attrs = validate_attributes(service, attributes)
    media_url = _text(form, "media_url", 2000)
    if media_url is not None and not media_url.lower().startswith(("http://", "https://")):
        raise InvalidInput("media_url must be an http or https URL", field="media_url")
    if media_url is not None and photo is not None:
        raise InvalidInput("send either a media file or a media_url, not both", field="media")
    contact = {"email": _text(form, "email", 254), "device_id": _text(form, "device_id", 200),
               "account_id": _text(form, "account_id", 200), "first_name": _text(form, "first_name", 200),
               "last_name": _text(form, "last_name", 200), "phone": _text(form, "phone", 40)}
    media = None
    if photo is not None:
        content_type, suffix = check_photo(photo)
        media = {**_save_photo(settings, photo, suffix), "content_type": content_type}
        media_url = MEDIA_PATH + media["name"]
    dup = None if lat is None else find_duplicate(store, city=city, service_code=code, lat=lat, lon=lon, now=now)
    row = {"city": city, "service_code": code, "status": "duplicate" if dup else "new",
           "department": service["department"], "description": description, "lat": lat, "lon": lon,
           "address": address, "address_id": address_id, "zipcode": _text(form, "zipcode", 20),
           "attributes": attrs, "media_url": media_url,
           "status_notes": f"Duplicate of request {dup['id']}." if dup else None,
           "duplicate_of": dup["id"] if dup else None, "token": secrets.token_urlsafe(12),
           "client_id": client["id"] if client else None, "requested_at": now, "updated_at": now,
           "expected_at": now + timedelta(hours=float(service["sla_hours"])),
           "closed_at": now if dup else None}
    try:
        stored = store.add_service_request(row, contact=contact, media=media, actor=actor)
    except BaseException:
        if media is not None:
            (media_dir(settings) / media["name"]).unlink(missing_ok=True)
        raise
    audit.record(store, actor=actor, action="requests.create", city=city, target=f"service_request:{stored['id']}",
                 details={"service_code": code, "duplicate_of": stored["duplicate_of"]})
    return {"request": stored, "service": service, "duplicate_of": dup}


# reading --------------------------------------------------------------------------------------------
def find_requests(store, *, city: str, ids: str | None = None, codes: str | None = None,
                  start_date: str | None = None, end_date: str | None = None, status: str | None = None,
                  scope: Scope = None, now: datetime | None = None) -> list[dict]:
    """GeoReport v2 GET Service Requests with its arguments as sent (comma lists, w3 dates)."""
    now = now or _now()
    if ids:
        try:
            id_list = [int(x) for x in ids.split(",") if x.strip()]
        except ValueError:
            raise InvalidInput("service_request_id must be a comma-separated list of ids",
                               field="service_request_id") from None
        if len(id_list) > DEFAULT_LIMIT:
            raise InvalidInput(f"at most {DEFAULT_LIMIT} service_request_id values", field="service_request_id")
        return store.service_requests(city=city, ids=id_list, limit=DEFAULT_LIMIT, scope=scope)
    start = parse_w3(start_date, "start_date") if start_date else None
    end = parse_w3(end_date, "end_date") if end_date else None
    if start is None and end is None:
        end, start = now, now - DEFAULT_WINDOW
    elif start is None:
        start = end - DEFAULT_WINDOW
    elif end is None:
        end = start + DEFAULT_WINDOW
    if end < start:
        raise InvalidInput("end_date is before start_date", field="end_date")
    if end - start > DEFAULT_WINDOW:
        raise InvalidInput("start_date to end_date may not span more than 90 days", field="end_date")
    statuses = None
    if status:
        wanted = {s.strip() for s in status.split(",") if s.strip()}
        if not wanted <= {"open", "closed"}:
            raise InvalidInput("status must be open, closed or both (comma-separated)", field="status")
        statuses = [s for s, o in OPEN311_STATUS.items() if o in wanted]
    codes_list = [c.strip() for c in codes.split(",") if c.strip()] if codes else None
    return store.service_requests(city=city, codes=codes_list, statuses=statuses, start=start, end=end,
                                  limit=DEFAULT_LIMIT, scope=scope)


def get_request(store, *, request_id: int, scope: Scope = None) -> dict:
    row = store.service_request(request_id, scope=scope)
    if row is None:
        raise NotFound(f"service_request_id {request_id} not found", field="service_request_id")
    return row


def sla_breaches(store, *, city: str, scope: Scope = None, now: datetime | None = None) -> list[dict]:
    """Open requests past their expected time, with the hours overdue (no personal data)."""
    now = now or _now()
    names = {s["service_code"]: s["service_name"] for s in city_services(store, city=city, include_disabled=True)}
    out = []
    for r in store.overdue_requests(city=city, now=now, scope=scope):
        out.append({"service_request_id": r["id"], "service_code": r["service_code"],
                    "service_name": names.get(r["service_code"], r["service_code"]), "status": r["status"],
                    "department": r["department"], "requested_datetime": format_w3(r["requested_at"]),
                    "expected_datetime": format_w3(r["expected_at"]),
                    "hours_overdue": round((now - _utc(r["expected_at"])).total_seconds() / 3600, 2)})
    return out


# the operator workflow ------------------------------------------------------------------------------
def update_request(store, *, request_id: int, status: str | None = None, department: str | None = None,
                   note: str | None = None, public: bool = False, duplicate_of: int | None = None,
                   actor: str, scope: Scope = None, now: datetime | None = None) -> dict:
    """Move a request through the workflow (:data:`TRANSITIONS`), assign it to a department, add a note
    (``public``: it becomes the Open311 ``status_notes``). Every change is an event and an audit entry."""
    now = now or _now()
    row = get_request(store, request_id=request_id, scope=scope)
    if status is None and department is None and note is None:
        raise InvalidInput("nothing to change: give status, department or note", field="status")
    fields: dict = {"updated_at": now}
    if status is not None and status != row["status"]:
        if status not in STATUSES:
            raise InvalidInput(f"status must be one of {', '.join(STATUSES)}", field="status")
        if status not in TRANSITIONS[row["status"]]:
            raise InvalidInput(f"a request cannot go from {row['status']} to {status}; allowed: "
                               f"{', '.join(sorted(TRANSITIONS[row['status']]))}", field="status")
        fields["status"] = status
        if status == "duplicate":
            if duplicate_of is None:
                raise InvalidInput("marking a duplicate needs duplicate_of", field="duplicate_of")
            orig = store.service_request(duplicate_of)
            if orig is None or orig["city"] != row["city"] or orig["id"] == row["id"]:
                raise InvalidInput(f"duplicate_of {duplicate_of} is not another request of this city",
                                   field="duplicate_of")
            fields["duplicate_of"] = orig["id"]
            if note is None:
                note, public = f"Duplicate of request {orig['id']}.", True
        elif row["status"] == "duplicate":
            fields["duplicate_of"] = None
        was_closed, closed = OPEN311_STATUS[row["status"]] == "closed", OPEN311_STATUS[status] == "closed"
        if closed and not was_closed:
            fields["closed_at"] = now
        elif was_closed and not closed:
            fields["closed_at"] = None
    elif duplicate_of is not None:
        raise InvalidInput("duplicate_of goes with status duplicate", field="duplicate_of")
    if department is not None:
        if department not in departments():
            raise InvalidInput(f"department must be one of {', '.join(departments())}", field="department")
        fields["department"] = department
    if note is not None:
        note = note.strip()
        if not note or len(note) > MAX_DESCRIPTION:
            raise InvalidInput(f"note must be 1 to {MAX_DESCRIPTION} characters", field="note")
        if public:
            fields["status_notes"] = note
    event = {"time": now, "actor": actor, "from_status": row["status"], "to_status": fields.get("status"),
             "department": fields.get("department"), "note": note, "public": bool(public and note)}
    out = store.update_service_request(row["id"], fields, event=event)
    audit.record(store, actor=actor, action="requests.update", city=row["city"], target=f"service_request:{row['id']}",
                 details={k: v for k, v in (("status", fields.get("status")), ("department", fields.get("department")),
                                            ("note", bool(note)), ("duplicate_of", fields.get("duplicate_of")))
                          if v is not None})
    return out


def operator_view(store, row: dict, *, with_events: bool = False) -> dict:
    """A request as operators see it: every field, the Open311 status, and the citizen's contact."""
    out = {k: v for k, v in row.items() if k != "token"}
    out["open311_status"] = OPEN311_STATUS[row["status"]]
    out["contact"] = store.service_request_contact(row["id"]) or {}
    if with_events:
        out["events"] = store.service_request_events(row["id"])
        out["duplicates"] = store.duplicates_of(row["id"])
    return out
