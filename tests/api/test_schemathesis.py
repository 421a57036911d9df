"""Property-based fuzzing of every operation of the OpenAPI document (schemathesis 4, in-process ASGI).

Each operation runs schemathesis' examples, coverage and fuzzing phases (``max_examples`` bounds the
fuzzing phase), derandomized so that a failure reproduces, twice: as a platform administrator (a fresh
bearer token per request, since ``POST /auth/logout`` revokes the token it is sent with) and anonymously.

``test_operation[<operation>][admin|anonymous]`` applies three checks to every answer: no 5xx
(``not_a_server_error``), every answer whose status is documented matches its schema
(``response_schema_conformance``), and every status the API answers is declared in the document
(``status_code_conformance``). schemathesis runs every check on each answer and reports all that fail
together, so an undocumented 404 cannot hide a 500. (Until session 4 these were two tests, which sent
every request twice: half the suite's fuzzing time.)

Nothing is excluded. ``POST /api/v1/devices/observations`` is fuzzed too, but its requests cannot be
signed (the document declares no body, and the signature covers the body), so it only ever sees the
401 path; its signed behaviour is in tests/security/test_matrix.py.

The store is built when the module is imported (schemathesis needs the app to load the schema at
collection time); the rate limits are lifted so that a few thousand requests from one address and one
account are not answered 429.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from nagar.api.app import create_app
from nagar.core.settings import Settings
from nagar.security import service as security
from nagar.security.permissions import Principal
from nagar.store.duckdb import DuckDBStore
from tests.conftest import DHAKA, bearer, make_user, obs_table

MAX_EXAMPLES = 25

_TMP = Path(tempfile.mkdtemp(prefix="nagar-schemathesis-"))
atexit.register(shutil.rmtree, _TMP, ignore_errors=True)


def _world() -> tuple:
    """Data the document's examples point at ("dhaka", "dhaka-agargaon"), so that they reach real code:
    an open-data city with a week of six pollutants, a private city, users, an API key and a device key."""
    store = DuckDBStore(_TMP / "fuzz.duckdb")
    store.upsert_city({**DHAKA, "open_data": True})
    store.upsert_city(dict(id="ctg", name="Chattogram", country="BD", timezone="Asia/Dhaka", lat=22.36, lon=91.78,
                           standard="us-epa-2024", open_data=False))
    params = ["pm25", "pm10", "o3", "no2", "so2", "co"]
    store.upsert_station(dict(id="dhaka-agargaon", city="dhaka", name="Agargaon", lat=23.78, lon=90.38,
                              parameters=params))
    store.upsert_station(dict(id="ctg-khulshi", city="ctg", name="Khulshi", lat=22.36, lon=91.8, parameters=["pm25"]))
    now = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    base = {"pm25": 60.0, "pm10": 120.0, "o3": 40.0, "no2": 30.0, "so2": 8.0, "co": 1.2}
    rows = [("dhaka-agargaon", p, now - timedelta(hours=h), base[p] * (1 + (h % 24) / 24)) for p in params
            for h in range(1, 24 * 8)]
    rows += [("ctg-khulshi", "pm25", now - timedelta(hours=h), 35.0) for h in range(1, 48)]
    store.write_observations(obs_table(rows))
    app = create_app(Settings(secret_key="s" * 32, db=_TMP / "unused.duckdb", ip_rate_per_s=1e6, ip_burst=10**6,
                              key_rate_per_s=1e6, key_burst=10**6), store=store)
    admin = make_user(store, "root", platform_admin=True)
    make_user(store, "dhaka-operator", roles={"dhaka": "operator"})
    system = Principal(kind="user", user_id=admin["id"], username="root", platform_admin=True)
    security.create_api_key(store, principal=system, name="fuzz", expires_days=30)
    security.create_device_key(store, secret=app.state.secret, principal=system,
                               station=store.get_station("dhaka-agargaon"))
    return store, app, admin


STORE, APP, ADMIN = _world()
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module", autouse=True)
def _close_store():
    yield
    STORE.close()


FUZZ = settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                       HealthCheck.data_too_large, HealthCheck.large_base_example])
CHECKS = [checks.not_a_server_error, checks.response_schema_conformance, checks.status_code_conformance]


def headers_of(principal: str) -> dict:
    return bearer(APP, ADMIN) if principal == "admin" else {}


def run(case, principal: str, checks_: list) -> None:
    try:
        case.call_and_validate(headers=headers_of(principal), checks=checks_)
    except Exception as exc:  # name the operation and caller beside the shrunk request
        exc.add_note(f"operation: {case.operation.label}, as {principal}")
        raise


PRINCIPALS = pytest.mark.parametrize("principal", ["admin", "anonymous"])


@schema.parametrize()
@PRINCIPALS
@FUZZ
def test_operation(case, principal):
    run(case, principal, CHECKS)
