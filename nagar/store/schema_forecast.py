"""Forecast tables (numbers 90-94 are the forecast domain's; see migrations._domain_migrations).

- ``forecast_models``: one row per training run of a station's model: the model kind, its training
  period, sample count, training time and its rolling-origin skill against persistence (JSON).
- ``forecasts``: issued forecasts, one row per (station, parameter, issued_at, target_time): the value,
  its lead time in hours and its AQI category under the city's standard (key and name), so that a
  statement like "tomorrow morning very unhealthy" can be evaluated with a plain query.
"""

MIGRATIONS: list[tuple[int, list[str]]] = [
    (
        90,
        [
            "CREATE SEQUENCE forecast_model_id START 1",
            """CREATE TABLE forecast_models (
                id BIGINT PRIMARY KEY DEFAULT nextval('forecast_model_id'),
                city VARCHAR NOT NULL,
                station VARCHAR NOT NULL,
                parameter VARCHAR NOT NULL,
                model VARCHAR NOT NULL,
                trained_at TIMESTAMP NOT NULL,
                train_start TIMESTAMP NOT NULL,
                train_end TIMESTAMP NOT NULL,
                n_samples INTEGER NOT NULL,
                seconds DOUBLE NOT NULL,
                skill VARCHAR NOT NULL DEFAULT '{}',
                params VARCHAR NOT NULL DEFAULT '{}'
            )""",
            """CREATE TABLE forecasts (
                city VARCHAR NOT NULL,
                station VARCHAR NOT NULL,
                parameter VARCHAR NOT NULL,
                issued_at TIMESTAMP NOT NULL,
                target_time TIMESTAMP NOT NULL,
                horizon INTEGER NOT NULL,
                value DOUBLE NOT NULL,
                standard VARCHAR,
                category_key VARCHAR,
                category VARCHAR,
                model_id BIGINT,
                PRIMARY KEY (station, parameter, issued_at, target_time)
            )""",
        ],
    ),
]
