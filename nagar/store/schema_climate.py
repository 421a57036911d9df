"""Climate tables (numbers 3-9 are the climate domain's; see migrations._domain_migrations).

- ``climate_activity``: activity data per city, year, kind (fuel, electricity, waste, wastewater,
  notation), GPC sub-sector, item (fuel, treatment, pathway, notation key) and location relative to
  the city boundary; one row per that key (upserted), with its unit, parameters (JSON) and source.
- ``climate_factors``: a city's own emission factors, each with a required source and the year it
  applies from.
- ``climate_inventory_runs``: inventories saved as computed (the JSON result), for a record of what was
  reported.
- ``climate_drivers`` (4): a city's drivers of its business-as-usual projection (population and GDP
  growth, intensity and grid-factor change; each a rate or a JSON {year: rate}), with their source.
"""

MIGRATIONS: list[tuple[int, list[str]]] = [
    (
        3,
        [
            "CREATE SEQUENCE climate_activity_id START 1",
            """CREATE TABLE climate_activity (
                id BIGINT PRIMARY KEY DEFAULT nextval('climate_activity_id'),
                city VARCHAR NOT NULL,
                year INTEGER NOT NULL,
                kind VARCHAR NOT NULL,
                subsector VARCHAR NOT NULL,
                item VARCHAR NOT NULL DEFAULT '',
                location VARCHAR NOT NULL DEFAULT 'in',
                quantity DOUBLE,
                unit VARCHAR,
                params VARCHAR NOT NULL DEFAULT '{}',
                source VARCHAR,
                note VARCHAR,
                updated_at TIMESTAMP NOT NULL,
                updated_by VARCHAR NOT NULL,
                UNIQUE (city, year, kind, subsector, item, location)
            )""",
            "CREATE SEQUENCE climate_factor_id START 1",
            """CREATE TABLE climate_factors (
                id BIGINT PRIMARY KEY DEFAULT nextval('climate_factor_id'),
                city VARCHAR NOT NULL,
                kind VARCHAR NOT NULL,
                item VARCHAR NOT NULL DEFAULT '',
                sector VARCHAR NOT NULL DEFAULT '',
                gas VARCHAR NOT NULL DEFAULT '',
                value DOUBLE NOT NULL,
                unit VARCHAR NOT NULL,
                year INTEGER NOT NULL,
                source VARCHAR NOT NULL,
                note VARCHAR,
                created_at TIMESTAMP NOT NULL,
                created_by VARCHAR NOT NULL
            )""",
            "CREATE SEQUENCE climate_run_id START 1",
            """CREATE TABLE climate_inventory_runs (
                id BIGINT PRIMARY KEY DEFAULT nextval('climate_run_id'),
                city VARCHAR NOT NULL,
                year INTEGER NOT NULL,
                gwp VARCHAR NOT NULL,
                basic_t DOUBLE,
                basic_plus_t DOUBLE,
                result VARCHAR NOT NULL,
                created_at TIMESTAMP NOT NULL,
                created_by VARCHAR NOT NULL
            )""",
        ],
    ),
    (
        4,
        [
            """CREATE TABLE climate_drivers (
                city VARCHAR PRIMARY KEY,
                population_growth VARCHAR NOT NULL,
                gdp_growth VARCHAR NOT NULL,
                intensity_change VARCHAR NOT NULL,
                grid_change VARCHAR NOT NULL,
                source VARCHAR NOT NULL,
                note VARCHAR,
                updated_at TIMESTAMP NOT NULL,
                updated_by VARCHAR NOT NULL
            )""",
        ],
    ),
]
