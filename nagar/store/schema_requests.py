"""Citizen service request tables (numbers 50-59 are the requests domain's; see nagar/store/migrations.py).

- ``service_requests``: one row per request a citizen (through an Open311 client app) or an operator
  filed: its city (= Open311 jurisdiction_id), service code, internal status (new, acknowledged,
  in_progress, resolved, rejected, duplicate), department, location, attributes (JSON), media URL, the
  public status notes, the request it duplicates (if any), the token that finds it, the client app that
  filed it, and its times (naive UTC): requested, updated, expected (from the service's SLA), closed.
- ``service_request_contacts``: the citizen's personal data (e-mail, device id, account id, names,
  phone), in a table of its own so that no public read or open-data export can select it by accident.
- ``service_request_events``: the workflow history (status changes, assignments, notes), never edited.
- ``open311_clients``: the Open311 app keys a city admin issued (SHA-256 of the secret only).
- ``request_service_settings``: a city's changes to the shipped default services (enabled,
  department, SLA hours).
- ``request_media``: photos uploaded with a request (the file lives under the data directory).
"""

MIGRATIONS: list[tuple[int, list[str]]] = [
    (
        50,
        [
            "CREATE SEQUENCE service_request_id START 1",
            """CREATE TABLE service_requests (
                id BIGINT PRIMARY KEY DEFAULT nextval('service_request_id'),
                city VARCHAR NOT NULL,
                service_code VARCHAR NOT NULL,
                status VARCHAR NOT NULL,
                department VARCHAR,
                description VARCHAR,
                lat DOUBLE,
                lon DOUBLE,
                address VARCHAR,
                address_id VARCHAR,
                zipcode VARCHAR,
                attributes VARCHAR NOT NULL DEFAULT '{}',
                media_url VARCHAR,
                status_notes VARCHAR,
                duplicate_of BIGINT,
                token VARCHAR NOT NULL,
                client_id VARCHAR,
                requested_at TIMESTAMP NOT NULL,
                updated_at TIMESTAMP NOT NULL,
                expected_at TIMESTAMP,
                closed_at TIMESTAMP
            )""",
            """CREATE TABLE service_request_contacts (
                request_id BIGINT PRIMARY KEY,
                email VARCHAR,
                device_id VARCHAR,
                account_id VARCHAR,
                first_name VARCHAR,
                last_name VARCHAR,
                phone VARCHAR
            )""",
            "CREATE SEQUENCE service_request_event_id START 1",
            """CREATE TABLE service_request_events (
                id BIGINT PRIMARY KEY DEFAULT nextval('service_request_event_id'),
                request_id BIGINT NOT NULL,
                time TIMESTAMP NOT NULL,
                actor VARCHAR NOT NULL,
                from_status VARCHAR,
                to_status VARCHAR,
                department VARCHAR,
                note VARCHAR,
                public BOOLEAN NOT NULL DEFAULT false
            )""",
            """CREATE TABLE open311_clients (
                id VARCHAR PRIMARY KEY,
                city VARCHAR NOT NULL,
                name VARCHAR NOT NULL,
                secret_hash VARCHAR NOT NULL,
                created_at TIMESTAMP NOT NULL,
                created_by VARCHAR NOT NULL,
                revoked_at TIMESTAMP
            )""",
            """CREATE TABLE request_service_settings (
                city VARCHAR NOT NULL,
                service_code VARCHAR NOT NULL,
                enabled BOOLEAN NOT NULL,
                department VARCHAR,
                sla_hours DOUBLE,
                updated_at TIMESTAMP NOT NULL,
                updated_by VARCHAR NOT NULL,
                PRIMARY KEY (city, service_code)
            )""",
            """CREATE TABLE request_media (
                name VARCHAR PRIMARY KEY,
                request_id BIGINT NOT NULL,
                city VARCHAR NOT NULL,
                content_type VARCHAR NOT NULL,
                bytes BIGINT NOT NULL,
                sha256 VARCHAR NOT NULL,
                created_at TIMESTAMP NOT NULL
            )""",
        ],
    ),
]
