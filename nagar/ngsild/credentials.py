"""A short-lived cache of resolved callers for the NGSI-LD routes (a pure-ASGI middleware).

Resolving a caller costs four store reads per request (API key, user, grants, open cities: about 10 ms on
a file-backed DuckDB here), which alone capped the broker near 100 requests/s. For paths under
``/ngsi-ld/`` this middleware remembers the :class:`~nagar.security.permissions.Principal` that
``resolve_principal`` produced for the exact same credential (SHA-256 of the ``Authorization`` /
``X-API-Key`` header values; anonymous callers share one entry) for ``NAGAR_NGSILD_AUTH_CACHE_S`` seconds
(default 2; ``0`` turns the cache off). While one request re-resolves an expired entry, the others keep
using it for at most another lifetime, so an expiry does not send every in-flight request to the store.
A cached caller is put on ``request.state.principal``, where ``resolve_principal`` looks first, so every
route still runs its ``require(Perm.X)`` check and its own tenant scoping on that principal.

With a known caller the two hot routes of a FIWARE deployment, ``GET /ngsi-ld/v1/entities/{id}`` and
``PATCH /ngsi-ld/v1/entities/{id}/attrs/{attr}``, may be answered by ``fast`` (``views.fast_path``) without
FastAPI's routing and dependency machinery; it applies the same permission, tenancy, validation, audit
and error rules as the routes (tests compare the two answer by answer). This middleware sits innermost, so
Nagar's security headers, body-size and per-IP limits apply to every answer.

Trade-off, on purpose and bounded: revoking a key or token, its expiry, or a change of role takes effect
on the NGSI-LD routes within twice the cache lifetime (4 s by default) instead of at once. Session
cookies (which need a per-request CSRF check) are never cached. The per-account rate limit still counts
every request.
"""

from __future__ import annotations

import hashlib
import os
import time


class CredentialCache:
    def __init__(self, app, ttl_s: float | None = None, prefix: str = "/ngsi-ld/", fast=None):
        self.app = app
        self.fast = fast
        self.prefix = prefix
        self.ttl = float(os.environ.get("NAGAR_NGSILD_AUTH_CACHE_S", "2")) if ttl_s is None else ttl_s
        self._cache: dict[bytes, tuple[float, object]] = {}
        self._refreshing: set[bytes] = set()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or self.ttl <= 0 or not scope["path"].startswith(self.prefix):
            return await self.app(scope, receive, send)
        cred = b""
        for k, v in scope["headers"]:
            if k in (b"authorization", b"x-api-key"):
                cred += k + b"=" + v + b";"
            elif k == b"cookie" and b"nagar_session" in v:
                return await self.app(scope, receive, send)
        key = hashlib.sha256(cred).digest()
        now = time.monotonic()
        hit = self._cache.get(key)
        fresh = hit is not None and now - hit[0] < self.ttl
        if hit is not None and not fresh and key in self._refreshing and now - hit[0] < 2 * self.ttl:
            fresh = True  # another request is re-resolving this caller: no stampede on expiry
        if fresh:
            p = hit[1]
            limiter = getattr(scope["app"].state, "key_limiter", None) if "app" in scope else None
            if limiter is None or not p.authenticated or limiter.hit(
                    f"key:{p.key_id}" if p.key_id else f"user:{p.user_id}") is None:
                scope.setdefault("state", {})["principal"] = p
                if self.fast is not None and await self.fast(scope, receive, send, p):
                    return
                return await self.app(scope, receive, send)
        self._refreshing.add(key)
        try:
            await self.app(scope, receive, send)
        finally:
            self._refreshing.discard(key)
        p = scope.get("state", {}).get("principal")
        if p is not None:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key] = (now, p)
