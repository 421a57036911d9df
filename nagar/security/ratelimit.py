"""Token-bucket rate limits kept in the process: one bucket per key (a client address, an API key, a user).

Each key owns a bucket of at most ``burst`` tokens that refills at ``rate_per_s`` tokens a second; a request
takes ``cost`` tokens (1 by default) or is refused, and a refused request takes nothing. A key that has not
been seen for ``burst / rate_per_s`` seconds has a full bucket again, which is exactly what a key never seen
has, so such idle buckets are dropped without changing any answer. The number of buckets is also capped
(``max_keys``): past it the least recently used bucket is dropped, which at worst lets that key start again
with a full bucket. Memory is therefore bounded by ``max_keys`` whatever the callers send.

:class:`RateLimiter` holds per process: several workers or hosts each keep their own buckets.
:class:`SharedRateLimiter` keeps the same buckets in Redis (``NAGAR_RATE_LIMIT_REDIS``), so every process
and host that uses one Redis shares one limit per key; if Redis cannot be reached it falls back to the
process's own buckets for a few seconds at a time, so an outage of the limiter never refuses service.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from nagar.core.errors import NagarError

_log = logging.getLogger(__name__)

_EPSILON = 1e-9  # floating-point slack, so that a wait of 1.0000000001 s is announced as 1 s, not 2


class RateLimited(NagarError):
    """The caller sent more requests than its limit allows (HTTP 429); retry after ``retry_after`` seconds."""

    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: float, **kw):
        super().__init__(message, **kw)
        self.retry_after = max(1, math.ceil(retry_after))

    @property
    def headers(self) -> dict[str, str]:
        """Headers the HTTP answer must carry: ``Retry-After`` in whole seconds."""
        return {"Retry-After": str(self.retry_after)}

    def to_dict(self) -> dict:
        body = super().to_dict()
        body["retry_after"] = self.retry_after
        return body


def ip_limited(wait: float) -> RateLimited:
    """The refusal of a client address over its limit (``nagar.security.http``)."""
    return RateLimited(f"too many requests; retry after {int(wait)} s", retry_after=wait)


def account_limited(wait: float) -> RateLimited:
    """The refusal of an account or API key over its limit (``resolve_principal``)."""
    return RateLimited(f"too many requests for this account; retry in {wait:.0f} s", retry_after=wait)


class RateLimiter:
    """Thread-safe token buckets, one per key.

    Parameters
    ----------
    rate_per_s : float
        Tokens added to a bucket each second [1/s]; the sustained rate a key may keep up. Must be > 0.
    burst : int
        Size of a bucket [tokens]: how many requests a rested key may send at once. Must be >= 1.
    clock : callable, optional
        Returns the current time in seconds, monotonic; ``time.monotonic`` by default (tests pass a fake).
    max_keys : int, optional
        Most buckets kept at once (memory bound); the least recently used is dropped past it.

    Examples
    --------
    >>> limiter = RateLimiter(rate_per_s=1.0, burst=2)
    >>> limiter.hit("10.0.0.7"), limiter.hit("10.0.0.7"), limiter.hit("10.0.0.7")
    (None, None, 1.0)
    """

    def __init__(
        self,
        rate_per_s: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        *,
        max_keys: int = 100_000,
    ) -> None:
        if not (rate_per_s > 0 and math.isfinite(rate_per_s)):
            raise ValueError(f"rate_per_s must be a positive finite number, not {rate_per_s!r}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1, not {burst!r}")
        if max_keys < 1:
            raise ValueError(f"max_keys must be at least 1, not {max_keys!r}")
        self.rate_per_s = float(rate_per_s)
        self.burst = int(burst)
        self.max_keys = int(max_keys)
        self._clock = clock
        self._idle_after = self.burst / self.rate_per_s  # seconds after which a bucket is full again
        # key -> [tokens, time of last update]; ordered from least to most recently used
        self._buckets: OrderedDict[str, list[float]] = OrderedDict()
        self._lock = threading.Lock()

    def hit(self, key: str, cost: float = 1.0) -> float | None:
        """Take ``cost`` tokens from ``key``'s bucket.

        Returns
        -------
        None when the request is allowed, else the whole number of seconds (rounded up, at least 1) until
        the bucket holds ``cost`` tokens again: the value of a ``Retry-After`` header. A refused request
        takes no tokens.

        Raises
        ------
        ValueError
            ``cost`` is negative or larger than ``burst`` (it could never be allowed).
        """
        if not 0 <= cost <= self.burst:
            raise ValueError(f"cost must be between 0 and burst ({self.burst}), not {cost!r}")
        with self._lock:
            now = self._clock()
            self._evict_idle(now)
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = [float(self.burst), now]
                self._buckets[key] = bucket
                if len(self._buckets) > self.max_keys:
                    self._buckets.popitem(last=False)
            else:
                self._buckets.move_to_end(key)
                elapsed = max(0.0, now - bucket[1])  # a clock that steps back never adds tokens
                bucket[0] = min(float(self.burst), bucket[0] + elapsed * self.rate_per_s)
                bucket[1] = now
            if bucket[0] + _EPSILON >= cost:
                bucket[0] = max(0.0, bucket[0] - cost)
                return None
            wait = (cost - bucket[0]) / self.rate_per_s
            return float(max(1, math.ceil(wait - _EPSILON)))

    def reset(self, key: str) -> None:
        """Forget ``key``'s bucket (it starts full again), e.g. after a successful sign-in."""
        with self._lock:
            self._buckets.pop(key, None)

    def __len__(self) -> int:
        """Number of buckets held now (idle ones are dropped lazily, on the next ``hit``)."""
        with self._lock:
            return len(self._buckets)

    def _evict_idle(self, now: float) -> None:
        """Drop buckets untouched for ``burst / rate_per_s`` seconds: they would be full, like a new one.

        Buckets are kept in order of last use, so the scan stops at the first one still in use: amortised
        O(1) per hit.
        """
        buckets = self._buckets
        while buckets:
            key, (_, last) = next(iter(buckets.items()))
            if now - last < self._idle_after:
                break
            del buckets[key]


# One token bucket in a Redis hash {tokens, ts}, updated atomically by the script (Redis runs a script
# alone); the time is Redis's own, so the hosts' clocks do not matter. Same rule as RateLimiter.hit: refill
# at `rate` up to `burst`, take `cost` or refuse and take nothing. The key expires once the bucket would be
# full again (a missing key is a full bucket), so idle keys cost no memory.
_BUCKET_LUA = """
local rate, burst, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens, ts = tonumber(b[1]), tonumber(b[2])
if tokens == nil or ts == nil then
  tokens, ts = burst, now
end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local wait = 0
if tokens + 1e-9 >= cost then
  tokens = math.max(0, tokens - cost)
else
  wait = (cost - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return tostring(wait)
"""


class SharedRateLimiter:
    """:class:`RateLimiter`'s token buckets kept in Redis, shared by every process that uses the same
    Redis (``NAGAR_RATE_LIMIT_REDIS=redis://host:6379/0``): N workers or hosts enforce one limit per key,
    not N.

    Each :meth:`hit` is one round trip to Redis (an atomic Lua script; ~0.1-0.3 ms on a local network),
    made from the caller's thread. If Redis fails or times out (``timeout_s``), the hit is answered by a
    per-process :class:`RateLimiter` with the same settings, Redis is left alone for ``retry_after_s``
    seconds, and a warning is logged (at most once a minute): a limiter outage must not refuse service.

    Parameters
    ----------
    url : str
        A redis-py URL (``redis://[:password@]host:port/db``, ``rediss://`` for TLS, ``unix://``).
    rate_per_s, burst
        As for :class:`RateLimiter`.
    name : str
        Keeps this limiter's buckets apart from others in the same Redis (``nagar:rl:<name>:<key>``).
    """

    def __init__(self, url: str, rate_per_s: float, burst: int, *, name: str, timeout_s: float = 0.25,
                 retry_after_s: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        import redis

        self.local = RateLimiter(rate_per_s, burst, clock)  # validates the numbers too
        self.rate_per_s, self.burst = self.local.rate_per_s, self.local.burst
        try:
            self._redis = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
        except ValueError as exc:
            raise ValueError(f"rate_limit_redis: {exc}") from None
        self._script = self._redis.register_script(_BUCKET_LUA)
        self._prefix = f"nagar:rl:{name}:"
        self._retry_after_s = retry_after_s
        self._clock = clock
        self._down_until = 0.0
        self._warned_at = -math.inf
        self._errors = (redis.RedisError, OSError)

    def hit(self, key: str, cost: float = 1.0) -> float | None:
        """As :meth:`RateLimiter.hit`, against the shared bucket (the process's own while Redis is down)."""
        if not 0 <= cost <= self.burst:
            raise ValueError(f"cost must be between 0 and burst ({self.burst}), not {cost!r}")
        now = self._clock()
        if now >= self._down_until:
            try:
                wait = float(self._script(keys=[self._prefix + key], args=[self.rate_per_s, self.burst, cost]))
            except self._errors as exc:
                self._fell_back(now, exc)
            else:
                return None if wait <= 0 else float(max(1, math.ceil(wait - _EPSILON)))
        return self.local.hit(key, cost)

    def reset(self, key: str) -> None:
        """Forget ``key``'s bucket everywhere (it starts full again)."""
        self.local.reset(key)
        try:
            self._redis.delete(self._prefix + key)
        except self._errors as exc:
            self._fell_back(self._clock(), exc)

    @property
    def shared(self) -> bool:
        """True unless the last attempt to reach Redis failed less than ``retry_after_s`` ago."""
        return self._clock() >= self._down_until

    def _fell_back(self, now: float, exc: BaseException) -> None:
        self._down_until = now + self._retry_after_s
        if now - self._warned_at >= 60:
            self._warned_at = now
            _log.warning("rate limits: Redis unreachable (%s); this process keeps its own buckets and tries "
                         "Redis again in %.0f s", exc, self._retry_after_s)


def make_limiter(rate_per_s: float, burst: int, *, name: str, redis_url: str | None = None):
    """The limiter the settings ask for: shared through Redis when ``redis_url`` is set, else per process."""
    if redis_url:
        return SharedRateLimiter(redis_url, rate_per_s, burst, name=name)
    return RateLimiter(rate_per_s, burst)
