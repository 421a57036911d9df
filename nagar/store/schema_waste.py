"""E-waste tables (numbers 40-49 are the e-waste domain's; see migrations._domain_migrations).

- ``ewaste_pom``: equipment put on the market per city, year and UNU-KEY [kg] (units and the average
  weight kept when the data came in units), with its source.
- ``ewaste_population``: inhabitants per city and year (for kg per inhabitant).
- ``ewaste_targets``: a city's collection-rate targets per year and EEE category (0: all categories).
- ``ewaste_settings``: a city's loss tolerance for the custody chain.
- ``ewaste_points`` / ``ewaste_handlers``: collection points (geo-located) and registered handlers
  (collector, transporter, recycler) with licence number and expiry.
- ``ewaste_events`` / ``ewaste_batches``: collection events and the batches (one per EEE category)
  they create.
- ``ewaste_moves``: the custody ledger, one row per collection, transfer or recycler processing of a
  batch: ``kg_out`` leaves ``from_handler``, ``kg_in`` reaches ``to_handler`` (a handler's holding of
  a batch is what reached it minus what left it).
"""

MIGRATIONS: list[tuple[int, list[str]]] = [
    (
        40,
        [
            """CREATE TABLE ewaste_pom (
                city VARCHAR NOT NULL,
                year INTEGER NOT NULL,
                unu_key VARCHAR NOT NULL,
                kg DOUBLE NOT NULL,
                units DOUBLE,
                avg_weight_kg DOUBLE,
                source VARCHAR,
                updated_at TIMESTAMP NOT NULL,
                updated_by VARCHAR NOT NULL,
                PRIMARY KEY (city, year, unu_key)
            )""",
            """CREATE TABLE ewaste_population (
                city VARCHAR NOT NULL,
                year INTEGER NOT NULL,
                inhabitants DOUBLE NOT NULL,
                source VARCHAR,
                PRIMARY KEY (city, year)
            )""",
            """CREATE TABLE ewaste_targets (
                city VARCHAR NOT NULL,
                year INTEGER NOT NULL,
                category INTEGER NOT NULL,
                rate DOUBLE NOT NULL,
                updated_at TIMESTAMP NOT NULL,
                updated_by VARCHAR NOT NULL,
                PRIMARY KEY (city, year, category)
            )""",
            """CREATE TABLE ewaste_settings (
                city VARCHAR PRIMARY KEY,
                loss_tolerance DOUBLE NOT NULL,
                updated_at TIMESTAMP NOT NULL,
                updated_by VARCHAR NOT NULL
            )""",
            """CREATE TABLE ewaste_points (
                id VARCHAR PRIMARY KEY,
                city VARCHAR NOT NULL,
                name VARCHAR NOT NULL,
                lat DOUBLE NOT NULL,
                lon DOUBLE NOT NULL,
                address VARCHAR,
                created_at TIMESTAMP NOT NULL,
                created_by VARCHAR NOT NULL
            )""",
            """CREATE TABLE ewaste_handlers (
                id VARCHAR PRIMARY KEY,
                city VARCHAR NOT NULL,
                name VARCHAR NOT NULL,
                role VARCHAR NOT NULL,
                licence_no VARCHAR,
                licence_expires DATE,
                created_at TIMESTAMP NOT NULL,
                created_by VARCHAR NOT NULL
            )""",
            "CREATE SEQUENCE ewaste_event_id START 1",
            """CREATE TABLE ewaste_events (
                id BIGINT PRIMARY KEY DEFAULT nextval('ewaste_event_id'),
                city VARCHAR NOT NULL,
                point_id VARCHAR NOT NULL,
                collector_id VARCHAR NOT NULL,
                day DATE NOT NULL,
                note VARCHAR,
                created_at TIMESTAMP NOT NULL,
                created_by VARCHAR NOT NULL
            )""",
            "CREATE SEQUENCE ewaste_batch_id START 1",
            """CREATE TABLE ewaste_batches (
                id BIGINT PRIMARY KEY DEFAULT nextval('ewaste_batch_id'),
                city VARCHAR NOT NULL,
                event_id BIGINT NOT NULL,
                point_id VARCHAR NOT NULL,
                collector_id VARCHAR NOT NULL,
                category INTEGER NOT NULL,
                kg DOUBLE NOT NULL,
                day DATE NOT NULL
            )""",
            "CREATE SEQUENCE ewaste_move_id START 1",
            """CREATE TABLE ewaste_moves (
                id BIGINT PRIMARY KEY DEFAULT nextval('ewaste_move_id'),
                city VARCHAR NOT NULL,
                batch_id BIGINT NOT NULL,
                kind VARCHAR NOT NULL,
                day DATE NOT NULL,
                from_handler VARCHAR,
                to_handler VARCHAR,
                kg_out DOUBLE NOT NULL,
                kg_in DOUBLE NOT NULL,
                details VARCHAR NOT NULL DEFAULT '{}',
                created_at TIMESTAMP NOT NULL,
                created_by VARCHAR NOT NULL
            )""",
        ],
    ),
]
