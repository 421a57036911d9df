"""Service-request and Open311 rows for the permission matrix of ``tests/security/test_matrix.py``.

Open311 reads are scoped like every read; ``POST requests`` is public (its form's ``api_key``, an Open311 app
key of the target city, authorises it), so every caller gets 200. Open311 errors are the GeoReport v2 list
of {code, description}; the matrix reads the first.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

#              anon padmin a_admin a_oper a_analyst b_admin a_key device
WRITE_PRIV = "401  {ok}    {ok}     {ok}    403       404     {ok}   401"
WRITE_OPEN = "401  {ok}    403     403    403       {ok}     403   401"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64


def _spot(city: dict, n: int, north: float = 0.0) -> tuple[float, float]:
    """A place of its own for the matrix's n-th request: a grid of 0.002 deg (~200 m, over the 100 m
    duplicate radius) cells, 100 x 100 of them, at most ~0.45 deg north and 0.2 deg east of the centre:
    inside the 100 km a request may be from its city."""
    return city["lat"] + north + (n % 100) * 0.002, city["lon"] + (n // 100 % 100) * 0.002


def _file(ctx, photo: bytes | None = None) -> dict:
    from nagar.requests import service

    city = ctx.world.store.get_city(ctx.target)
    return service.submit(ctx.world.store, settings=ctx.world.app.state.settings, city=ctx.target,
                          form={"service_code": "GARBAGE", "lat": str(_spot(city, ctx.n)[0]),
                                "long": str(_spot(city, ctx.n)[1])}, attributes={}, photo=photo, client=None,
                          actor="matrix")["request"]


def requests_rows(ns: dict) -> dict:
    Case, Route, Perm, reads, admin = ns["Case"], ns["Route"], ns["Perm"], ns["reads"], ns["admin"]
    PRIV, OPEN, every = ns["PRIV"], ns["OPEN"], ns["every"]
    J = (("jurisdiction_id", "{city}"),)

    def writes(ok: str) -> tuple:
        return (Case(PRIV, WRITE_PRIV.format(ok=ok)), Case(OPEN, WRITE_OPEN.format(ok=ok)))

    def fmt(**more):
        return lambda ctx: {"fmt": "json", **{k: (v(ctx) if callable(v) else v) for k, v in more.items()}}

    def post_form(ctx):
        from nagar.requests import service

        key = service.issue_client_key(ctx.world.store, city=ctx.target, name="matrix", actor="matrix")["key"]
        city = ctx.world.store.get_city(ctx.target)
        return urlencode({"api_key": key, "jurisdiction_id": ctx.target, "service_code": "GARBAGE",
                          "lat": _spot(city, ctx.n, 0.25)[0], "long": _spot(city, ctx.n, 0.25)[1]}).encode(), \
            "application/x-www-form-urlencoded"

    def fresh_key(ctx):
        from nagar.requests import service

        return {"key_id": service.issue_client_key(ctx.world.store, city=ctx.target, name="victim",
                                                   actor="matrix")["id"]}

    def body(obj):
        return lambda ctx: (json.dumps(obj(ctx) if callable(obj) else obj).encode(), "application/json")

    o311 = "/open311/v2"
    return {
        ("GET", f"{o311}/discovery.{{fmt}}"): Route(Perm.PUBLIC, (Case(None, every("200")),), prepare=fmt()),
        ("GET", f"{o311}/services.{{fmt}}"): Route(Perm.READ, reads(J), prepare=fmt()),
        ("GET", f"{o311}/services/{{service_code}}.{{fmt}}"): Route(Perm.READ, reads(J),
                                                                   prepare=fmt(service_code="EWASTE")),
        ("POST", f"{o311}/requests.{{fmt}}"): Route(Perm.PUBLIC, (Case(PRIV, every("200")), Case(OPEN, every("200"))),
                                                    body=post_form, prepare=fmt()),
        ("GET", f"{o311}/requests.{{fmt}}"): Route(Perm.READ, reads(J), prepare=fmt()),
        ("GET", f"{o311}/requests/{{service_request_id}}.{{fmt}}"): Route(
            Perm.READ, reads(J), prepare=fmt(service_request_id=lambda ctx: str(_file(ctx)["id"]))),
        ("GET", f"{o311}/tokens/{{token}}.{{fmt}}"): Route(Perm.READ, reads(J),
                                                          prepare=fmt(token=lambda ctx: _file(ctx)["token"])),
        ("GET", "/service-requests"): Route(Perm.WRITE, writes("200")),
        ("GET", "/service-requests/sla-breaches"): Route(Perm.READ, reads()),
        ("GET", "/service-requests/summary"): Route(Perm.READ, reads()),
        ("PUT", "/service-requests/services/{service_code}"): Route(
            Perm.ADMIN, admin("200"), body=body(lambda ctx: {"city": ctx.target, "sla_hours": 24}),
            prepare=lambda ctx: {"service_code": "GARBAGE"}),
        ("POST", "/service-requests/open311-keys"): Route(Perm.ADMIN, admin("201"),
                                                          body=body(lambda ctx: {"city": ctx.target, "name": "m"})),
        ("GET", "/service-requests/open311-keys"): Route(Perm.ADMIN, admin("200", (("city", "{city}"),))),
        ("DELETE", "/service-requests/open311-keys/{key_id}"): Route(Perm.ADMIN, admin("204"), prepare=fresh_key),
        ("GET", "/service-requests/media/{name}"): Route(
            Perm.READ, reads(), prepare=lambda ctx: {"name": _file(ctx, JPEG)["media_url"].rsplit("/", 1)[1]}),
        ("GET", "/service-requests/{request_id}"): Route(Perm.WRITE, writes("200"),
                                                         prepare=lambda ctx: {"request_id": str(_file(ctx)["id"])}),
        ("PATCH", "/service-requests/{request_id}"): Route(Perm.WRITE, writes("200"), body=body({"note": "matrix"}),
                                                           prepare=lambda ctx: {"request_id": str(_file(ctx)["id"])}),
    }
