"""The NGSI-LD edge: the two hot requests of a FIWARE deployment answered before the rest of the stack.

A FIWARE IoT Agent sends ``PATCH /ngsi-ld/v1/entities/{id}/attrs/{attr}`` for every measurement and
dashboards poll ``GET /ngsi-ld/v1/entities/{id}``. Through the whole stack (Nagar's four security
middlewares, the credential cache, FastAPI's routing, dependency resolution and response classes) such a
request costs several times the broker's own work. :class:`NgsiEdge` is the outermost middleware: for
those two shapes, from a caller the credential cache already knows (:mod:`nagar.ngsild.credentials`), it
applies the same rules itself and answers; anything else passes through untouched.

What it applies, each from the code the normal stack uses (so the two cannot drift apart):

- the security headers of :func:`nagar.security.http.security_headers`;
- the per-address limit (``app.state.ip_limiter``, :func:`nagar.security.http.client_address` rules) and
  the per-account limit (:meth:`Credentials.admit`), refused with the same 429 bodies;
- the body limit: a PATCH must declare a ``Content-Length`` within ``max_body_bytes`` (others pass through
  to the normal stack, which streams and counts);
- ``require``: GET needs Perm.READ in the tenant, PATCH an authenticated caller with Perm.WRITE
  (:meth:`Broker.tenant`); the body through :func:`nagar.ngsild.views.parse_body`; the write through the
  broker's group commit with the route's audit entry; ProblemDetails errors as the app's handler renders
  them.

Everything that is not certain to be answered identically is declined *before* anything is consumed
(no rate-limit token taken, no body read), and the normal stack answers it: unknown or stale callers,
session cookies, query parameters other than ``options``/``format``/``attrs``/``lang`` or repeated ones,
``Accept: application/ld+json``, errors of a GET (404, 400, tenancy), tenancy or permission refusals of a
PATCH, chunked or oversized bodies. ``tests/ngsild/test_edge.py`` sends the same requests through an app
with the edge and one without and compares status, body and headers.
"""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qsl

from nagar.core.errors import NagarError
from nagar.security.http import _limit_key, _resolve_client, security_headers
from nagar.security.permissions import Perm
from nagar.security.ratelimit import account_limited, ip_limited

from . import context as C
from . import entities as E
from .service import Broker, broker_of, dumps
from .views import _attrs_param, _options, content_type_ok, ctx_of_link, parse_body

_PREFIX = "/ngsi-ld/v1/entities/"
_HOT = re.compile(r"^/ngsi-ld/v1/entities/([^/]+)(?:/attrs/([^/]+))?$")
_GET_PARAMS = frozenset({"options", "format", "attrs", "lang"})
_JSON = b"application/json"

ANSWERS = [0]
"""How many answers the edge gave (tests check that it is used)."""


class _Decline(Exception):
    """The edge leaves this request to the normal stack (nothing has been consumed)."""


class NgsiEdge:
    def __init__(self, app, *, credentials, trusted_proxies=(), max_body_bytes: int):
        self.app = app
        self.credentials = credentials
        self.trusted = tuple(trusted_proxies)
        self.max_body = max_body_bytes
        self._links: dict[bytes, tuple[C.Context, bytes]] = {}

    async def __call__(self, scope, receive, send):
        if (scope["type"] == "http" and scope["path"].startswith(_PREFIX) and self.credentials.ttl > 0
                and scope["method"] in ("GET", "PATCH")):
            try:
                await self._answer(scope, receive, send)
                ANSWERS[0] += 1
                return
            except _Decline:
                pass
        await self.app(scope, receive, send)

    def _ctx(self, link: bytes | None) -> tuple[C.Context, bytes]:
        """The @context of a Link header and the Link header of answers in it (cached per header value)."""
        key = link or b""
        hit = self._links.get(key)
        if hit is None:
            try:
                ctx = ctx_of_link(link.decode("latin-1") if link else None)
            except NagarError:
                raise _Decline from None
            hit = (ctx, C.link_header(ctx).encode("latin-1"))
            if len(self._links) > 256:
                self._links.clear()
            self._links[key] = hit
        return hit

    async def _answer(self, scope, receive, send) -> None:
        m = _HOT.match(scope["path"])
        if m is None:
            raise _Decline
        eid, attr = m.group(1), m.group(2)
        method = scope["method"]
        if (method == "GET") != (attr is None):
            raise _Decline
        creds = self.credentials
        tenant = ctype = accept = link = length = None
        cred = b""
        for k, v in scope["headers"]:
            if k == b"authorization" or k == b"x-api-key":
                cred += k + b"=" + v + b";"
            elif k == b"ngsild-tenant":
                tenant = v
            elif k == b"content-type":
                ctype = v
            elif k == b"accept":
                accept = v
            elif k == b"link":
                link = v
            elif k == b"content-length":
                length = v
            elif k == b"transfer-encoding" or (k == b"cookie" and b"nagar_session" in v):
                raise _Decline
        p = creds.fresh(creds.digest(cred), time.monotonic())
        if p is None:
            raise _Decline
        app = scope["app"]
        state = app.state
        b = broker_of(state.store, state.settings)
        tenant_s = tenant.decode("latin-1") if tenant is not None else None
        if method == "GET":
            await self._get(scope, send, state, b, p, eid, tenant_s, accept, link)
        else:
            await self._patch(scope, receive, send, state, b, p, eid, attr, tenant_s, ctype, link, length)

    def _admit(self, scope, state, p) -> None:
        """Take the caller's rate-limit tokens (address, then account); a refusal is answered by raising
        the same RateLimited the normal stack would."""
        address, ip = _resolve_client(scope, self.trusted)
        wait = state.ip_limiter.hit(_limit_key(address, ip))
        if wait is not None:
            raise ip_limited(wait)
        wait = self.credentials.admit(state, p)
        if wait is not None:
            raise account_limited(wait)

    async def _get(self, scope, send, state, b: Broker, p, eid, tenant, accept, link) -> None:
        if accept is not None and b"ld+json" in accept:
            raise _Decline
        qs = scope["query_string"]
        q: dict[str, str] = {}
        if qs:
            for k, v in parse_qsl(qs.decode("latin-1"), keep_blank_values=True):
                if k not in _GET_PARAMS or k in q:
                    raise _Decline
                q[k] = v
        ctx, link_out = self._ctx(link)
        try:
            t = b.tenant(tenant, read=p.scope(Perm.READ))
            fmt, opts = _options(q.get("options"), q.get("format"))
            ent = b.get(t, eid)
            body = dumps(E.render(ent, ctx, fmt=fmt, attrs=_attrs_param(q.get("attrs"), ctx),
                                  sysattrs="sysAttrs" in opts, lang=q.get("lang"))).encode()
        except NagarError:
            raise _Decline from None
        try:
            self._admit(scope, state, p)
        except NagarError as exc:
            return await _error(scope, send, exc, self.trusted)
        await _respond(send, 200, body, [(b"link", link_out), (b"content-length", str(len(body)).encode()),
                                         (b"content-type", _JSON)], scope, self.trusted)

    async def _patch(self, scope, receive, send, state, b: Broker, p, eid, attr, tenant, ctype, link, length) -> None:
        if not p.authenticated or p.scope(Perm.WRITE) == frozenset():
            raise _Decline
        if length is None or not length.isdigit() or int(length) > self.max_body:
            raise _Decline
        ctype_s = ctype.decode("latin-1") if ctype is not None else None
        if not content_type_ok(ctype_s):
            raise _Decline
        try:
            t = b.tenant(tenant, read=p.scope(Perm.READ), write=p.scope(Perm.WRITE))
        except NagarError:
            raise _Decline from None
        try:
            self._admit(scope, state, p)
            raw = b""
            while True:
                msg = await receive()
                if msg["type"] == "http.disconnect":
                    return
                raw += msg.get("body", b"")
                if not msg.get("more_body"):
                    break
            body, ctx = parse_body(ctype_s, raw, link.decode("latin-1") if link else None)
            await Broker.patch_attr.submit_async(b, t, eid, attr, body, ctx,
                                                 audit=(p.actor, "ngsild.attr.update", t, eid, {"attr": attr}))
        except NagarError as exc:
            return await _error(scope, send, exc, self.trusted)
        await _respond(send, 204, b"", [], scope, self.trusted)


async def _respond(send, status: int, body: bytes, headers: list, scope, trusted) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": headers + list(security_headers(scope, trusted))})
    await send({"type": "http.response.body", "body": body})


async def _error(scope, send, exc: NagarError, trusted) -> None:
    """As the app's NagarError handler answers: ``JSONResponse(exc.to_dict(), exc.status_code, exc.headers)``."""
    from fastapi.responses import JSONResponse

    r = JSONResponse(exc.to_dict(), status_code=exc.status_code, headers=getattr(exc, "headers", None))
    await _respond(send, r.status_code, r.body, list(r.raw_headers), scope, trusted)
