"""The one settings object. Every field can be set from the environment (``NAGAR_<FIELD>``)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, Field


class Settings(BaseModel):
    db: Path = Field(Path("data/nagar.duckdb"), description="Path of the embedded DuckDB file (NAGAR_DB).")
    host: str = Field("127.0.0.1", description="Address the API and dashboard listen on (NAGAR_HOST).")
    port: int = Field(8000, description="Port the API and dashboard listen on (NAGAR_PORT).")
    max_batch_rows: int = Field(50_000, description="Largest observation batch one HTTP request may carry.")
    max_future_minutes: int = Field(
        10, description="Observations stamped further than this into the future are rejected (clock skew)."
    )
    default_standard: str = Field("us-epa-2024", description="AQI standard used when a city names none.")
    standards_dir: Path | None = Field(
        None, description="Folder of extra AQI standard tables (JSON) a city loads (NAGAR_STANDARDS_DIR)."
    )
    tile_url: str | None = Field(
        None,
        description="Optional map tile URL template for the dashboard; none by default (closed networks).",
    )

    @classmethod
    def from_env(cls, **overrides) -> "Settings":
        values: dict = {}
        for name in cls.model_fields:
            env = os.environ.get(f"NAGAR_{name.upper()}")
            if env is not None and env != "":
                values[name] = env
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()
