"""Signed pushes from a station's devices.

A device holds a key id and its secret (derived from the server's key: ``tokens.device_secret``) and
sends, with each request::

    X-Nagar-Key:        the key id
    X-Nagar-Timestamp:  Unix time in seconds
    X-Nagar-Nonce:      a fresh random string (8-128 characters of [A-Za-z0-9_-])
    X-Nagar-Signature:  hex HMAC-SHA256(secret, timestamp + "\\n" + nonce + "\\n" + body)

The request is refused when the key is unknown or revoked, the timestamp is more than
``device_max_skew_s`` from the server's clock, the signature does not match, or the nonce was already
used with that key (a replay). The signature is checked before the nonce is recorded, so a forger
cannot use up a device's nonces.

References
----------
H. Krawczyk, M. Bellare, R. Canetti, "HMAC: Keyed-Hashing for Message Authentication", RFC 2104, 1997;
SHA-256 per FIPS 180-4.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import datetime, timedelta, timezone

from nagar.core.errors import Unauthorized

from .tokens import device_secret

_NONCE = re.compile(r"^[A-Za-z0-9_-]{8,128}$")


def sign(secret: str, *, timestamp: int | str, nonce: str, body: bytes) -> str:
    """The signature a device sends (hex HMAC-SHA256 over ``timestamp\\nnonce\\nbody``)."""
    msg = f"{timestamp}\n{nonce}\n".encode() + body
    return hmac.new(secret.encode(), msg, hashlib.sha256).hexdigest()


def verify(store, *, secret_key: str, headers, body: bytes, max_skew_s: int = 300,
           now: datetime | None = None) -> dict:
    """Check a signed device request; return its device-key row (with ``station``) or raise 401."""
    now = now or datetime.now(timezone.utc)
    key_id = headers.get("x-nagar-key")
    ts = headers.get("x-nagar-timestamp")
    nonce = headers.get("x-nagar-nonce")
    sig = headers.get("x-nagar-signature")
    if not (key_id and ts and nonce and sig):
        raise Unauthorized("signed device request needs X-Nagar-Key, X-Nagar-Timestamp, X-Nagar-Nonce and "
                           "X-Nagar-Signature headers", field="x-nagar-signature")
    row = store.get_device_key(key_id)
    if row is None or row["revoked_at"] is not None:
        raise Unauthorized("unknown or revoked device key", field="x-nagar-key")
    try:
        t = int(ts)
    except ValueError:
        raise Unauthorized("X-Nagar-Timestamp must be Unix seconds", field="x-nagar-timestamp") from None
    if abs(now.timestamp() - t) > max_skew_s:
        raise Unauthorized(f"timestamp is more than {max_skew_s} s from the server's clock", field="x-nagar-timestamp")
    if not _NONCE.match(nonce):
        raise Unauthorized("X-Nagar-Nonce must be 8-128 characters of A-Z a-z 0-9 _ -", field="x-nagar-nonce")
    expected = sign(device_secret(secret_key, key_id), timestamp=ts, nonce=nonce, body=body)
    if not hmac.compare_digest(expected, sig.lower()):
        raise Unauthorized("bad signature", field="x-nagar-signature")
    if not store.use_nonce(key_id=key_id, nonce=nonce, now=now,
                           forget_before=now - timedelta(seconds=2 * max_skew_s)):
        raise Unauthorized("nonce already used (replayed request)", field="x-nagar-nonce")
    return row
