"""Signed tokens (JWT, HS256 via PyJWT), API keys and device secrets.

* Access tokens: short-lived bearer tokens (``typ`` "access"); refresh tokens (``typ`` "refresh")
  and dashboard sessions (``typ`` "session") live longer and can be revoked by their ``jti``.
* API keys: ``nagar_<id>.<secret>``; only SHA-256 of the 256-bit random secret is stored, shown once.
* Device secrets are derived, never stored: ``base64url(HMAC-SHA256(secret_key, "nagar-device:" + id))``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from datetime import datetime, timedelta, timezone
from pathlib import Path

import jwt

from nagar.core.errors import Unauthorized
from nagar.core.settings import Settings

ALGORITHM = "HS256"
ISSUER = "nagar"


def resolve_secret(settings: Settings) -> str:
    """The signing key: ``settings.secret_key``, else a random key kept in ``secret.key`` beside the
    database (created 0600 on first use). Never a constant in code."""
    if settings.secret_key:
        if len(settings.secret_key) < 32:
            from nagar.core.errors import InvalidInput

            raise InvalidInput("NAGAR_SECRET_KEY must be at least 32 characters (RFC 7518 §3.2)", field="secret_key")
        return settings.secret_key
    db = Path(str(settings.db))
    path = (db.parent if str(db) != ":memory:" else Path(".")) / "secret.key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return key


def issue_token(secret: str, *, sub: str, typ: str, lifetime: timedelta, now: datetime | None = None,
                extra: dict | None = None) -> tuple[str, str, datetime]:
    """Return (token, jti, expiry)."""
    now = now or datetime.now(timezone.utc)
    exp = now + lifetime
    jti = secrets.token_urlsafe(16)
    claims = {"iss": ISSUER, "sub": sub, "typ": typ, "jti": jti, "iat": int(now.timestamp()),
              "exp": int(exp.timestamp()), **(extra or {})}
    return jwt.encode(claims, secret, algorithm=ALGORITHM), jti, exp


def decode_token(secret: str, token: str, *, typ: str) -> dict:
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], issuer=ISSUER,
                            options={"require": ["exp", "sub", "jti", "typ"]})
    except jwt.ExpiredSignatureError:
        raise Unauthorized("token expired; sign in again or use your refresh token", field="authorization") from None
    except jwt.PyJWTError:
        raise Unauthorized("invalid token", field="authorization") from None
    if claims.get("typ") != typ:
        raise Unauthorized(f"a {claims.get('typ')} token cannot be used here", field="authorization")
    return claims


def new_api_key() -> tuple[str, str, str]:
    """Return (key id, full key to show once, SHA-256 hex of the secret to store)."""
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return key_id, f"nagar_{key_id}.{secret}", hashlib.sha256(secret.encode()).hexdigest()


def split_api_key(key: str) -> tuple[str, str]:
    if not key.startswith("nagar_") or "." not in key:
        raise Unauthorized("malformed API key", field="x-api-key")
    key_id, _, secret = key[len("nagar_"):].partition(".")
    return key_id, secret


def api_key_matches(stored_hash: str, secret: str) -> bool:
    return hmac.compare_digest(stored_hash, hashlib.sha256(secret.encode()).hexdigest())


def device_secret(secret_key: str, key_id: str) -> str:
    mac = hmac.new(secret_key.encode(), f"nagar-device:{key_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def csrf_token(secret_key: str, session_jti: str) -> str:
    """CSRF token bound to a session: HMAC of its jti (a forged cookie cannot produce it)."""
    return hmac.new(secret_key.encode(), f"nagar-csrf:{session_jti}".encode(), hashlib.sha256).hexdigest()
