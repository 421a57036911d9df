"""The broker's write path: group commit (many requests, one transaction) and the credential cache of the
NGSI-LD routes. Behaviour only; speed is measured in bench/ngsild.py."""

from __future__ import annotations

import threading
import time

import pytest
from fastapi.testclient import TestClient

from nagar.ngsild.context import CORE
from nagar.ngsild.errors import ResourceNotFound
from nagar.ngsild.service import Broker, broker_of
from tests.ngsild.conftest import E


def test_group_commit_keeps_every_write_and_isolates_failures(world):
    """Writes queued together are planned one after another against the staged state (clause 5.6.4
    semantics per request) and written in one transaction: every update lands in the history, a failing
    request fails alone, and a create followed by an update of the same entity in one group works."""
    store = world["store"]
    b = broker_of(store, world["app"].state.settings)
    b.create("dhaka", {"id": "urn:ngsi-ld:Meter:g", "type": "Meter", "v": 0}, CORE)
    gate = threading.Event()
    b.submit(gate.wait)  # hold the writer so that the next jobs queue up and form one group
    futs = [Broker.patch_attr.submit(b, "dhaka", "urn:ngsi-ld:Meter:g", "v", {"value": i}, CORE) for i in range(1, 41)]
    missing = Broker.patch_attr.submit(b, "dhaka", "urn:ngsi-ld:Meter:none", "v", {"value": 1}, CORE)
    created = Broker.create.submit(b, "dhaka", {"id": "urn:ngsi-ld:Meter:h", "type": "Meter", "v": 1}, CORE)
    then = Broker.patch_attr.submit(b, "dhaka", "urn:ngsi-ld:Meter:h", "v", {"value": 2}, CORE)
    gate.set()
    for f in futs:
        f.result(timeout=10)
    with pytest.raises(ResourceNotFound):
        missing.result(timeout=10)
    created.result(timeout=10)
    then.result(timeout=10)
    assert b.get("dhaka", "urn:ngsi-ld:Meter:g")["attrs"][CORE.expand("v")][0]["value"] == 40
    hist = store.ngsild_history("dhaka", "urn:ngsi-ld:Meter:g")
    assert sorted(r["value_num"] for r in hist) == [float(i) for i in range(41)]
    row = store.ngsild_get("dhaka", "urn:ngsi-ld:Meter:h")  # durable, not only cached
    assert '"value":2' in row["body"]


def test_concurrent_http_writes_all_land(api):
    """Many concurrent PATCH requests (clause 5.6.4) are all acknowledged and all applied."""
    api.post(E, {"id": "urn:ngsi-ld:Meter:c", "type": "Meter", "v": 0})
    codes = []

    def one(i):
        codes.append(api.patch(E + "/urn:ngsi-ld:Meter:c/attrs/v", {"value": i}).status_code)

    ts = [threading.Thread(target=one, args=(i,)) for i in range(1, 21)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert codes == [204] * 20
    hist = api.store.ngsild_history("dhaka", "urn:ngsi-ld:Meter:c")
    assert sorted(r["value_num"] for r in hist) == [float(i) for i in range(21)]


def test_credential_cache_bounds_revocation_delay(tmp_path, monkeypatch):
    """nagar.ngsild.credentials: a revoked API key still works on /ngsi-ld/ for at most twice the cache
    lifetime, then is refused (401); other routes refuse it at once."""
    from nagar.api.app import create_app
    from nagar.core.settings import Settings
    from nagar.security import service as security
    from nagar.security.permissions import Principal
    from nagar.store.duckdb import DuckDBStore
    from tests.conftest import make_user
    from tests.ngsild.conftest import DHAKA

    monkeypatch.setenv("NAGAR_NGSILD_AUTH_CACHE_S", "1.0")  # 1 s: the cached answer below is not a race
    store = DuckDBStore(tmp_path / "c.duckdb")
    store.upsert_city(DHAKA)
    u = make_user(store, "op", roles={"dhaka": "operator"})
    p = Principal(kind="user", user_id=u["id"], username="op")
    key = security.create_api_key(store, principal=p, name="k", expires_days=1)
    app = create_app(Settings(secret_key="s" * 32, egress_allow_private=True, db=tmp_path / "x.duckdb"),
                     store=store)
    h = {"X-API-Key": key["key"], "NGSILD-Tenant": "dhaka"}
    with TestClient(app) as c:
        assert c.post(E, json={"id": "urn:x:1", "type": "T"}, headers=h).status_code == 201
        security.revoke_api_key(store, principal=p, key_id=key["id"])
        assert c.get("/api/v1/me", headers=h).status_code == 401
        assert c.get(E + "/urn:x:1", headers=h).status_code == 200  # cached for <= 2 s
        time.sleep(2.05)
        assert c.get(E + "/urn:x:1", headers=h).status_code == 401
    store.close()
