"""Schema migrations, applied in order at start-up; ``schema_version`` records the last applied.

Never edit a released migration: add a new one. (Migration 1 was reshaped before any release.)

Observations are stored with integer codes only (city, station, parameter, flag): in a file-backed
DuckDB every string column costs about 0.12 s per million rows to compress on insert, so the four
string columns of a naive layout made bulk ingest ~8x slower than integers (measured 0.49 s vs
0.06 s per million rows). Names and units come back through the small dimension tables.
"""

MIGRATIONS: list[tuple[int, list[str]]] = [
    (
        1,
        [
            "CREATE SEQUENCE city_key START 1",
            """CREATE TABLE cities (
                id VARCHAR PRIMARY KEY,
                key INTEGER NOT NULL UNIQUE DEFAULT nextval('city_key'),
                name VARCHAR NOT NULL,
                country VARCHAR NOT NULL,
                timezone VARCHAR NOT NULL,
                lat DOUBLE NOT NULL,
                lon DOUBLE NOT NULL,
                standard VARCHAR
            )""",
            "CREATE SEQUENCE station_key START 1",
            """CREATE TABLE stations (
                key INTEGER PRIMARY KEY,
                id VARCHAR NOT NULL UNIQUE,
                city VARCHAR NOT NULL REFERENCES cities (id),
                name VARCHAR NOT NULL,
                lat DOUBLE,
                lon DOUBLE,
                parameters VARCHAR NOT NULL DEFAULT '[]',
                source VARCHAR
            )""",
            # filled from nagar.core.units.PARAMETERS and nagar.store.base.FLAGS at every start
            """CREATE TABLE parameters (
                code SMALLINT PRIMARY KEY,
                key VARCHAR NOT NULL UNIQUE,
                name VARCHAR NOT NULL,
                unit VARCHAR NOT NULL
            )""",
            "CREATE TABLE flags (code UTINYINT PRIMARY KEY, name VARCHAR NOT NULL UNIQUE)",
            # one row per (station_key, parameter, time); uniqueness is kept by the single write path
            # (UPDATE + anti-join INSERT in one transaction) rather than an ART index, which made bulk
            # upserts ~7x slower (measured: 10 M rows 10 s with a primary key, 1.3 s without).
            """CREATE TABLE observations (
                city_key INTEGER NOT NULL,
                station_key INTEGER NOT NULL,
                parameter SMALLINT NOT NULL,
                time TIMESTAMP NOT NULL,
                value DOUBLE NOT NULL,
                flag UTINYINT NOT NULL DEFAULT 0
            )""",
        ],
    ),
    (
        2,
        [
            # security: accounts, per-city role grants, API keys, device keys, replay nonces, revoked
            # tokens and the hash-chained audit log
            "ALTER TABLE cities ADD COLUMN open_data BOOLEAN DEFAULT false",
            "CREATE SEQUENCE user_id START 1",
            """CREATE TABLE users (
                id INTEGER PRIMARY KEY DEFAULT nextval('user_id'),
                username VARCHAR NOT NULL UNIQUE,
                password_hash VARCHAR NOT NULL,
                platform_admin BOOLEAN NOT NULL DEFAULT false,
                disabled BOOLEAN NOT NULL DEFAULT false,
                failed_logins INTEGER NOT NULL DEFAULT 0,
                locked_until TIMESTAMP,
                password_changed_at TIMESTAMP NOT NULL,
                created_at TIMESTAMP NOT NULL
            )""",
            """CREATE TABLE grants (
                user_id INTEGER NOT NULL,
                city VARCHAR NOT NULL,
                role VARCHAR NOT NULL,
                PRIMARY KEY (user_id, city)
            )""",
            """CREATE TABLE api_keys (
                id VARCHAR PRIMARY KEY,
                user_id INTEGER NOT NULL,
                name VARCHAR NOT NULL,
                secret_hash VARCHAR NOT NULL,
                created_at TIMESTAMP NOT NULL,
                expires_at TIMESTAMP,
                revoked_at TIMESTAMP,
                last_used_at TIMESTAMP
            )""",
            """CREATE TABLE device_keys (
                id VARCHAR PRIMARY KEY,
                station VARCHAR NOT NULL,
                created_by INTEGER,
                created_at TIMESTAMP NOT NULL,
                revoked_at TIMESTAMP
            )""",
            """CREATE TABLE nonces (
                key_id VARCHAR NOT NULL,
                nonce VARCHAR NOT NULL,
                seen_at TIMESTAMP NOT NULL,
                PRIMARY KEY (key_id, nonce)
            )""",
            "CREATE TABLE revoked_tokens (jti VARCHAR PRIMARY KEY, expires_at TIMESTAMP NOT NULL)",
            """CREATE TABLE audit_log (
                seq BIGINT PRIMARY KEY,
                time TIMESTAMP NOT NULL,
                actor VARCHAR NOT NULL,
                action VARCHAR NOT NULL,
                city VARCHAR,
                target VARCHAR,
                details VARCHAR NOT NULL,
                prev_hash VARCHAR NOT NULL,
                hash VARCHAR NOT NULL
            )""",
        ],
    ),
]


def _domain_migrations() -> list[tuple[int, list[str]]]:
    """Migrations kept beside the store per domain (``nagar/store/schema_<domain>.py``, each defining
    ``MIGRATIONS = [(number, [sql, ...]), ...]``), so that domains never edit one shared list.
    Numbers are reserved in docs/ARCHITECTURE.md: 3-9 climate, 10-19 funding."""
    import importlib
    import pkgutil

    import nagar.store as pkg

    out = []
    for mod in pkgutil.iter_modules(pkg.__path__):
        if mod.name.startswith("schema_"):
            out.extend(importlib.import_module(f"nagar.store.{mod.name}").MIGRATIONS)
    return out


MIGRATIONS = sorted(MIGRATIONS + _domain_migrations(), key=lambda m: m[0])
_numbers = [n for n, _ in MIGRATIONS]
assert len(_numbers) == len(set(_numbers)), f"two migrations share a number: {_numbers}"
