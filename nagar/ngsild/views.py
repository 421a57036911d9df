"""NGSI-LD API routes under ``/ngsi-ld/v1`` (ETSI GS CIM 009 V1.6.1 clause 6, the HTTP binding).

Bodies are read as bytes and parsed with orjson, then validated by hand (:mod:`nagar.ngsild.entities`):
NGSI-LD bodies are open-ended, so the OpenAPI document describes them loosely as JSON objects/arrays.
Errors are ProblemDetails (error types clause 5.5.2, payload clause 5.5.3, HTTP status clause 6.3.2) in
``application/json``. Tenancy: the ``NGSILD-Tenant`` header names a Nagar city (clauses 4.14 and 6.3.14).
Reads need Perm.READ in that city, writes Perm.WRITE (an operator's bearer token or ``X-API-Key``, as a
FIWARE IoT Agent sends).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response

from nagar.security import audit
from nagar.security.permissions import Perm, require, resolve_principal

from . import context as C
from . import entities as E
from .errors import BadRequestData, InvalidRequest, OperationNotSupported, UnsupportedMediaType
from .service import Broker, broker_of, dumps, limit_check, loads

router = APIRouter(prefix="/ngsi-ld/v1", tags=["ngsi-ld"])


def install(app) -> None:
    """Mount the router; put the NGSI-LD credential cache inside Nagar's security headers, rate and body
    limits (innermost middleware, :mod:`nagar.ngsild.credentials`) and the edge for the two hot requests
    outside them (outermost, :mod:`nagar.ngsild.edge`). Call it after ``nagar.security.http.install``."""
    from starlette.middleware import Middleware

    from nagar.security.http import DEFAULT_MAX_BODY_BYTES, parse_networks

    from .credentials import CredentialCache, Credentials
    from .edge import NgsiEdge

    creds = Credentials()
    app.state.ngsild_credentials = creds
    app.include_router(router)
    app.user_middleware.append(Middleware(CredentialCache, credentials=creds))
    settings = app.state.settings
    app.add_middleware(NgsiEdge, credentials=creds,
                       trusted_proxies=parse_networks(getattr(settings, "trusted_proxies", None) or ()),
                       max_body_bytes=int(getattr(settings, "max_body_bytes", DEFAULT_MAX_BODY_BYTES)))


_OBJ = {"type": "object"}
_ARR = {"type": "array"}
_JSONLD = ("application/json", "application/ld+json")
TenantH = Header(None, alias="NGSILD-Tenant", description="Tenant = Nagar city id", examples=["dhaka"])


def _spec(perm: Perm, *, body: dict | None = None, ok: dict[int, Any]) -> dict:
    """``require(perm)`` plus a loosely described JSON body and this route's success answers."""
    extra = None
    if body is not None:
        extra = {"requestBody": {"required": True, "content": {m: {"schema": body} for m in _JSONLD}}}
    kw = require(perm, openapi_extra=extra)
    responses = dict(kw["responses"])
    for code, schema in ok.items():
        if schema is None:
            responses[code] = {"description": "Done"}
        else:
            responses[code] = {"description": "Done", "content": {"application/json": {"schema": schema}}}
    responses.setdefault(403, {"description": "TooManyResults (limit above 1000), or a known caller without the right",
                               "model": responses[422]["model"]})
    if body is not None:
        responses[415] = {"description": "Body is not application/json or application/ld+json",
                          "model": responses[422]["model"]}
    kw["responses"] = responses
    return kw


async def _broker_dep(request: Request) -> Broker:
    """The app's broker over the app's store (``app.state``, as StoreDep / SettingsDep read it). An async
    dependency, so a request does not pay a thread-pool hop for it."""
    return broker_of(request.app.state.store, request.app.state.settings)


BrokerDep = Annotated[Broker, Depends(_broker_dep)]


def _tenant(request: Request, b: Broker, header: str | None, write: bool = False) -> str:
    p = resolve_principal(request)
    return b.tenant(header, read=p.scope(Perm.READ), write=p.scope(Perm.WRITE) if write else None)


async def _body(request: Request) -> tuple[Any, C.Context]:
    """The parsed body and its @context (:func:`parse_body`)."""
    return parse_body(request.headers.get("content-type"), await request.body(), request.headers.get("link"))


def content_type_ok(header: str | None) -> bool:
    """Whether a Content-Type header names a JSON type this API reads (no header: application/json)."""
    return (header or "application/json").split(";")[0].strip().lower() in _JSONLD


def parse_body(ctype_header: str | None, raw: bytes, link_header: str | None) -> tuple[Any, C.Context]:
    """The parsed body and its @context (clause 6.3.5: with application/json the context comes from the
    Link header and the body has none; with application/ld+json it is in the body)."""
    ctype = (ctype_header or "application/json").split(";")[0].strip().lower()
    if ctype not in _JSONLD:
        raise UnsupportedMediaType("send application/json or application/ld+json", field="Content-Type")
    try:
        body = loads(raw)
    except Exception:
        raise InvalidRequest("the body is not valid JSON", field="body") from None
    link = C.parse_link(link_header)
    if ctype == "application/ld+json":
        if link:
            raise BadRequestData("with application/ld+json the @context goes in the body, not a Link header",
                                 field="Link")
        spec = _ctx_member(body)
        if spec is None:
            raise BadRequestData("an application/ld+json body needs an @context", field="@context")
        return body, C.resolve(spec)
    if _ctx_member(body) is not None:
        raise BadRequestData("with application/json the @context goes in a Link header, not the body",
                             field="@context")
    return body, C.resolve(link) if link else C.CORE


def _ctx_member(body: Any) -> Any:
    if isinstance(body, dict):
        return body.get("@context")
    if isinstance(body, list) and body and isinstance(body[0], dict):
        return body[0].get("@context")
    return None


def _ctx_out(request: Request) -> C.Context:
    return ctx_of_link(request.headers.get("link"))


def ctx_of_link(header: str | None) -> C.Context:
    """The @context a request's Link header names (the core context without one)."""
    link = C.parse_link(header)
    return C.resolve(link) if link else C.CORE


def _options(options: str | None, fmt: str | None) -> tuple[str, set[str]]:
    opts = {o.strip() for o in (options or "").split(",") if o.strip()}
    known = {"keyValues", "concise", "normalized", "sysAttrs", "noOverwrite", "update", "replace", "count"}
    bad = opts - known
    if bad:
        raise BadRequestData(f"unknown options: {', '.join(sorted(bad))}", field="options")
    out = fmt or ("keyValues" if "keyValues" in opts else "concise" if "concise" in opts else "normalized")
    if out not in ("normalized", "concise", "keyValues", "simplified"):
        raise BadRequestData("format must be normalized, concise, keyValues or simplified", field="format")
    return ("keyValues" if out == "simplified" else out), opts


def _json(request: Request, data: Any, ctx: C.Context, status: int = 200, headers: dict | None = None) -> Response:
    accept = request.headers.get("accept", "")
    h = dict(headers or {})
    if "application/ld+json" in accept and "application/json" not in accept.split("application/ld+json")[0]:
        if isinstance(data, dict):
            data = {**data, "@context": ctx.body_value()}
        elif isinstance(data, list):
            data = [{**d, "@context": ctx.body_value()} if isinstance(d, dict) else d for d in data]
        return Response(dumps(data), status_code=status, media_type="application/ld+json", headers=h)
    h["Link"] = C.link_header(ctx)
    return Response(dumps(data), status_code=status, media_type="application/json", headers=h)


def _audit(store, request: Request, action: str, tenant: str, target: str) -> None:
    audit.record(store, actor=resolve_principal(request).actor, action=action, city=tenant, target=target)


async def _write(request: Request, op, b: Broker, tenant: str, *args, action: str, target: str, details=None, **kw):
    """Queue a write for the broker's next group commit and wait for it without blocking the event loop;
    the write is audited (``details`` may be a function of the result) before the answer is sent."""
    return await op.submit_async(b, tenant, *args, audit=(resolve_principal(request).actor, action, tenant, target,
                                                          details), **kw)


def _attrs_param(attrs: str | None, ctx: C.Context) -> set[str] | None:
    if not attrs:
        return None
    return {ctx.expand(E.check_name(a.strip())) for a in attrs.split(",") if a.strip()}


# entities (clauses 5.6.1-5.6.6, 5.7.1, 5.7.2; binding 6.4-6.7) -----------------------------------------
@router.post("/entities", status_code=201, summary="Create an entity (201 + Location; 409 AlreadyExists)",
             **_spec(Perm.WRITE, body=_OBJ, ok={201: None}))
async def create_entity(request: Request, b: BrokerDep,
                        tenant: str | None = TenantH) -> Response:
    t = _tenant(request, b, tenant, write=True)
    body, ctx = await _body(request)
    ent = await _write(request, Broker.create, b, t, body, ctx, action="ngsild.entity.create",
                       target=str(body.get("id")) if isinstance(body, dict) else "?")
    return Response(status_code=201, headers={"Location": f"/ngsi-ld/v1/entities/{ent['id']}"})


@router.get("/entities", summary="Query entities (id, idPattern, type, attrs, q, geo-query; limit/offset/count)",
            **_spec(Perm.READ, ok={200: _ARR}))
async def query_entities(
    request: Request, b: BrokerDep, tenant: str | None = TenantH,
    id: str | None = Query(None, description="Comma-separated entity ids"),
    idPattern: str | None = Query(None), type: str | None = Query(None, examples=["AirQualityObserved"]),
    attrs: str | None = Query(None), q: str | None = Query(None, examples=["pm25>10"]),
    georel: str | None = Query(None), geometry: str | None = Query(None), coordinates: str | None = Query(None),
    geoproperty: str | None = Query(None), options: str | None = Query(None), format: str | None = Query(None),
    lang: str | None = Query(None), limit: int = Query(20, ge=0), offset: int = Query(0, ge=0),
    count: bool = Query(False),
) -> Response:
    t = _tenant(request, b, tenant)
    ctx = _ctx_out(request)
    return _query(request, b, t, ctx, ids=id.split(",") if id else None, id_pattern=idPattern, types=type,
                  attrs=attrs, q=q, geo=(georel, geometry, coordinates, geoproperty), options=options, fmt=format,
                  lang=lang, limit=limit, offset=offset, count=count or "count" in (options or ""))


def _query(request, b: Broker, t: str, ctx: C.Context, *, ids, id_pattern, types, attrs, q, geo, options, fmt,
           lang, limit, offset, count) -> Response:
    """Clause 5.7.2 "Query Entities" with pagination (clause 5.5.9) and NGSILD-Results-Count (6.3.13)."""
    from .query import parse_geo

    fmt_, opts = _options(options, fmt)
    limit_check(limit)
    if not (ids or id_pattern or types or attrs or q or any(g is not None for g in geo[:3])):
        raise BadRequestData("a query needs at least one of id, idPattern, type, attrs, q or a geo-query "
                             "(clause 5.7.2)", field="type")
    if ids:
        for i in ids:
            E.check_uri(i, "id")
    attr_set = _attrs_param(attrs, ctx)
    pred = parse_geo(*geo, ctx)
    found = b.query(t, ids=ids, id_pattern=id_pattern, types=types, q=q, geo=pred, ctx=ctx, attrs=attr_set)
    page = found[offset:offset + limit]
    out = [E.render(e, ctx, fmt=fmt_, attrs=attr_set, sysattrs="sysAttrs" in opts, lang=lang) for e in page]
    headers = {"NGSILD-Results-Count": str(len(found))} if count else {}
    return _json(request, out, ctx, headers=headers)


@router.get("/entities/{entityId}", summary="Retrieve an entity (normalized, concise or keyValues)",
            **_spec(Perm.READ, ok={200: _OBJ}))
async def retrieve_entity(entityId: str, request: Request, b: BrokerDep,
                    tenant: str | None = TenantH, attrs: str | None = Query(None),
                    options: str | None = Query(None), format: str | None = Query(None),
                    lang: str | None = Query(None)) -> Response:
    t = _tenant(request, b, tenant)
    ctx = _ctx_out(request)
    fmt_, opts = _options(options, format)
    ent = b.get(t, entityId)
    return _json(request, E.render(ent, ctx, fmt=fmt_, attrs=_attrs_param(attrs, ctx), sysattrs="sysAttrs" in opts,
                                   lang=lang), ctx)


@router.put("/entities/{entityId}", status_code=204, summary="Replace an entity",
            **_spec(Perm.WRITE, body=_OBJ, ok={204: None}))
async def replace_entity(entityId: str, request: Request, b: BrokerDep,
                         tenant: str | None = TenantH) -> Response:
    t = _tenant(request, b, tenant, write=True)
    body, ctx = await _body(request)
    await _write(request, Broker.replace, b, t, entityId, body, ctx, action="ngsild.entity.replace", target=entityId)
    return Response(status_code=204)


@router.delete("/entities/{entityId}", status_code=204, summary="Delete an entity",
               **_spec(Perm.WRITE, ok={204: None}))
async def delete_entity(entityId: str, request: Request, b: BrokerDep,
                  tenant: str | None = TenantH) -> Response:
    t = _tenant(request, b, tenant, write=True)
    await _write(request, Broker.delete, b, t, entityId, action="ngsild.entity.delete", target=entityId)
    return Response(status_code=204)


def _update_result(request: Request, res: dict) -> Response:
    if res["notUpdated"]:
        return Response(dumps(res), status_code=207, media_type="application/json")
    return Response(status_code=204)


_UPDATE_RESULT = {"type": "object", "properties": {"updated": _ARR, "notUpdated": _ARR}}


@router.post("/entities/{entityId}/attrs", status_code=204,
             summary="Append attributes (options=noOverwrite keeps existing ones; 207 lists those not updated)",
             **_spec(Perm.WRITE, body=_OBJ, ok={204: None, 207: _UPDATE_RESULT}))
async def append_attrs(entityId: str, request: Request, b: BrokerDep,
                       tenant: str | None = TenantH, options: str | None = Query(None)) -> Response:
    t = _tenant(request, b, tenant, write=True)
    _, opts = _options(options, None)
    body, ctx = await _body(request)
    res = await _write(request, Broker.append, b, t, entityId, body, ctx, no_overwrite="noOverwrite" in opts,
                       action="ngsild.attrs.append", target=entityId, details=lambda r: {"updated": r["updated"]})
    return _update_result(request, res)


@router.patch("/entities/{entityId}/attrs", status_code=204,
              summary="Update existing attributes (207 lists those not updated)",
              **_spec(Perm.WRITE, body=_OBJ, ok={204: None, 207: _UPDATE_RESULT}))
async def update_attrs(entityId: str, request: Request, b: BrokerDep,
                       tenant: str | None = TenantH) -> Response:
    t = _tenant(request, b, tenant, write=True)
    body, ctx = await _body(request)
    res = await _write(request, Broker.update_attrs, b, t, entityId, body, ctx, action="ngsild.attrs.update",
                       target=entityId, details=lambda r: {"updated": r["updated"]})
    return _update_result(request, res)


@router.patch("/entities/{entityId}/attrs/{attrId}", status_code=204, summary="Partial attribute update",
              **_spec(Perm.WRITE, body=_OBJ, ok={204: None}))
async def patch_attr(entityId: str, attrId: str, request: Request, b: BrokerDep,
                     tenant: str | None = TenantH) -> Response:
    t = _tenant(request, b, tenant, write=True)
    body, ctx = await _body(request)
    await _write(request, Broker.patch_attr, b, t, entityId, attrId, body, ctx, action="ngsild.attr.update",
                 target=entityId, details={"attr": attrId})
    return Response(status_code=204)


@router.delete("/entities/{entityId}/attrs/{attrId}", status_code=204,
               summary="Delete an attribute (datasetId= one instance, deleteAll=true every instance)",
               **_spec(Perm.WRITE, ok={204: None}))
async def delete_attr(entityId: str, attrId: str, request: Request, b: BrokerDep,
                tenant: str | None = TenantH, datasetId: str | None = Query(None),
                deleteAll: bool = Query(False)) -> Response:
    t = _tenant(request, b, tenant, write=True)
    if datasetId is not None:
        E.check_uri(datasetId, "datasetId")
    await _write(request, Broker.delete_attr, b, t, entityId, attrId, _ctx_out(request), dataset_id=datasetId,
                 delete_all=deleteAll, action="ngsild.attr.delete", target=entityId,
                 details={"attr": attrId, "datasetId": datasetId, "deleteAll": deleteAll})
    return Response(status_code=204)


# batch operations (clauses 5.6.7-5.6.10, 5.7.2 via POST; binding 6.14-6.17, 6.23) -------------------
_BATCH_RESULT = {"type": "object", "properties": {"success": _ARR, "errors": _ARR}}
_ok_batch = {201: _ARR, 204: None, 207: _BATCH_RESULT}


async def _batch(request: Request, b: Broker, tenant, op: str, **kw) -> Response:
    t = _tenant(request, b, tenant, write=True)
    ctype = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    body, ctx = await _body_batch(request, ctype)

    def ctx_of(item: Any) -> C.Context:
        if ctype == "application/ld+json":
            spec = item.get("@context") if isinstance(item, dict) else None
            if spec is None:
                raise BadRequestData("each entity of an application/ld+json batch needs an @context",
                                     field="@context")
            return C.resolve(spec)
        if isinstance(item, dict) and "@context" in item:
            raise BadRequestData("with application/json the @context goes in a Link header", field="@context")
        return ctx

    res = await _write(request, Broker.batch, b, t, op, body, ctx_of, action=f"ngsild.batch.{op}",
                       target=f"{len(body) if isinstance(body, list) else 0} entities",
                       details=lambda r: {"success": len(r["success"]), "errors": len(r["errors"])}, **kw)
    created = res.pop("created")
    if res["errors"]:
        return Response(dumps(res), status_code=207, media_type="application/json")
    if op == "create" or (op == "upsert" and created):
        return Response(dumps(created), status_code=201, media_type="application/json")
    return Response(status_code=204)


async def _body_batch(request: Request, ctype: str) -> tuple[Any, C.Context]:
    if ctype not in _JSONLD:
        return await _body(request)  # raises the 415
    raw = await request.body()
    try:
        body = loads(raw)
    except Exception:
        raise InvalidRequest("the body is not valid JSON", field="body") from None
    link = C.parse_link(request.headers.get("link"))
    return body, C.resolve(link) if link and ctype == "application/json" else C.CORE


@router.post("/entityOperations/create", status_code=201,
             summary="Batch create (201 ids; 207 BatchOperationResult when some fail)",
             **_spec(Perm.WRITE, body=_ARR, ok=_ok_batch))
async def batch_create(request: Request, b: BrokerDep,
                       tenant: str | None = TenantH) -> Response:
    return await _batch(request, b, tenant, "create")


@router.post("/entityOperations/upsert", status_code=204,
             summary="Batch upsert (options=replace (default) or update; 201 when entities were created)",
             **_spec(Perm.WRITE, body=_ARR, ok=_ok_batch))
async def batch_upsert(request: Request, b: BrokerDep, tenant: str | None = TenantH,
                       options: str | None = Query(None)) -> Response:
    _, opts = _options(options, None)
    if "update" in opts and "replace" in opts:
        raise BadRequestData("options update and replace exclude each other", field="options")
    return await _batch(request, b, tenant, "upsert", mode="update" if "update" in opts else "replace")


@router.post("/entityOperations/update", status_code=204, summary="Batch update attributes (noOverwrite)",
             **_spec(Perm.WRITE, body=_ARR, ok=_ok_batch))
async def batch_update(request: Request, b: BrokerDep, tenant: str | None = TenantH,
                       options: str | None = Query(None)) -> Response:
    _, opts = _options(options, None)
    return await _batch(request, b, tenant, "update", no_overwrite="noOverwrite" in opts)


@router.post("/entityOperations/delete", status_code=204, summary="Batch delete (a JSON array of entity ids)",
             **_spec(Perm.WRITE, body=_ARR, ok=_ok_batch))
async def batch_delete(request: Request, b: BrokerDep,
                       tenant: str | None = TenantH) -> Response:
    return await _batch(request, b, tenant, "delete")


@router.post("/entityOperations/query", summary="Query entities with a Query body (clause 5.7.2, binding 6.23)",
             **_spec(Perm.READ, body=_OBJ, ok={200: _ARR}))
async def post_query(request: Request, b: BrokerDep, tenant: str | None = TenantH,
                     limit: int = Query(20, ge=0), offset: int = Query(0, ge=0), count: bool = Query(False),
                     options: str | None = Query(None), format: str | None = Query(None)) -> Response:
    t = _tenant(request, b, tenant)
    body, ctx = await _body(request)
    if not isinstance(body, dict) or body.get("type", "Query") != "Query":
        raise BadRequestData("the body must be a Query object (type Query)", field="body")
    ents = body.get("entities") or []
    if not isinstance(ents, list) or not all(isinstance(e, dict) for e in ents):
        raise BadRequestData("entities must be a list of {type, id?, idPattern?}", field="entities")
    types = "|".join(f"({e['type']})" for e in ents if isinstance(e.get("type"), str)) or None
    ids = [e["id"] for e in ents if isinstance(e.get("id"), str)] or None
    pats = [e["idPattern"] for e in ents if isinstance(e.get("idPattern"), str)]
    attrs = body.get("attrs")
    if attrs is not None and (not isinstance(attrs, list) or not all(isinstance(a, str) for a in attrs)):
        raise BadRequestData("attrs must be a list of names", field="attrs")
    g = body.get("geoQ") or {}
    if not isinstance(g, dict):
        raise BadRequestData("geoQ must be an object", field="geoQ")
    q = body.get("q")
    if q is not None and not isinstance(q, str):
        raise BadRequestData("q must be a string", field="q")
    coords = g.get("coordinates")
    return _query(request, b, t, ctx, ids=ids, id_pattern=pats or None, types=types,
                  attrs=",".join(attrs) if attrs else None, q=q,
                  geo=(g.get("georel"), g.get("geometry"), coords if coords is None or isinstance(coords, str)
                       else dumps(coords), g.get("geoproperty")),
                  options=options, fmt=format, lang=body.get("lang") if isinstance(body.get("lang"), str) else None,
                  limit=limit, offset=offset, count=count)


# subscriptions (clauses 5.8.1-5.8.5; binding 6.10-6.11) ------------------------------------------
@router.post("/subscriptions", status_code=201, summary="Create a subscription (201 + Location)",
             **_spec(Perm.WRITE, body=_OBJ, ok={201: None}))
async def create_subscription(request: Request, b: BrokerDep,
                              tenant: str | None = TenantH) -> Response:
    t = _tenant(request, b, tenant, write=True)
    body, ctx = await _body(request)
    spec = body.get("@context") if isinstance(body, dict) and "@context" in body else \
        C.parse_link(request.headers.get("link"))
    sub = b.subscriptions.create(t, body, spec, ctx)
    _audit(b.store, request, "ngsild.subscription.create", t, sub["id"])
    return Response(status_code=201, headers={"Location": f"/ngsi-ld/v1/subscriptions/{sub['id']}"})


@router.get("/subscriptions", summary="List subscriptions", **_spec(Perm.READ, ok={200: _ARR}))
def list_subscriptions(request: Request, b: BrokerDep, tenant: str | None = TenantH,
                       limit: int = Query(20, ge=0), offset: int = Query(0, ge=0)) -> Response:
    from .subscriptions import render_subscription

    t = _tenant(request, b, tenant)
    limit_check(limit)
    rows = b.store.ngsild_subscriptions(t)[offset:offset + limit]
    return _json(request, [render_subscription(r) for r in rows], C.CORE)


@router.get("/subscriptions/{subscriptionId}", summary="Retrieve a subscription (with its status)",
            **_spec(Perm.READ, ok={200: _OBJ}))
def retrieve_subscription(subscriptionId: str, request: Request, b: BrokerDep,
                          tenant: str | None = TenantH) -> Response:
    from .subscriptions import render_subscription

    t = _tenant(request, b, tenant)
    return _json(request, render_subscription(b.subscriptions.get(t, subscriptionId)), C.CORE)


@router.patch("/subscriptions/{subscriptionId}", status_code=204, summary="Update a subscription",
              **_spec(Perm.WRITE, body=_OBJ, ok={204: None}))
async def update_subscription(subscriptionId: str, request: Request, b: BrokerDep,
                              tenant: str | None = TenantH) -> Response:
    t = _tenant(request, b, tenant, write=True)
    body, ctx = await _body(request)
    b.subscriptions.update(t, subscriptionId, body, ctx)
    _audit(b.store, request, "ngsild.subscription.update", t, subscriptionId)
    return Response(status_code=204)


@router.delete("/subscriptions/{subscriptionId}", status_code=204, summary="Delete a subscription",
               **_spec(Perm.WRITE, ok={204: None}))
def delete_subscription(subscriptionId: str, request: Request, b: BrokerDep,
                        tenant: str | None = TenantH) -> Response:
    t = _tenant(request, b, tenant, write=True)
    b.subscriptions.delete(t, subscriptionId)
    _audit(b.store, request, "ngsild.subscription.delete", t, subscriptionId)
    return Response(status_code=204)



# temporal (clauses 5.7.3, 5.7.4; binding 6.18-6.19) --------------------------------------------------
def _temporal_args(options, aggrMethods, aggrPeriodDuration, timerel, timeAt, endTimeAt, lastN,
                   timeproperty=None):
    from . import temporal as TM

    if timeproperty not in (None, "observedAt"):
        raise OperationNotSupported(f"timeproperty {timeproperty!r}: this broker keeps history by observedAt only",
                                    field="timeproperty")
    opts = {o.strip() for o in (options or "").split(",") if o.strip()}
    bad = opts - {"temporalValues", "aggregatedValues", "sysAttrs"}
    if bad:
        raise BadRequestData(f"unknown options: {', '.join(sorted(bad))}", field="options")
    start, end = TM.time_range(timerel, timeAt, endTimeAt)
    methods = period = None
    if "aggregatedValues" in opts or aggrMethods:
        methods = [m.strip() for m in (aggrMethods or "").split(",") if m.strip()]
        if not methods or any(m not in TM.METHODS for m in methods):
            raise BadRequestData(f"aggrMethods must list some of {', '.join(TM.METHODS)}", field="aggrMethods")
        period = TM.parse_duration(aggrPeriodDuration or "PT1H")
    if lastN is not None and lastN < 1:
        raise BadRequestData("lastN must be a positive integer", field="lastN")
    origin = E.parse_time(timeAt, "timeAt") if timeAt else None
    return start, end, methods, period, "temporalValues" if "temporalValues" in opts else "normalized", origin


@router.get("/temporal/entities/{entityId}",
            summary="Temporal evolution of an entity (timerel, lastN, temporalValues, aggregatedValues)",
            **_spec(Perm.READ, ok={200: _OBJ}))
def temporal_entity(entityId: str, request: Request, b: BrokerDep,
                    tenant: str | None = TenantH, attrs: str | None = Query(None),
                    timerel: str | None = Query(None), timeAt: str | None = Query(None),
                    endTimeAt: str | None = Query(None), lastN: int | None = Query(None),
                    options: str | None = Query(None), aggrMethods: str | None = Query(None),
                    aggrPeriodDuration: str | None = Query(None),
                    timeproperty: str | None = Query(None)) -> Response:
    from . import temporal as TM

    t = _tenant(request, b, tenant)
    ctx = _ctx_out(request)
    start, end, methods, period, fmt, origin = _temporal_args(
        options, aggrMethods, aggrPeriodDuration, timerel, timeAt, endTimeAt, lastN, timeproperty)
    ent = b.get(t, entityId)
    return _json(request, TM.temporal_entity(b.store, t, ent, ctx, attrs=_attrs_param(attrs, ctx), start=start,
                                             end=end, last_n=lastN, fmt=fmt, methods=methods, period_s=period,
                                             origin=origin), ctx)


@router.get("/temporal/entities", summary="Query the temporal evolution of entities",
            **_spec(Perm.READ, ok={200: _ARR}))
def temporal_query(request: Request, b: BrokerDep, tenant: str | None = TenantH,
                   id: str | None = Query(None), idPattern: str | None = Query(None),
                   type: str | None = Query(None), attrs: str | None = Query(None), q: str | None = Query(None),
                   timerel: str | None = Query(None), timeAt: str | None = Query(None),
                   endTimeAt: str | None = Query(None), lastN: int | None = Query(None),
                   options: str | None = Query(None), aggrMethods: str | None = Query(None),
                   aggrPeriodDuration: str | None = Query(None), limit: int = Query(20, ge=0),
                   offset: int = Query(0, ge=0), timeproperty: str | None = Query(None)) -> Response:
    from . import temporal as TM

    t = _tenant(request, b, tenant)
    ctx = _ctx_out(request)
    limit_check(limit)
    start, end, methods, period, fmt, origin = _temporal_args(
        options, aggrMethods, aggrPeriodDuration, timerel, timeAt, endTimeAt, lastN, timeproperty)
    if not (id or idPattern or type or attrs or q):
        raise BadRequestData("a temporal query needs at least one of id, idPattern, type, attrs or q", field="type")
    attr_set = _attrs_param(attrs, ctx)
    found = b.query(t, ids=id.split(",") if id else None, id_pattern=idPattern, types=type, q=q, ctx=ctx,
                    attrs=attr_set)[offset:offset + limit]
    return _json(request, [TM.temporal_entity(b.store, t, e, ctx, attrs=attr_set, start=start, end=end, last_n=lastN,
                                              fmt=fmt, methods=methods, period_s=period, origin=origin)
                        for e in found], ctx)
