"""Storage: the :class:`Store` protocol and its backends (DuckDB embedded by default, PostgreSQL when
``NAGAR_DATABASE_URL`` is set)."""

from __future__ import annotations

from nagar.core.settings import Settings

from .base import FLAGS, OBSERVATION_SCHEMA, Store, StoreStats, WriteCounts


def open_store(settings: Settings) -> Store:
    """Open the store the settings name: the PostgreSQL database at ``settings.database_url`` when it is
    set (``nagar.store.postgres``), else the embedded DuckDB file at ``settings.db``. Both apply their
    pending migrations on open."""
    if settings.database_url:
        from .postgres import PostgresStore

        return PostgresStore(settings.database_url)
    from .duckdb import DuckDBStore

    return DuckDBStore(settings.db)


__all__ = ["FLAGS", "OBSERVATION_SCHEMA", "Store", "StoreStats", "WriteCounts", "open_store"]
