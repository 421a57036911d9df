"""Token-bucket rate limits kept in the process: one bucket per key (a client address, an API key, a user).

Each key owns a bucket of at most ``burst`` tokens that refills at ``rate_per_s`` tokens a second; a request
takes ``cost`` tokens (1 by default) or is refused, and a refused request takes nothing. A key that has not
been seen for ``burst / rate_per_s`` seconds has a full bucket again, which is exactly what a key never seen
has, so such idle buckets are dropped without changing any answer. The number of buckets is also capped
(``max_keys``): past it the least recently used bucket is dropped, which at worst lets that key start again
with a full bucket. Memory is therefore bounded by ``max_keys`` whatever the callers send.

The limits hold per process: several workers or hosts each keep their own buckets (a shared store would be
needed for one limit across them).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from nagar.core.errors import NagarError

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
