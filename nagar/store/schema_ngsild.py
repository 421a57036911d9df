"""NGSI-LD broker tables (numbers 100-119 are reserved for ngsild; see nagar/store/migrations.py).

``ngsild_entities`` keeps each entity ready to serve: its normalized form with expanded attribute and
type names, as JSON text (``body``), keyed by (tenant, id); a tenant is a Nagar city id. ``types`` is
the JSON list of expanded types (filtered with ``LIKE`` for a first cut, exactly in Python).
``ngsild_history`` is the attribute history of every entity (one row per attribute instance written),
read by the temporal API; observation-backed attributes of AirQualityObserved entities are read from
``observations`` instead. ``ngsild_subscriptions`` holds subscriptions and their delivery status.
"""

MIGRATIONS: list[tuple[int, list[str]]] = [
    (
        100,
        [
            """CREATE TABLE ngsild_entities (
                tenant VARCHAR NOT NULL,
                id VARCHAR NOT NULL,
                types VARCHAR NOT NULL,
                body VARCHAR NOT NULL,
                station VARCHAR,
                created_at TIMESTAMP NOT NULL,
                modified_at TIMESTAMP NOT NULL,
                PRIMARY KEY (tenant, id)
            )""",
            """CREATE TABLE ngsild_history (
                tenant VARCHAR NOT NULL,
                entity_id VARCHAR NOT NULL,
                attr VARCHAR NOT NULL,
                dataset_id VARCHAR,
                time TIMESTAMP NOT NULL,
                value_num DOUBLE,
                value_text VARCHAR,
                instance VARCHAR NOT NULL
            )""",
            "CREATE INDEX ngsild_history_entity ON ngsild_history (tenant, entity_id, attr)",
            """CREATE TABLE ngsild_subscriptions (
                tenant VARCHAR NOT NULL,
                id VARCHAR NOT NULL,
                body VARCHAR NOT NULL,
                times_sent INTEGER NOT NULL DEFAULT 0,
                last_notification TIMESTAMP,
                last_success TIMESTAMP,
                last_failure TIMESTAMP,
                PRIMARY KEY (tenant, id)
            )""",
        ],
    ),
    (
        101,
        [
            # DuckDB never scans an ART index for a filter on several columns (EXPLAIN shows a sequential
            # scan for tenant + entity_id + attr), so the index only cost each history insert its upkeep:
            # ~2.3 ms of CPU per group commit of 125 attribute updates (measured in session 4). PostgreSQL
            # gets it back, with time, from pg_dialect.EXTRA_DDL[101], where B-tree scans use it.
            "DROP INDEX IF EXISTS ngsild_history_entity",
        ],
    ),
]
