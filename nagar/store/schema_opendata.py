"""Open-data catalogue tables (numbers 60-64 are the open-data domain's; see nagar/store/migrations.py).

- ``opendata_datasets``: which registered datasets a city publishes, with the licence, update frequency
  (an EU frequency vocabulary code) and description it chose. No row: not published.
"""

MIGRATIONS: list[tuple[int, list[str]]] = [
    (
        60,
        [
            """CREATE TABLE opendata_datasets (
                city VARCHAR NOT NULL,
                dataset VARCHAR NOT NULL,
                enabled BOOLEAN NOT NULL,
                license VARCHAR NOT NULL,
                frequency VARCHAR NOT NULL,
                description VARCHAR,
                updated_at TIMESTAMP NOT NULL,
                updated_by VARCHAR NOT NULL,
                PRIMARY KEY (city, dataset)
            )""",
        ],
    ),
]
