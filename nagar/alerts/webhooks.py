"""Signed webhook notifications with retries and dead letters.

Each alert event is POSTed as JSON to every enabled endpoint of its city, with headers:

- ``X-Nagar-Timestamp``: Unix time in seconds when this attempt was signed;
- ``X-Nagar-Signature``: ``sha256=<hex>``, the HMAC-SHA256 (RFC 2104, FIPS 180-4) keyed with the
  endpoint's secret over the bytes ``<timestamp>.<body>`` (the timestamp header's value, a full stop, then
  the exact request body);
- ``X-Nagar-Event``: ``alert.onset`` or ``alert.recovery``; ``X-Nagar-Delivery``: the delivery id (the
  same on every retry, for de-duplication by the receiver).

A receiver verifies with :func:`verify`: recompute the HMAC over ``timestamp.body`` with its copy of the
secret, compare in constant time, and reject timestamps older than its tolerance (5 minutes by default)
to refuse replays.

A failed attempt (no answer, or a status other than 2xx) is retried after ``base_delay x 2^(n-1)``
seconds (capped at ``max_delay``); after the endpoint's ``max_attempts`` the delivery is marked ``dead``:
the dead-letter record stays in ``alert_deliveries`` with its last status and error.

Destinations are checked by :mod:`nagar.security.egress` before every attempt: a host that is (or now
resolves to) a loopback, private or link-local address is a failed attempt ("refused destination"),
unless ``Settings.egress_allow_private``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from typing import Callable

from nagar.security.egress import RefusedDestination, check_destination

log = logging.getLogger("nagar.alerts")

TIMESTAMP_HEADER = "X-Nagar-Timestamp"
SIGNATURE_HEADER = "X-Nagar-Signature"
EVENT_HEADER = "X-Nagar-Event"
DELIVERY_HEADER = "X-Nagar-Delivery"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=`` + hex HMAC-SHA256(secret, timestamp + "." + body)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str, *, tolerance: float = 300.0,
           now: float | None = None) -> bool:
    """What a receiver does: the signature matches (constant-time) and the timestamp is fresh."""
    try:
        ts = float(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((time.time() if now is None else now) - ts) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature or "")


def payload(event: dict, rule: dict | None) -> bytes:
    """The JSON body of an event (stable key order)."""
    doc = {"type": f"alert.{event['kind']}", "event_id": event["id"], "episode": event["episode"],
           "city": event["city"], "scope": event["scope_key"], "rule_id": event["rule_id"],
           "rule": rule["name"] if rule else None, "time": _iso(event["time"]), "value": event.get("value"),
           "message": event["message"]}
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _post(url: str, body: bytes, headers: dict, timeout: float) -> tuple[int | None, str | None]:
    req = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json",
                                                                          "User-Agent": "nagar-alerts", **headers})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - http(s) only, checked on input
            return resp.status, None
    except urllib.error.HTTPError as exc:
        return exc.code, f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return None, str(getattr(exc, "reason", exc))[:300]


class Dispatcher:
    """Sends due deliveries. ``clock`` gives the current time (tests pass their own to step through
    backoff without sleeping)."""

    def __init__(self, store, *, base_delay: float = 5.0, max_delay: float = 3600.0, timeout: float = 5.0,
                 clock: Callable[[], datetime] | None = None, allow_private: bool = False):
        self.store, self.base_delay, self.max_delay, self.timeout = store, base_delay, max_delay, timeout
        self.allow_private = allow_private  # see nagar.security.egress
        self.clock = clock or (lambda: datetime.now(timezone.utc))

    def backoff(self, attempts: int) -> float:
        """Seconds to wait after the ``attempts``-th failure: base x 2^(attempts-1), capped."""
        return min(self.max_delay, self.base_delay * 2 ** max(attempts - 1, 0))

    def process_due(self, *, limit: int = 50) -> dict:
        """One pass over due deliveries; returns counts of delivered, retrying and dead."""
        now = self.clock()
        due = self.store.due_alert_deliveries(now=now, limit=limit)
        counts = {"delivered": 0, "retry": 0, "dead": 0}
        if not due:
            return counts
        events = self.store.alert_event_rows([d["event_id"] for d in due])
        rules: dict = {}
        for d in due:
            if not self.store.claim_alert_delivery(d["id"], now=now,
                                                   until=now + timedelta(seconds=self.timeout + 60)):
                continue  # another server process is sending it
            ev = events.get(int(d["event_id"]))
            if ev is None:  # the event is gone: nothing to send
                self.store.record_alert_attempt(d["id"], status="dead", attempts=d["attempts"], next_attempt_at=now,
                                                last_status=None, last_error="event missing", now=now)
                counts["dead"] += 1
                continue
            rid = int(ev["rule_id"])
            if rid not in rules:
                rules[rid] = self.store.alert_rule(rid)
            body = payload(ev, rules[rid])
            ts = str(int(now.timestamp()))
            headers = {TIMESTAMP_HEADER: ts, SIGNATURE_HEADER: sign(d["secret"], ts, body),
                       EVENT_HEADER: f"alert.{ev['kind']}", DELIVERY_HEADER: str(d["id"])}
            try:  # the host may have been re-pointed since the endpoint was registered
                check_destination(d["url"], allow_private=self.allow_private)
                status, error = _post(d["url"], body, headers, self.timeout)
            except RefusedDestination as exc:
                status, error = None, f"refused destination: {exc}"[:300]
            attempts = int(d["attempts"]) + 1
            if status is not None and 200 <= status < 300:
                self.store.record_alert_attempt(d["id"], status="delivered", attempts=attempts, next_attempt_at=now,
                                                last_status=status, last_error=None, now=now)
                counts["delivered"] += 1
            elif attempts >= int(d["max_attempts"]):
                self.store.record_alert_attempt(d["id"], status="dead", attempts=attempts, next_attempt_at=now,
                                                last_status=status, last_error=error, now=now)
                log.warning("alert delivery %s to %s is a dead letter after %d attempts: %s", d["id"], d["url"],
                            attempts, error)
                counts["dead"] += 1
            else:
                self.store.record_alert_attempt(d["id"], status="pending", attempts=attempts,
                                                next_attempt_at=now + timedelta(seconds=self.backoff(attempts)),
                                                last_status=status, last_error=error, now=now)
                counts["retry"] += 1
        return counts
