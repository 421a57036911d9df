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
]
