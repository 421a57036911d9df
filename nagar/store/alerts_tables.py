"""Store methods for the alert tables: rules, per-scope state, events (history), webhook endpoints and
deliveries (with their dead letters).

Mixed into the SQL backends; plain SQL with bound values. An event, its state change and its deliveries
are written in ONE transaction (:meth:`AlertTables.advance_alert_state`), so a crash can never record an
onset without the state that de-duplicates it, or the reverse. Times are naive UTC in the database and
come back timezone-aware (UTC).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

from nagar.core.tenancy import Scope

_RULE_COLS = ("id", "city", "name", "kind", "spec", "enabled", "created_at", "created_by", "updated_at")
_EVENT_COLS = ("id", "rule_id", "city", "scope_key", "kind", "episode", "time", "value", "message", "suppressed",
               "created_at")
_ENDPOINT_COLS = ("id", "city", "name", "url", "max_attempts", "enabled", "created_at", "created_by")
_DELIVERY_COLS = ("id", "event_id", "endpoint_id", "city", "status", "attempts", "next_attempt_at", "last_status",
                  "last_error", "updated_at")


def _naive(t: datetime | None) -> datetime | None:
    if t is None:
        return None
    return t.astimezone(timezone.utc).replace(tzinfo=None) if t.tzinfo is not None else t


def _aware(row: dict, *cols: str) -> dict:
    for c in cols:
        if row.get(c) is not None and row[c].tzinfo is None:
            row[c] = row[c].replace(tzinfo=timezone.utc)
    return row


def _in_scope(column: str, scope: Scope) -> tuple[str, list]:
    if scope is None:
        return "", []
    return f"AND {column} IN (SELECT unnest(?::VARCHAR[]))", [sorted(scope)]


def _rule(row: dict) -> dict:
    row["spec"] = json.loads(row["spec"])
    row["enabled"] = bool(row["enabled"])
    return _aware(row, "created_at", "updated_at")


class AlertTables:
    """Requires ``self._tx()`` (write transaction context) and ``self._rows(sql, params)``."""

    # rules --------------------------------------------------------------------------------------
    def add_alert_rule(self, *, city: str, name: str, kind: str, spec: dict, actor: str, now: datetime) -> dict:
        with self._tx() as con:
            new_id = con.execute(
                "INSERT INTO alert_rules (city, name, kind, spec, enabled, created_at, created_by, updated_at) "
                "VALUES (?, ?, ?, ?, true, ?, ?, ?) RETURNING id",
                [city, name, kind, json.dumps(spec, sort_keys=True), _naive(now), actor, _naive(now)]).fetchone()[0]
        return self.alert_rule(int(new_id))

    def update_alert_rule(self, rule_id: int, *, name: str, kind: str, spec: dict, enabled: bool,
                          now: datetime) -> None:
        """Replace a rule. When its condition (``spec``) changes, its per-scope state is dropped (the new
        condition starts afresh); a new name or enabling/disabling keeps the state (and any open episode)."""
        new = json.dumps(spec, sort_keys=True)
        with self._tx() as con:
            old = con.execute("SELECT spec FROM alert_rules WHERE id = ?", [int(rule_id)]).fetchone()
            con.execute("UPDATE alert_rules SET name = ?, kind = ?, spec = ?, enabled = ?, updated_at = ? "
                        "WHERE id = ?", [name, kind, new, bool(enabled), _naive(now), int(rule_id)])
            if old is not None and old[0] != new:
                con.execute("DELETE FROM alert_state WHERE rule_id = ?", [int(rule_id)])

    def delete_alert_rule(self, rule_id: int) -> bool:
        with self._tx() as con:
            n = con.execute("DELETE FROM alert_rules WHERE id = ?", [int(rule_id)]).fetchone()[0]
            con.execute("DELETE FROM alert_state WHERE rule_id = ?", [int(rule_id)])
        return bool(n)

    def alert_rule(self, rule_id: int, *, scope: Scope = None) -> dict | None:
        w, p = _in_scope("city", scope)
        rows = self._rows(f"SELECT {', '.join(_RULE_COLS)} FROM alert_rules WHERE id = ? {w}", [int(rule_id), *p])
        return _rule(rows[0]) if rows else None

    def alert_rules(self, *, city: str | None = None, kinds: list[str] | None = None, enabled_only: bool = False,
                    scope: Scope = None) -> list[dict]:
        where, params = ["true"], []
        if city is not None:
            where.append("city = ?")
            params.append(city)
        if kinds is not None:
            where.append("kind IN (SELECT unnest(?::VARCHAR[]))")
            params.append(list(kinds))
        if enabled_only:
            where.append("enabled")
        w, p = _in_scope("city", scope)
        rows = self._rows(f"SELECT {', '.join(_RULE_COLS)} FROM alert_rules WHERE {' AND '.join(where)} {w} "
                          "ORDER BY id", params + p)
        return [_rule(r) for r in rows]

    # state and events ----------------------------------------------------------------------------
    def alert_states(self, rule_ids: list[int]) -> dict[tuple[int, str], dict]:
        if not rule_ids:
            return {}
        rows = self._rows("SELECT rule_id, scope_key, last_time, last_cond, last_value, run_before, episode "
                          "FROM alert_state WHERE rule_id IN (SELECT unnest(?::BIGINT[]))",
                          [[int(r) for r in rule_ids]])
        return {(int(r["rule_id"]), r["scope_key"]): _aware(r, "last_time") for r in rows}

    def advance_alert_state(self, *, rule_id: int, scope_key: str, state: dict, events: list[dict],
                            now: datetime) -> list[dict]:
        """Store the new state of (rule, scope) with the events it produced and a pending delivery per event
        and enabled endpoint of the event's city, all in one transaction. Returns the events with ids."""
        out = []
        with self._tx() as con:
            con.execute("DELETE FROM alert_state WHERE rule_id = ? AND scope_key = ?", [int(rule_id), scope_key])
            con.execute("INSERT INTO alert_state (rule_id, scope_key, last_time, last_cond, last_value, run_before, "
                        "episode) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [int(rule_id), scope_key, _naive(state["last_time"]), bool(state["last_cond"]),
                         state.get("last_value"), int(state["run_before"]), state.get("episode")])
            for e in events:
                ev_id = con.execute(
                    "INSERT INTO alert_events (rule_id, city, scope_key, kind, episode, time, value, message, "
                    "suppressed, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                    [int(rule_id), e["city"], scope_key, e["kind"], int(e["episode"]), _naive(e["time"]),
                     e.get("value"), e["message"], bool(e["suppressed"]), _naive(now)]).fetchone()[0]
                out.append({**e, "id": int(ev_id), "rule_id": int(rule_id), "scope_key": scope_key})
                if not e["suppressed"]:
                    for (ep_id,) in con.execute("SELECT id FROM alert_endpoints WHERE city = ? AND enabled",
                                                [e["city"]]).fetchall():
                        con.execute("INSERT INTO alert_deliveries (event_id, endpoint_id, city, status, attempts, "
                                    "next_attempt_at, updated_at) VALUES (?, ?, ?, 'pending', 0, ?, ?)",
                                    [int(ev_id), int(ep_id), e["city"], _naive(now), _naive(now)])
        return out

    def next_alert_episode(self) -> int:
        """A new episode number (a sequence, so concurrent evaluators never share one)."""
        with self._tx() as con:
            return int(con.execute("SELECT nextval('alert_episode_id')").fetchone()[0])

    def alert_events(self, *, city: str, rule_id: int | None = None, start: datetime | None = None,
                     limit: int = 100, scope: Scope = None) -> list[dict]:
        where, params = ["city = ?"], [city]
        if rule_id is not None:
            where.append("rule_id = ?")
            params.append(int(rule_id))
        if start is not None:
            where.append("time >= ?")
            params.append(_naive(start))
        w, p = _in_scope("city", scope)
        rows = self._rows(f"SELECT {', '.join(_EVENT_COLS)} FROM alert_events WHERE {' AND '.join(where)} {w} "
                          "ORDER BY id DESC LIMIT ?", params + p + [int(limit)])
        for r in rows:
            r["suppressed"] = bool(r["suppressed"])
            _aware(r, "time", "created_at")
        return rows

    # endpoints and deliveries ----------------------------------------------------------------------
    def add_alert_endpoint(self, *, city: str, name: str, url: str, secret: str, max_attempts: int, actor: str,
                           now: datetime) -> dict:
        with self._tx() as con:
            new_id = con.execute(
                "INSERT INTO alert_endpoints (city, name, url, secret, max_attempts, enabled, created_at, created_by) "
                "VALUES (?, ?, ?, ?, ?, true, ?, ?) RETURNING id",
                [city, name, url, secret, int(max_attempts), _naive(now), actor]).fetchone()[0]
        return self.alert_endpoints(city=city, ids=[int(new_id)])[0]

    def delete_alert_endpoint(self, endpoint_id: int) -> bool:
        """Remove an endpoint; its pending deliveries become dead letters ("endpoint removed")."""
        with self._tx() as con:
            n = con.execute("DELETE FROM alert_endpoints WHERE id = ?", [int(endpoint_id)]).fetchone()[0]
            con.execute("UPDATE alert_deliveries SET status = 'dead', last_error = 'endpoint removed' "
                        "WHERE endpoint_id = ? AND status = 'pending'", [int(endpoint_id)])
        return bool(n)

    def alert_endpoints(self, *, city: str | None = None, ids: list[int] | None = None,
                        scope: Scope = None) -> list[dict]:
        where, params = ["true"], []
        if city is not None:
            where.append("city = ?")
            params.append(city)
        if ids is not None:
            where.append("id IN (SELECT unnest(?::BIGINT[]))")
            params.append([int(i) for i in ids])
        w, p = _in_scope("city", scope)
        rows = self._rows(f"SELECT {', '.join(_ENDPOINT_COLS)} FROM alert_endpoints WHERE {' AND '.join(where)} {w} "
                          "ORDER BY id", params + p)
        for r in rows:
            r["enabled"] = bool(r["enabled"])
            _aware(r, "created_at")
        return rows

    def due_alert_deliveries(self, *, now: datetime, limit: int = 50) -> list[dict]:
        """Pending deliveries due by ``now``, with the endpoint (url, secret, max_attempts) and the event."""
        rows = self._rows(
            "SELECT d.id, d.event_id, d.endpoint_id, d.city, d.attempts, e.url, e.secret, e.max_attempts "
            "FROM alert_deliveries d JOIN alert_endpoints e ON e.id = d.endpoint_id "
            "WHERE d.status = 'pending' AND d.next_attempt_at <= ? ORDER BY d.next_attempt_at, d.id LIMIT ?",
            [_naive(now), int(limit)])
        return rows

    def claim_alert_delivery(self, delivery_id: int, *, now: datetime, until: datetime) -> bool:
        """Take a due delivery for this sender until ``until`` (a lease): False if another sender (another
        server process) took it first, so one attempt is never sent twice."""
        with self._tx() as con:
            n = con.execute("UPDATE alert_deliveries SET next_attempt_at = ? WHERE id = ? AND status = 'pending' "
                            "AND next_attempt_at <= ?", [_naive(until), int(delivery_id), _naive(now)]).fetchone()[0]
        return bool(n)

    def alert_event_rows(self, ids: list[int]) -> dict[int, dict]:
        rows = self._rows(f"SELECT {', '.join(_EVENT_COLS)} FROM alert_events WHERE id IN (SELECT unnest(?::BIGINT[]))",
                          [[int(i) for i in ids]])
        out = {}
        for r in rows:
            r["suppressed"] = bool(r["suppressed"])
            out[int(r["id"])] = _aware(r, "time", "created_at")
        return out

    def record_alert_attempt(self, delivery_id: int, *, status: str, attempts: int, next_attempt_at: datetime,
                             last_status: int | None, last_error: str | None, now: datetime) -> None:
        with self._tx() as con:
            con.execute("UPDATE alert_deliveries SET status = ?, attempts = ?, next_attempt_at = ?, last_status = ?, "
                        "last_error = ?, updated_at = ? WHERE id = ?",
                        [status, int(attempts), _naive(next_attempt_at), last_status,
                         (last_error or None) and last_error[:500], _naive(now), int(delivery_id)])

    def alert_deliveries(self, *, city: str, status: str | None = None, limit: int = 100,
                         scope: Scope = None) -> list[dict]:
        where, params = ["city = ?"], [city]
        if status is not None:
            where.append("status = ?")
            params.append(status)
        w, p = _in_scope("city", scope)
        rows = self._rows(f"SELECT {', '.join(_DELIVERY_COLS)} FROM alert_deliveries WHERE {' AND '.join(where)} {w} "
                          "ORDER BY id DESC LIMIT ?", params + p + [int(limit)])
        return [_aware(r, "next_attempt_at", "updated_at") for r in rows]
