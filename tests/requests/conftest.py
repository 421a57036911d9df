"""A small world for the service-request tests: an open-data city (Dhaka), a private city (Chattogram),
users with roles, an Open311 app key per city, and a client."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from nagar.api.app import create_app
from nagar.core.settings import Settings
from nagar.requests import service
from nagar.store.duckdb import DuckDBStore
from tests.conftest import DHAKA, bearer, make_user

CTG = dict(id="ctg", name="Chattogram", country="BD", timezone="Asia/Dhaka", lat=22.36, lon=91.78,
           standard="us-epa-2024")
O311 = "/api/v1/open311/v2"
OPS = "/api/v1/service-requests"

# somewhere in Dhaka (Agargaon) and points measured from it
LAT, LON = 23.7780, 90.3800


@dataclass
class World:
    store: DuckDBStore
    app: object
    client: TestClient
    users: dict
    keys: dict
    settings: Settings

    def auth(self, who: str) -> dict:
        return bearer(self.app, self.users[who])

    def post(self, fmt: str = "json", *, city: str = "dhaka", files=None, **fields):
        data = {"api_key": self.keys[city], "jurisdiction_id": city, **fields}
        return self.client.post(f"{O311}/requests.{fmt}", data=data, files=files)


@pytest.fixture(scope="session")
def _client(tmp_path_factory):
    """One app for every test (building one costs ~0.3 s); each test hands it a fresh store."""
    tmp = tmp_path_factory.mktemp("requests-app")
    placeholder = DuckDBStore(":memory:")
    app = create_app(Settings(secret_key="k" * 32, db=tmp / "unused.duckdb", ip_rate_per_s=1e6, ip_burst=10**6,
                              key_rate_per_s=1e6, key_burst=10**6), store=placeholder)
    with TestClient(app) as client:
        yield app, client
    placeholder.close()


@pytest.fixture
def world(tmp_path, _client):
    app, client = _client
    store = DuckDBStore(":memory:")
    store.upsert_city({**DHAKA, "open_data": True})
    store.upsert_city({**CTG, "open_data": False})
    settings = app.state.settings.model_copy(update={"db": tmp_path / "r.duckdb"})  # photos go under tmp_path
    saved = app.state.store, app.state.settings
    app.state.store, app.state.settings = store, settings
    users = {"admin": make_user(store, "dadmin", roles={"dhaka": "city_admin"}),
             "oper": make_user(store, "doper", roles={"dhaka": "operator"}),
             "analyst": make_user(store, "danalyst", roles={"dhaka": "analyst"}),
             "ctg_oper": make_user(store, "coper", roles={"ctg": "operator"})}
    keys = {c: service.issue_client_key(store, city=c, name=f"{c} app", actor="test")["key"] for c in ("dhaka", "ctg")}
    try:
        yield World(store=store, app=app, client=client, users=users, keys=keys, settings=settings)
    finally:
        app.state.store, app.state.settings = saved
        store.close()
