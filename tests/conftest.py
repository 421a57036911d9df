from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

# The CLI's rich consoles take their width when nagar.cli is imported: the same width for every run
# (a terminal, CI, an xdist worker), so that tables print the same way everywhere.
os.environ["COLUMNS"] = "200"

import pyarrow as pa
import pytest

from nagar.store.duckdb import DuckDBStore

DHAKA = dict(id="dhaka", name="Dhaka", country="BD", timezone="Asia/Dhaka", lat=23.81, lon=90.41, standard="us-epa-2024")


def utc(*a) -> datetime:
    return datetime(*a, tzinfo=timezone.utc)


def obs_table(rows: list[tuple]) -> pa.Table:
    """rows of (station, parameter, time, value[, unit[, flag]]) -> a validated-shape Arrow table."""
    from nagar.store.base import OBSERVATION_SCHEMA

    cols = {k: [] for k in OBSERVATION_SCHEMA.names}
    for r in rows:
        st, p, t, v = r[:4]
        unit = r[4] if len(r) > 4 else {"pm25": "µg/m³", "pm10": "µg/m³", "co": "ppm"}.get(p, "ppb")
        flag = r[5] if len(r) > 5 else "valid"
        for k, x in zip(OBSERVATION_SCHEMA.names, (st, p, t, v, unit, flag)):
            cols[k].append(x)
    return pa.table(cols, schema=OBSERVATION_SCHEMA)


@pytest.fixture
def store(tmp_path):
    s = DuckDBStore(tmp_path / "t.duckdb")
    s.upsert_city(DHAKA)
    s.upsert_station(dict(id="st1", city="dhaka", name="Station 1", lat=23.78, lon=90.38, parameters=["pm25"]))
    s.upsert_station(dict(id="st2", city="dhaka", name="Station 2", lat=23.76, lon=90.39, parameters=["pm25"]))
    yield s
    s.close()


_PASSWORD = "correct horse battery"
_HASH: list[str] = []


def make_user(store, username: str, *, platform_admin: bool = False, roles: dict | None = None) -> dict:
    """A user with password ``correct horse battery`` (hashed once per session: Argon2 is slow on purpose)."""
    from nagar.security.passwords import hash_password

    if not _HASH:
        _HASH.append(hash_password(_PASSWORD))
    user = store.create_user(username=username, password_hash=_HASH[0], platform_admin=platform_admin,
                             now=datetime.now(timezone.utc))
    for city, role in (roles or {}).items():
        store.set_grant(user_id=user["id"], city=city, role=role)
    return user


def bearer(app, user: dict) -> dict:
    """Authorization header with a fresh access token for ``user``, signed with the app's secret."""
    from datetime import timedelta

    from nagar.security.tokens import issue_token

    token, _, _ = issue_token(app.state.secret, sub=str(user["id"]), typ="access", lifetime=timedelta(minutes=5))
    return {"Authorization": f"Bearer {token}"}


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def chromium():
    """Headless Debian Chromium driven by Playwright (skipped where Chromium is not installed).

    Defined once here for every test folder: Playwright's sync API allows one session per process, so a
    second copy of this fixture (imported into another module) would fail with "Sync API inside the
    asyncio loop"."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
