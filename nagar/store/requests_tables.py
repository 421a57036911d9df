"""Store methods for citizen service requests (Open311), their contacts, workflow events, the Open311 app
keys, a city's service settings and uploaded media.

Mixed into the SQL backends; plain SQL with bound values, one transaction per write. Every read takes
``scope`` (None: all cities) and filters inside the query. Times are naive UTC. Personal data lives in
``service_request_contacts`` and is read only by :meth:`service_request_contact` (operators); every
other read selects from :data:`PUBLIC_COLS`, which names none of it.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

from nagar.core.tenancy import Scope

PUBLIC_COLS = ("id", "city", "service_code", "status", "department", "description", "lat", "lon", "address",
               "address_id", "zipcode", "attributes", "media_url", "status_notes", "duplicate_of", "token",
               "client_id", "requested_at", "updated_at", "expected_at", "closed_at")
CONTACT_COLS = ("email", "device_id", "account_id", "first_name", "last_name", "phone")
OPEN_STATUSES = ("new", "acknowledged", "in_progress")
_EVENT_COLS = ("id", "request_id", "time", "actor", "from_status", "to_status", "department", "note", "public")
_CLIENT_COLS = ("id", "city", "name", "secret_hash", "created_at", "created_by", "revoked_at")
_SETTING_COLS = ("city", "service_code", "enabled", "department", "sla_hours", "updated_at", "updated_by")
_MEDIA_COLS = ("name", "request_id", "city", "content_type", "bytes", "sha256", "created_at")


def _naive(t: datetime | None) -> datetime | None:
    if t is None:
        return None
    return t.astimezone(timezone.utc).replace(tzinfo=None) if t.tzinfo is not None else t


def _in_scope(column: str, scope: Scope) -> tuple[str, list]:
    if scope is None:
        return "", []
    return f"AND {column} IN (SELECT unnest(?::VARCHAR[]))", [sorted(scope)]


def _request(row: dict) -> dict:
    row["attributes"] = json.loads(row["attributes"] or "{}")
    return row


_SELECT = f"SELECT {', '.join(PUBLIC_COLS)} FROM service_requests"


class RequestsTables:
    """Requires ``self._tx()`` (write transaction context) and ``self._rows(sql, params)``."""

    # requests -----------------------------------------------------------------------------------
    def add_service_request(self, row: dict, *, contact: dict, media: dict | None, actor: str) -> dict:
        """Insert a request, its contact row, its media row (if any) and its first event in one
        transaction; returns the stored request (public columns)."""
        cols = [c for c in PUBLIC_COLS if c != "id"]
        values = [json.dumps(row.get("attributes") or {}, sort_keys=True) if c == "attributes"
                  else _naive(row.get(c)) if c.endswith("_at") else row.get(c) for c in cols]
        with self._tx() as con:
            new_id = con.execute(
                f"INSERT INTO service_requests ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) RETURNING id",
                values).fetchone()[0]
            con.execute(f"INSERT INTO service_request_contacts (request_id, {', '.join(CONTACT_COLS)}) "
                        f"VALUES (?, {', '.join('?' * len(CONTACT_COLS))})",
                        [new_id] + [contact.get(c) for c in CONTACT_COLS])
            if media is not None:
                con.execute(f"INSERT INTO request_media ({', '.join(_MEDIA_COLS)}) VALUES "
                            f"({', '.join('?' * len(_MEDIA_COLS))})",
                            [media["name"], new_id, row["city"], media["content_type"], int(media["bytes"]),
                             media["sha256"], _naive(row["requested_at"])])
            con.execute("INSERT INTO service_request_events (request_id, time, actor, from_status, to_status, "
                        "department, note, public) VALUES (?, ?, ?, NULL, ?, ?, ?, ?)",
                        [new_id, _naive(row["requested_at"]), actor, row["status"], row.get("department"),
                         row.get("status_notes"), row.get("status_notes") is not None])
        return self.service_request(new_id)

    def service_request(self, request_id: int, *, scope: Scope = None) -> dict | None:
        w, p = _in_scope("city", scope)
        rows = self._rows(f"{_SELECT} WHERE id = ? {w}", [int(request_id), *p])
        return _request(rows[0]) if rows else None

    def service_request_by_token(self, token: str, *, city: str, scope: Scope = None) -> dict | None:
        w, p = _in_scope("city", scope)
        rows = self._rows(f"{_SELECT} WHERE token = ? AND city = ? {w}", [token, city, *p])
        return _request(rows[0]) if rows else None

    def service_requests(self, *, city: str, ids: list[int] | None = None, codes: list[str] | None = None,
                         statuses: list[str] | None = None, start: datetime | None = None,
                         end: datetime | None = None, limit: int = 1000, scope: Scope = None) -> list[dict]:
        """A city's requests, newest first. ``ids`` (when given) overrides every other filter, as the
        Open311 ``service_request_id`` argument does."""
        where, params = ["city = ?"], [city]
        if ids is not None:
            where.append("id IN (SELECT unnest(?::BIGINT[]))")
            params.append([int(i) for i in ids])
        else:
            if codes:
                where.append("service_code IN (SELECT unnest(?::VARCHAR[]))")
                params.append(list(codes))
            if statuses:
                where.append("status IN (SELECT unnest(?::VARCHAR[]))")
                params.append(list(statuses))
            if start is not None:
                where.append("requested_at >= ?")
                params.append(_naive(start))
            if end is not None:
                where.append("requested_at <= ?")
                params.append(_naive(end))
        w, p = _in_scope("city", scope)
        rows = self._rows(f"{_SELECT} WHERE {' AND '.join(where)} {w} ORDER BY requested_at DESC, id DESC LIMIT ?",
                          params + p + [int(limit)])
        return [_request(r) for r in rows]

    def open_requests_near(self, *, city: str, service_code: str, since: datetime, lat_min: float,
                           lat_max: float, lon_min: float, lon_max: float) -> list[dict]:
        """Open, original (not duplicate) requests of one service filed since ``since`` inside a bounding
        box: the candidates a duplicate check measures exact distances to."""
        rows = self._rows(
            f"{_SELECT} WHERE city = ? AND service_code = ? AND requested_at >= ? AND duplicate_of IS NULL "
            "AND status IN (SELECT unnest(?::VARCHAR[])) AND lat BETWEEN ? AND ? AND lon BETWEEN ? AND ? "
            "ORDER BY requested_at, id",
            [city, service_code, _naive(since), list(OPEN_STATUSES), lat_min, lat_max, lon_min, lon_max])
        return [_request(r) for r in rows]

    def update_service_request(self, request_id: int, fields: dict, *, event: dict) -> dict:
        """Change a request's workflow fields and append the event, in one transaction."""
        allowed = ("status", "department", "status_notes", "duplicate_of", "updated_at", "closed_at", "expected_at")
        sets = [c for c in allowed if c in fields]
        with self._tx() as con:
            if sets:
                con.execute(f"UPDATE service_requests SET {', '.join(c + ' = ?' for c in sets)} WHERE id = ?",
                            [_naive(fields[c]) if c.endswith("_at") else fields[c] for c in sets] + [int(request_id)])
            con.execute("INSERT INTO service_request_events (request_id, time, actor, from_status, to_status, "
                        "department, note, public) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        [int(request_id), _naive(event["time"]), event["actor"], event.get("from_status"),
                         event.get("to_status"), event.get("department"), event.get("note"),
                         bool(event.get("public"))])
        return self.service_request(request_id)

    def duplicates_of(self, request_id: int) -> list[int]:
        """Ids of the requests linked to this one as its duplicates."""
        return [r["id"] for r in self._rows("SELECT id FROM service_requests WHERE duplicate_of = ? ORDER BY id",
                                            [int(request_id)])]

    def service_request_events(self, request_id: int) -> list[dict]:
        return self._rows(f"SELECT {', '.join(_EVENT_COLS)} FROM service_request_events WHERE request_id = ? "
                          "ORDER BY id", [int(request_id)])

    def service_request_contact(self, request_id: int, *, scope: Scope = None) -> dict | None:
        """The citizen's personal data (operators only; never in a public answer)."""
        w, p = _in_scope("r.city", scope)
        rows = self._rows(f"SELECT {', '.join('c.' + c for c in CONTACT_COLS)} FROM service_request_contacts c "
                          f"JOIN service_requests r ON r.id = c.request_id WHERE c.request_id = ? {w}",
                          [int(request_id), *p])
        return rows[0] if rows else None

    def overdue_requests(self, *, city: str, now: datetime, scope: Scope = None) -> list[dict]:
        """Open requests whose expected time has passed, most overdue first."""
        w, p = _in_scope("city", scope)
        rows = self._rows(f"{_SELECT} WHERE city = ? AND expected_at IS NOT NULL AND expected_at < ? "
                          f"AND status IN (SELECT unnest(?::VARCHAR[])) {w} ORDER BY expected_at, id",
                          [city, _naive(now), list(OPEN_STATUSES), *p])
        return [_request(r) for r in rows]

    def service_request_counts(self, *, city: str, scope: Scope = None) -> list[dict]:
        """Requests per service and status."""
        w, p = _in_scope("city", scope)
        return self._rows(f"SELECT service_code, status, count(*) AS n FROM service_requests WHERE city = ? {w} "
                          "GROUP BY service_code, status ORDER BY service_code, status", [city, *p])

    def service_requests_page(self, *, city: str, after_id: int, limit: int) -> list[dict]:
        """The next ``limit`` requests of a city by id after ``after_id`` (keyset paging for exports)."""
        return [_request(r) for r in self._rows(
            f"{_SELECT} WHERE city = ? AND id > ? ORDER BY id LIMIT ?", [city, int(after_id), int(limit)])]

    # Open311 client app keys --------------------------------------------------------------------
    def add_open311_client(self, row: dict) -> None:
        with self._tx() as con:
            con.execute(f"INSERT INTO open311_clients ({', '.join(_CLIENT_COLS)}) VALUES "
                        f"({', '.join('?' * len(_CLIENT_COLS))})",
                        [_naive(row.get(c)) if c.endswith("_at") else row.get(c) for c in _CLIENT_COLS])

    def open311_client(self, key_id: str) -> dict | None:
        rows = self._rows(f"SELECT {', '.join(_CLIENT_COLS)} FROM open311_clients WHERE id = ?", [key_id])
        return rows[0] if rows else None

    def open311_clients(self, *, city: str, scope: Scope = None) -> list[dict]:
        w, p = _in_scope("city", scope)
        return self._rows(f"SELECT {', '.join(c for c in _CLIENT_COLS if c != 'secret_hash')} FROM open311_clients "
                          f"WHERE city = ? {w} ORDER BY created_at, id", [city, *p])

    def revoke_open311_client(self, key_id: str, *, now: datetime) -> bool:
        with self._tx() as con:
            n = con.execute("UPDATE open311_clients SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                            [_naive(now), key_id]).fetchone()[0]
        return bool(n)

    # a city's service settings ------------------------------------------------------------------
    def request_service_settings(self, *, city: str) -> list[dict]:
        return self._rows(f"SELECT {', '.join(_SETTING_COLS)} FROM request_service_settings WHERE city = ? "
                          "ORDER BY service_code", [city])

    def put_request_service_setting(self, row: dict) -> None:
        values = [_naive(row.get(c)) if c.endswith("_at") else row.get(c) for c in _SETTING_COLS]
        with self._tx() as con:
            con.execute("DELETE FROM request_service_settings WHERE city = ? AND service_code = ?",
                        [row["city"], row["service_code"]])
            con.execute(f"INSERT INTO request_service_settings ({', '.join(_SETTING_COLS)}) VALUES "
                        f"({', '.join('?' * len(_SETTING_COLS))})", values)

    # media --------------------------------------------------------------------------------------
    def request_media(self, name: str, *, scope: Scope = None) -> dict | None:
        w, p = _in_scope("city", scope)
        rows = self._rows(f"SELECT {', '.join(_MEDIA_COLS)} FROM request_media WHERE name = ? {w}", [name, *p])
        return rows[0] if rows else None
