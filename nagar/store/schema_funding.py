"""Funding tables (numbers 10-19 are reserved for funding; see nagar/store/migrations.py).

Funds and instruments are platform-level; candidate projects, their allocations and monitored (MRV)
data carry their city. List-valued fields (sectors, eligible instruments, links, exchange rates) are
JSON text: they are small and always read whole.
"""

MIGRATIONS: list[tuple[int, list[str]]] = [
    (
        10,
        [
            """CREATE TABLE funding_funds (
                id VARCHAR PRIMARY KEY,
                name VARCHAR NOT NULL,
                base_currency VARCHAR NOT NULL,
                fx VARCHAR NOT NULL DEFAULT '{}',
                description VARCHAR,
                updated_at TIMESTAMP NOT NULL
            )""",
            """CREATE TABLE funding_instruments (
                id VARCHAR PRIMARY KEY,
                fund_id VARCHAR NOT NULL,
                name VARCHAR NOT NULL,
                kind VARCHAR NOT NULL,
                currency VARCHAR NOT NULL,
                cap DOUBLE NOT NULL,
                sectors VARCHAR,
                interest_rate DOUBLE,
                tenor_years INTEGER,
                grace_years INTEGER,
                max_share DOUBLE NOT NULL DEFAULT 1.0,
                updated_at TIMESTAMP NOT NULL
            )""",
            """CREATE TABLE funding_projects (
                id VARCHAR PRIMARY KEY,
                city VARCHAR NOT NULL,
                name VARCHAR NOT NULL,
                sector VARCHAR NOT NULL,
                capital_cost DOUBLE NOT NULL,
                currency VARCHAR NOT NULL,
                annual_saving DOUBLE NOT NULL DEFAULT 0,
                lifetime_years DOUBLE NOT NULL,
                start_year INTEGER NOT NULL,
                annual_abatement DOUBLE NOT NULL,
                pm25 DOUBLE NOT NULL DEFAULT 0,
                water DOUBLE NOT NULL DEFAULT 0,
                eligible_instruments VARCHAR NOT NULL DEFAULT '[]',
                requires VARCHAR NOT NULL DEFAULT '[]',
                excludes VARCHAR NOT NULL DEFAULT '[]',
                mrv_metric VARCHAR,
                status VARCHAR NOT NULL DEFAULT 'candidate',
                source VARCHAR,
                updated_at TIMESTAMP NOT NULL
            )""",
            "CREATE INDEX funding_projects_city ON funding_projects (city)",
            """CREATE TABLE funding_plans (
                id VARCHAR PRIMARY KEY,
                fund_id VARCHAR NOT NULL,
                created_at TIMESTAMP NOT NULL,
                actor VARCHAR NOT NULL,
                status VARCHAR NOT NULL,
                objective DOUBLE,
                request VARCHAR NOT NULL,
                result VARCHAR NOT NULL,
                adopted_at TIMESTAMP
            )""",
            """CREATE TABLE funding_allocations (
                plan_id VARCHAR NOT NULL,
                project_id VARCHAR NOT NULL,
                city VARCHAR NOT NULL,
                instrument_id VARCHAR NOT NULL,
                amount_base DOUBLE NOT NULL,
                amount DOUBLE NOT NULL,
                currency VARCHAR NOT NULL,
                PRIMARY KEY (plan_id, project_id, instrument_id)
            )""",
            """CREATE TABLE funding_mrv (
                project_id VARCHAR NOT NULL,
                city VARCHAR NOT NULL,
                year INTEGER NOT NULL,
                metric VARCHAR NOT NULL,
                value DOUBLE NOT NULL,
                grid_factor DOUBLE,
                recorded_at TIMESTAMP NOT NULL,
                actor VARCHAR NOT NULL,
                PRIMARY KEY (project_id, year, metric)
            )""",
        ],
    ),
]
