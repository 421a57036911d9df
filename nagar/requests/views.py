"""Routes: the Open311 GeoReport v2 API (``/api/v1/open311/v2``) and the operator API
(``/api/v1/service-requests``).

Open311: ``jurisdiction_id`` is Nagar's city id. Reads are scoped like every Nagar read (open-data
cities for anonymous callers, plus the caller's own); a city the caller may not see is "jurisdiction_id
not found". ``POST requests`` is authorised by its form's ``api_key`` (an Open311 app key a city admin
issued for that city), not by Nagar credentials, so it is declared public. Every error of these routes,
including those of the permission check, is the spec's error document (a list of {code, description}),
with 400 where Nagar would say 422.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse
from fastapi.routing import APIRoute
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException as StarletteHTTPException

from nagar.core.errors import InvalidInput, NagarError, NotFound
from nagar.registry.service import get_city
from nagar.security.permissions import Perm, PrincipalDep, check_city, require
from nagar.store.deps import SettingsDep, StoreDep

from . import open311, service
from nagar.core.forms import parse_urlencoded
from .models import Open311KeyIn, RequestUpdate, ServiceSetting, Status


# Open311 -------------------------------------------------------------------------------------------
def _fmt(request: Request) -> str:
    return "json" if request.url.path.endswith(".json") else "xml"


class Open311Route(APIRoute):
    """Answers every error in the GeoReport v2 error format of the format the path asked for."""

    def get_route_handler(self):
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except NagarError as exc:
                code = 400 if exc.status_code in (409, 422) else exc.status_code
                return open311.errors(_fmt(request), code, exc.message, headers=getattr(exc, "headers", None))
            except RequestValidationError as exc:
                e = (exc.errors() or [{}])[0]
                where = ".".join(str(p) for p in e.get("loc", ()) if p not in ("query", "path", "body"))
                return open311.errors(_fmt(request), 400, f"{where or 'request'}: {e.get('msg', 'invalid')}")
            except StarletteHTTPException as exc:
                return open311.errors(_fmt(request), 400 if exc.status_code == 422 else exc.status_code,
                                      str(exc.detail))

        return route


open311_router = APIRouter(prefix="/api/v1/open311/v2", tags=["open311"], route_class=Open311Route)

Fmt = Annotated[Literal["json", "xml"], Path(description="Response format: json or xml (the resource's suffix)")]
Jurisdiction = Query(None, max_length=100, examples=["dhaka"],
                     description="Nagar's city id. Required when the server holds more than one city.")

_ERRORS = {400: "Invalid request, or jurisdiction_id not provided", 401: "Invalid Nagar credentials sent",
           403: "Missing or invalid api_key", 404: "jurisdiction_id, service_code or request not found",
           413: "Photo or body too large", 415: "Photo not a JPEG, PNG or WebP image", 429: "Rate limited"}


def _doc(schema: dict) -> dict:
    return {"application/json": {"schema": schema}, "text/xml": {"schema": {"type": "string"}}}


def o311(perm: Perm, what: str, schema: dict, *, codes=(400, 401, 403, 404, 413, 429), body: dict | None = None) -> dict:
    """Route keywords of an Open311 operation: the permission, and its answers in the spec's formats."""
    kw = require(perm, openapi_extra={"requestBody": body} if body else None)
    kw["responses"] = {c: {"description": _ERRORS[c] + " (GeoReport v2 error list)",
                           "content": _doc(open311.ERRORS_SCHEMA)} for c in codes}
    kw["responses"][200] = {"description": what, "content": _doc(schema)}
    kw["response_class"] = Response
    return kw


def _jurisdiction(store, jurisdiction_id: str | None, scope) -> dict:
    """The city named by jurisdiction_id (or the only city, when the server holds one)."""
    if not jurisdiction_id:
        cities = store.list_cities()
        if len(cities) != 1:
            raise InvalidInput("jurisdiction_id was not provided", field="jurisdiction_id")
        jurisdiction_id = cities[0]["id"]
    city = store.get_city(jurisdiction_id, scope=scope)
    if city is None:
        raise NotFound(f"jurisdiction_id {jurisdiction_id!r} not found", field="jurisdiction_id")
    return city


def _services(store, city: str) -> dict[str, dict]:
    return {s["service_code"]: s for s in service.city_services(store, city=city, include_disabled=True)}


@open311_router.get("/discovery.{fmt}", summary="Open311 Service Discovery",
                    **o311(Perm.PUBLIC, "Where this GeoReport v2 endpoint is and what it speaks",
                           open311.DISCOVERY_SCHEMA, codes=(400, 429)))
def get_discovery(fmt: Fmt, request: Request) -> Response:
    url = str(request.base_url).rstrip("/") + open311_router.prefix
    return open311.render(fmt, "discovery", open311.discovery_doc(url))


@open311_router.get("/services.{fmt}", summary="GeoReport v2: GET Service List",
                    **o311(Perm.READ, "The city's services", open311.SERVICES_SCHEMA))
def get_services(fmt: Fmt, store: StoreDep, principal: PrincipalDep,
                 jurisdiction_id: str | None = Jurisdiction) -> Response:
    city = _jurisdiction(store, jurisdiction_id, principal.scope(Perm.READ))
    docs = [open311.service_doc(s) for s in service.city_services(store, city=city["id"])]
    return open311.render(fmt, "services", docs)


@open311_router.get("/services/{service_code}.{fmt}", summary="GeoReport v2: GET Service Definition",
                    **o311(Perm.READ, "The service's attributes", open311.DEFINITION_SCHEMA))
def get_service_definition(fmt: Fmt, store: StoreDep, principal: PrincipalDep,
                           service_code: str = Path(..., max_length=64, examples=["EWASTE"]),
                           jurisdiction_id: str | None = Jurisdiction) -> Response:
    city = _jurisdiction(store, jurisdiction_id, principal.scope(Perm.READ))
    s = service.get_service(store, city=city["id"], code=service_code)
    return open311.render(fmt, "definition", open311.definition_doc(s))


_FORM = {"type": "object", "required": ["api_key", "service_code"], "properties": {
    "api_key": {"type": "string", "description": "Open311 app key issued by the city (o311_<id>.<secret>)"},
    "jurisdiction_id": {"type": "string", "description": "Nagar's city id (optional: the key names its city)"},
    "service_code": {"type": "string", "examples": ["EWASTE"]},
    "lat": {"type": "string", "description": "WGS84 latitude"}, "long": {"type": "string"},
    "address_string": {"type": "string"}, "address_id": {"type": "string"},
    "email": {"type": "string"}, "device_id": {"type": "string"}, "account_id": {"type": "string"},
    "first_name": {"type": "string"}, "last_name": {"type": "string"}, "phone": {"type": "string"},
    "description": {"type": "string", "maxLength": 4000}, "media_url": {"type": "string"}},
    "additionalProperties": {"type": "string", "description": "attribute[CODE]=value (attribute[CODE][]=v for lists)"}}
_POST_BODY = {"required": True, "content": {
    "application/x-www-form-urlencoded": {"schema": _FORM},
    "multipart/form-data": {"schema": {**_FORM, "properties": {
        **_FORM["properties"], "media": {"type": "string", "format": "binary",
                                         "description": "A photo: JPEG, PNG or WebP, at most 5 MiB"}}}}}}


def _split_form(form) -> tuple[dict, dict[str, list[str]], object | None]:
    fields: dict = {}
    attrs: dict[str, list[str]] = {}
    upload = None
    for key, value in form.multi_items():
        if key == "media" and not isinstance(value, str):
            if upload is not None:
                raise InvalidInput("one media file per request", field="media")
            upload = value
            continue
        if not isinstance(value, str):
            raise InvalidInput(f"{key}: a file is only accepted as media", field=key)
        if key.startswith("attribute[") and "]" in key:
            code = key[len("attribute["):key.index("]")]
            attrs.setdefault(code, []).append(value)
        else:
            fields.setdefault(key, value)
    return fields, attrs, upload


@open311_router.post("/requests.{fmt}", summary="GeoReport v2: POST Service Request",
                     **o311(Perm.PUBLIC, "The new request's id and notice", open311.POSTED_SCHEMA,
                            codes=(400, 403, 404, 413, 415, 429), body=_POST_BODY))
async def post_request(fmt: Fmt, request: Request, store: StoreDep, settings: SettingsDep) -> Response:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        raise InvalidInput("send the request as application/x-www-form-urlencoded (or multipart/form-data "
                           "with a media file)", field="body")
    if ctype == "application/x-www-form-urlencoded":  # bytes decoded as the URL Standard says (forms.py)
        form = FormData(parse_urlencoded(await request.body(), max_fields=200))
    else:  # multipart: Starlette decodes each part as UTF-8
        try:
            form = await request.form(max_files=1, max_fields=200)
        except (StarletteHTTPException, ValueError, KeyError) as exc:
            raise InvalidInput(f"malformed form body: {getattr(exc, 'detail', exc)}", field="body") from None
    fields, attrs, upload = _split_form(form)
    photo = None
    if upload is not None:
        photo = await upload.read(service.MAX_PHOTO_BYTES + 1)

    def file_it() -> dict:
        key_city = (fields.get("jurisdiction_id") or "").strip()
        if not key_city:  # the key names its city: the jurisdiction is optional here
            kid = (fields.get("api_key") or "")[len(service.KEY_PREFIX):].partition(".")[0]
            row = store.open311_client(kid) if kid else None
            key_city = row["city"] if row else ""
        client = service.check_client_key(store, api_key=fields.get("api_key"), city=key_city)
        get_city(store, city_id=client["city"])
        return service.submit(store, settings=settings, city=client["city"], form=fields, attributes=attrs,
                              photo=photo, client=client, actor=f"open311:{client['id']}")

    out = await run_in_threadpool(file_it)
    notice = service.service_notice(out["service"])
    if out["duplicate_of"] is not None:
        notice += f" It was reported before as request {out['duplicate_of']['id']} and is linked to it."
    return open311.render(fmt, "requests", [{"service_request_id": str(out["request"]["id"]),
                                             "service_notice": notice, "account_id": None}])


@open311_router.get("/requests.{fmt}", summary="GeoReport v2: GET Service Requests",
                    **o311(Perm.READ, "Requests, newest first (at most 1000, at most 90 days)",
                           open311.REQUESTS_SCHEMA))
def get_requests(fmt: Fmt, request: Request, store: StoreDep, principal: PrincipalDep,
                 jurisdiction_id: str | None = Jurisdiction,
                 service_request_id: str | None = Query(None, max_length=20000,
                                                        description="Comma list; overrides every other argument"),
                 service_code: str | None = Query(None, max_length=2000, description="Comma list"),
                 start_date: str | None = Query(None, max_length=40, examples=["2026-01-01T00:00:00Z"]),
                 end_date: str | None = Query(None, max_length=40),
                 status: str | None = Query(None, max_length=20, description="open, closed (comma list)")) -> Response:
    scope = principal.scope(Perm.READ)
    city = _jurisdiction(store, jurisdiction_id, scope)
    rows = service.find_requests(store, city=city["id"], ids=service_request_id, codes=service_code,
                                 start_date=start_date, end_date=end_date, status=status, scope=scope)
    svcs = _services(store, city["id"])
    base = str(request.base_url)
    return open311.render(fmt, "requests", [open311.public_request(r, svcs, base_url=base) for r in rows])


@open311_router.get("/requests/{service_request_id}.{fmt}", summary="GeoReport v2: GET Service Request",
                    **o311(Perm.READ, "The request", open311.REQUESTS_SCHEMA))
def get_request(fmt: Fmt, request: Request, store: StoreDep, principal: PrincipalDep,
                service_request_id: str = Path(..., max_length=20, examples=["1"]),
                jurisdiction_id: str | None = Jurisdiction) -> Response:
    scope = principal.scope(Perm.READ)
    city = _jurisdiction(store, jurisdiction_id, scope)
    if not service_request_id.isdigit():
        raise NotFound(f"service_request_id {service_request_id!r} not found", field="service_request_id")
    row = service.get_request(store, request_id=int(service_request_id), scope=scope)
    if row["city"] != city["id"]:
        raise NotFound(f"service_request_id {service_request_id} not found", field="service_request_id")
    return open311.render(fmt, "requests", [open311.public_request(row, _services(store, city["id"]),
                                                                   base_url=str(request.base_url))])


@open311_router.get("/tokens/{token}.{fmt}", summary="GeoReport v2: GET service_request_id from a token",
                    **o311(Perm.READ, "The request id the token stands for", open311.TOKENS_SCHEMA))
def get_token(fmt: Fmt, store: StoreDep, principal: PrincipalDep, token: str = Path(..., max_length=64),
              jurisdiction_id: str | None = Jurisdiction) -> Response:
    scope = principal.scope(Perm.READ)
    city = _jurisdiction(store, jurisdiction_id, scope)
    row = store.service_request_by_token(token, city=city["id"], scope=scope)
    if row is None:
        raise NotFound("token not found", field="token")
    return open311.render(fmt, "requests", [{"service_request_id": str(row["id"]), "token": token}])


# the operator API ------------------------------------------------------------------------------------
router = APIRouter(prefix="/api/v1/service-requests", tags=["service requests"])


@router.get("", summary="A city's requests with the citizens' contacts (operators)", **require(Perm.WRITE))
def list_requests(store: StoreDep, principal: PrincipalDep, city: str = Query(..., examples=["dhaka"]),
                  status: Status | None = Query(None), service_code: str | None = Query(None, max_length=64),
                  limit: int = Query(200, ge=1, le=5000)) -> dict:
    check_city(store, principal, city, Perm.WRITE)
    rows = store.service_requests(city=city, codes=[service_code] if service_code else None,
                                  statuses=[status] if status else None, limit=limit)
    return {"city": city, "items": [service.operator_view(store, r) for r in rows]}


@router.get("/sla-breaches", summary="Open requests past their service-level target", **require(Perm.READ))
def get_sla_breaches(store: StoreDep, principal: PrincipalDep, city: str = Query(..., examples=["dhaka"])) -> dict:
    scope = principal.scope(Perm.READ)
    get_city(store, city_id=city, scope=scope)
    return {"city": city, "items": service.sla_breaches(store, city=city, scope=scope)}


@router.get("/summary", summary="Counts per service and status, and open requests (public fields)",
            **require(Perm.READ))
def get_summary(request: Request, store: StoreDep, principal: PrincipalDep,
                city: str = Query(..., examples=["dhaka"])) -> dict:
    scope = principal.scope(Perm.READ)
    get_city(store, city_id=city, scope=scope)
    svcs = _services(store, city)
    rows = store.service_requests(city=city, statuses=list(service.OPEN_STATUSES), limit=1000, scope=scope)
    return {"city": city,
            "services": [{"service_code": s["service_code"], "service_name": s["service_name"]}
                         for s in svcs.values()],
            "counts": store.service_request_counts(city=city, scope=scope),
            "open": [open311.public_request(r, svcs, base_url=str(request.base_url)) for r in rows]}


@router.put("/services/{service_code}", summary="Enable or disable a service; set its department and SLA",
            **require(Perm.ADMIN))
def put_service(body: ServiceSetting, store: StoreDep, principal: PrincipalDep,
                service_code: str = Path(..., max_length=64, examples=["EWASTE"])) -> dict:
    check_city(store, principal, body.city, Perm.ADMIN)
    return service.set_service(store, city=body.city, code=service_code, enabled=body.enabled,
                               department=body.department, sla_hours=body.sla_hours, actor=principal.actor)


@router.post("/open311-keys", status_code=201, summary="Issue an Open311 app key for a city (shown once)",
             **require(Perm.ADMIN))
def post_key(body: Open311KeyIn, store: StoreDep, principal: PrincipalDep) -> dict:
    check_city(store, principal, body.city, Perm.ADMIN)
    return service.issue_client_key(store, city=body.city, name=body.name, actor=principal.actor)


@router.get("/open311-keys", summary="A city's Open311 app keys (no secrets)", **require(Perm.ADMIN))
def get_keys(store: StoreDep, principal: PrincipalDep, city: str = Query(..., examples=["dhaka"])) -> dict:
    check_city(store, principal, city, Perm.ADMIN)
    return {"city": city, "items": store.open311_clients(city=city)}


@router.delete("/open311-keys/{key_id}", status_code=204, summary="Revoke an Open311 app key", **require(Perm.ADMIN))
def delete_key(store: StoreDep, principal: PrincipalDep, key_id: str = Path(..., max_length=40)) -> Response:
    row = store.open311_client(key_id)
    if row is None or store.get_city(row["city"], scope=principal.scope(Perm.READ)) is None:
        raise NotFound(f"no Open311 key {key_id!r}", field="key_id")
    check_city(store, principal, row["city"], Perm.ADMIN)
    service.revoke_client_key(store, key_id=key_id, actor=principal.actor)
    return Response(status_code=204)


def _media_kw() -> dict:
    kw = require(Perm.READ)
    kw["responses"] = {**kw["responses"], 200: {"description": "The photo", "content": {
        "image/jpeg": {}, "image/png": {}, "image/webp": {}}}}
    kw["response_class"] = Response
    return kw


@router.get("/media/{name}", summary="A photo uploaded with a request (its media_url)", **_media_kw())
def get_media(store: StoreDep, settings: SettingsDep, principal: PrincipalDep,
              name: str = Path(..., max_length=80)) -> Response:
    row = store.request_media(name, scope=principal.scope(Perm.READ))
    path = service.media_dir(settings) / name
    if row is None or "/" in name or not path.is_file():
        raise NotFound("no such media", field="name")
    return FileResponse(path, media_type=row["content_type"],
                        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"})


@router.get("/{request_id}", summary="One request with its history and contact (operators)",
            **require(Perm.WRITE))
def get_one(store: StoreDep, principal: PrincipalDep, request_id: int = Path(..., ge=1)) -> dict:
    row = service.get_request(store, request_id=request_id, scope=principal.scope(Perm.READ))
    check_city(store, principal, row["city"], Perm.WRITE)
    return service.operator_view(store, row, with_events=True)


@router.patch("/{request_id}", summary="Change status, assign a department, add a note (operators)",
              **require(Perm.WRITE))
def patch_request(body: RequestUpdate, store: StoreDep, principal: PrincipalDep,
                  request_id: int = Path(..., ge=1)) -> dict:
    row = service.get_request(store, request_id=request_id, scope=principal.scope(Perm.READ))
    check_city(store, principal, row["city"], Perm.WRITE)
    out = service.update_request(store, request_id=request_id, status=body.status, department=body.department,
                                 note=body.note, public=body.public, duplicate_of=body.duplicate_of,
                                 actor=principal.actor)
    return service.operator_view(store, out, with_events=True)
