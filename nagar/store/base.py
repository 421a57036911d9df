"""The one Store protocol every backend implements, and the shapes it exchanges.

The store speaks plain dicts for registry rows and Arrow tables for observations, so that it imports
nothing but ``nagar.core``. Observations handed to :meth:`Store.write_observations` are already
validated and in canonical units (see ``nagar.ingest.validate``); the store's job is to keep exactly one
row per (station, parameter, time), durably, and to aggregate inside the database.
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Iterable, Literal, Protocol, runtime_checkable

from nagar.core.tenancy import Scope

import pyarrow as pa

Aggregation = Literal["raw", "hour", "day"]

OBSERVATION_SCHEMA = pa.schema(
    [
        pa.field("station", pa.string(), nullable=False),
        pa.field("parameter", pa.string(), nullable=False),
        pa.field("time", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("value", pa.float64(), nullable=False),
        pa.field("unit", pa.string(), nullable=False),
        pa.field("flag", pa.string(), nullable=False),
    ]
)
"""Columns of a validated observation batch (time in UTC, value in the parameter's canonical unit)."""

WriteListener = Callable[[pa.Table], None]
"""Called after a committed observation write with the batch as written (OBSERVATION_SCHEMA columns)."""

_log = logging.getLogger("nagar.store")


class WriteListeners:
    """Observers of committed observation writes (alerts, fault detection, subscriptions).

    Backends call :meth:`_written` after the write transaction has committed, so a listener sees only
    durable data and can never make an acknowledged write fail: its exceptions are logged, not raised.
    Listeners run in the writer's thread; one that is slow should hand the batch to its own worker.
    """

    def on_write(self, listener: WriteListener) -> WriteListener:
        """Register ``listener`` (idempotent); returns it, so it can be used as a decorator."""
        listeners = self.__dict__.setdefault("_write_listeners", [])
        if listener not in listeners:
            listeners.append(listener)
        return listener

    def off_write(self, listener: WriteListener) -> None:
        listeners = self.__dict__.get("_write_listeners", [])
        if listener in listeners:
            listeners.remove(listener)

    def _written(self, batch: pa.Table) -> None:
        """Tell the listeners of ``batch``, or, inside an open ``store.transaction()`` of this thread,
        hold it until that transaction commits (dropped if it rolls back)."""
        held = self._held_writes()
        if held is not None:
            held.append(batch)
            return
        self._notify_written(batch)

    def _held_writes(self) -> list | None:
        """The list that collects this thread's writes until its open transaction commits, or None
        (no transaction open in this thread). Backends with re-entrant transactions override it."""
        return None

    def _after_commit(self, notice: Callable[[], None]) -> None:
        """Run ``notice`` now, or, inside an open ``store.transaction()`` of this thread, once that
        transaction commits (never if it rolls back): how listeners of other tables' writes (e.g.
        :meth:`nagar.store.water_tables.WaterTables.on_water_write`) hear only of durable writes."""
        held = self._held_writes()
        if held is not None:
            held.append(notice)
            return
        notice()

    def _notify_written(self, batch: pa.Table | Callable[[], None]) -> None:
        if callable(batch):  # a notice held by _after_commit (an Arrow table is not callable)
            try:
                batch()
            except Exception:
                _log.exception("deferred write notice %r failed", batch)
            return
        for listener in list(self.__dict__.get("_write_listeners", ())):
            try:
                listener(batch)
            except Exception:  # a listener must never undo an acknowledged write
                _log.exception("observation write listener %r failed", listener)


FLAGS = ("valid", "estimated", "suspect", "invalid")
"""Quality flags, in their stored code order (append only). 'suspect' and 'invalid' readings are kept
but excluded from aggregates and indices."""
COUNTED_FLAGS = ("valid", "estimated")


@dataclass
class WriteCounts:
    """What one write did: new rows, rows that replaced a stored (or earlier same-batch) reading."""

    inserted: int = 0
    updated: int = 0

    def __iadd__(self, other: "WriteCounts") -> "WriteCounts":
        self.inserted += other.inserted
        self.updated += other.updated
        return self


@dataclass
class StoreStats:
    cities: int
    stations: int
    observations: int
    first: datetime | None = None
    last: datetime | None = None
    extra: dict = field(default_factory=dict)


@runtime_checkable
class Store(Protocol):
    """Persistence for cities, stations and observations. One instance per process; thread-safe.

    Every read takes ``scope`` (see nagar.core.tenancy): ``None`` for all cities, else the set of city
    ids the caller may see; rows of other cities are never returned (filtered in the query)."""

    # registry -------------------------------------------------------------------------------
    def upsert_city(self, city: dict) -> bool:
        """Create or replace a city (keys: id, name, country, timezone, lat, lon, standard). True if new."""

    def get_city(self, city_id: str, *, scope: Scope = None) -> dict | None: ...

    def list_cities(self, *, scope: Scope = None) -> list[dict]: ...

    def upsert_station(self, station: dict) -> bool:
        """Create or replace a station (keys: id, city, name, lat, lon, parameters). True if new."""

    def get_station(self, station_id: str, *, scope: Scope = None) -> dict | None: ...

    def list_stations(self, *, city: str | None = None, scope: Scope = None) -> list[dict]: ...

    def existing_stations(self, ids: Iterable[str], *, scope: Scope = None) -> dict[str, str]:
        """Map each of ``ids`` that exists to its city id."""

    # observations ---------------------------------------------------------------------------
    def write_observations(self, batch: pa.Table, *, scope: Scope = None) -> WriteCounts:
        """Upsert a validated batch (``OBSERVATION_SCHEMA``); durable when it returns. A station outside
        ``scope`` refuses the whole batch as unknown."""

    def on_write(self, listener: WriteListener) -> WriteListener:
        """Call ``listener(batch)`` after every committed observation write (see :class:`WriteListeners`)."""

    def observations(
        self,
        *,
        stations: list[str] | None = None,
        city: str | None = None,
        parameters: list[str] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        aggregation: Aggregation = "raw",
        tz: str | None = None,
        include_flagged: bool = False,
        limit: int | None = None,
        scope: Scope = None,
    ) -> pa.Table:
        """Observations or their hourly/daily means, oldest first. Days are local calendar days of each
        station's city (or of ``tz`` when given)."""

    def hourly_windows(
        self, *, stations: list[str], parameters: list[str], start: datetime, end: datetime,
        scope: Scope = None,
    ) -> pa.Table:
        """Per station, parameter and hour in [start, end): the 1-h mean and the trailing 8-h and 24-h
        means of hourly means with the number of hours present in each window (for completeness rules)."""

    def latest_time(self, *, stations: list[str], scope: Scope = None) -> dict[str, datetime]:
        """Time of each station's newest valid observation."""

    def transaction(self) -> AbstractContextManager:
        """Several writes as one transaction (re-entrant); the write methods called inside join it.
        ``write_observations`` tells its write listeners when it returns, which inside a transaction is
        before the commit: keep observation writes outside."""
        ...

    def stats(self) -> StoreStats: ...

    def close(self) -> None: ...
