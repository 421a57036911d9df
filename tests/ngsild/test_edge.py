"""The NGSI-LD edge (nagar.ngsild.edge) answers the two hot requests exactly as the routes do: the same
requests are sent to an app without the credential cache (every request through Nagar's middlewares,
FastAPI's routing and ``require``) and to one with it (repeated requests of a known caller reach the edge),
and the answers are compared: status, body and every header (ETSI GS CIM 009 V1.6.1 clauses 5.7.1 and
5.6.4; tenancy clauses 4.14 and 6.3.14; errors clause 5.5.2). The edge must answer every successful GET
and every PATCH of a caller with the write right, and leave the rest to the routes."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from nagar.api.app import create_app
from nagar.core.settings import Settings
from nagar.ngsild import edge
from nagar.store.duckdb import DuckDBStore
from tests.conftest import bearer, make_user
from tests.ngsild.conftest import CTG, DHAKA, E

LINK = {"Link": '<https://example.org/none.jsonld>; rel="http://www.w3.org/ns/json-ld#context"'}


def _app(store, tmp_path, monkeypatch, ttl: str):
    monkeypatch.setenv("NAGAR_NGSILD_AUTH_CACHE_S", ttl)
    return create_app(Settings(secret_key="s" * 32, egress_allow_private=True, db=tmp_path / "x.duckdb", ip_rate_per_s=1e6, ip_burst=10**6,
                               key_rate_per_s=1e6, key_burst=10**6), store=store)


def _answer(r):
    body = r.json() if r.content else None
    return r.status_code, body, sorted(r.headers.multi_items())


@pytest.fixture
def two(tmp_path, monkeypatch):
    store = DuckDBStore(tmp_path / "f.duckdb")
    store.upsert_city(DHAKA)
    store.upsert_city(CTG)
    slow = _app(store, tmp_path, monkeypatch, "0")
    fast = _app(store, tmp_path, monkeypatch, "60")
    users = {"oper": make_user(store, "oper", roles={"dhaka": "operator"}),
             "ana": make_user(store, "ana", roles={"dhaka": "analyst"}),
             "ctgadmin": make_user(store, "ctgadmin", roles={"chattogram": "city_admin"})}
    with TestClient(slow) as s, TestClient(fast) as f:
        auth = {name: bearer(slow, u) for name, u in users.items()}  # one token each: the cache keys on it
        auth["anon"] = {}
        for t in ("dhaka", "chattogram"):
            r = s.post(E, headers={**auth["oper" if t == "dhaka" else "ctgadmin"], "NGSILD-Tenant": t}, json={
                "id": "urn:ngsi-ld:Bus:1", "type": "Bus", "speed": {"type": "Property", "value": 5, "unitCode": "KMH"},
                "name": {"type": "LanguageProperty", "languageMap": {"en": "Bus", "bn": "বাস"}}})
            assert r.status_code == 201, r.text
        yield s, f, auth
    store.close()


def test_reads_answer_alike(two):
    s, f, auth = two
    before = edge.ANSWERS[0]
    cases = []
    for who in ("oper", "ana", "ctgadmin", "anon"):
        for tenant in ("dhaka", "chattogram", "atlantis", None):
            for path, params, extra in ((E + "/urn:ngsi-ld:Bus:1", {}, {}),
                                        (E + "/urn:ngsi-ld:Bus:1", {"options": "keyValues", "lang": "bn"}, {}),
                                        (E + "/urn:ngsi-ld:Bus:1", {"options": "concise,sysAttrs"}, {}),
                                        (E + "/urn:ngsi-ld:Bus:1", {"attrs": "speed", "format": "simplified"}, {}),
                                        (E + "/urn:ngsi-ld:Bus:1", {"options": "bogus"}, {}),
                                        (E + "/urn:ngsi-ld:Bus:2", {}, {}),
                                        (E + "/not a uri", {}, {}),
                                        (E + "/urn:ngsi-ld:Bus:1", {}, {"Accept": "application/ld+json"}),
                                        (E + "/urn:ngsi-ld:Bus:1", {}, LINK)):
                cases.append((who, tenant, path, params, extra))
    for who, tenant, path, params, extra in cases:
        h = {**auth[who], **extra, **({"NGSILD-Tenant": tenant} if tenant else {})}
        want = _answer(s.get(path, params=params, headers=h))
        f.get(path, params=params, headers=h)  # the first request of a caller resolves and caches it
        n = edge.ANSWERS[0]
        got = _answer(f.get(path, params=params, headers=h))
        answered = edge.ANSWERS[0] - n
        assert answered == (want[0] == 200 and "Accept" not in extra), (who, tenant, path, params, extra)
        if want[1] is not None and "modifiedAt" in str(want[1]):
            assert got[0] == want[0]
            continue
        assert got == want, (who, tenant, path, params, extra)
    assert edge.ANSWERS[0] - before >= 20


def test_writes_answer_alike(two):
    import json

    s, f, auth = two
    before = edge.ANSWERS[0]
    writer = {("oper", "dhaka"), ("ctgadmin", "chattogram")}
    for who in ("oper", "ana", "ctgadmin", "anon"):
        for tenant in ("dhaka", "chattogram", "atlantis"):
            for attr, body, ctype, extra in (("speed", {"value": 7}, "application/json", {}),
                                             ("speed", {"value": None}, "application/json", {}),
                                             ("nothing", {"value": 1}, "application/json", {}),
                                             ("speed", {"value": 8, "datasetId": "urn:ngsi-ld:Dataset:x"},
                                              "application/json", {}),
                                             ("speed", {"value": 9}, "text/plain", {}),
                                             ("speed", '{"value": ', "application/json", {}),
                                             ("speed", {"value": 3}, "application/ld+json", {}),
                                             ("speed", {"value": 3}, "application/json", LINK)):
                h = {**auth[who], **extra, "NGSILD-Tenant": tenant, "Content-Type": ctype}
                raw = body if isinstance(body, str) else json.dumps(body)
                url = E + f"/urn:ngsi-ld:Bus:1/attrs/{attr}"
                want = _answer(s.patch(url, content=raw, headers=h))
                f.get(E + "/urn:ngsi-ld:Bus:1", headers={**auth[who], "NGSILD-Tenant": tenant})  # cache the caller
                n = edge.ANSWERS[0]
                got = _answer(f.patch(url, content=raw, headers=h))
                assert edge.ANSWERS[0] - n == ((who, tenant) in writer and ctype != "text/plain"), (who, tenant, attr, body)
                assert got == want, (who, tenant, attr, body, ctype)
    assert edge.ANSWERS[0] > before
    # both paths wrote, audited and kept the value
    r = s.get(E + "/urn:ngsi-ld:Bus:1", params={"options": "keyValues"}, headers={**auth["oper"], "NGSILD-Tenant": "dhaka"})
    assert r.json()["speed"] == 7
    entries = [e for e in s.app.state.store.audit_entries(city="dhaka") if e["action"].startswith("ngsild.attr")]
    assert len(entries) >= 2
