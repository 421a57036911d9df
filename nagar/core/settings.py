"""The one settings object. Every field can be set from the environment (``NAGAR_<FIELD>``)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator


class Settings(BaseModel):
    db: Path = Field(Path("data/nagar.duckdb"), description="Path of the embedded DuckDB file (NAGAR_DB).")
    database_url: str | None = Field(
        None,
        description="PostgreSQL connection URL (NAGAR_DATABASE_URL), e.g. postgresql://nagar:PASSWORD@db:5432/nagar "
        "or a libpq key=value string. When set, the store is that PostgreSQL database (14 or newer) and `db` is "
        "not used for data; when unset, the embedded DuckDB file at `db`.",
        repr=False,
    )
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

    secret_key: str | None = Field(
        None,
        description="Key that signs tokens and derives device secrets (NAGAR_SECRET_KEY). When unset, "
        "`nagar serve` keeps a random one in a 0600 file beside the database.",
        repr=False,
    )
    access_token_minutes: int = Field(15, description="Lifetime of a bearer access token.")
    refresh_token_days: int = Field(7, description="Lifetime of a refresh token and of a dashboard session.")
    login_max_failures: int = Field(5, description="Failed logins before an account is locked.")
    login_lock_minutes: int = Field(15, description="First lock-out; doubles with every further failure.")
    device_max_skew_s: int = Field(300, description="Largest age (or clock skew) of a signed device request.")
    cookie_secure: Literal["auto", "true", "false"] = Field(
        "auto", description="Mark the dashboard's cookies (session, CSRF, sign-in form) Secure "
        "(NAGAR_COOKIE_SECURE): `auto` (default) when the request reached Nagar over HTTPS, directly or as "
        "reported by a peer in `trusted_proxies` (X-Forwarded-Proto), and not over plain HTTP, where a browser "
        "would drop a Secure cookie and sign-in could not work; `true` always (a browser then signs in only "
        "over https:// or on http://localhost); `false` never.")
    max_body_bytes: int = Field(64 * 2**20, description="Largest request body accepted [bytes].")
    ip_rate_per_s: float = Field(50.0, description="Sustained requests per second allowed from one IP.")
    ip_burst: int = Field(200, description="Burst of requests allowed from one IP.")
    key_rate_per_s: float = Field(20.0, description="Sustained requests per second per API key or user.")
    key_burst: int = Field(100, description="Burst of requests per API key or user.")
    cors_origins: list[str] = Field(default_factory=list, description="Origins allowed by CORS; empty: CORS off.")
    trusted_proxies: list[str] = Field(default_factory=list,
                                       description="Peers whose X-Forwarded-For is believed.")
    rate_limit_redis: str | None = Field(
        None, description="Redis URL (redis://host:6379/0) holding the rate-limit buckets, so that every Nagar "
        "process using it shares one limit per address and account; unset: each process keeps its own.")
    egress_allow_private: bool = Field(
        False, description="Let webhooks and notifications go to loopback/private/link-local addresses "
        "(NAGAR_EGRESS_ALLOW_PRIVATE); off, they go only to public addresses (see nagar.security.egress).")
    opentelemetry: bool = Field(
        False, description="FastAPI's native OpenTelemetry spans and metrics for every request "
        "(NAGAR_OPENTELEMETRY; needs an OpenTelemetry SDK configured in the process). Off, requests skip its "
        "per-request provider look-up (three environment reads each).")

    @field_validator("cookie_secure", mode="before")
    @classmethod
    def _cookie_secure(cls, v):
        """``auto``, or a boolean in any of the usual spellings (true/false, 1/0, yes/no, on/off)."""
        if isinstance(v, bool):
            return "true" if v else "false"
        text = str(v).strip().lower()
        if text in ("true", "1", "yes", "on"):
            return "true"
        if text in ("false", "0", "no", "off"):
            return "false"
        if text == "auto":
            return "auto"
        raise ValueError(f"NAGAR_COOKIE_SECURE must be auto, true or false, not {v!r}")

    @field_validator("rate_limit_redis")
    @classmethod
    def _rate_limit_redis(cls, v):
        """A Redis URL redis-py accepts (checked here, so a typo is a message at start-up)."""
        if v is None or not str(v).strip():
            return None
        if not str(v).startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"must be a redis://, rediss:// or unix:// URL, not {v!r}")
        return v

    @classmethod
    def from_env(cls, **overrides) -> "Settings":
        values: dict = {}
        for name in cls.model_fields:
            env = os.environ.get(f"NAGAR_{name.upper()}")
            if env is not None and env != "":
                field = cls.model_fields[name]
                if "list" in str(field.annotation):
                    values[name] = [x.strip() for x in env.split(",") if x.strip()]
                else:
                    values[name] = env
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()
