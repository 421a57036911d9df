"""Store methods for the funding tables (funds, instruments, candidate projects, plans, allocations, MRV).

Mixed into the SQL backends; plain SQL with bound values, one transaction per call. Times are naive
UTC. JSON-valued columns are parsed on the way out. Reads of city rows take a ``scope`` (None: all).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

from nagar.core.tenancy import Scope

_FUND_COLS = ("id", "name", "base_currency", "fx", "description", "updated_at")
_INSTRUMENT_COLS = ("id", "fund_id", "name", "kind", "currency", "cap", "sectors", "interest_rate", "tenor_years",
                    "grace_years", "max_share", "updated_at")
_PROJECT_COLS = ("id", "city", "name", "sector", "capital_cost", "currency", "annual_saving", "lifetime_years",
                 "start_year", "annual_abatement", "pm25", "water", "eligible_instruments", "requires", "excludes",
                 "mrv_metric", "status", "source", "updated_at")
_PLAN_COLS = ("id", "fund_id", "created_at", "actor", "status", "objective", "request", "result", "adopted_at")
_ALLOC_COLS = ("plan_id", "project_id", "city", "instrument_id", "amount_base", "amount", "currency")
_MRV_COLS = ("project_id", "city", "year", "metric", "value", "grid_factor", "recorded_at", "actor")
_PROJECT_DEFAULTS = {"annual_saving": 0.0, "pm25": 0.0, "water": 0.0}
_JSON = {"fx": "{}", "sectors": None, "eligible_instruments": "[]", "requires": "[]", "excludes": "[]",
         "request": "{}", "result": "{}"}


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _naive(t):
    if isinstance(t, datetime) and t.tzinfo is not None:
        return t.astimezone(timezone.utc).replace(tzinfo=None)
    return t


def _dump(col: str, v):
    if col in _JSON:
        return None if v is None and _JSON[col] is None else json.dumps(v if v is not None else json.loads(_JSON[col]),
                                                                       sort_keys=True)
    return _naive(v)


def _load(row: dict) -> dict:
    for k, v in row.items():
        if k in _JSON and isinstance(v, str):
            row[k] = json.loads(v)
        elif isinstance(v, datetime) and v.tzinfo is None:
            row[k] = v.replace(tzinfo=timezone.utc)
    return row


def _in_scope(column: str, scope: Scope) -> tuple[str, list]:
    if scope is None:
        return "", []
    return f" AND {column} IN (SELECT unnest(?::VARCHAR[]))", [sorted(scope)]


def _upsert_sql(table: str, cols: tuple, key: tuple) -> str:
    upd = ", ".join(f"{c} = excluded.{c}" for c in cols if c not in key)
    return (f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
            f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {upd}")


def _upsert_many(con, table: str, cols: tuple, key: tuple, values: list[list]) -> None:
    """Upsert many rows through one registered Arrow table (DuckDB's executemany costs ~4 ms a row)."""
    import pyarrow as pa

    name = f"_new_{table}"
    con.register(name, pa.table({c: pa.array([v[k] for v in values]) for k, c in enumerate(cols)}))
    try:
        upd = ", ".join(f"{c} = excluded.{c}" for c in cols if c not in key)
        con.execute(f"INSERT INTO {table} ({', '.join(cols)}) SELECT {', '.join(cols)} FROM {name} "
                    f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {upd}")
    finally:
        try:
            con.unregister(name)
        except Exception:  # the transaction failed: the error above is the one to see; rollback drops it
            pass


class FundingTables:
    """Requires ``self._tx()`` (write transaction context) and ``self._rows(sql, params)``."""

    # funds -------------------------------------------------------------------------------------
    def put_fund(self, row: dict) -> bool:
        """Create or replace a fund; True if it was new."""
        row = {**row, "updated_at": row.get("updated_at") or _now()}
        with self._tx() as con:
            new = con.execute("SELECT 1 FROM funding_funds WHERE id = ?", [row["id"]]).fetchone() is None
            con.execute(_upsert_sql("funding_funds", _FUND_COLS, ("id",)), [_dump(c, row.get(c)) for c in _FUND_COLS])
        return new

    def get_fund(self, fund_id: str) -> dict | None:
        rows = self._rows(f"SELECT {', '.join(_FUND_COLS)} FROM funding_funds WHERE id = ?", [fund_id])
        return _load(rows[0]) if rows else None

    def list_funds(self) -> list[dict]:
        return [_load(r) for r in self._rows(f"SELECT {', '.join(_FUND_COLS)} FROM funding_funds ORDER BY id")]

    # instruments -------------------------------------------------------------------------------
    def put_instrument(self, row: dict) -> bool:
        row = {**row, "updated_at": row.get("updated_at") or _now()}
        with self._tx() as con:
            new = con.execute("SELECT 1 FROM funding_instruments WHERE id = ?", [row["id"]]).fetchone() is None
            con.execute(_upsert_sql("funding_instruments", _INSTRUMENT_COLS, ("id",)),
                        [_dump(c, row.get(c)) for c in _INSTRUMENT_COLS])
        return new

    def get_instrument(self, instrument_id: str) -> dict | None:
        rows = self._rows(f"SELECT {', '.join(_INSTRUMENT_COLS)} FROM funding_instruments WHERE id = ?",
                          [instrument_id])
        return _load(rows[0]) if rows else None

    def list_instruments(self, *, fund_id: str | None = None) -> list[dict]:
        if fund_id is None:
            rows = self._rows(f"SELECT {', '.join(_INSTRUMENT_COLS)} FROM funding_instruments ORDER BY id")
        else:
            rows = self._rows(f"SELECT {', '.join(_INSTRUMENT_COLS)} FROM funding_instruments WHERE fund_id = ? "
                              "ORDER BY id", [fund_id])
        return [_load(r) for r in rows]

    def delete_instrument(self, instrument_id: str) -> bool:
        with self._tx() as con:
            n = con.execute("DELETE FROM funding_instruments WHERE id = ? RETURNING id", [instrument_id]).fetchall()
        return bool(n)

    # projects ----------------------------------------------------------------------------------
    def put_projects(self, rows: list[dict]) -> int:
        """Create or replace candidate projects in one transaction; returns how many were new. A
        replaced project keeps its status (candidate / funded) unless the row names one."""
        if not rows:
            return 0
        now = _now()
        ids = [r["id"] for r in rows]
        with self._tx() as con:
            existing = {r[0]: r[1] for r in con.execute(
                "SELECT id, status FROM funding_projects WHERE list_contains(?, id)", [ids]).fetchall()}
            values = []
            for r in rows:
                r = {**{k: v for k, v in _PROJECT_DEFAULTS.items() if r.get(k) is None}, **{
                    k: v for k, v in r.items() if v is not None}, "updated_at": now,
                     "status": r.get("status") or existing.get(r["id"], "candidate")}
                values.append([_dump(c, r.get(c)) for c in _PROJECT_COLS])
            _upsert_many(con, "funding_projects", _PROJECT_COLS, ("id",), values)
        return len(set(ids) - set(existing))

    def get_project(self, project_id: str, *, scope: Scope = None) -> dict | None:
        w, p = _in_scope("city", scope)
        rows = self._rows(f"SELECT {', '.join(_PROJECT_COLS)} FROM funding_projects WHERE id = ?{w}", [project_id, *p])
        return _load(rows[0]) if rows else None

    def list_projects(self, *, city: str | None = None, sector: str | None = None, status: str | None = None,
                      scope: Scope = None) -> list[dict]:
        where, params = ["true"], []
        for col, v in (("city", city), ("sector", sector), ("status", status)):
            if v is not None:
                where.append(f"{col} = ?")
                params.append(v)
        w, p = _in_scope("city", scope)
        rows = self._rows(f"SELECT {', '.join(_PROJECT_COLS)} FROM funding_projects WHERE {' AND '.join(where)}{w} "
                          "ORDER BY city, id", params + p)
        return [_load(r) for r in rows]

    def delete_project(self, project_id: str) -> bool:
        with self._tx() as con:
            gone = con.execute("DELETE FROM funding_projects WHERE id = ? RETURNING id", [project_id]).fetchall()
        return bool(gone)

    # plans and allocations ---------------------------------------------------------------------
    def save_plan(self, row: dict) -> None:
        with self._tx() as con:
            con.execute(f"INSERT INTO funding_plans ({', '.join(_PLAN_COLS)}) "
                        f"VALUES ({', '.join('?' * len(_PLAN_COLS))})",
                        [_dump(c, row.get(c)) for c in _PLAN_COLS])

    def get_plan(self, plan_id: str) -> dict | None:
        rows = self._rows(f"SELECT {', '.join(_PLAN_COLS)} FROM funding_plans WHERE id = ?", [plan_id])
        return _load(rows[0]) if rows else None

    def list_plans(self, *, fund_id: str | None = None, limit: int = 50) -> list[dict]:
        cols = [c for c in _PLAN_COLS if c != "result"]
        if fund_id is None:
            rows = self._rows(f"SELECT {', '.join(cols)} FROM funding_plans ORDER BY created_at DESC LIMIT ?", [limit])
        else:
            rows = self._rows(f"SELECT {', '.join(cols)} FROM funding_plans WHERE fund_id = ? "
                              "ORDER BY created_at DESC LIMIT ?", [fund_id, limit])
        return [_load(r) for r in rows]

    def adopt_plan(self, plan_id: str, allocations: list[dict], *, now: datetime | None = None) -> None:
        """Record a plan's allocations and mark its projects funded, in one transaction."""
        now = _naive(now) or _now()
        with self._tx() as con:
            con.execute("DELETE FROM funding_allocations WHERE plan_id = ?", [plan_id])
            if allocations:
                _upsert_many(con, "funding_allocations", _ALLOC_COLS, ("plan_id", "project_id", "instrument_id"),
                             [[a[c] for c in _ALLOC_COLS] for a in allocations])
                con.execute("UPDATE funding_projects SET status = 'funded', updated_at = ? WHERE list_contains(?, id)",
                            [now, sorted({a["project_id"] for a in allocations})])
            con.execute("UPDATE funding_plans SET adopted_at = ? WHERE id = ?", [now, plan_id])

    def list_allocations(self, *, project_id: str | None = None, plan_id: str | None = None,
                         scope: Scope = None) -> list[dict]:
        where, params = ["true"], []
        for col, v in (("project_id", project_id), ("plan_id", plan_id)):
            if v is not None:
                where.append(f"{col} = ?")
                params.append(v)
        w, p = _in_scope("city", scope)
        return self._rows(f"SELECT {', '.join(_ALLOC_COLS)} FROM funding_allocations WHERE {' AND '.join(where)}{w} "
                          "ORDER BY plan_id, project_id, instrument_id", params + p)

    # monitoring (MRV) --------------------------------------------------------------------------
    def put_mrv(self, rows: list[dict]) -> int:
        """Create or replace monitored values (one per project, year and metric); returns rows written."""
        if not rows:
            return 0
        now = _now()
        with self._tx() as con:
            _upsert_many(con, "funding_mrv", _MRV_COLS, ("project_id", "year", "metric"),
                         [[_dump(c, {**r, "recorded_at": r.get("recorded_at") or now}.get(c)) for c in _MRV_COLS]
                          for r in rows])
        return len(rows)

    def list_mrv(self, *, project_id: str | None = None, city: str | None = None, scope: Scope = None) -> list[dict]:
        where, params = ["true"], []
        for col, v in (("project_id", project_id), ("city", city)):
            if v is not None:
                where.append(f"{col} = ?")
                params.append(v)
        w, p = _in_scope("city", scope)
        return [_load(r) for r in self._rows(
            f"SELECT {', '.join(_MRV_COLS)} FROM funding_mrv WHERE {' AND '.join(where)}{w} "
            "ORDER BY project_id, year, metric", params + p)]
