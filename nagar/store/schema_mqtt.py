"""MQTT ingestion tables (numbers 20-29 are reserved for MQTT; see nagar/store/migrations.py).

``mqtt_dead_letters``
    Messages (or single rows/entities of a batch message) that could not be stored: bad JSON, unknown
    or wrong-city stations, values refused by validation, bad signatures. ``payload`` keeps the first
    bytes only (``payload_bytes`` is the full size); ``item`` is the row's index inside a batch
    message, NULL when the whole message was refused.
``mqtt_seen``
    Dedup keys of the messages whose observations are durable (see nagar/ingest/mqtt.py). No index:
    keys are appended in bulk and looked up only for redelivered (DUP) messages, restricted by
    ``seen_at`` (zone maps), and rows older than the dedup window are pruned.
``mqtt_flushes``
    One row per store write of the subscriber, with what it did: a durable record of the counts.
"""

MIGRATIONS: list[tuple[int, list[str]]] = [
    (
        20,
        [
            "CREATE SEQUENCE mqtt_dead_letter_id START 1",
            """CREATE TABLE mqtt_dead_letters (
                id BIGINT NOT NULL DEFAULT nextval('mqtt_dead_letter_id'),
                time TIMESTAMP NOT NULL,
                client_id VARCHAR,
                topic VARCHAR NOT NULL,
                payload VARCHAR NOT NULL,
                payload_bytes INTEGER NOT NULL,
                truncated BOOLEAN NOT NULL,
                item INTEGER,
                field VARCHAR,
                reason VARCHAR NOT NULL,
                message_key VARCHAR
            )""",
            """CREATE TABLE mqtt_seen (
                key VARCHAR NOT NULL,
                seen_at TIMESTAMP NOT NULL
            )""",
            """CREATE TABLE mqtt_flushes (
                time TIMESTAMP NOT NULL,
                client_id VARCHAR NOT NULL,
                messages INTEGER NOT NULL,
                duplicates INTEGER NOT NULL,
                observations INTEGER NOT NULL,
                inserted INTEGER NOT NULL,
                updated INTEGER NOT NULL,
                rejected INTEGER NOT NULL,
                dead_letters INTEGER NOT NULL
            )""",
        ],
    ),
]
