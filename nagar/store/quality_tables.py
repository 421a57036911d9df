"""Store methods for the data-quality tables: detected faults and operators' overrides.

Mixed into the SQL backends; bound values, one transaction per write, many rows through one registered
Arrow table. Every row carries its city and every read takes ``scope`` (None: all cities), filtered in
the query. Times are naive UTC in the tables and come back as UTC-aware datetimes.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pyarrow as pa

from nagar.core.tenancy import Scope

_FAULT_COLS = ("city", "station", "parameter", "time", "kind", "severity", "value", "detail", "detector",
               "detected_at")
_FAULT_TYPES = (pa.string(), pa.string(), pa.string(), pa.timestamp("us"), pa.string(), pa.string(), pa.float64(),
                pa.string(), pa.string(), pa.timestamp("us"))
_OVERRIDE_COLS = ("city", "station", "parameter", "time", "flag", "reason", "actor", "created_at")


def _naive(t: datetime) -> datetime:
    return t.astimezone(timezone.utc).replace(tzinfo=None) if t.tzinfo is not None else t


def _aware(t: datetime | None) -> datetime | None:
    if t is None:
        return None
    return t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t.astimezone(timezone.utc)


def _in_scope(column: str, scope: Scope) -> tuple[str, list]:
    if scope is None:
        return "", []
    return f" AND {column} IN (SELECT unnest(?::VARCHAR[]))", [sorted(scope)]


def _times(rows: list[dict], *cols: str) -> list[dict]:
    for r in rows:
        for c in cols:
            r[c] = _aware(r.get(c))
    return rows


class QualityTables:
    """Requires ``self._tx()`` (write transaction context) and ``self._rows(sql, params)``."""

    def add_quality_faults(self, rows: list[dict]) -> int:
        """Record faults; a fault already recorded for (station, parameter, time, kind) is kept as it was.
        Returns how many were new."""
        if not rows:
            return 0
        data = {c: pa.array([_naive(r[c]) if isinstance(r[c], datetime) else r[c] for r in rows], t)
                for c, t in zip(_FAULT_COLS, _FAULT_TYPES)}
        with self._tx() as con:
            before = con.execute("SELECT count(*) FROM quality_faults").fetchall()[0][0]
            con.register("_new_quality_faults", pa.table(data))
            try:
                con.execute(f"INSERT INTO quality_faults ({', '.join(_FAULT_COLS)}) "
                            f"SELECT {', '.join(_FAULT_COLS)} FROM _new_quality_faults "
                            "ON CONFLICT (station, parameter, time, kind) DO NOTHING")
            finally:
                try:
                    con.unregister("_new_quality_faults")
                except Exception:  # the statement failed: its error is the one to see
                    pass
            after = con.execute("SELECT count(*) FROM quality_faults").fetchall()[0][0]
        return int(after) - int(before)

    def quality_faults(self, *, city: str, station: str | None = None, parameter: str | None = None,
                       kind: str | None = None, start: datetime | None = None, end: datetime | None = None,
                       limit: int = 1000, offset: int = 0, scope: Scope = None) -> list[dict]:
        """Faults of a city (optionally one station / parameter / kind, times in [start, end)), newest
        first, each with ``overridden`` (the override's actor and reason, or None)."""
        where, params = ["f.city = ?"], [city]
        for col, val in (("f.station", station), ("f.parameter", parameter), ("f.kind", kind)):
            if val is not None:
                where.append(f"{col} = ?")
                params.append(val)
        if start is not None:
            where.append("f.time >= ?")
            params.append(_naive(start))
        if end is not None:
            where.append("f.time < ?")
            params.append(_naive(end))
        w, p = _in_scope("f.city", scope)
        rows = self._rows(
            f"""SELECT f.city, f.station, f.parameter, f.time, f.kind, f.severity, f.value, f.detail, f.detector,
                       f.detected_at, o.actor AS override_actor, o.reason AS override_reason,
                       o.created_at AS override_at
                FROM quality_faults f LEFT JOIN quality_overrides o
                  ON o.station = f.station AND o.parameter = f.parameter AND o.time = f.time
                WHERE {' AND '.join(where)} {w}
                ORDER BY f.time DESC, f.station, f.parameter, f.kind LIMIT ? OFFSET ?""",
            params + p + [int(limit), int(offset)])
        return _times(rows, "time", "detected_at", "override_at")

    def quality_fault_counts(self, *, city: str, start: datetime | None = None, end: datetime | None = None,
                             scope: Scope = None) -> list[dict]:
        """Per station and kind: faults (readings) in [start, end), how many are notices (severity
        ``notice``: recorded, the reading's flag left alone) and how many were overridden."""
        where, params = ["f.city = ?"], [city]
        if start is not None:
            where.append("f.time >= ?")
            params.append(_naive(start))
        if end is not None:
            where.append("f.time < ?")
            params.append(_naive(end))
        w, p = _in_scope("f.city", scope)
        rows = self._rows(
            f"""SELECT f.station, f.kind, count(*) AS n,
                       count(*) FILTER (WHERE f.severity = 'notice') AS notices, count(o.actor) AS overridden
                FROM quality_faults f LEFT JOIN quality_overrides o
                  ON o.station = f.station AND o.parameter = f.parameter AND o.time = f.time
                WHERE {' AND '.join(where)} {w} GROUP BY f.station, f.kind ORDER BY f.station, f.kind""",
            params + p)
        for r in rows:
            r["n"], r["notices"], r["overridden"] = int(r["n"]), int(r["notices"]), int(r["overridden"])
        return rows

    def put_quality_override(self, row: dict) -> None:
        """Record (or replace) an operator's verdict on one reading."""
        values = [_naive(row[c]) if isinstance(row[c], datetime) else row[c] for c in _OVERRIDE_COLS]
        upd = ", ".join(f"{c} = excluded.{c}" for c in _OVERRIDE_COLS[4:])
        with self._tx() as con:
            con.execute(f"INSERT INTO quality_overrides ({', '.join(_OVERRIDE_COLS)}) "
                        f"VALUES ({', '.join('?' * len(_OVERRIDE_COLS))}) "
                        f"ON CONFLICT (station, parameter, time) DO UPDATE SET {upd}", values)

    def quality_overrides(self, *, city: str | None = None, stations: list[str] | None = None,
                          start: datetime | None = None, end: datetime | None = None,
                          scope: Scope = None) -> list[dict]:
        where, params = ["true"], []
        if city is not None:
            where.append("city = ?")
            params.append(city)
        if stations is not None:
            where.append("station IN (SELECT unnest(?::VARCHAR[]))")
            params.append(list(stations))
        if start is not None:
            where.append("time >= ?")
            params.append(_naive(start))
        if end is not None:
            where.append("time < ?")
            params.append(_naive(end))
        w, p = _in_scope("city", scope)
        rows = self._rows(f"SELECT {', '.join(_OVERRIDE_COLS)} FROM quality_overrides WHERE {' AND '.join(where)} {w} "
                          "ORDER BY time, station, parameter", params + p)
        return _times(rows, "time", "created_at")
