"""Store methods for the security tables (accounts, grants, keys, nonces, revoked tokens, audit log).

Mixed into the SQL backends; plain SQL with bound values, one transaction per call. Times are naive UTC.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable

from nagar.core.errors import Conflict

_USER_COLS = ("id", "username", "password_hash", "platform_admin", "disabled", "failed_logins", "locked_until",
              "password_changed_at", "created_at")
_KEY_COLS = ("id", "user_id", "name", "secret_hash", "created_at", "expires_at", "revoked_at", "last_used_at")
_DEVICE_COLS = ("id", "station", "created_by", "created_at", "revoked_at")
_AUDIT_COLS = ("seq", "time", "actor", "action", "city", "target", "details", "prev_hash", "hash")
GENESIS = "0" * 64
"""prev_hash of the first audit entry."""


def _naive(t):
    """Aware datetimes to naive UTC; anything else unchanged."""
    if isinstance(t, datetime) and t.tzinfo is not None:
        return t.astimezone(timezone.utc).replace(tzinfo=None)
    return t


def _aware(row: dict) -> dict:
    for k, v in row.items():
        if isinstance(v, datetime) and v.tzinfo is None:
            row[k] = v.replace(tzinfo=timezone.utc)
    return row


class SecurityTables:
    """Requires ``self._tx()`` (write transaction context) and ``self._rows(sql, params)``."""

    # users -------------------------------------------------------------------------------------
    def create_user(self, *, username: str, password_hash: str, platform_admin: bool = False,
                    now: datetime) -> dict:
        with self._tx() as con:
            if con.execute("SELECT 1 FROM users WHERE username = ?", [username]).fetchone():
                raise Conflict(f"user {username!r} already exists", field="username")
            con.execute(
                "INSERT INTO users (username, password_hash, platform_admin, password_changed_at, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [username, password_hash, platform_admin, _naive(now), _naive(now)],
            )
        return self.get_user(username=username)

    def get_user(self, *, username: str | None = None, user_id: int | None = None) -> dict | None:
        if username is not None:
            rows = self._rows(f"SELECT {', '.join(_USER_COLS)} FROM users WHERE username = ?", [username])
        else:
            rows = self._rows(f"SELECT {', '.join(_USER_COLS)} FROM users WHERE id = ?", [user_id])
        return _aware(rows[0]) if rows else None

    def list_users(self) -> list[dict]:
        return [_aware(r) for r in self._rows(f"SELECT {', '.join(_USER_COLS)} FROM users ORDER BY id")]

    def update_user(self, user_id: int, **fields) -> None:
        cols = [c for c in fields if c in _USER_COLS and c != "id"]
        if not cols:
            return
        with self._tx() as con:
            con.execute(f"UPDATE users SET {', '.join(c + ' = ?' for c in cols)} WHERE id = ?",
                        [_naive(fields[c]) for c in cols] + [user_id])

    # grants ------------------------------------------------------------------------------------
    def set_grant(self, *, user_id: int, city: str, role: str | None) -> None:
        with self._tx() as con:
            con.execute("DELETE FROM grants WHERE user_id = ? AND city = ?", [user_id, city])
            if role is not None:
                con.execute("INSERT INTO grants VALUES (?, ?, ?)", [user_id, city, role])

    def grants_of(self, user_id: int) -> dict[str, str]:
        return {r["city"]: r["role"] for r in self._rows("SELECT city, role FROM grants WHERE user_id = ?", [user_id])}

    def grants_in(self, city: str) -> list[dict]:
        return self._rows(
            "SELECT u.id AS user_id, u.username, g.role FROM grants g JOIN users u ON u.id = g.user_id "
            "WHERE g.city = ? ORDER BY u.username", [city])

    # API keys ----------------------------------------------------------------------------------
    def create_api_key(self, row: dict) -> None:
        with self._tx() as con:
            con.execute(f"INSERT INTO api_keys ({', '.join(_KEY_COLS)}) VALUES ({', '.join('?' * len(_KEY_COLS))})",
                        [_naive(row.get(c)) for c in _KEY_COLS])

    def get_api_key(self, key_id: str) -> dict | None:
        rows = self._rows(f"SELECT {', '.join(_KEY_COLS)} FROM api_keys WHERE id = ?", [key_id])
        return _aware(rows[0]) if rows else None

    def list_api_keys(self, user_id: int) -> list[dict]:
        return [_aware(r) for r in self._rows(
            f"SELECT {', '.join(_KEY_COLS)} FROM api_keys WHERE user_id = ? ORDER BY created_at", [user_id])]

    def update_api_key(self, key_id: str, **fields) -> None:
        cols = [c for c in fields if c in _KEY_COLS and c != "id"]
        with self._tx() as con:
            con.execute(f"UPDATE api_keys SET {', '.join(c + ' = ?' for c in cols)} WHERE id = ?",
                        [_naive(fields[c]) for c in cols] + [key_id])

    # device keys -------------------------------------------------------------------------------
    def create_device_key(self, row: dict) -> None:
        with self._tx() as con:
            con.execute(
                f"INSERT INTO device_keys ({', '.join(_DEVICE_COLS)}) VALUES ({', '.join('?' * len(_DEVICE_COLS))})",
                [_naive(row.get(c)) for c in _DEVICE_COLS])

    def get_device_key(self, key_id: str) -> dict | None:
        rows = self._rows(f"SELECT {', '.join(_DEVICE_COLS)} FROM device_keys WHERE id = ?", [key_id])
        return _aware(rows[0]) if rows else None

    def list_device_keys(self, station: str) -> list[dict]:
        return [_aware(r) for r in self._rows(
            f"SELECT {', '.join(_DEVICE_COLS)} FROM device_keys WHERE station = ? ORDER BY created_at", [station])]

    def revoke_device_key(self, key_id: str, *, now: datetime) -> None:
        with self._tx() as con:
            con.execute("UPDATE device_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                        [_naive(now), key_id])

    # replay protection and token revocation ----------------------------------------------------
    def use_nonce(self, *, key_id: str, nonce: str, now: datetime, forget_before: datetime) -> bool:
        """Record ``nonce`` for ``key_id``; False if it was already seen (a replay). Nonces older than
        ``forget_before`` are dropped: their timestamps are outside the accepted window anyway."""
        with self._tx() as con:
            con.execute("DELETE FROM nonces WHERE seen_at < ?", [_naive(forget_before)])
            if con.execute("SELECT 1 FROM nonces WHERE key_id = ? AND nonce = ?", [key_id, nonce]).fetchone():
                return False
            con.execute("INSERT INTO nonces VALUES (?, ?, ?)", [key_id, nonce, _naive(now)])
        return True

    def revoke_token(self, *, jti: str, expires_at: datetime, now: datetime) -> None:
        with self._tx() as con:
            con.execute("DELETE FROM revoked_tokens WHERE expires_at < ?", [_naive(now)])
            con.execute("INSERT INTO revoked_tokens VALUES (?, ?) ON CONFLICT DO NOTHING", [jti, _naive(expires_at)])

    def token_revoked(self, jti: str) -> bool:
        return bool(self._rows("SELECT 1 AS x FROM revoked_tokens WHERE jti = ?", [jti]))

    # audit log ---------------------------------------------------------------------------------
    def append_audit(self, build: Callable[[int, str], dict]) -> dict:
        """Append one entry under the writer lock: ``build(seq, prev_hash)`` returns the full row."""
        with self._tx() as con:
            # max() then the key's row: a top-N sort over the whole log cost ~2 ms at 20,000 entries
            last = con.execute("SELECT seq, hash FROM audit_log WHERE seq = (SELECT max(seq) FROM audit_log)").fetchone()
            seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
            row = build(seq, prev)
            con.execute(f"INSERT INTO audit_log ({', '.join(_AUDIT_COLS)}) VALUES ({', '.join('?' * len(_AUDIT_COLS))})",
                        [_naive(row[c]) for c in _AUDIT_COLS])
        return row

    def audit_entries(self, *, city: str | None = None, after_seq: int = 0, limit: int | None = None) -> list[dict]:
        where, params = ["seq > ?"], [after_seq]
        if city is not None:
            where.append("city = ?")
            params.append(city)
        sql = f"SELECT {', '.join(_AUDIT_COLS)} FROM audit_log WHERE {' AND '.join(where)} ORDER BY seq"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        return [_aware(r) for r in self._rows(sql, params)]
