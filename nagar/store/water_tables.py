"""Store methods for the water-quality tables: stations, lab samples, a city's own objective sets.

Mixed into the SQL backends; plain SQL with bound values, one transaction per write, every read scoped
by city inside the query (``scope``: None = all cities). Times are naive UTC.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from nagar.core.tenancy import Scope

_log = logging.getLogger("nagar.store")

_STATION_COLS = ("id", "city", "name", "water_body", "lat", "lon", "source", "updated_at", "updated_by")
_SAMPLE_COLS = ("station", "parameter", "time", "value", "qualifier", "source")


def _naive(t: datetime) -> datetime:
    return t.astimezone(timezone.utc).replace(tzinfo=None) if t.tzinfo is not None else t


def _in_scope(column: str, scope: Scope) -> tuple[str, list]:
    if scope is None:
        return "", []
    return f"AND {column} IN (SELECT unnest(?::VARCHAR[]))", [sorted(scope)]


def _utc(row: dict, *cols: str) -> dict:
    for c in cols:
        if row.get(c) is not None and row[c].tzinfo is None:
            row[c] = row[c].replace(tzinfo=timezone.utc)
    return row


class WaterTables:
    """Requires ``self._tx()`` (write transaction context) and ``self._rows(sql, params)``."""

    # listeners ----------------------------------------------------------------------------------
    def on_water_write(self, listener) -> None:
        """Call ``listener(cities, stations)`` after every committed write of water stations or samples:
        ``cities`` the cities named (station writes; empty for samples, whose rows name stations only),
        ``stations`` the station ids written, as a mapping of each id to the parameters whose samples were
        written (an empty set for a station write). Inside an open ``store.transaction()`` the call waits
        for its commit and is never made if it rolls back. Like :meth:`WriteListeners.on_write` for
        observations: a listener's exception is logged, never raised (the write is already durable).
        Idempotent."""
        listeners = self.__dict__.setdefault("_water_listeners", [])
        if listener not in listeners:
            listeners.append(listener)

    def off_water_write(self, listener) -> None:
        listeners = self.__dict__.get("_water_listeners", [])
        if listener in listeners:
            listeners.remove(listener)

    def _water_written(self, cities: set[str], stations: dict[str, frozenset[str]]) -> None:
        after_commit = getattr(self, "_after_commit", None)  # WriteListeners: held until the commit
        if after_commit is not None:
            after_commit(lambda: self._tell_water(cities, stations))
        else:
            self._tell_water(cities, stations)

    def _tell_water(self, cities: set[str], stations: dict[str, frozenset[str]]) -> None:
        for listener in list(self.__dict__.get("_water_listeners", ())):
            try:
                listener(cities, stations)
            except Exception:  # a listener must never undo an acknowledged write
                _log.exception("water write listener %r failed", listener)

    # stations -----------------------------------------------------------------------------------
    def upsert_water_stations(self, rows: list[dict], *, actor: str, now: datetime) -> tuple[int, int]:
        """Insert or replace water stations (key: id) in one transaction; a station never changes city.
        Returns ``(inserted, updated)``; raises ValueError naming a station that belongs to another city."""
        inserted = updated = 0
        with self._tx() as con:
            for r in rows:
                found = con.execute("SELECT city FROM water_stations WHERE id = ?", [r["id"]]).fetchone()
                values = [r.get("name") or r["id"], r.get("water_body") or "", r.get("lat"), r.get("lon"),
                          r.get("source"), _naive(now), actor]
                if found is None:
                    con.execute(f"INSERT INTO water_stations ({', '.join(_STATION_COLS)}) "
                                f"VALUES ({', '.join('?' * len(_STATION_COLS))})", [r["id"], r["city"], *values])
                    inserted += 1
                else:
                    if found[0] != r["city"]:
                        raise ValueError(f"water station {r['id']!r} belongs to {found[0]!r}")
                    con.execute("UPDATE water_stations SET name = ?, water_body = ?, lat = ?, lon = ?, source = ?, "
                                "updated_at = ?, updated_by = ? WHERE id = ?", [*values, r["id"]])
                    updated += 1
        self._water_written({r["city"] for r in rows}, {r["id"]: frozenset() for r in rows})
        return inserted, updated

    def water_stations(self, *, city: str | None = None, ids: list[str] | None = None,
                       scope: Scope = None) -> list[dict]:
        where, params = ["true"], []
        if city is not None:
            where.append("city = ?")
            params.append(city)
        if ids is not None:
            where.append("id IN (SELECT unnest(?::VARCHAR[]))")
            params.append(list(ids))
        w, p = _in_scope("city", scope)
        rows = self._rows(f"SELECT {', '.join(_STATION_COLS)} FROM water_stations WHERE {' AND '.join(where)} {w} "
                          "ORDER BY id", params + p)
        return [_utc(r, "updated_at") for r in rows]

    # samples ------------------------------------------------------------------------------------
    def upsert_water_samples(self, rows: list[dict]) -> tuple[int, int]:
        """Insert or replace samples (key: station, parameter, time) in one transaction; values already in
        canonical units. Returns ``(inserted, updated)``. Set-based: the batch is registered as an Arrow
        relation, then one UPDATE ... FROM and one INSERT ... WHERE NOT EXISTS (row-by-row upserts into the
        keyed table were ~7 ms a row on DuckDB)."""
        import pyarrow as pa

        if not rows:
            return 0, 0
        keyed = {}
        for r in rows:  # the last row of a key in the batch wins
            keyed[(r["station"], r["parameter"], _naive(r["time"]))] = r
        stage = pa.table({
            "station": pa.array([k[0] for k in keyed], pa.string()),
            "parameter": pa.array([k[1] for k in keyed], pa.string()),
            "time": pa.array([k[2] for k in keyed], pa.timestamp("us")),
            "value": pa.array([float(r["value"]) for r in keyed.values()], pa.float64()),
            "qualifier": pa.array([r.get("qualifier") or "" for r in keyed.values()], pa.string()),
            "source": pa.array([r.get("source") for r in keyed.values()], pa.string()),
        })
        with self._tx() as con:
            con.register("_wstage", stage)
            try:
                updated = con.execute(
                    "UPDATE water_samples SET value = s.value, qualifier = s.qualifier, source = s.source "
                    "FROM _wstage s WHERE water_samples.station = s.station AND water_samples.parameter = s.parameter "
                    "AND water_samples.time = s.time").fetchone()[0]
                inserted = con.execute(
                    "INSERT INTO water_samples (station, parameter, time, value, qualifier, source) "
                    "SELECT s.station, s.parameter, s.time, s.value, s.qualifier, s.source FROM _wstage s "
                    "WHERE NOT EXISTS (SELECT 1 FROM water_samples w WHERE w.station = s.station "
                    "AND w.parameter = s.parameter AND w.time = s.time)").fetchone()[0]
            finally:
                con.unregister("_wstage")
        written: dict[str, set[str]] = {}
        for station, parameter, _ in keyed:
            written.setdefault(station, set()).add(parameter)
        self._water_written(set(), {s: frozenset(p) for s, p in written.items()})
        return int(inserted), int(updated) + (len(rows) - len(keyed))

    def latest_water_samples(self, *, city: str) -> list[dict]:
        """The newest sample of every (station, parameter) of the city's water stations (one query; the
        NGSI-LD water views are built from it), ordered by station and parameter."""
        rows = self._rows(
            f"SELECT {', '.join(_SAMPLE_COLS)} FROM (SELECT {', '.join('s.' + c for c in _SAMPLE_COLS)}, "
            "row_number() OVER (PARTITION BY s.station, s.parameter ORDER BY s.time DESC) AS rn "
            "FROM water_samples s JOIN water_stations ws ON ws.id = s.station WHERE ws.city = ?) t "
            "WHERE rn = 1 ORDER BY station, parameter", [city])
        return [_utc(r, "time") for r in rows]

    def water_samples(self, *, stations: list[str], parameters: list[str] | None = None,
                      start: datetime | None = None, end: datetime | None = None,
                      scope: Scope = None) -> list[dict]:
        """Samples of ``stations`` in [start, end), oldest first (rows of stations outside ``scope`` never)."""
        where, params = ["s.station IN (SELECT unnest(?::VARCHAR[]))"], [list(stations)]
        if parameters is not None:
            where.append("s.parameter IN (SELECT unnest(?::VARCHAR[]))")
            params.append(list(parameters))
        if start is not None:
            where.append("s.time >= ?")
            params.append(_naive(start))
        if end is not None:
            where.append("s.time < ?")
            params.append(_naive(end))
        w, p = _in_scope("ws.city", scope)
        rows = self._rows(
            f"SELECT {', '.join('s.' + c for c in _SAMPLE_COLS)} FROM water_samples s "
            f"JOIN water_stations ws ON ws.id = s.station WHERE {' AND '.join(where)} {w} "
            "ORDER BY s.time, s.station, s.parameter", params + p)
        return [_utc(r, "time") for r in rows]

    # a city's own objective sets -----------------------------------------------------------------
    def put_water_objective_set(self, *, city: str, set_id: str, body: str, actor: str, now: datetime) -> bool:
        """Create or replace a city's objective set; True if new."""
        with self._tx() as con:
            found = con.execute("SELECT 1 FROM water_objective_sets WHERE city = ? AND id = ?",
                                [city, set_id]).fetchone()
            if found is None:
                con.execute("INSERT INTO water_objective_sets (city, id, body, updated_at, updated_by) "
                            "VALUES (?, ?, ?, ?, ?)", [city, set_id, body, _naive(now), actor])
            else:
                con.execute("UPDATE water_objective_sets SET body = ?, updated_at = ?, updated_by = ? "
                            "WHERE city = ? AND id = ?", [body, _naive(now), actor, city, set_id])
        return found is None

    def water_objective_sets(self, *, city: str, scope: Scope = None) -> list[dict]:
        w, p = _in_scope("city", scope)
        return self._rows(f"SELECT city, id, body, updated_at, updated_by FROM water_objective_sets "
                          f"WHERE city = ? {w} ORDER BY id", [city, *p])
