"""Every API route x every kind of caller, against the permission model of ``nagar.security.permissions``.

The world: a private city (``privcity``) and an open-data city (``opencity``), each with a station, a few
observations and a device key. Callers (the columns of the expectation table, in this order):

    anon       nobody signed in
    padmin     platform administrator
    a_admin    city_admin of privcity            a_oper   operator of privcity
    a_analyst  analyst of privcity               b_admin  city_admin of opencity (the "other city" user)
    a_key      an API key of privcity's operator
    device     a signed push from the device key of privcity's station (no user credentials)

Each request is generated from the OpenAPI document (path parameters, required query parameters and the
presence of a body come from ``app.openapi()``); values come from the world and bodies from the table below.
A route in the document without a row here, or a row for a route that is gone, fails
``test_table_covers_the_document``; a route without ``x-nagar-permission``, or with another permission than
the table records, fails ``test_every_operation_declares_the_permission_the_table_expects``.

Expected answers, per the model: a caller allowed gets the exact 2xx; no credentials where they are needed
is 401; a known caller lacking the right is 403; acting on a city or station the caller may not even see
is 404 (never a 403 that would reveal it exists). ``rej`` is "200, every row rejected as an unknown
station, nothing written". On top, any 2xx answer to a caller who may not read privcity must not mention
it (``privcity`` anywhere in the body is a leak).
"""

from __future__ import annotations

import itertools
import json
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable
from urllib.parse import urlencode

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from nagar.api.app import create_app
from nagar.core.errors import NagarError
from nagar.core.settings import Settings
from nagar.security import devices
from nagar.security import service as security
from nagar.security import tokens
from nagar.security.permissions import (CSRF_HEADER, PERMISSION_KEY, SESSION_COOKIE, Perm, Principal, check_routes,
                                        require)
from nagar.store.duckdb import DuckDBStore
from tests.conftest import bearer, make_user, obs_table

PRIV, OPEN = "privcity", "opencity"
PRIV_ST, OPEN_ST = "privcity-st1", "opencity-st1"
PASSWORD = "correct horse battery"  # make_user's
STANDARD = "us-epa-2024"

PRINCIPALS = ("anon", "padmin", "a_admin", "a_oper", "a_analyst", "b_admin", "a_key", "device")
CANNOT_SEE_PRIV = {"anon", "b_admin", "device"}
API = "/api/v1"


# --- the expectation table --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One request shape of a route: the city it targets (``None``: none) and extra query parameters
    (``{city}``/``{station}`` are replaced by the target's), with one expected answer per principal."""

    target: str | None
    expect: str
    query: tuple = ()

    def expected(self) -> dict[str, str]:
        codes = self.expect.split()
        assert len(codes) == len(PRINCIPALS), f"expectation row {self.expect!r} needs {len(PRINCIPALS)} entries"
        return dict(zip(PRINCIPALS, codes))


@dataclass(frozen=True)
class Route:
    perm: Perm  # what the route must declare as x-nagar-permission
    cases: tuple[Case, ...]
    body: Callable | None = None  # body(ctx) -> (bytes, content type)
    prepare: Callable | None = None  # prepare(ctx) -> path values made fresh for this request
    verify: Callable | None = None  # verify(ctx, response) on an expected 2xx


def every(code: str) -> str:
    return " ".join([code] * len(PRINCIPALS))


#                     anon padmin a_admin a_oper a_analyst b_admin a_key device
PRIVATE_READ = "404  200    200     200    200       404     200   404"
OPEN_READ = every("200")


def admin_private(ok: str) -> str:
    return f"401  {ok}    {ok}     403    403       404     403   401"


def admin_open(ok: str) -> str:
    return f"401  {ok}    403     403    403       {ok}     403   401"


def self_only(ok: str, *, api_key: str | None = None) -> str:
    return f"401  {ok}    {ok}     {ok}    {ok}       {ok}     {api_key or ok}   401"


def platform_only(ok: str) -> str:
    return f"401  {ok}    403     403    403       403     403   401"


WRITE_PRIVATE = "401  200    200     200    403       rej     200   401"
WRITE_OPEN = "401  200    rej     rej    403       200     rej   401"


def reads(*queries: tuple) -> tuple[Case, ...]:
    """A READ route asked about the private city (404 to those who may not see it) and the open one."""
    out = []
    for q in queries or ((),):
        out += [Case(PRIV, PRIVATE_READ, q), Case(OPEN, OPEN_READ, q)]
    return tuple(out)


def admin(ok: str, query: tuple = ()) -> tuple[Case, ...]:
    return (Case(PRIV, admin_private(ok), query), Case(OPEN, admin_open(ok), query))


# --- bodies, per-request resources and checks --------------------------------------------------------------


@dataclass
class Ctx:
    world: "World"
    principal: str
    target: str | None
    n: int

    @property
    def station(self) -> str | None:
        return {PRIV: PRIV_ST, OPEN: OPEN_ST}.get(self.target)


def _json(obj) -> tuple[bytes, str]:
    return json.dumps(obj).encode(), "application/json"


_T0 = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) - timedelta(days=3)


def _rows(station: str, n: int) -> list[dict]:
    """One observation at a time no other request uses (so any write is an insert)."""
    t = (_T0 + timedelta(minutes=n)).isoformat().replace("+00:00", "Z")
    return [{"station": station, "parameter": "pm25", "time": t, "value": 12.5 + n % 7, "unit": "µg/m³"}]


def obs_body(ctx: Ctx):
    return _json(_rows(ctx.station, ctx.n))


def device_body(ctx: Ctx):
    return _json({"observations": _rows(PRIV_ST, ctx.n)})


def city_body(ctx: Ctx):
    return _json({"id": f"newcity-{ctx.n}", "name": "New", "country": "NP", "timezone": "Asia/Kathmandu",
                  "lat": 27.7, "lon": 85.3})


CITY_FIELDS = {PRIV: dict(name="Private City", country="BD", timezone="Asia/Dhaka", lat=23.8, lon=90.4,
                          standard=STANDARD, open_data=False),
               OPEN: dict(name="Open City", country="BD", timezone="Asia/Dhaka", lat=22.3, lon=91.8,
                          standard=STANDARD, open_data=True)}
STATION_FIELDS = {PRIV_ST: dict(city=PRIV, name="P1", lat=23.78, lon=90.38, parameters=["pm25"]),
                  OPEN_ST: dict(city=OPEN, name="O1", lat=22.36, lon=91.8, parameters=["pm25"])}


def city_replace_body(ctx: Ctx):
    return _json(CITY_FIELDS[ctx.target])  # the same settings again: the world stays as it is


def station_replace_body(ctx: Ctx):
    return _json(STATION_FIELDS[ctx.station])


def station_body(ctx: Ctx):
    centre = CITY_FIELDS.get(ctx.target, {"lat": 10.0, "lon": 10.0})  # a station lies near its city
    return _json({"id": f"{ctx.target}-new-{ctx.n}", "city": ctx.target, "name": "New station",
                  "lat": centre["lat"] + 0.01, "lon": centre["lon"], "parameters": ["pm25"]})


def form(**fields) -> tuple[bytes, str]:
    return urlencode(fields).encode(), "application/x-www-form-urlencoded"


def login_body(ctx: Ctx):
    return form(username="loginuser", password=PASSWORD)


def refresh_body(ctx: Ctx):
    token, _, _ = tokens.issue_token(ctx.world.app.state.secret, sub=str(ctx.world.users["loginuser"]["id"]),
                                     typ="refresh", lifetime=timedelta(days=1))
    return _json({"refresh_token": token})


def fresh_api_key(ctx: Ctx) -> dict:
    """A new API key of privcity's operator, for each DELETE /keys/{key_id}."""
    u = ctx.world.users["a_oper"]
    row = security.create_api_key(ctx.world.store, principal=Principal(kind="user", user_id=u["id"],
                                                                       username=u["username"]),
                                  name=f"victim-{ctx.n}", expires_days=None)
    return {"key_id": row["id"]}


def fresh_device_key(ctx: Ctx) -> dict:
    st = ctx.world.store.get_station(ctx.station)
    row = security.create_device_key(ctx.world.store, secret=ctx.world.app.state.secret,
                                     principal=ctx.world.system, station=st)
    return {"key_id": row["id"]}


def wrote_rows(ctx: Ctx, r) -> None:
    j = r.json()
    assert j["rejected"] == 0 and j["inserted"] + j["updated"] == j["received"] == 1, j


TABLE: dict[tuple[str, str], Route] = {
    # registry
    ("GET", "/cities"): Route(Perm.READ, (Case(None, OPEN_READ),)),
    ("POST", "/cities"): Route(Perm.PLATFORM, (Case(None, platform_only("201")),), body=city_body),
    ("GET", "/cities/{city_id}"): Route(Perm.READ, reads()),
    ("PUT", "/cities/{city_id}"): Route(Perm.PLATFORM, tuple(Case(c, platform_only("200")) for c in (PRIV, OPEN)),
                                        body=city_replace_body),
    ("GET", "/stations"): Route(Perm.READ, (Case(None, OPEN_READ),) + reads((("city", "{city}"),))),
    ("POST", "/stations"): Route(Perm.ADMIN, admin("201"), body=station_body),
    ("GET", "/stations/{station_id}"): Route(Perm.READ, reads()),
    ("PUT", "/stations/{station_id}"): Route(Perm.ADMIN, admin("200"), body=station_replace_body),
    # observations
    ("POST", "/observations"): Route(Perm.WRITE, (Case(PRIV, WRITE_PRIVATE), Case(OPEN, WRITE_OPEN)),
                                     body=obs_body, verify=wrote_rows),
    ("GET", "/observations"): Route(Perm.READ, (Case(None, OPEN_READ),)
                                    + reads((("city", "{city}"),), (("station", "{station}"),))),
    # air quality
    ("GET", "/standards"): Route(Perm.PUBLIC, (Case(None, every("200")),)),
    ("GET", "/standards/{standard_id}"): Route(Perm.PUBLIC, (Case(None, every("200")),)),
    ("GET", "/aqi"): Route(Perm.READ, reads((("city", "{city}"),), (("station", "{station}"),))),
    ("GET", "/aqi/latest"): Route(Perm.READ, reads()),
    ("GET", "/who/exceedances"): Route(Perm.READ, reads((("city", "{city}"),), (("station", "{station}"),))),
    # accounts and tokens
    ("POST", "/auth/token"): Route(Perm.PUBLIC, (Case(None, every("200")),), body=login_body),
    ("POST", "/auth/refresh"): Route(Perm.PUBLIC, (Case(None, every("200")),), body=refresh_body),
    ("POST", "/auth/logout"): Route(Perm.SELF, (Case(None, self_only("204")),)),
    # an API key may not change its user's password: a known caller lacking the right, like POST /keys
    ("POST", "/auth/password"): Route(Perm.SELF, (Case(None, self_only("204", api_key="403")),),
                                      body=lambda ctx: _json({"old_password": PASSWORD, "new_password": PASSWORD})),
    ("GET", "/me"): Route(Perm.SELF, (Case(None, self_only("200")),)),
    ("GET", "/users"): Route(Perm.PLATFORM, (Case(None, platform_only("200")),)),
    ("POST", "/users"): Route(Perm.PLATFORM, (Case(None, platform_only("201")),),
                              body=lambda ctx: _json({"username": f"newuser{ctx.n}",
                                                      "password": secrets.token_urlsafe(18)})),
    ("GET", "/cities/{city}/roles"): Route(Perm.ADMIN, admin("200")),
    ("PUT", "/cities/{city}/roles/{username}"): Route(Perm.ADMIN, admin("200"),
                                                      body=lambda ctx: _json({"role": "analyst"})),
    ("GET", "/keys"): Route(Perm.SELF, (Case(None, self_only("200")),)),
    ("POST", "/keys"): Route(Perm.SELF, (Case(None, self_only("201", api_key="403")),),
                             body=lambda ctx: _json({"name": f"k{ctx.n}", "expires_days": 1})),
    # the key belongs to privcity's operator: others get 404 (not "someone else's key"), the platform admin 204
    ("DELETE", "/keys/{key_id}"): Route(
        Perm.SELF, (Case(None, "401  204    404     204    404       404     204   401"),), prepare=fresh_api_key),
    ("GET", "/stations/{station_id}/device-keys"): Route(Perm.ADMIN, admin("200")),
    ("POST", "/stations/{station_id}/device-keys"): Route(Perm.ADMIN, admin("201")),
    ("DELETE", "/stations/{station_id}/device-keys/{key_id}"): Route(Perm.ADMIN, admin("204"),
                                                                     prepare=fresh_device_key),
    ("POST", "/devices/observations"): Route(
        Perm.DEVICE, (Case(None, "401  401    401     401    401       401     401   200"),),
        body=device_body, verify=wrote_rows),
    ("GET", "/audit"): Route(Perm.ADMIN, admin("200", (("city", "{city}"),))),
    # meta
    ("GET", "/health"): Route(Perm.PUBLIC, (Case(None, every("200")),)),
}

# domain routes keep their matrix rows beside their own tests
from tests.climate.matrix_rows import climate_rows  # noqa: E402

TABLE.update(climate_rows(globals()))
from tests.funding.matrix_rows import funding_rows  # noqa: E402

TABLE.update(funding_rows(globals()))
from tests.waste.matrix_rows import waste_rows  # noqa: E402

TABLE.update(waste_rows(globals()))
from tests.water.matrix_rows import water_rows  # noqa: E402

TABLE.update(water_rows(globals()))
from tests.alerts.matrix_rows import alerts_rows  # noqa: E402

TABLE.update(alerts_rows(globals()))
from tests.quality.matrix_rows import quality_rows  # noqa: E402

TABLE.update(quality_rows(globals()))
from tests.ngsild.matrix_rows import ngsild_rows  # noqa: E402

TABLE.update(ngsild_rows(globals()))
from tests.forecast.matrix_rows import forecast_rows  # noqa: E402

TABLE.update(forecast_rows(globals()))
from tests.requests.matrix_rows import requests_rows  # noqa: E402
from tests.opendata.matrix_rows import opendata_rows  # noqa: E402

TABLE.update(requests_rows(globals()))
TABLE.update(opendata_rows(globals()))

VALUES = {"city_id": "{city}", "city": "{city}", "station_id": "{station}", "standard_id": STANDARD,
          "username": "grantee", "NGSILD-Tenant": "{city}"}
"""Values of path and required query parameters, by name (``{city}``/``{station}``: the case's target)."""

HIDDEN_ROUTES = {("GET", "/"), ("GET", "/docs"), ("GET", "/i18n/{lang}.json"), ("GET", "/login"), ("POST", "/login"),
                 ("POST", "/logout"), ("GET", "/climate"), ("GET", "/fund"), ("GET", "/ewaste"),
                 ("GET", "/water"), ("GET", "/alerts"), ("GET", "/quality"), ("GET", "/requests")}
"""Routes left out of the OpenAPI document on purpose (the dashboard's HTML pages, the offline API docs); all public."""


# --- the world ----------------------------------------------------------------------------------------------


@dataclass
class World:
    app: FastAPI
    store: DuckDBStore
    client: TestClient
    users: dict
    api_key: str
    device_keys: dict
    system: Principal
    counter: itertools.count = field(default_factory=lambda: itertools.count(1))
    doc: dict = field(default_factory=dict)

    def headers(self, principal: str, body: bytes) -> dict:
        if principal == "anon":
            return {}
        if principal == "a_key":
            return {"X-API-Key": self.api_key}
        if principal == "device":
            key_id, secret = self.device_keys[PRIV]
            return signed(key_id, secret, body)
        return bearer(self.app, self.users[principal])  # fresh each time: a logout revokes only its own token


def signed(key_id: str, secret: str, body: bytes, *, nonce: str | None = None, ts: int | None = None) -> dict:
    ts = int(time.time()) if ts is None else ts
    nonce = nonce or secrets.token_urlsafe(12)
    return {"X-Nagar-Key": key_id, "X-Nagar-Timestamp": str(ts), "X-Nagar-Nonce": nonce,
            "X-Nagar-Signature": devices.sign(secret, timestamp=ts, nonce=nonce, body=body)}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("matrix")
    store = DuckDBStore(tmp / "matrix.duckdb")
    # no limits in the way: a few hundred requests from one address and per user
    settings = Settings(secret_key="x" * 32, db=tmp / "unused.duckdb", ip_rate_per_s=1e6, ip_burst=10**6,
                        key_rate_per_s=1e6, key_burst=10**6)
    for city, fields in CITY_FIELDS.items():
        store.upsert_city(dict(id=city, **fields))
    for st, fields in STATION_FIELDS.items():
        store.upsert_station(dict(id=st, **fields))
    now = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    store.write_observations(obs_table([(st, "pm25", now - timedelta(hours=h), 20.0 + h)
                                        for st in (PRIV_ST, OPEN_ST) for h in range(1, 13)]))
    users = {
        "padmin": make_user(store, "padmin", platform_admin=True),
        "a_admin": make_user(store, "a_admin", roles={PRIV: "city_admin"}),
        "a_oper": make_user(store, "a_oper", roles={PRIV: "operator"}),
        "a_analyst": make_user(store, "a_analyst", roles={PRIV: "analyst"}),
        "b_admin": make_user(store, "b_admin", roles={OPEN: "city_admin"}),
        "loginuser": make_user(store, "loginuser"),
        "grantee": make_user(store, "grantee", roles={PRIV: "analyst"}),  # PUT .../roles/grantee targets them
    }
    app = create_app(settings, store=store)
    u = users["a_oper"]
    key = security.create_api_key(store, principal=Principal(kind="user", user_id=u["id"], username=u["username"]),
                                  name="matrix", expires_days=None)["key"]
    system = Principal(kind="user", user_id=users["padmin"]["id"], username="padmin", platform_admin=True)
    dev = {}
    for city, st in ((PRIV, PRIV_ST), (OPEN, OPEN_ST)):
        row = security.create_device_key(store, secret=app.state.secret, principal=system,
                                         station=store.get_station(st))
        dev[city] = (row["id"], row["secret"])
    with TestClient(app) as client:
        w = World(app=app, store=store, client=client, users=users, api_key=key, device_keys=dev, system=system)
        w.doc = app.openapi()
        yield w
    store.close()


# --- the matrix ---------------------------------------------------------------------------------------------


def _fill(template: str, ctx: Ctx) -> str:
    return template.replace("{city}", ctx.target or PRIV).replace("{station}", ctx.station or PRIV_ST)


def _matrix_params():
    for (method, path), route in TABLE.items():
        for case in route.cases:
            q = "&".join(f"{k}={v}" for k, v in case.query)
            label = f"{case.target or '-'}{'?' + q if q else ''}"
            for principal, code in case.expected().items():
                yield pytest.param(method, path, case, principal, code, id=f"{method} {path} [{label}] {principal}")


def send(world: World, method: str, path: str, case: Case, principal: str):
    """Build the request from the OpenAPI operation and send it as ``principal``."""
    route = TABLE[(method, path)]
    op = world.doc["paths"][_abs(path)][method.lower()]
    ctx = Ctx(world=world, principal=principal, target=case.target, n=next(world.counter))
    fresh = route.prepare(ctx) if route.prepare else {}
    url, query, hdrs = _abs(path), {}, {}
    for p in op.get("parameters", []):
        name = p["name"]
        if p["in"] == "path":
            value = fresh.get(name, VALUES.get(name))
            assert value is not None, f"no value for path parameter {name!r} of {method} {path}: add one to VALUES"
            url = url.replace("{" + name + "}", _fill(value, ctx))
        elif p["in"] == "query" and p.get("required"):
            assert name in VALUES, f"no value for required query parameter {name!r} of {method} {path}"
            query[name] = _fill(VALUES[name], ctx)
        elif p["in"] == "header" and name in VALUES:
            hdrs[name] = _fill(VALUES[name], ctx)
    for k, v in case.query:
        query[k] = _fill(v, ctx)
    body, ctype = b"", None
    if "requestBody" in op:
        assert route.body is not None or not op["requestBody"].get("required"), \
            f"{method} {path} documents a required body: add a body builder to its TABLE row"
    if route.body is not None:
        assert "requestBody" in op or path == "/devices/observations", f"{method} {path} documents no body"
        body, ctype = route.body(ctx)
    headers = {**world.headers(principal, body), **hdrs}
    if ctype:
        headers["Content-Type"] = ctype
    r = world.client.request(method, url, params=query, content=body or None, headers=headers)
    return ctx, r


@pytest.mark.parametrize("method, path, case, principal, expected", list(_matrix_params()))
def test_matrix(world, method, path, case, principal, expected):
    route = TABLE[(method, path)]
    before = world.store.stats().observations
    ctx, r = send(world, method, path, case, principal)
    what = f"{principal} {method} {r.request.url}: got {r.status_code} {r.text[:300]}"
    if expected == "rej":
        assert r.status_code == 200, f"{what}; expected 200 with every row rejected as an unknown station"
        j = r.json()
        assert j["inserted"] == j["updated"] == 0 and j["rejected"] == j["received"] > 0, what
        assert all(e["field"] == "station" and "unknown station" in e["reason"] for e in j["errors"]), what
        assert world.store.stats().observations == before, f"{what}; rows were written"
        return
    assert r.status_code == int(expected), f"{what}; expected {expected}"
    if 200 <= r.status_code < 300:
        if route.verify:
            route.verify(ctx, r)
        if principal in CANNOT_SEE_PRIV:
            assert PRIV not in r.text, f"{what}; leaks the private city to a caller who may not see it"
    elif r.status_code != 204:
        j = r.json()
        if isinstance(j, list):  # the Open311 GeoReport v2 error format (nagar/requests)
            j = {"error": j[0]["code"], "message": j[0]["description"]}
        assert j.get("error") and j.get("message"), f"{what}; error answers carry error and message"


# --- the table against the document -------------------------------------------------------------------------


def _abs(path: str) -> str:
    """A table path as served: under /api/v1, except the NGSI-LD API's own /ngsi-ld/v1 (kept whole)."""
    return path if path.startswith("/ngsi-ld/") else API + path


def _rel(path: str) -> str:
    return path if path.startswith("/ngsi-ld/") else path[len(API):]


def _operations(doc: dict) -> dict[tuple[str, str], dict]:
    return {(m.upper(), p): op for p, ops in doc["paths"].items() for m, op in ops.items()
            if m in ("get", "post", "put", "patch", "delete", "head", "options")}


def test_table_covers_the_document(world):
    ops = _operations(world.doc)
    assert all(p.startswith((API, "/ngsi-ld/v1/")) for _, p in ops), "every documented route lives under /api/v1"
    documented = {(m, _rel(p)) for m, p in ops}
    assert documented - set(TABLE) == set(), "routes without a row in the expectation table"
    assert set(TABLE) - documented == set(), "rows for routes that are not in the document"


def test_every_operation_declares_the_permission_the_table_expects(world):
    ops = _operations(world.doc)
    missing = sorted(f"{m} {p}" for (m, p), op in ops.items() if PERMISSION_KEY not in op)
    assert missing == [], f"operations without {PERMISSION_KEY}"
    wrong = {f"{m} {p}": (op[PERMISSION_KEY], TABLE[(m, _rel(p))].perm.value)
             for (m, p), op in ops.items() if (m, _rel(p)) in TABLE
             and op[PERMISSION_KEY] != TABLE[(m, _rel(p))].perm.value}
    assert wrong == {}, "declared permission (document, table) differs"
    assert {op[PERMISSION_KEY] for op in ops.values()} <= {p.value for p in Perm}


def _all_api_routes(app: FastAPI):
    """Every APIRoute the app serves, including those of included routers (FastAPI >= 0.16x keeps included
    routers as branches of ``app.routes`` instead of copying their routes)."""
    from fastapi.routing import APIRoute

    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: app.routes is flat
        return [r for r in app.routes if isinstance(r, APIRoute)]
    return [c.original_route for c in iter_route_contexts(app.routes) if isinstance(c.original_route, APIRoute)]


def test_routes_outside_the_document_are_known_and_public(world):
    hidden = {(m, r.path): (r.openapi_extra or {}).get(PERMISSION_KEY)
              for r in _all_api_routes(world.app) if not r.include_in_schema for m in r.methods}
    assert set(hidden) == HIDDEN_ROUTES, "a route outside the OpenAPI document is not covered here"
    assert set(hidden.values()) == {Perm.PUBLIC.value}, hidden


# --- check_routes -------------------------------------------------------------------------------------------


def test_check_routes_refuses_a_route_on_the_app_without_require():
    app = FastAPI()

    @app.get("/declared", **require(Perm.PUBLIC))
    def declared() -> dict:
        return {}

    check_routes(app)  # all declared: fine

    @app.get("/undeclared")
    def undeclared() -> dict:
        return {}

    with pytest.raises(NagarError, match="/undeclared"):
        check_routes(app)


def test_check_routes_refuses_a_route_in_an_included_router_without_require():
    """How every Nagar route is mounted: in an APIRouter included by ``create_app``."""
    router = APIRouter(prefix="/api/v1")

    @router.get("/declared", **require(Perm.READ))
    def declared() -> dict:
        return {}

    @router.get("/undeclared")
    def undeclared() -> dict:
        return {}

    app = FastAPI()
    app.include_router(router)
    with pytest.raises(NagarError, match="undeclared"):
        check_routes(app)


# --- callers beyond the table -------------------------------------------------------------------------------


def test_device_of_another_station_cannot_write_here_and_signatures_are_checked(world):
    c, body = world.client, json.dumps(_rows(PRIV_ST, next(world.counter))).encode()
    before = world.store.stats().observations
    key_id, secret = world.device_keys[OPEN]  # the open city's station's device, writing privcity's station
    r = c.post(f"{API}/devices/observations", content=body, headers=signed(key_id, secret, body))
    assert r.status_code == 200 and r.json()["rejected"] == 1 and r.json()["inserted"] == 0, r.text
    assert world.store.stats().observations == before

    key_id, secret = world.device_keys[PRIV]
    h = signed(key_id, secret, body)
    tampered = body.replace(b"12.5", b"99.5") if b"12.5" in body else body + b" "
    assert c.post(f"{API}/devices/observations", content=tampered, headers=h).status_code == 401
    assert c.post(f"{API}/devices/observations", content=body, headers=h).status_code == 200
    assert c.post(f"{API}/devices/observations", content=body, headers=h).status_code == 401, "replay accepted"
    stale = signed(key_id, secret, body, ts=int(time.time()) - 3600)
    assert c.post(f"{API}/devices/observations", content=body, headers=stale).status_code == 401
    wrong_secret = signed(key_id, tokens.device_secret("y" * 32, key_id), body)
    assert c.post(f"{API}/devices/observations", content=body, headers=wrong_secret).status_code == 401


def test_session_cookie_needs_csrf_on_unsafe_methods(world):
    u = world.users["a_admin"]
    token, jti, _ = tokens.issue_token(world.app.state.secret, sub=str(u["id"]), typ="session",
                                       lifetime=timedelta(hours=1))
    cookie = {"Cookie": f"{SESSION_COOKIE}={token}"}
    c = world.client
    assert c.get(f"{API}/me", headers=cookie).json()["username"] == "a_admin"
    assert c.get(f"{API}/cities/{PRIV}/roles", headers=cookie).status_code == 200
    body = {"name": "via-session", "expires_days": 1}
    assert c.post(f"{API}/keys", json=body, headers=cookie).status_code == 403
    assert c.post(f"{API}/keys", json=body, headers={**cookie, CSRF_HEADER: "0" * 64}).status_code == 403
    good = {**cookie, CSRF_HEADER: tokens.csrf_token(world.app.state.secret, jti)}
    assert c.post(f"{API}/keys", json=body, headers=good).status_code == 201


def test_bad_credentials_are_401_never_anonymous(world):
    c = world.client
    for h in ({"Authorization": "Bearer not-a-token"}, {"X-API-Key": "nagar_nope.nope"}, {"X-API-Key": "junk"},
              {"Cookie": f"{SESSION_COOKIE}=junk"}):
        r = c.get(f"{API}/cities/{OPEN}", headers=h)  # readable anonymously, but the credential is bad
        assert r.status_code == 401, (h, r.status_code, r.text)


def test_unknown_and_private_cities_answer_alike(world):
    """To a caller who may not see privcity, it must be indistinguishable from a city that does not exist."""
    c = world.client
    for principal in ("anon", "b_admin"):
        for path in ("/cities/{c}", "/stations?city={c}", "/aqi/latest?city={c}", "/cities/{c}/roles",
                     "/audit?city={c}"):
            if principal == "anon" and "roles" in path or principal == "anon" and "audit" in path:
                continue
            a = c.get(API + path.format(c=PRIV), headers=world.headers(principal, b""))
            b = c.get(API + path.format(c="nosuchcity"), headers=world.headers(principal, b""))
            assert a.status_code == b.status_code == 404, (principal, path, a.text, b.text)
            assert a.json()["message"].replace(PRIV, "X") == b.json()["message"].replace("nosuchcity", "X"), \
                (principal, path, a.text, b.text)
