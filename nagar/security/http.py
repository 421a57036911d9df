"""The HTTP edge: security headers, request-body limit, per-address rate limit, CORS and offline API docs.

``install(app, settings)`` adds four pure ASGI middlewares (none buffers a body, so streamed requests and
responses stay streamed). From the outside in::

    SecurityHeadersMiddleware   headers on every answer, including the 413 and 429 below
    CORSMiddleware              only when settings.cors_origins is non-empty (429/413 keep CORS headers)
    RateLimitMiddleware         per client address, app.state.ip_limiter; 429 + Retry-After
    BodyLimitMiddleware         settings.max_body_bytes, by Content-Length and by counting streamed bytes
    (FastAPI's exception handlers and routes)

It also puts ``app.state.key_limiter`` in place for the auth dependency (limits per API key or user) and
``request.state.client_ip`` (the address the limits are kept for) on every request.

``docs_router`` serves ``GET /docs``: Swagger UI from ``/static/vendor/swagger-ui/``, started by
``/static/js/docs.js``. FastAPI's own page loads its scripts from a CDN and runs an inline script, which a
closed city network and the Content-Security-Policy both refuse; create the app with ``docs_url=None,
redoc_url=None`` and include this router instead.

Settings read (with these defaults while ``Settings`` lacks them): ``max_body_bytes`` (64 MiB),
``ip_rate_per_s`` (50), ``ip_burst`` (200), ``key_rate_per_s`` (20), ``key_burst`` (100), ``cors_origins``
([]) and ``trusted_proxies`` ([]).
"""

from __future__ import annotations

import hashlib
import html
import ipaddress
import logging
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nagar.core.errors import PayloadTooLarge

from .permissions import Perm, require
from .ratelimit import RateLimiter, ip_limited, make_limiter

log = logging.getLogger("nagar")

DEFAULT_MAX_BODY_BYTES = 64 * 2**20
DEFAULT_IP_RATE_PER_S = 50.0
DEFAULT_IP_BURST = 200
DEFAULT_KEY_RATE_PER_S = 20.0
DEFAULT_KEY_BURST = 100

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "object-src 'none'",
    ]
)
"""Used on every answer that does not set its own (the dashboard adds its map-tile host)."""

PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer", "autoplay", "camera", "display-capture", "geolocation", "gyroscope",
        "magnetometer", "microphone", "midi", "payment", "usb",
    )
)
"""Browser features no Nagar page uses, switched off (names Chromium knows: unknown ones log errors)."""

STRICT_TRANSPORT_SECURITY = "max-age=31536000"
"""One year, this host only (a city's other hosts under the same domain may not all serve HTTPS)."""

SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Permissions-Policy", PERMISSIONS_POLICY),
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
)
"""Added to every HTTP answer unless the answer already has that header (a route's own choice wins)."""

CORS_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
CORS_HEADERS = ("Authorization", "Content-Type", "X-API-Key", "X-Request-ID")
CORS_EXPOSE = ("Retry-After", "Content-Disposition")

# The static files this page needs live beside the dashboard's (nagar/web/static), served at /static.
STATIC_DIR = Path(__file__).resolve().parent.parent / "web" / "static"
SWAGGER_JS = "vendor/swagger-ui/swagger-ui-bundle.js"
SWAGGER_CSS = "vendor/swagger-ui/swagger-ui.css"
DOCS_JS = "js/docs.js"
FAVICON = "img/favicon.svg"


def install(app: FastAPI, settings) -> None:
    """Add the HTTP-edge middlewares to ``app`` and put the limiters on ``app.state``.

    Call it once, before the app starts serving (Starlette refuses middleware after that); a second call
    does nothing. ``settings`` is a ``nagar.core.settings.Settings``; fields it lacks take the defaults
    named in this module's docstring.

    Raises
    ------
    ValueError
        ``trusted_proxies`` holds something that is not an IP address or network, or ``cors_origins``
        something that is not ``scheme://host[:port]``.
    """
    if any(m.cls is SecurityHeadersMiddleware for m in app.user_middleware):
        return
    max_body = int(getattr(settings, "max_body_bytes", DEFAULT_MAX_BODY_BYTES))
    trusted = parse_networks(getattr(settings, "trusted_proxies", None) or ())
    origins = _check_origins(getattr(settings, "cors_origins", None) or ())

    app.state.trusted_proxies = trusted  # for over_https() and secure_cookies()
    shared = getattr(settings, "rate_limit_redis", None)  # one limit across processes, or one per process
    app.state.ip_limiter = make_limiter(
        float(getattr(settings, "ip_rate_per_s", DEFAULT_IP_RATE_PER_S)),
        int(getattr(settings, "ip_burst", DEFAULT_IP_BURST)), name="ip", redis_url=shared,
    )
    app.state.key_limiter = make_limiter(
        float(getattr(settings, "key_rate_per_s", DEFAULT_KEY_RATE_PER_S)),
        int(getattr(settings, "key_burst", DEFAULT_KEY_BURST)), name="account", redis_url=shared,
    )

    # add_middleware puts each new one outside the previous: innermost first.
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=max_body)
    app.add_middleware(RateLimitMiddleware, state=app.state, trusted_proxies=trusted)
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=CORS_METHODS,
            allow_headers=CORS_HEADERS,
            expose_headers=CORS_EXPOSE,
            allow_credentials=False,
            max_age=600,
        )
    app.add_middleware(SecurityHeadersMiddleware, trusted_proxies=trusted)


# --- client address ---------------------------------------------------------------------------------------

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """``["10.0.0.1", "192.168.0.0/16", "::1"]`` -> networks; ValueError names a bad entry."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(str(entry).strip(), strict=False))
        except ValueError:
            raise ValueError(f"trusted_proxies: {entry!r} is not an IP address or network") from None
    return tuple(networks)


@lru_cache(maxsize=4096)
def _ip(text: str) -> IPAddress | None:
    """An address from a header or the scope: ``1.2.3.4``, ``1.2.3.4:80``, ``[::1]:80``, ``::ffff:1.2.3.4``.
    Memoised (addresses are immutable; most requests come from a few peers)."""
    text = text.strip().strip('"')
    if text.startswith("["):
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _trusted(ip: IPAddress | None, networks: tuple[Network, ...]) -> bool:
    return ip is not None and any(ip in net for net in networks)


def client_address(scope: Scope, trusted_proxies: tuple[Network, ...] = ()) -> str:
    """The address of the client that sent this request.

    The peer of the connection (``scope["client"]``), unless that peer is one of ``trusted_proxies``: then
    ``X-Forwarded-For`` is read from the right, skipping trusted proxies, and the first address that is
    not one is the client (entries left of it were written by the client and prove nothing). A peer
    that is not trusted cannot move its limit elsewhere by sending the header. ``"unknown"`` when the
    server gives no peer (a Unix socket).
    """
    return _resolve_client(scope, trusted_proxies)[0]


def _resolve_client(scope: Scope, trusted_proxies: tuple[Network, ...]) -> tuple[str, IPAddress | None]:
    client = scope.get("client")
    if not client or not client[0]:
        return "unknown", None
    peer = str(client[0])
    peer_ip = _ip(peer)
    if peer_ip is None:
        return peer, None
    if not _trusted(peer_ip, trusted_proxies):
        return str(peer_ip), peer_ip
    forwarded = ",".join(Headers(scope=scope).getlist("x-forwarded-for"))
    address = peer_ip
    for hop in reversed([h for h in forwarded.split(",") if h.strip()]):
        ip = _ip(hop)
        if ip is None:  # garbage left of a trusted proxy: keep the last address a trusted proxy vouched for
            break
        address = ip
        if not _trusted(ip, trusted_proxies):
            break
    return str(address), address


def _over_https(scope: Scope, trusted_proxies: tuple[Network, ...]) -> bool:
    """Whether the client reached us over TLS: our own scheme, or a trusted proxy's X-Forwarded-Proto."""
    if scope.get("scheme") in ("https", "wss"):
        return True
    client = scope.get("client")
    if trusted_proxies and client and _trusted(_ip(str(client[0])), trusted_proxies):
        proto = Headers(scope=scope).get("x-forwarded-proto", "")
        return proto.split(",")[-1].strip().lower() == "https"
    return False


def over_https(request) -> bool:
    """Whether this request reached Nagar over HTTPS: its own scheme, or the ``X-Forwarded-Proto`` of a
    peer in ``trusted_proxies`` (the same rule as the HSTS header)."""
    return _over_https(request.scope, getattr(request.app.state, "trusted_proxies", ()))


_warned_untrusted_proto = False


def secure_cookies(request) -> bool:
    """Whether the cookies set in answer to this request are marked ``Secure`` (``Settings.cookie_secure``).

    ``auto``: when the request came over HTTPS (:func:`over_https`). Over plain HTTP a browser drops a
    Secure cookie (except on http://localhost), so the sign-in form's and the session's cookies would never
    come back; they are sent without the flag there, and the session still ends with SameSite=Strict and
    HttpOnly. ``true``/``false`` force it. A request over HTTP that carries ``X-Forwarded-Proto: https``
    from a peer not in ``trusted_proxies`` is logged once: the proxy in front is probably not configured.
    """
    global _warned_untrusted_proto
    mode = str(request.app.state.settings.cookie_secure)
    if mode != "auto":
        return mode == "true"
    if over_https(request):
        return True
    proto = request.headers.get("x-forwarded-proto", "")
    if proto.split(",")[-1].strip().lower() == "https" and not _warned_untrusted_proto:
        _warned_untrusted_proto = True
        peer = request.client.host if request.client else "unknown"
        log.warning("a request from %s says X-Forwarded-Proto: https but that peer is not in "
                    "NAGAR_TRUSTED_PROXIES: its cookies are not marked Secure (add the proxy's address to "
                    "NAGAR_TRUSTED_PROXIES, or set NAGAR_COOKIE_SECURE=true)", peer)
    return False


def _limit_key(address: str, ip: IPAddress | None) -> str:
    """Rate-limit bucket of an address: itself for IPv4, its /64 for IPv6 (one host often holds a whole
    /64, so per-address buckets would let it multiply its limit)."""
    if isinstance(ip, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return address


def _route_path(scope: Scope) -> str:
    path = scope.get("path", "")
    root = scope.get("root_path", "")
    return path[len(root):] if root and path.startswith(root) else path


# --- middlewares ------------------------------------------------------------------------------------------


def _raw(headers: Iterable[tuple[str, str]]) -> tuple[tuple[bytes, bytes], ...]:
    return tuple((name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers)


_ALWAYS = _raw(SECURITY_HEADERS)
_HTTPS = _raw([("Strict-Transport-Security", STRICT_TRANSPORT_SECURITY)])
_API = _raw([("Cache-Control", "no-store")])


def security_headers(scope: Scope, trusted_proxies: tuple[Network, ...] = ()) -> tuple[tuple[bytes, bytes], ...]:
    """The raw headers every answer to this request carries (``SECURITY_HEADERS``, HSTS over HTTPS,
    ``Cache-Control: no-store`` under ``/api``): what :class:`SecurityHeadersMiddleware` adds, for code
    that answers before it (``nagar.ngsild.edge``)."""
    path = _route_path(scope)
    api = path == "/api" or path.startswith("/api/")
    return _ALWAYS + (_HTTPS if _over_https(scope, trusted_proxies) else ()) + (_API if api else ())


class SecurityHeadersMiddleware:
    """Adds ``SECURITY_HEADERS`` to every HTTP answer that lacks them, ``Strict-Transport-Security`` when
    the request came over HTTPS, and ``Cache-Control: no-store`` to answers under ``/api`` that set none."""

    def __init__(self, app: ASGIApp, *, trusted_proxies: tuple[Network, ...] = ()) -> None:
        self.app = app
        self.trusted_proxies = trusted_proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = security_headers(scope, self.trusted_proxies)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers.extend(header for header in extra if header[0] not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class RateLimitMiddleware:
    """Refuses a client address over its token bucket with 429, ``Retry-After`` and a JSON body.

    Every HTTP request costs one token, whatever its path. The limiter is ``state.ip_limiter`` (the app's
    ``app.state``), looked up on each request so that it can be replaced while the app runs (tests give
    it a fake clock). The client's address (``client_address``) is also left in
    ``request.state.client_ip`` for the routes (audit log).
    """

    def __init__(self, app: ASGIApp, *, state, trusted_proxies: tuple[Network, ...] = ()) -> None:
        self.app = app
        self.state = state
        self.trusted_proxies = trusted_proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        address, ip = _resolve_client(scope, self.trusted_proxies)
        scope.setdefault("state", {})["client_ip"] = address
        limiter: RateLimiter = self.state.ip_limiter
        retry_after = limiter.hit(_limit_key(address, ip))
        if retry_after is None:
            await self.app(scope, receive, send)
            return
        error = ip_limited(retry_after)
        response = JSONResponse(error.to_dict(), status_code=error.status_code, headers=error.headers)
        await response(scope, receive, send)


class _BodyTooLarge(Exception):
    """Raised into the app by ``receive`` once the body passed the limit (the 413 is already sent)."""


class BodyLimitMiddleware:
    """Refuses request bodies larger than ``max_body_bytes`` with 413 and a JSON body (``field: "body"``).

    A declared ``Content-Length`` over the limit is refused before the app runs. Otherwise the bytes are
    counted as the app reads them (chunked uploads included); when the count passes the limit the 413 is
    sent at once, the app's reading fails with an internal error, and whatever the app sends afterwards is
    dropped. If the app had already started its answer, the connection is aborted instead. The 413 says
    ``Connection: close``: the rest of an oversized body is not worth reading.
    """

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        if max_body_bytes < 0:
            raise ValueError(f"max_body_bytes must be >= 0, not {max_body_bytes!r}")
        self.app = app
        self.max_body_bytes = max_body_bytes

    def _response(self) -> JSONResponse:
        error = PayloadTooLarge(
            f"request body is larger than the limit of {self.max_body_bytes} bytes", field="body"
        )
        return JSONResponse(error.to_dict(), status_code=error.status_code, headers={"Connection": "close"})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > self.max_body_bytes:
            await self._response()(scope, receive, send)
            return

        received = 0
        started = False  # the app has sent http.response.start
        refused = False  # we sent the 413 ourselves

        async def receive_counted() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    if not started and not refused:
                        refused = True
                        await self._response()(scope, receive, send)
                    raise _BodyTooLarge
            return message

        async def send_unless_refused(message: Message) -> None:
            nonlocal started
            if refused:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive_counted, send_unless_refused)
        except Exception:
            if not refused:
                raise  # includes _BodyTooLarge after the app started answering: the server aborts
            log.debug("request body over %d bytes refused on %s", self.max_body_bytes, scope.get("path"))


def _check_origins(origins: Iterable[str]) -> list[str]:
    """CORS origins exactly as a browser sends them: ``scheme://host[:port]``, no path, no trailing slash."""
    checked = []
    for origin in origins:
        origin = str(origin).strip()
        parts = urlsplit(origin)
        if origin != "*" and not (
            parts.scheme in ("http", "https") and parts.netloc and origin == f"{parts.scheme}://{parts.netloc}"
        ):
            raise ValueError(f"cors_origins: {origin!r} is not an origin like https://city.example.org")
        checked.append(origin)
    return checked


# --- offline API docs -------------------------------------------------------------------------------------

docs_router = APIRouter(include_in_schema=False)

_DOCS_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} — API</title>
<link rel="icon" href="{favicon}" type="image/svg+xml">
<link rel="stylesheet" href="{css}">
</head>
<body data-state="loading">
<div id="swagger-ui" data-openapi-url="{openapi}"></div>
<script src="{bundle}"></script>
<script src="{docs}"></script>
</body>
</html>
"""


@lru_cache(maxsize=None)
def _asset_version(relative: str) -> str:
    """Short content hash for the asset's URL, so that browsers never keep a stale copy."""
    try:
        return hashlib.sha256((STATIC_DIR / relative).read_bytes()).hexdigest()[:10]
    except OSError:
        return "0"


@docs_router.get("/docs", response_class=HTMLResponse, **require(Perm.PUBLIC))
def api_docs(request: Request) -> HTMLResponse:
    """Swagger UI for the app's OpenAPI schema, from files served by this server only."""
    openapi_url = request.app.openapi_url
    if not openapi_url:
        raise HTTPException(status_code=404, detail="this server publishes no OpenAPI schema")
    root = request.scope.get("root_path", "").rstrip("/")

    def static(relative: str) -> str:
        return html.escape(f"{root}/static/{relative}?v={_asset_version(relative)}")

    page = _DOCS_PAGE.format(
        title=html.escape(request.app.title),
        favicon=static(FAVICON),
        css=static(SWAGGER_CSS),
        openapi=html.escape(root + openapi_url),
        bundle=static(SWAGGER_JS),
        docs=static(DOCS_JS),
    )
    return HTMLResponse(page, headers={"Cache-Control": "no-cache"})
