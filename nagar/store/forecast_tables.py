"""Store methods for the forecast tables: trained models (metadata and skill) and issued forecasts.

Mixed into the SQL backends; bound values, one transaction per write. Every row carries its city and
every read takes ``scope`` (None: all cities), filtered in the query. Times are naive UTC in the tables
and come back as UTC-aware datetimes.
"""

from __future__ import annotations

import json
from datetime import datetime

import pyarrow as pa

from nagar.core.tenancy import Scope

from .quality_tables import _aware, _in_scope, _naive, _times

_MODEL_COLS = ("id", "city", "station", "parameter", "model", "trained_at", "train_start", "train_end", "n_samples",
               "seconds", "skill", "params")
_FC_COLS = ("city", "station", "parameter", "issued_at", "target_time", "horizon", "value", "standard",
            "category_key", "category", "model_id")
_FC_TYPES = (pa.string(), pa.string(), pa.string(), pa.timestamp("us"), pa.timestamp("us"), pa.int32(),
             pa.float64(), pa.string(), pa.string(), pa.string(), pa.int64())


def _model(row: dict) -> dict:
    row["skill"] = json.loads(row["skill"] or "{}")
    row["params"] = json.loads(row["params"] or "{}")
    return _times([row], "trained_at", "train_start", "train_end")[0]


class ForecastTables:
    """Requires ``self._tx()`` (write transaction context) and ``self._rows(sql, params)``."""

    def add_forecast_model(self, row: dict) -> dict:
        """Record one training run; returns it with its id."""
        cols = _MODEL_COLS[1:]
        values = []
        for c in cols:
            v = row.get(c)
            if c in ("skill", "params"):
                v = json.dumps(v or {}, sort_keys=True, default=str)
            elif isinstance(v, datetime):
                v = _naive(v)
            values.append(v)
        with self._tx() as con:
            new_id = con.execute(f"INSERT INTO forecast_models ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
                                 "RETURNING id", values).fetchall()[0][0]
        return self.forecast_model(int(new_id))

    def forecast_model(self, model_id: int, *, scope: Scope = None) -> dict | None:
        w, p = _in_scope("city", scope)
        rows = self._rows(f"SELECT {', '.join(_MODEL_COLS)} FROM forecast_models WHERE id = ? {w}", [int(model_id), *p])
        return _model(rows[0]) if rows else None

    def latest_forecast_models(self, *, city: str, parameter: str = "pm25", station: str | None = None,
                               scope: Scope = None) -> list[dict]:
        """The newest training run of each station of a city (or of one station)."""
        where, params = ["city = ?", "parameter = ?"], [city, parameter]
        if station is not None:
            where.append("station = ?")
            params.append(station)
        w, p = _in_scope("city", scope)
        rows = self._rows(
            f"""SELECT {', '.join(_MODEL_COLS)} FROM forecast_models
                WHERE id IN (SELECT max(id) FROM forecast_models WHERE {' AND '.join(where)} {w} GROUP BY station)
                ORDER BY station""", params + p)
        return [_model(r) for r in rows]

    def put_forecasts(self, rows: list[dict]) -> int:
        """Store issued forecasts (replacing a forecast of the same station, parameter, issue and target
        time). Returns the row count."""
        if not rows:
            return 0
        data = {c: pa.array([_naive(r.get(c)) if isinstance(r.get(c), datetime) else r.get(c) for r in rows], t)
                for c, t in zip(_FC_COLS, _FC_TYPES)}
        key = ("station", "parameter", "issued_at", "target_time")
        upd = ", ".join(f"{c} = excluded.{c}" for c in _FC_COLS if c not in key)
        with self._tx() as con:
            con.register("_new_forecasts", pa.table(data))
            try:
                con.execute(f"INSERT INTO forecasts ({', '.join(_FC_COLS)}) SELECT {', '.join(_FC_COLS)} "
                            f"FROM _new_forecasts ON CONFLICT ({', '.join(key)}) DO UPDATE SET {upd}")
            finally:
                try:
                    con.unregister("_new_forecasts")
                except Exception:  # the statement failed: its error is the one to see
                    pass
        return len(rows)

    def forecasts(self, *, city: str, station: str | None = None, parameter: str = "pm25",
                  issued_at: datetime | None = None, latest: bool = True, start: datetime | None = None,
                  end: datetime | None = None, scope: Scope = None, limit: int = 10000) -> list[dict]:
        """Forecast rows of a city (or station), by issue time then target time. ``latest``: only each
        station's newest issue; ``issued_at``: that issue; ``start``/``end`` bound the target time."""
        where, params = ["f.city = ?", "f.parameter = ?"], [city, parameter]
        if station is not None:
            where.append("f.station = ?")
            params.append(station)
        if issued_at is not None:
            where.append("f.issued_at = ?")
            params.append(_naive(issued_at))
        elif latest:
            where.append("f.issued_at = (SELECT max(g.issued_at) FROM forecasts g WHERE g.station = f.station "
                         "AND g.parameter = f.parameter)")
        if start is not None:
            where.append("f.target_time >= ?")
            params.append(_naive(start))
        if end is not None:
            where.append("f.target_time < ?")
            params.append(_naive(end))
        w, p = _in_scope("f.city", scope)
        rows = self._rows(f"SELECT {', '.join('f.' + c for c in _FC_COLS)} FROM forecasts f "
                          f"WHERE {' AND '.join(where)} {w} ORDER BY f.station, f.issued_at, f.target_time LIMIT ?",
                          params + p + [int(limit)])
        return _times(rows, "issued_at", "target_time")


__all__ = ["ForecastTables", "_aware"]
