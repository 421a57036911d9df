"""Store methods for the e-waste tables (POM, population, targets, settings, collection points, handlers,
collection events, batches and the custody ledger).

Mixed into the SQL backends; plain SQL with bound values, one transaction per write. Every row carries
its city and every read takes ``scope`` (None: all cities), filtered inside the query. Times are naive
UTC; days are dates. The custody rule that needs the stored state (a handler passes on at most what it
holds of a batch) is checked inside the write transaction, under the writer lock, so two concurrent
transfers cannot both spend the same kilograms.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timezone

from nagar.core.errors import Conflict
from nagar.core.tenancy import Scope

_POM_COLS = ("city", "year", "unu_key", "kg", "units", "avg_weight_kg", "source", "updated_at", "updated_by")
_POINT_COLS = ("id", "city", "name", "lat", "lon", "address", "created_at", "created_by")
_HANDLER_COLS = ("id", "city", "name", "role", "licence_no", "licence_expires", "created_at", "created_by")
_EVENT_COLS = ("id", "city", "point_id", "collector_id", "day", "note", "created_at", "created_by")
_BATCH_COLS = ("id", "city", "event_id", "point_id", "collector_id", "category", "kg", "day")
_MOVE_COLS = ("id", "city", "batch_id", "kind", "day", "from_handler", "to_handler", "kg_out", "kg_in", "details",
              "created_at", "created_by")
MASS_EPS = 1e-6
"""Kilograms below which two masses count as equal (float sums of decimal inputs)."""


def _naive(t: datetime) -> datetime:
    return t.astimezone(timezone.utc).replace(tzinfo=None) if t.tzinfo is not None else t


def _in_scope(column: str, scope: Scope) -> tuple[str, list]:
    if scope is None:
        return "", []
    return f" AND {column} IN (SELECT unnest(?::VARCHAR[]))", [sorted(scope)]


def _day(v) -> date:
    return v.date() if isinstance(v, datetime) else v


def _move(row: dict) -> dict:
    row["details"] = json.loads(row["details"] or "{}")
    row["day"] = _day(row["day"])
    return row


def _upsert(con, table: str, cols: tuple, key: tuple, values: list) -> bool:
    """Insert or update one row by its key; True when inserted."""
    where = " AND ".join(f"{c} = ?" for c in key)
    kv = [values[cols.index(c)] for c in key]
    if con.execute(f"SELECT count(*) FROM {table} WHERE {where}", kv).fetchone()[0]:
        rest = [c for c in cols if c not in key]
        con.execute(f"UPDATE {table} SET {', '.join(c + ' = ?' for c in rest)} WHERE {where}",
                    [values[cols.index(c)] for c in rest] + kv)
        return False
    con.execute(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", values)
    return True


class WasteTables:
    """Requires ``self._tx()`` (write transaction context) and ``self._rows(sql, params)``."""

    # POM, population, targets, settings ----------------------------------------------------------
    def put_ewaste_pom(self, rows: list[dict], *, actor: str, now: datetime) -> tuple[int, int]:
        """Upsert POM rows (key: city, year, unu_key) in one transaction; returns (inserted, updated)."""
        ins = upd = 0
        with self._tx() as con:
            for r in rows:
                vals = [r["city"], int(r["year"]), r["unu_key"], float(r["kg"]), r.get("units"),
                        r.get("avg_weight_kg"), r.get("source"), _naive(now), actor]
                if _upsert(con, "ewaste_pom", _POM_COLS, ("city", "year", "unu_key"), vals):
                    ins += 1
                else:
                    upd += 1
        return ins, upd

    def ewaste_pom(self, *, city: str, scope: Scope = None) -> list[dict]:
        w, p = _in_scope("city", scope)
        return self._rows(f"SELECT {', '.join(_POM_COLS)} FROM ewaste_pom WHERE city = ?{w} ORDER BY year, unu_key",
                          [city, *p])

    def put_ewaste_population(self, rows: list[dict]) -> int:
        with self._tx() as con:
            for r in rows:
                _upsert(con, "ewaste_population", ("city", "year", "inhabitants", "source"), ("city", "year"),
                        [r["city"], int(r["year"]), float(r["inhabitants"]), r.get("source")])
        return len(rows)

    def ewaste_population(self, *, city: str, scope: Scope = None) -> dict[int, float]:
        w, p = _in_scope("city", scope)
        return {r["year"]: r["inhabitants"] for r in self._rows(
            f"SELECT year, inhabitants FROM ewaste_population WHERE city = ?{w} ORDER BY year", [city, *p])}

    def put_ewaste_targets(self, rows: list[dict], *, actor: str, now: datetime) -> int:
        cols = ("city", "year", "category", "rate", "updated_at", "updated_by")
        with self._tx() as con:
            for r in rows:
                _upsert(con, "ewaste_targets", cols, ("city", "year", "category"),
                        [r["city"], int(r["year"]), int(r["category"]), float(r["rate"]), _naive(now), actor])
        return len(rows)

    def ewaste_targets(self, *, city: str, year: int | None = None, scope: Scope = None) -> list[dict]:
        w, p = _in_scope("city", scope)
        extra, params = ("", []) if year is None else (" AND year = ?", [int(year)])
        return self._rows(f"SELECT city, year, category, rate FROM ewaste_targets WHERE city = ?{extra}{w} "
                          "ORDER BY year, category", [city, *params, *p])

    def put_ewaste_settings(self, *, city: str, loss_tolerance: float, actor: str, now: datetime) -> None:
        with self._tx() as con:
            _upsert(con, "ewaste_settings", ("city", "loss_tolerance", "updated_at", "updated_by"), ("city",),
                    [city, float(loss_tolerance), _naive(now), actor])

    def ewaste_settings(self, *, city: str) -> dict | None:
        rows = self._rows("SELECT city, loss_tolerance FROM ewaste_settings WHERE city = ?", [city])
        return rows[0] if rows else None

    # points and handlers -------------------------------------------------------------------------
    def add_ewaste_point(self, row: dict, *, actor: str, now: datetime) -> bool:
        """Insert a collection point; False (nothing written) when the id exists."""
        with self._tx() as con:
            if con.execute("SELECT count(*) FROM ewaste_points WHERE id = ?", [row["id"]]).fetchone()[0]:
                return False
            con.execute(f"INSERT INTO ewaste_points ({', '.join(_POINT_COLS)}) VALUES ({', '.join('?' * 8)})",
                        [row["id"], row["city"], row["name"], float(row["lat"]), float(row["lon"]),
                         row.get("address"), _naive(now), actor])
        return True

    def ewaste_points(self, *, city: str, scope: Scope = None) -> list[dict]:
        w, p = _in_scope("city", scope)
        return self._rows(f"SELECT {', '.join(_POINT_COLS)} FROM ewaste_points WHERE city = ?{w} ORDER BY id",
                          [city, *p])

    def ewaste_point(self, point_id: str, *, scope: Scope = None) -> dict | None:
        w, p = _in_scope("city", scope)
        rows = self._rows(f"SELECT {', '.join(_POINT_COLS)} FROM ewaste_points WHERE id = ?{w}", [point_id, *p])
        return rows[0] if rows else None

    def add_ewaste_handler(self, row: dict, *, actor: str, now: datetime) -> bool:
        """Register a handler; False (nothing written) when the id exists."""
        with self._tx() as con:
            if con.execute("SELECT count(*) FROM ewaste_handlers WHERE id = ?", [row["id"]]).fetchone()[0]:
                return False
            con.execute(f"INSERT INTO ewaste_handlers ({', '.join(_HANDLER_COLS)}) VALUES ({', '.join('?' * 8)})",
                        [row["id"], row["city"], row["name"], row["role"], row.get("licence_no"),
                         row.get("licence_expires"), _naive(now), actor])
        return True

    def ewaste_handlers(self, *, city: str, scope: Scope = None) -> list[dict]:
        w, p = _in_scope("city", scope)
        rows = self._rows(f"SELECT {', '.join(_HANDLER_COLS)} FROM ewaste_handlers WHERE city = ?{w} ORDER BY id",
                          [city, *p])
        for r in rows:
            r["licence_expires"] = _day(r["licence_expires"])
        return rows

    def ewaste_handler(self, handler_id: str, *, scope: Scope = None) -> dict | None:
        w, p = _in_scope("city", scope)
        rows = self._rows(f"SELECT {', '.join(_HANDLER_COLS)} FROM ewaste_handlers WHERE id = ?{w}",
                          [handler_id, *p])
        if not rows:
            return None
        rows[0]["licence_expires"] = _day(rows[0]["licence_expires"])
        return rows[0]

    # collection events, batches and the custody ledger ------------------------------------------------
    def add_ewaste_event(self, event: dict, items: list[dict], *, actor: str, now: datetime) -> dict:
        """One collection event, one batch per item (``{"category", "kg"}``) held by the collector, and
        the ledger's ``collect`` move of each, in one transaction. Returns the event with its batch ids."""
        with self._tx() as con:
            eid = con.execute(
                "INSERT INTO ewaste_events (city, point_id, collector_id, day, note, created_at, created_by) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                [event["city"], event["point_id"], event["collector_id"], event["day"], event.get("note"),
                 _naive(now), actor]).fetchone()[0]
            batches = []
            for it in items:
                bid = con.execute(
                    "INSERT INTO ewaste_batches (city, event_id, point_id, collector_id, category, kg, day) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                    [event["city"], eid, event["point_id"], event["collector_id"], int(it["category"]),
                     float(it["kg"]), event["day"]]).fetchone()[0]
                con.execute(
                    "INSERT INTO ewaste_moves (city, batch_id, kind, day, from_handler, to_handler, kg_out, kg_in, "
                    "details, created_at, created_by) VALUES (?, ?, 'collect', ?, NULL, ?, ?, ?, '{}', ?, ?)",
                    [event["city"], bid, event["day"], event["collector_id"], float(it["kg"]), float(it["kg"]),
                     _naive(now), actor])
                batches.append({"id": bid, "category": int(it["category"]), "kg": float(it["kg"])})
        return {"id": eid, **{k: event.get(k) for k in ("city", "point_id", "collector_id", "day", "note")},
                "batches": batches}

    def ewaste_events(self, *, city: str, scope: Scope = None, limit: int = 500) -> list[dict]:
        w, p = _in_scope("city", scope)
        rows = self._rows(f"SELECT {', '.join(_EVENT_COLS)} FROM ewaste_events WHERE city = ?{w} "
                          "ORDER BY day DESC, id DESC LIMIT ?", [city, *p, int(limit)])
        for r in rows:
            r["day"] = _day(r["day"])
        return rows

    def ewaste_batches(self, *, city: str, scope: Scope = None, batch_id: int | None = None) -> list[dict]:
        w, p = _in_scope("city", scope)
        extra, params = ("", []) if batch_id is None else (" AND id = ?", [int(batch_id)])
        rows = self._rows(f"SELECT {', '.join(_BATCH_COLS)} FROM ewaste_batches WHERE city = ?{extra}{w} ORDER BY id",
                          [city, *params, *p])
        for r in rows:
            r["day"] = _day(r["day"])
        return rows

    def ewaste_batch(self, batch_id: int, *, scope: Scope = None) -> dict | None:
        w, p = _in_scope("city", scope)
        rows = self._rows(f"SELECT {', '.join(_BATCH_COLS)} FROM ewaste_batches WHERE id = ?{w}", [int(batch_id), *p])
        if not rows:
            return None
        rows[0]["day"] = _day(rows[0]["day"])
        return rows[0]

    def ewaste_moves(self, *, city: str, batch_id: int | None = None, scope: Scope = None) -> list[dict]:
        w, p = _in_scope("city", scope)
        extra, params = ("", []) if batch_id is None else (" AND batch_id = ?", [int(batch_id)])
        return [_move(r) for r in self._rows(
            f"SELECT {', '.join(_MOVE_COLS)} FROM ewaste_moves WHERE city = ?{extra}{w} ORDER BY day, id",
            [city, *params, *p])]

    @staticmethod
    def _held(con, batch_id: int, handler: str) -> float:
        got = con.execute(
            "SELECT coalesce(sum(CASE WHEN to_handler = ? THEN kg_in ELSE 0 END), 0) "
            "- coalesce(sum(CASE WHEN from_handler = ? THEN kg_out ELSE 0 END), 0) "
            "FROM ewaste_moves WHERE batch_id = ?", [handler, handler, int(batch_id)]).fetchone()[0]
        return float(got or 0.0)

    def ewaste_holdings(self, batch_id: int) -> dict[str, float]:
        """What each handler holds of a batch now [kg] (handlers holding nothing left out)."""
        rows = self._rows(
            "SELECT h, sum(v) AS kg FROM ("
            " SELECT to_handler AS h, kg_in AS v FROM ewaste_moves WHERE batch_id = ? AND to_handler IS NOT NULL"
            " UNION ALL"
            " SELECT from_handler AS h, -kg_out AS v FROM ewaste_moves WHERE batch_id = ? AND from_handler IS NOT NULL"
            ") m GROUP BY h ORDER BY h", [int(batch_id), int(batch_id)])
        return {r["h"]: float(r["kg"]) for r in rows if abs(float(r["kg"])) > MASS_EPS}

    def add_ewaste_move(self, move: dict, *, actor: str, now: datetime) -> dict:
        """Append a ``transfer`` or ``process`` move. Inside the transaction: the sender must hold at least
        ``kg_out`` of the batch, else :class:`Conflict` naming the rule (``broken_chain`` when it holds
        nothing, ``more_than_held`` otherwise) and nothing is written."""
        with self._tx() as con:
            held = self._held(con, move["batch_id"], move["from_handler"])
            if held <= MASS_EPS:
                raise Conflict(f"broken chain: handler {move['from_handler']!r} does not hold batch "
                               f"{move['batch_id']}", field="from_handler",
                               details={"rule": "broken_chain", "held_kg": 0.0})
            if float(move["kg_out"]) > held + MASS_EPS:
                raise Conflict(f"mass created from nothing: handler {move['from_handler']!r} holds {held:g} kg of "
                               f"batch {move['batch_id']} and cannot pass on {float(move['kg_out']):g} kg",
                               field="kg", details={"rule": "more_than_held", "held_kg": held})
            mid = con.execute(
                "INSERT INTO ewaste_moves (city, batch_id, kind, day, from_handler, to_handler, kg_out, kg_in, details, "
                "created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                [move["city"], int(move["batch_id"]), move["kind"], move["day"], move["from_handler"],
                 move.get("to_handler"), float(move["kg_out"]), float(move["kg_in"]),
                 json.dumps(move.get("details") or {}, sort_keys=True), _naive(now), actor]).fetchone()[0]
        return _move(self._rows(f"SELECT {', '.join(_MOVE_COLS)} FROM ewaste_moves WHERE id = ?", [mid])[0])

    def ewaste_collected(self, *, city: str, scope: Scope = None) -> list[dict]:
        """Documented collection [kg] per year and EEE category (sum of batches collected)."""
        w, p = _in_scope("city", scope)
        return self._rows(f"SELECT CAST(extract(year FROM day) AS INTEGER) AS year, category, sum(kg) AS kg FROM ewaste_batches "
                          f"WHERE city = ?{w} GROUP BY ALL ORDER BY year, category", [city, *p])
