"""A short-lived cache of resolved callers for the NGSI-LD routes.

Resolving a caller costs four store reads per request (API key, user, grants, open cities: about 10 ms on
a file-backed DuckDB here), which alone capped the broker near 100 requests/s. For paths under
``/ngsi-ld/`` the :class:`Credentials` cache remembers the :class:`~nagar.security.permissions.Principal`
that ``resolve_principal`` produced for the exact same credential (SHA-256 of the ``Authorization`` /
``X-API-Key`` header values; anonymous callers share one entry) for ``NAGAR_NGSILD_AUTH_CACHE_S`` seconds
(default 2; ``0`` turns the cache off). While one request re-resolves an expired entry, the others keep
using it for at most another lifetime, so an expiry does not send every in-flight request to the store.

Two users of the cache:

- :class:`CredentialCache`, a pure-ASGI middleware inside Nagar's security headers, rate and body limits:
  it puts a cached caller on ``request.state.principal``, where ``resolve_principal`` looks first, so every
  NGSI-LD route still runs its ``require(Perm.X)`` check and its own tenant scoping on that principal; a
  caller it does not know goes through ``resolve_principal`` and is remembered afterwards.
- :class:`nagar.ngsild.edge.NgsiEdge`, which answers the two hot requests of a FIWARE deployment for a
  caller found here (and only then).

Trade-off, on purpose and bounded: revoking a key or token, its expiry, or a change of role takes effect
on the NGSI-LD routes within twice the cache lifetime (4 s by default) instead of at once. Session
cookies (which need a per-request CSRF check) are never cached. The per-account rate limit still counts
every request (:meth:`Credentials.admit`).
"""

from __future__ import annotations

import hashlib
import os
import time

_SESSION = b"nagar_session"


class Credentials:
    """Resolved callers by credential, for ``ttl_s`` seconds (``NAGAR_NGSILD_AUTH_CACHE_S``, default 2)."""

    def __init__(self, ttl_s: float | None = None, max_entries: int = 10_000):
        self.ttl = float(os.environ.get("NAGAR_NGSILD_AUTH_CACHE_S", "2")) if ttl_s is None else float(ttl_s)
        self.max_entries = max_entries
        self._cache: dict[bytes, tuple[float, object]] = {}
        self.refreshing: set[bytes] = set()

    @staticmethod
    def key_of(headers) -> bytes | None:
        """The cache key of a request's raw ASGI headers, or None for a dashboard session (never cached)."""
        cred = b""
        for k, v in headers:
            if k == b"authorization" or k == b"x-api-key":
                cred += k + b"=" + v + b";"
            elif k == b"cookie" and _SESSION in v:
                return None
        return Credentials.digest(cred)

    @staticmethod
    def digest(cred: bytes) -> bytes:
        """The cache key of the credential header values collected as ``name=value;`` pairs."""
        return hashlib.sha256(cred).digest()

    def fresh(self, key: bytes, now: float):
        """The cached principal for ``key`` if it is fresh (or being re-resolved by another request and
        at most two lifetimes old), else None."""
        hit = self._cache.get(key)
        if hit is None:
            return None
        age = now - hit[0]
        if age < self.ttl or (key in self.refreshing and age < 2 * self.ttl):
            return hit[1]
        return None

    def remember(self, key: bytes, at: float, principal) -> None:
        if len(self._cache) > self.max_entries:
            self._cache.clear()
        self._cache[key] = (at, principal)

    @staticmethod
    def admit(state, p) -> float | None:
        """Count a request of a cached caller against its per-account limit (``state.key_limiter``, as
        ``resolve_principal`` does): None when allowed, else the seconds to wait."""
        limiter = getattr(state, "key_limiter", None)
        if limiter is None or not p.authenticated:
            return None
        return limiter.hit(f"key:{p.key_id}" if p.key_id else f"user:{p.user_id}")


class CredentialCache:
    """The middleware: cached callers skip ``resolve_principal``'s store reads (see the module text)."""

    def __init__(self, app, credentials: Credentials, prefix: str = "/ngsi-ld/"):
        self.app = app
        self.credentials = credentials
        self.prefix = prefix

    async def __call__(self, scope, receive, send):
        creds = self.credentials
        if scope["type"] != "http" or creds.ttl <= 0 or not scope["path"].startswith(self.prefix):
            return await self.app(scope, receive, send)
        key = creds.key_of(scope["headers"])
        if key is None:
            return await self.app(scope, receive, send)
        now = time.monotonic()
        p = creds.fresh(key, now)
        if p is not None and ("app" not in scope or creds.admit(scope["app"].state, p) is None):
            scope.setdefault("state", {})["principal"] = p
            return await self.app(scope, receive, send)
        # unknown, stale, or over its limit: resolve_principal decides (and answers 401 / 429 itself)
        creds.refreshing.add(key)
        try:
            await self.app(scope, receive, send)
        finally:
            creds.refreshing.discard(key)
        p = scope.get("state", {}).get("principal")
        if p is not None:
            creds.remember(key, now, p)
