"""Data-quality tables (numbers 95-99 are the quality domain's; see migrations._domain_migrations).

- ``quality_faults``: one row per detected fault of a reading (station, parameter, time, kind), with
  the reading's value as seen, its severity (``suspect`` / ``invalid``: the flag it was given;
  ``notice``: recorded only, the flag left alone), a detail, the detector and when it ran. The observation itself keeps its raw value; its flag is set through the
  store's one write path.
- ``quality_overrides``: an operator's decision that a reading is valid after all (who, why, when);
  re-detection never flags an overridden reading again. One row per reading (the latest decision).
"""

MIGRATIONS: list[tuple[int, list[str]]] = [
    (
        95,
        [
            """CREATE TABLE quality_faults (
                city VARCHAR NOT NULL,
                station VARCHAR NOT NULL,
                parameter VARCHAR NOT NULL,
                time TIMESTAMP NOT NULL,
                kind VARCHAR NOT NULL,
                severity VARCHAR NOT NULL,
                value DOUBLE,
                detail VARCHAR NOT NULL,
                detector VARCHAR NOT NULL,
                detected_at TIMESTAMP NOT NULL,
                PRIMARY KEY (station, parameter, time, kind)
            )""",
            """CREATE TABLE quality_overrides (
                city VARCHAR NOT NULL,
                station VARCHAR NOT NULL,
                parameter VARCHAR NOT NULL,
                time TIMESTAMP NOT NULL,
                flag VARCHAR NOT NULL,
                reason VARCHAR NOT NULL,
                actor VARCHAR NOT NULL,
                created_at TIMESTAMP NOT NULL,
                PRIMARY KEY (station, parameter, time)
            )""",
        ],
    ),
]
