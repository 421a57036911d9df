"""Who is calling, and what each route needs. Routes declare one :class:`Perm` with :func:`require`;
a route without one makes :func:`check_routes` (run by ``create_app``) refuse to start the app.

Roles are per city and ordered: analyst (reads) < operator (also writes data) < city_admin (also manages
the city's stations, users, device keys and reads its audit log). A platform admin has every right in
every city. Anyone, signed in or not, reads the cities that publish open data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import StrEnum
from typing import Annotated

from fastapi import Depends, Request
from fastapi.routing import APIRoute

from nagar.core.errors import Forbidden, NagarError, Unauthorized
from nagar.core.tenancy import Scope

from . import tokens


class Role(StrEnum):
    ANALYST = "analyst"
    OPERATOR = "operator"
    CITY_ADMIN = "city_admin"


LEVEL = {Role.ANALYST: 1, Role.OPERATOR: 2, Role.CITY_ADMIN: 3}


class Perm(StrEnum):
    PUBLIC = "public"
    """Anyone; not city data (standards, health, the dashboard shell)."""
    READ = "city:read"
    """Anyone; answers are scoped to open-data cities plus the caller's own cities (analyst or above)."""
    WRITE = "city:write"
    """Operators (or above) of some city; scoped to those cities."""
    ADMIN = "city:admin"
    """City admins of some city; scoped to those cities."""
    SELF = "self"
    """Any signed-in caller, acting on their own account."""
    PLATFORM = "platform:admin"
    """Platform admins only."""
    DEVICE = "device"
    """A station's device key with a valid request signature (see nagar.security.devices)."""


_PERM_LEVEL = {Perm.READ: 1, Perm.WRITE: 2, Perm.ADMIN: 3}
PERMISSION_KEY = "x-nagar-permission"


@dataclass(frozen=True)
class Principal:
    kind: str = "anonymous"  # anonymous | user | api_key | session
    user_id: int | None = None
    username: str | None = None
    platform_admin: bool = False
    grants: dict = field(default_factory=dict)
    open_cities: frozenset = frozenset()
    key_id: str | None = None
    token_jti: str | None = None
    _scopes: dict = field(default_factory=dict, compare=False, repr=False)
    """Memo of :meth:`scope` (a principal's grants do not change once it is built)."""

    @property
    def authenticated(self) -> bool:
        return self.kind != "anonymous"

    @property
    def actor(self) -> str:
        if self.kind == "anonymous":
            return "anonymous"
        if self.kind == "api_key":
            return f"user:{self.username} key:{self.key_id}"
        return f"user:{self.username}"

    def scope(self, perm: Perm) -> Scope:
        """Cities where the caller holds ``perm`` (``None``: all cities)."""
        if self.platform_admin:
            return None
        hit = self._scopes.get(perm)
        if hit is None:
            need = _PERM_LEVEL.get(perm, 3)
            own = frozenset(c for c, r in self.grants.items() if LEVEL.get(Role(r), 0) >= need)
            hit = self._scopes[perm] = own | self.open_cities if perm == Perm.READ else own
        return hit


ANONYMOUS = Principal()


def _open_cities(store) -> frozenset:
    return frozenset(c["id"] for c in store.list_cities() if c.get("open_data"))


def _user_principal(store, user: dict, *, kind: str, key_id: str | None = None, jti: str | None = None) -> Principal:
    if user is None or user["disabled"]:
        raise Unauthorized("account disabled or unknown", field="authorization")
    return Principal(kind=kind, user_id=user["id"], username=user["username"],
                     platform_admin=bool(user["platform_admin"]), grants=store.grants_of(user["id"]),
                     open_cities=_open_cities(store), key_id=key_id, token_jti=jti)


SESSION_COOKIE = "nagar_session"
CSRF_COOKIE = "nagar_csrf"
CSRF_HEADER = "x-csrf-token"
_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
CSRF_MESSAGE = (
    "missing or wrong CSRF token: this request carries the dashboard's sign-in cookie, and a write with that "
    "cookie also needs the X-CSRF-Token header (the value of the nagar_csrf cookie). In /docs, press Authorize "
    "and give an API key (X-API-Key) or sign in for a bearer token; a script sends X-API-Key or "
    "'Authorization: Bearer <token from POST /api/v1/auth/token>'. Those need no CSRF token.")
"""The 403 for a cookie-authenticated write without its CSRF header: it says what to do instead (the
usual case is /docs used in a browser signed in to the dashboard, whose cookie goes with every request)."""


def resolve_principal(request: Request) -> Principal:
    """Credentials, in order: ``Authorization: Bearer <access token>``, ``X-API-Key`` (or
    ``Authorization: ApiKey <key>``), the dashboard session cookie (unsafe methods also need the
    ``X-CSRF-Token`` header). Presented but invalid credentials are a 401, never silently anonymous."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    store = request.app.state.store
    secret = request.app.state.secret
    auth = request.headers.get("authorization", "")
    api_key = request.headers.get("x-api-key")
    scheme, _, value = auth.partition(" ")
    p: Principal
    if scheme.lower() == "bearer" and value:
        claims = tokens.decode_token(secret, value.strip(), typ="access")
        if store.token_revoked(claims["jti"]):
            raise Unauthorized("token revoked", field="authorization")
        p = _user_principal(store, store.get_user(user_id=int(claims["sub"])), kind="user", jti=claims["jti"])
    elif api_key or scheme.lower() == "apikey":
        key_id, key_secret = tokens.split_api_key((api_key or value).strip())
        row = store.get_api_key(key_id)
        now = datetime.now(timezone.utc)
        if row is None or not tokens.api_key_matches(row["secret_hash"], key_secret):
            raise Unauthorized("invalid API key", field="x-api-key")
        if row["revoked_at"] is not None:
            raise Unauthorized("API key revoked", field="x-api-key")
        if row["expires_at"] is not None and row["expires_at"] <= now:
            raise Unauthorized("API key expired", field="x-api-key")
        p = _user_principal(store, store.get_user(user_id=row["user_id"]), kind="api_key", key_id=key_id)
    elif request.cookies.get(SESSION_COOKIE):
        claims = tokens.decode_token(secret, request.cookies[SESSION_COOKIE], typ="session")
        if store.token_revoked(claims["jti"]):
            raise Unauthorized("session ended; sign in again", field="cookie")
        if request.method in _UNSAFE:
            sent = request.headers.get(CSRF_HEADER, "")
            import hmac

            if not hmac.compare_digest(sent, tokens.csrf_token(secret, claims["jti"])):
                raise Forbidden(CSRF_MESSAGE, field=CSRF_HEADER)
        p = _user_principal(store, store.get_user(user_id=int(claims["sub"])), kind="session", jti=claims["jti"])
    else:
        p = Principal(open_cities=_open_cities(store))
    limiter = getattr(request.app.state, "key_limiter", None)
    if limiter is not None and p.authenticated:
        wait = limiter.hit(f"key:{p.key_id}" if p.key_id else f"user:{p.user_id}")
        if wait is not None:
            from .ratelimit import account_limited

            raise account_limited(wait)
    request.state.principal = p
    return p


PrincipalDep = Annotated[Principal, Depends(resolve_principal)]


def _checker(perm: Perm):
    def check(request: Request) -> None:
        if perm in (Perm.PUBLIC, Perm.DEVICE):
            return  # nothing to resolve: public pages, or a device checked by its signature
        p = resolve_principal(request)
        if perm == Perm.READ:
            return
        if not p.authenticated:
            raise Unauthorized("sign in or send an API key", field="authorization")
        if perm == Perm.SELF:
            return
        if perm == Perm.PLATFORM:
            if not p.platform_admin:
                raise Forbidden("platform administrators only")
            return
        if p.scope(perm) == frozenset():
            raise Forbidden(f"needs the {perm.value} right in at least one city")

    check.__name__ = f"require_{perm.name.lower()}"
    return check


def _error_responses(perm: Perm) -> dict:
    """The error answers a route with ``perm`` can give, documented with the common error body."""
    from nagar.core.errors import error_body_schema

    body = error_body_schema()
    codes = {400: "Malformed request", 404: "Not found, or not visible to you", 409: "Conflicts with stored data",
             413: "Body or batch too large", 422: "Invalid input (the body names the field)",
             429: "Rate limited (see Retry-After)"}
    codes[401] = "Missing, invalid or expired credentials (or a failed sign-in)"
    if perm not in (Perm.PUBLIC, Perm.READ, Perm.DEVICE):
        codes[403] = "Known caller without the right"
    return {code: {"model": body, "description": text} for code, text in sorted(codes.items())}


TOKEN_URL = "/api/v1/auth/token"
SECURITY_SCHEMES: dict[str, dict] = {
    "APIKey": {
        "type": "apiKey", "in": "header", "name": "X-API-Key",
        "description": "An API key, `nagar_<id>.<secret>` (create one with `POST /api/v1/keys` while signed in; "
                       "the secret is shown once). Also accepted as `Authorization: ApiKey <key>`.",
    },
    "OAuth2Password": {
        "type": "oauth2",
        "description": "Sign in with your username and password (OAuth2 password grant on "
                       f"`POST {TOKEN_URL}`): the access token is sent as `Authorization: Bearer ...` "
                       "and lasts 15 minutes; trade the refresh token at `POST /api/v1/auth/refresh`.",
        "flows": {"password": {"tokenUrl": TOKEN_URL, "scopes": {}}},
    },
    "BearerToken": {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
        "description": f"An access token you already have (the `access_token` of `POST {TOKEN_URL}`).",
    },
}
"""How a caller authenticates, as OpenAPI security schemes (what :func:`resolve_principal` accepts). The
dashboard's session cookie is not listed: Swagger UI cannot set it, and a write with it also needs the
``X-CSRF-Token`` header (see the API description)."""

_SIGNED_IN = [{name: []} for name in SECURITY_SCHEMES]


def _security(perm: Perm) -> list[dict] | None:
    """The operation's OpenAPI ``security``: none for public and device routes (a device signs its requests
    itself), optional (``{}`` first) for reads, required for the rest."""
    if perm in (Perm.PUBLIC, Perm.DEVICE):
        return None
    if perm == Perm.READ:
        return [{}, *_SIGNED_IN]
    return list(_SIGNED_IN)


def require(perm: Perm, *, openapi_extra: dict | None = None) -> dict:
    """Keyword arguments for a route decorator: the check, its declaration in OpenAPI (the permission and the
    accepted credentials), and the error answers the route can give."""
    extra = {**(openapi_extra or {}), PERMISSION_KEY: perm.value}
    security = _security(perm)
    if security is not None:
        extra.setdefault("security", security)
    return {"dependencies": [Depends(_checker(perm))], "openapi_extra": extra,
            "responses": _error_responses(perm)}


def install_openapi_security(app) -> None:
    """Add :data:`SECURITY_SCHEMES` to the app's OpenAPI components (the operations name them through
    :func:`require`), so that Swagger UI on /docs shows the Authorize button and a padlock per route."""
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = build()
            schema.setdefault("components", {}).setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi


def route_permission(route: APIRoute) -> str | None:
    return (route.openapi_extra or {}).get(PERMISSION_KEY)


def check_routes(app) -> None:
    """Refuse to start when any API route has not declared its permission (authenticated by default)."""
    from fastapi.routing import iter_route_contexts

    # app.routes holds included routers as wrappers (FastAPI >= 0.16x): walk every route with its context
    missing = [f"{sorted(c.methods or [])} {c.path}" for c in iter_route_contexts(app.routes)
               if isinstance(c.route, APIRoute) and route_permission(c.route) is None]
    if missing:
        raise NagarError("routes without a declared permission: " + "; ".join(missing))


def check_city(store, p: Principal, city: str, perm: Perm) -> dict:
    """The city row if the caller holds ``perm`` there; 404 if the caller may not even see it (or it
    does not exist), 403 if they may see it but lack the right."""
    from nagar.core.errors import NotFound
    from nagar.core.tenancy import allows

    row = store.get_city(city, scope=p.scope(Perm.READ))
    if row is None:
        raise NotFound(f"no city {city!r}", field="city")
    if not allows(p.scope(perm), city):
        raise Forbidden(f"needs the {perm.value} right in {city}", field="city")
    return row
