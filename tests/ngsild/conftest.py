from __future__ import annotations

from datetime import datetime, timezone

import pytest
from fastapi.testclient import TestClient

from nagar.api.app import create_app
from nagar.core.settings import Settings
from nagar.store.duckdb import DuckDBStore
from tests.conftest import bearer, make_user

DHAKA = dict(id="dhaka", name="Dhaka", country="BD", timezone="Asia/Dhaka", lat=23.81, lon=90.41,
             standard="us-epa-2024", open_data=False)
CTG = dict(id="chattogram", name="Chattogram", country="BD", timezone="Asia/Dhaka", lat=22.36, lon=91.78,
           standard="us-epa-2024", open_data=True)
T = {"NGSILD-Tenant": "dhaka"}
E = "/ngsi-ld/v1/entities"


class Api:
    """A TestClient as dhaka's operator (bearer), sending the dhaka tenant header by default."""

    def __init__(self, client: TestClient, auth: dict, store, app):
        self.c, self.auth, self.store, self.app = client, auth, store, app

    def _h(self, headers=None, tenant="dhaka"):
        h = dict(self.auth)
        if tenant is not None:
            h["NGSILD-Tenant"] = tenant
        h.update(headers or {})
        return h

    def get(self, url, headers=None, tenant="dhaka", **kw):
        return self.c.get(url, headers=self._h(headers, tenant), **kw)

    def post(self, url, json=None, headers=None, tenant="dhaka", **kw):
        return self.c.post(url, json=json, headers=self._h(headers, tenant), **kw)

    def patch(self, url, json=None, headers=None, tenant="dhaka", **kw):
        return self.c.patch(url, json=json, headers=self._h(headers, tenant), **kw)

    def put(self, url, json=None, headers=None, tenant="dhaka", **kw):
        return self.c.put(url, json=json, headers=self._h(headers, tenant), **kw)

    def delete(self, url, headers=None, tenant="dhaka", **kw):
        return self.c.delete(url, headers=self._h(headers, tenant), **kw)


@pytest.fixture(scope="module")
def _world(tmp_path_factory):
    """One store, app and client per test module (building an app costs ~0.4 s); each test starts from
    empty NGSI-LD tables and observations (see ``world``)."""
    tmp = tmp_path_factory.mktemp("ngsild")
    store = DuckDBStore(":memory:")  # API behaviour only; durability is the store tests' business
    store.upsert_city(DHAKA)
    store.upsert_city(CTG)
    # egress_allow_private: the subscription tests' receivers listen on loopback
    app = create_app(Settings(secret_key="s" * 32, egress_allow_private=True, db=tmp / "unused.duckdb",
                              ip_rate_per_s=1e6, ip_burst=10**6, key_rate_per_s=1e6, key_burst=10**6), store=store)
    oper = make_user(store, "oper", roles={"dhaka": "operator"})
    analyst = make_user(store, "ana", roles={"dhaka": "analyst"})
    with TestClient(app) as client:
        yield {"api": Api(client, bearer(app, oper), store, app), "client": client, "store": store, "app": app,
               "analyst": bearer(app, analyst)}
    store.close()


def _reset(store) -> None:
    from nagar.ngsild.service import shutdown

    shutdown(store)
    b = store.__dict__.pop("_ngsild_broker", None)
    if b is not None:
        store.off_write(b._observations_written)
    water_listener = store.__dict__.pop("_ngsild_water_listener", None)  # nagar.ngsild.waterviews
    if water_listener is not None:
        store.off_water_write(water_listener)
    with store._tx() as con:
        for table in ("ngsild_entities", "ngsild_history", "ngsild_subscriptions", "observations", "stations"):
            con.execute(f"DELETE FROM {table}")
    store._stations.clear()
    store.upsert_station(dict(id="dhaka-agargaon", city="dhaka", name="Agargaon", lat=23.78, lon=90.38,
                              parameters=["pm25"]))


@pytest.fixture
def world(_world):
    _reset(_world["store"])
    return _world


@pytest.fixture
def api(world) -> Api:
    return world["api"]


def now_iso() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
