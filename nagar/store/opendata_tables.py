"""Store methods for the open-data catalogue: a city's published datasets and their settings, and the time
span of a city's observations (for exports streamed month by month).

Mixed into the SQL backends; plain SQL with bound values, one transaction per write. Times are naive UTC.
"""

from __future__ import annotations

from datetime import datetime, timezone

_COLS = ("city", "dataset", "enabled", "license", "frequency", "description", "updated_at", "updated_by")


def _naive(t: datetime) -> datetime:
    return t.astimezone(timezone.utc).replace(tzinfo=None) if t.tzinfo is not None else t


class OpenDataTables:
    """Requires ``self._tx()`` (write transaction context) and ``self._rows(sql, params)``."""

    def opendata_settings(self, *, city: str) -> list[dict]:
        return self._rows(f"SELECT {', '.join(_COLS)} FROM opendata_datasets WHERE city = ? ORDER BY dataset", [city])

    def put_opendata_setting(self, row: dict) -> None:
        values = [_naive(row[c]) if c == "updated_at" else row.get(c) for c in _COLS]
        with self._tx() as con:
            con.execute("DELETE FROM opendata_datasets WHERE city = ? AND dataset = ?", [row["city"], row["dataset"]])
            con.execute(f"INSERT INTO opendata_datasets ({', '.join(_COLS)}) VALUES ({', '.join('?' * len(_COLS))})",
                        values)

    def observation_span(self, *, city: str) -> tuple[datetime, datetime] | None:
        """(first, last) observation time of a city's stations, aware UTC; None without data."""
        rows = self._rows("SELECT min(o.time) AS first, max(o.time) AS last FROM observations o "
                          "JOIN cities c ON c.key = o.city_key WHERE c.id = ?", [city])
        if not rows or rows[0]["first"] is None:
            return None
        f, last = rows[0]["first"], rows[0]["last"]
        return (f.replace(tzinfo=timezone.utc) if f.tzinfo is None else f.astimezone(timezone.utc),
                last.replace(tzinfo=timezone.utc) if last.tzinfo is None else last.astimezone(timezone.utc))
