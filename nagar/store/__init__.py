"""Storage: the :class:`Store` protocol and its backends (DuckDB embedded by default)."""

from __future__ import annotations

from nagar.core.settings import Settings

from .base import FLAGS, OBSERVATION_SCHEMA, Store, StoreStats, WriteCounts


def open_store(settings: Settings) -> Store:
    """Open the store the settings name (today: the embedded DuckDB file at ``settings.db``)."""
    from .duckdb import DuckDBStore

    return DuckDBStore(settings.db)


__all__ = ["FLAGS", "OBSERVATION_SCHEMA", "Store", "StoreStats", "WriteCounts", "open_store"]
