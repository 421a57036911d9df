"""Water-quality tables (numbers 70-79 are the water domain's; see migrations._domain_migrations).

- ``water_stations``: sampling points on rivers and lakes. Kept apart from the air ``stations`` registry
  on purpose: a water station is sampled by hand a few times a year and its results are lab analyses,
  not a sensor feed, so it needs neither an integer key for bulk observation storage nor device keys.
- ``water_samples``: one lab result per (station, parameter, time) in the parameter's canonical unit
  (``nagar.water.parameters``), upserted; ``qualifier`` is ``<`` for a result below the detection limit.
- ``water_objective_sets``: objective sets a city loads itself (JSON or CSV through the API or CLI),
  stored as their validated JSON; the shipped sets live in ``nagar/water/objectives/*.json``.
"""

MIGRATIONS: list[tuple[int, list[str]]] = [
    (
        70,
        [
            """CREATE TABLE water_stations (
                id VARCHAR PRIMARY KEY,
                city VARCHAR NOT NULL,
                name VARCHAR NOT NULL,
                water_body VARCHAR NOT NULL DEFAULT '',
                lat DOUBLE,
                lon DOUBLE,
                source VARCHAR,
                updated_at TIMESTAMP NOT NULL,
                updated_by VARCHAR NOT NULL
            )""",
            """CREATE TABLE water_samples (
                station VARCHAR NOT NULL,
                parameter VARCHAR NOT NULL,
                time TIMESTAMP NOT NULL,
                value DOUBLE NOT NULL,
                qualifier VARCHAR NOT NULL DEFAULT '',
                source VARCHAR,
                PRIMARY KEY (station, parameter, time)
            )""",
            """CREATE TABLE water_objective_sets (
                city VARCHAR NOT NULL,
                id VARCHAR NOT NULL,
                body VARCHAR NOT NULL,
                updated_at TIMESTAMP NOT NULL,
                updated_by VARCHAR NOT NULL,
                PRIMARY KEY (city, id)
            )""",
        ],
    ),
]
