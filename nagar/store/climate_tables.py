"""Store methods for the climate tables (activity data, a city's own emission factors, saved inventory
runs) and the monthly electricity sums the renewable share needs.

Mixed into the SQL backends; plain SQL with bound values, one transaction per write. Every row carries
its city, and every read takes ``scope`` (None: all cities) and filters inside the query. Times are
naive UTC.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

from nagar.core.tenancy import Scope

from .base import COUNTED_FLAGS, FLAGS

_ACTIVITY_COLS = ("id", "city", "year", "kind", "subsector", "item", "location", "quantity", "unit", "params",
                  "source", "note", "updated_at", "updated_by")
_ACTIVITY_KEY = ("city", "year", "kind", "subsector", "item", "location")
_FACTOR_COLS = ("id", "city", "kind", "item", "sector", "gas", "value", "unit", "year", "source", "note",
                "created_at", "created_by")
_RUN_COLS = ("id", "city", "year", "gwp", "basic_t", "basic_plus_t", "result", "created_at", "created_by")
_COUNTED_MAX = max(FLAGS.index(f) for f in COUNTED_FLAGS)


def _naive(t: datetime) -> datetime:
    return t.astimezone(timezone.utc).replace(tzinfo=None) if t.tzinfo is not None else t


def _in_scope(column: str, scope: Scope) -> tuple[str, list]:
    if scope is None:
        return "", []
    return f"AND {column} IN (SELECT unnest(?::VARCHAR[]))", [sorted(scope)]


def _activity(row: dict) -> dict:
    row["params"] = json.loads(row["params"] or "{}")
    return row


class ClimateTables:
    """Requires ``self._tx()`` (write transaction context) and ``self._rows(sql, params)``."""

    # activity data ------------------------------------------------------------------------------
    def upsert_climate_activity(self, rows: list[dict], *, actor: str, now: datetime) -> tuple[int, int]:
        """Insert or replace activity rows (key: city, year, kind, subsector, item, location) in one
        transaction. Returns ``(inserted, updated)``."""
        inserted = updated = 0
        with self._tx() as con:
            for r in rows:
                key = [r["city"], int(r["year"]), r["kind"], r["subsector"], r.get("item") or "",
                       r.get("location") or "in"]
                values = [r.get("quantity"), r.get("unit"), json.dumps(r.get("params") or {}, sort_keys=True),
                          r.get("source"), r.get("note"), _naive(now), actor]
                found = con.execute(
                    f"SELECT id FROM climate_activity WHERE {' AND '.join(c + ' = ?' for c in _ACTIVITY_KEY)}", key
                ).fetchone()
                if found is None:
                    con.execute(
                        f"INSERT INTO climate_activity ({', '.join(_ACTIVITY_KEY)}, quantity, unit, params, source, "
                        f"note, updated_at, updated_by) VALUES ({', '.join('?' * (len(_ACTIVITY_KEY) + 7))})",
                        key + values)
                    inserted += 1
                else:
                    con.execute("UPDATE climate_activity SET quantity = ?, unit = ?, params = ?, source = ?, note = ?, "
                                "updated_at = ?, updated_by = ? WHERE id = ?", values + [found[0]])
                    updated += 1
        return inserted, updated

    def climate_activity(self, *, city: str, year: int | None = None, max_year: int | None = None,
                         kind: str | None = None, scope: Scope = None) -> list[dict]:
        where, params = ["city = ?"], [city]
        if year is not None:
            where.append("year = ?")
            params.append(int(year))
        if max_year is not None:
            where.append("year <= ?")
            params.append(int(max_year))
        if kind is not None:
            where.append("kind = ?")
            params.append(kind)
        w, p = _in_scope("city", scope)
        rows = self._rows(f"SELECT {', '.join(_ACTIVITY_COLS)} FROM climate_activity WHERE {' AND '.join(where)} {w} "
                          "ORDER BY year, kind, subsector, item, location", params + p)
        return [_activity(r) for r in rows]

    def climate_activity_row(self, activity_id: int, *, scope: Scope = None) -> dict | None:
        w, p = _in_scope("city", scope)
        rows = self._rows(f"SELECT {', '.join(_ACTIVITY_COLS)} FROM climate_activity WHERE id = ? {w}",
                          [int(activity_id), *p])
        return _activity(rows[0]) if rows else None

    def delete_climate_activity(self, activity_id: int) -> bool:
        with self._tx() as con:
            n = con.execute("DELETE FROM climate_activity WHERE id = ?", [int(activity_id)]).fetchone()[0]
        return bool(n)

    def climate_years(self, *, city: str, scope: Scope = None) -> list[int]:
        w, p = _in_scope("city", scope)
        return [r["year"] for r in self._rows(
            f"SELECT DISTINCT year FROM climate_activity WHERE city = ? AND kind <> 'notation' {w} ORDER BY year",
            [city, *p])]

    # a city's own factors -----------------------------------------------------------------------
    def add_climate_factor(self, row: dict, *, actor: str, now: datetime) -> dict:
        cols = ("city", "kind", "item", "sector", "gas", "value", "unit", "year", "source", "note")
        with self._tx() as con:
            new_id = con.execute(
                f"INSERT INTO climate_factors ({', '.join(cols)}, created_at, created_by) "
                f"VALUES ({', '.join('?' * (len(cols) + 2))}) RETURNING id",
                [row.get(c) if c not in ("item", "sector", "gas") else (row.get(c) or "") for c in cols]
                + [_naive(now), actor]).fetchone()[0]
        return self._rows(f"SELECT {', '.join(_FACTOR_COLS)} FROM climate_factors WHERE id = ?", [new_id])[0]

    def climate_factors(self, *, city: str, kind: str | None = None, scope: Scope = None) -> list[dict]:
        where, params = ["city = ?"], [city]
        if kind is not None:
            where.append("kind = ?")
            params.append(kind)
        w, p = _in_scope("city", scope)
        return self._rows(f"SELECT {', '.join(_FACTOR_COLS)} FROM climate_factors WHERE {' AND '.join(where)} {w} "
                          "ORDER BY kind, item, sector, gas, year, id", params + p)

    # BAU drivers ------------------------------------------------------------------------------
    _DRIVER_RATES = ("population_growth", "gdp_growth", "intensity_change", "grid_change")

    def put_climate_drivers(self, row: dict, *, actor: str, now: datetime) -> dict:
        """Set (replace) a city's BAU drivers; each rate is a float or a {year: rate} dict."""
        rates = [json.dumps(row[k], sort_keys=True) for k in self._DRIVER_RATES]
        with self._tx() as con:
            con.execute("DELETE FROM climate_drivers WHERE city = ?", [row["city"]])
            con.execute(
                "INSERT INTO climate_drivers (city, population_growth, gdp_growth, intensity_change, grid_change, "
                "source, note, updated_at, updated_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [row["city"], *rates, row["source"], row.get("note"), _naive(now), actor])
        return self.climate_drivers(city=row["city"])  # type: ignore[return-value]

    def climate_drivers(self, *, city: str, scope: Scope = None) -> dict | None:
        w, p = _in_scope("city", scope)
        rows = self._rows(f"SELECT * FROM climate_drivers WHERE city = ? {w}", [city, *p])
        if not rows:
            return None
        out = dict(rows[0])
        for k in self._DRIVER_RATES:
            value = json.loads(out[k])
            out[k] = {int(y): r for y, r in value.items()} if isinstance(value, dict) else value
        return out

    # saved inventories --------------------------------------------------------------------------
    def add_inventory_run(self, row: dict, *, actor: str, now: datetime) -> dict:
        cols = ("city", "year", "gwp", "basic_t", "basic_plus_t", "result")
        with self._tx() as con:
            new_id = con.execute(
                f"INSERT INTO climate_inventory_runs ({', '.join(cols)}, created_at, created_by) "
                f"VALUES ({', '.join('?' * (len(cols) + 2))}) RETURNING id",
                [row[c] for c in cols] + [_naive(now), actor]).fetchone()[0]
        return self._rows("SELECT id, city, year, gwp, basic_t, basic_plus_t, created_at, created_by "
                          "FROM climate_inventory_runs WHERE id = ?", [new_id])[0]

    def inventory_runs(self, *, city: str, scope: Scope = None, limit: int = 50,
                       with_result: bool = False) -> list[dict]:
        w, p = _in_scope("city", scope)
        cols = _RUN_COLS if with_result else tuple(c for c in _RUN_COLS if c != "result")
        return self._rows(f"SELECT {', '.join(cols)} FROM climate_inventory_runs WHERE city = ? {w} "
                          "ORDER BY id DESC LIMIT ?", [city, *p, int(limit)])

    # metered electricity ------------------------------------------------------------------------
    def energy_monthly(self, *, city: str, parameters: list[str], start: datetime, end: datetime, tz: str,
                       scope: Scope = None) -> list[dict]:
        """Sum of each parameter's readings per local calendar month (``YYYY-MM`` in ``tz``) for the city's
        stations, readings in [start, end), valid or estimated only. Returns month, parameter, total, n."""
        w, p = _in_scope("c.id", scope)
        return self._rows(
            f"""SELECT strftime((o.time AT TIME ZONE 'UTC') AT TIME ZONE ?, '%Y-%m') AS month, p.key AS parameter,
                       sum(o.value) AS total, count(*) AS n
                FROM observations o JOIN parameters p ON p.code = o.parameter JOIN cities c ON c.key = o.city_key
                WHERE c.id = ? AND p.key IN (SELECT unnest(?::VARCHAR[])) AND o.time >= ? AND o.time < ?
                  AND o.flag <= {_COUNTED_MAX} {w}
                GROUP BY ALL ORDER BY month, parameter""",
            [tz, city, list(parameters), _naive(start), _naive(end), *p])
