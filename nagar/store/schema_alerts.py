"""Alert tables (numbers 80-89 are the alerts domain's; see migrations._domain_migrations).

- ``alert_rules``: a city's rules, the validated rule as JSON (``nagar.alerts.models.RuleSpec``).
- ``alert_state``: per rule and scope (a station id, or ``city``): the last hour evaluated, whether the
  condition held then, the run of consecutive hours before it, and the open episode if any. Persisting it
  is what keeps a restart from re-firing or forgetting an episode.
- ``alert_events``: the alert history: one ``onset`` and one ``recovery`` per episode (``suppressed``
  when it fell in the rule's quiet hours: recorded, not notified).
- ``alert_endpoints``: webhook receivers of a city with their signing secret (kept in clear: the server
  must sign with it; it is shown once, on creation).
- ``alert_deliveries``: one row per (event, endpoint): pending -> delivered, or dead (the dead-letter
  record) after the endpoint's attempts are used up.
"""

MIGRATIONS: list[tuple[int, list[str]]] = [
    (
        80,
        [
            "CREATE SEQUENCE alert_rule_id START 1",
            """CREATE TABLE alert_rules (
                id BIGINT PRIMARY KEY DEFAULT nextval('alert_rule_id'),
                city VARCHAR NOT NULL,
                name VARCHAR NOT NULL,
                kind VARCHAR NOT NULL,
                spec VARCHAR NOT NULL,
                enabled BOOLEAN NOT NULL DEFAULT true,
                created_at TIMESTAMP NOT NULL,
                created_by VARCHAR NOT NULL,
                updated_at TIMESTAMP NOT NULL
            )""",
            """CREATE TABLE alert_state (
                rule_id BIGINT NOT NULL,
                scope_key VARCHAR NOT NULL,
                last_time TIMESTAMP NOT NULL,
                last_cond BOOLEAN NOT NULL,
                last_value DOUBLE,
                run_before INTEGER NOT NULL,
                episode BIGINT,
                PRIMARY KEY (rule_id, scope_key)
            )""",
            "CREATE SEQUENCE alert_episode_id START 1",
            "CREATE SEQUENCE alert_event_id START 1",
            """CREATE TABLE alert_events (
                id BIGINT PRIMARY KEY DEFAULT nextval('alert_event_id'),
                rule_id BIGINT NOT NULL,
                city VARCHAR NOT NULL,
                scope_key VARCHAR NOT NULL,
                kind VARCHAR NOT NULL,
                episode BIGINT NOT NULL,
                time TIMESTAMP NOT NULL,
                value DOUBLE,
                message VARCHAR NOT NULL,
                suppressed BOOLEAN NOT NULL,
                created_at TIMESTAMP NOT NULL
            )""",
            "CREATE SEQUENCE alert_endpoint_id START 1",
            """CREATE TABLE alert_endpoints (
                id BIGINT PRIMARY KEY DEFAULT nextval('alert_endpoint_id'),
                city VARCHAR NOT NULL,
                name VARCHAR NOT NULL,
                url VARCHAR NOT NULL,
                secret VARCHAR NOT NULL,
                max_attempts INTEGER NOT NULL,
                enabled BOOLEAN NOT NULL DEFAULT true,
                created_at TIMESTAMP NOT NULL,
                created_by VARCHAR NOT NULL
            )""",
            "CREATE SEQUENCE alert_delivery_id START 1",
            """CREATE TABLE alert_deliveries (
                id BIGINT PRIMARY KEY DEFAULT nextval('alert_delivery_id'),
                event_id BIGINT NOT NULL,
                endpoint_id BIGINT NOT NULL,
                city VARCHAR NOT NULL,
                status VARCHAR NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                next_attempt_at TIMESTAMP NOT NULL,
                last_status INTEGER,
                last_error VARCHAR,
                updated_at TIMESTAMP NOT NULL
            )""",
        ],
    ),
]
