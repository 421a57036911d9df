"""The requests and open-data store mixins, held to the same assertions on DuckDB and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from nagar.store.opendata_tables import OpenDataTables
from nagar.store.requests_tables import RequestsTables
from tests.conftest import DHAKA, obs_table, utc
from tests.store.test_backends import CTG, backend  # noqa: F401  (the parametrised fixture)

T0 = utc(2026, 3, 1, 6)


def _req(city="dhaka", code="EWASTE", status="new", lat=23.778, lon=90.38, t=T0, **kw):
    return {"city": city, "service_code": code, "status": status, "department": "waste", "description": "d",
            "lat": lat, "lon": lon, "address": None, "address_id": None, "zipcode": None,
            "attributes": {"ACTIVITY": "burning", "ITEMS": ["cables"]}, "media_url": None, "status_notes": None,
            "duplicate_of": None, "token": f"tok-{lat}-{code}", "client_id": "app1", "requested_at": t,
            "updated_at": t, "expected_at": t + timedelta(hours=48), "closed_at": None, **kw}


@pytest.fixture
def store(backend):  # noqa: F811
    s = backend.open((RequestsTables, OpenDataTables))
    s.upsert_city(DHAKA)
    s.upsert_city(CTG)
    yield s
    s.close()


def test_requests_mixin(store):
    contact = {"email": "a@b.c", "device_id": "d1", "account_id": None, "first_name": "Rahim", "last_name": None,
               "phone": "017"}
    a = store.add_service_request(_req(), contact=contact, media=None, actor="open311:app1")
    assert a["id"] == 1 and a["attributes"] == {"ACTIVITY": "burning", "ITEMS": ["cables"]}
    assert a["requested_at"] == T0.replace(tzinfo=None) and "email" not in a
    media = {"name": "x.jpg", "content_type": "image/jpeg", "bytes": 10, "sha256": "ab"}
    b = store.add_service_request(_req(code="GARBAGE", lat=23.8, t=T0 + timedelta(hours=1)), contact={}, media=media,
                                  actor="t")
    c = store.add_service_request(_req(city="ctg", lat=22.3), contact={}, media=None, actor="t")
    assert store.service_request_contact(a["id"]) == contact
    assert store.service_request_contact(a["id"], scope=frozenset({"ctg"})) is None
    assert store.request_media("x.jpg")["request_id"] == b["id"]
    assert store.request_media("x.jpg", scope=frozenset({"ctg"})) is None
    assert [r["id"] for r in store.service_requests(city="dhaka")] == [b["id"], a["id"]]
    assert [r["id"] for r in store.service_requests(city="dhaka", codes=["GARBAGE"])] == [b["id"]]
    assert [r["id"] for r in store.service_requests(city="dhaka", ids=[a["id"], c["id"]], codes=["X"])] == [a["id"]]
    assert store.service_requests(city="dhaka", start=T0 + timedelta(minutes=30), end=T0 + timedelta(hours=2),
                                  statuses=["new"])[0]["id"] == b["id"]
    assert store.service_requests(city="dhaka", scope=frozenset({"ctg"})) == []
    assert store.service_request_by_token(a["token"], city="dhaka")["id"] == a["id"]
    near = store.open_requests_near(city="dhaka", service_code="EWASTE", since=T0 - timedelta(hours=1),
                                    lat_min=23.77, lat_max=23.79, lon_min=90.37, lon_max=90.39)
    assert [r["id"] for r in near] == [a["id"]]
    out = store.update_service_request(a["id"], {"status": "resolved", "closed_at": T0 + timedelta(hours=2),
                                                 "updated_at": T0 + timedelta(hours=2), "status_notes": "Done."},
                                       event={"time": T0 + timedelta(hours=2), "actor": "op", "from_status": "new",
                                              "to_status": "resolved", "note": "Done.", "public": True})
    assert out["status"] == "resolved" and out["status_notes"] == "Done."
    assert [(e["from_status"], e["to_status"], e["public"]) for e in store.service_request_events(a["id"])] == [
        (None, "new", False), ("new", "resolved", True)]
    assert store.open_requests_near(city="dhaka", service_code="EWASTE", since=T0 - timedelta(hours=1), lat_min=23.77,
                                    lat_max=23.79, lon_min=90.37, lon_max=90.39) == []
    overdue = store.overdue_requests(city="dhaka", now=T0 + timedelta(hours=50))
    assert [r["id"] for r in overdue] == [b["id"]]
    assert {(r["service_code"], r["status"], r["n"]) for r in store.service_request_counts(city="dhaka")} == {
        ("EWASTE", "resolved", 1), ("GARBAGE", "new", 1)}
    assert store.duplicates_of(a["id"]) == []
    d = store.add_service_request(_req(status="duplicate", duplicate_of=a["id"], lat=23.7781), contact={}, media=None,
                                  actor="t")
    assert store.duplicates_of(a["id"]) == [d["id"]]
    assert [r["id"] for r in store.service_requests_page(city="dhaka", after_id=0, limit=1)] == [a["id"]]
    assert [r["id"] for r in store.service_requests_page(city="dhaka", after_id=a["id"], limit=5)] == [b["id"], d["id"]]


def test_open311_clients_and_service_settings(store):
    store.add_open311_client({"id": "k1", "city": "dhaka", "name": "App", "secret_hash": "h", "created_at": T0,
                              "created_by": "admin", "revoked_at": None})
    assert store.open311_client("k1")["secret_hash"] == "h"
    assert [k["id"] for k in store.open311_clients(city="dhaka")] == ["k1"]
    assert "secret_hash" not in store.open311_clients(city="dhaka")[0]
    assert store.revoke_open311_client("k1", now=T0) is True and store.revoke_open311_client("k1", now=T0) is False
    row = {"city": "dhaka", "service_code": "AIR", "enabled": False, "department": None, "sla_hours": 12.0,
           "updated_at": T0, "updated_by": "admin"}
    store.put_request_service_setting(row)
    store.put_request_service_setting({**row, "enabled": True})
    [s] = store.request_service_settings(city="dhaka")
    assert s["enabled"] is True and s["sla_hours"] == 12.0


def test_opendata_mixin(store):
    row = {"city": "dhaka", "dataset": "aqi-daily", "enabled": True, "license": "CC-BY-4.0", "frequency": "DAILY",
           "description": None, "updated_at": T0, "updated_by": "admin"}
    store.put_opendata_setting(row)
    store.put_opendata_setting({**row, "enabled": False, "license": "ODbL-1.0"})
    [s] = store.opendata_settings(city="dhaka")
    assert (s["enabled"], s["license"]) == (False, "ODbL-1.0") and store.opendata_settings(city="ctg") == []
    assert store.observation_span(city="dhaka") is None
    store.upsert_station(dict(id="st1", city="dhaka", name="S1", lat=23.78, lon=90.38, parameters=["pm25"]))
    store.write_observations(obs_table([("st1", "pm25", T0, 10.0), ("st1", "pm25", T0 + timedelta(hours=5), 12.0)]))
    assert store.observation_span(city="dhaka") == (T0, T0 + timedelta(hours=5))


def test_open311_and_open_data_through_the_api_on_each_backend(store, tmp_path):
    """The whole path on both backends: file a request, read it back in both formats, move it, publish
    and download the anonymised requests and the daily AQI."""
    import io
    import xml.etree.ElementTree as ET

    import pyarrow.parquet as pq
    from fastapi.testclient import TestClient

    from nagar.api.app import create_app
    from nagar.core.settings import Settings
    from nagar.opendata.service import ensure_published
    from nagar.requests import service
    from tests.conftest import bearer, make_user

    store.upsert_city({**DHAKA, "open_data": True})
    store.upsert_station(dict(id="st1", city="dhaka", name="S1", lat=23.78, lon=90.38, parameters=["pm25"]))
    store.write_observations(obs_table([("st1", "pm25", utc(2026, 2, 27, 18) + timedelta(hours=h), 12.0)
                                        for h in range(24)]))
    key = service.issue_client_key(store, city="dhaka", name="app", actor="t")["key"]
    oper = make_user(store, "oper", roles={"dhaka": "operator"})
    app = create_app(Settings(secret_key="k" * 32, db=tmp_path / "x.duckdb"), store=store)
    with TestClient(app) as c:
        r = c.post("/api/v1/open311/v2/requests.json", data={"api_key": key, "service_code": "EWASTE", "lat": 23.778,
                                                             "long": 90.38, "attribute[ACTIVITY]": "burning",
                                                             "email": "citizen@example.com"})
        assert r.status_code == 200, r.text
        rid = r.json()[0]["service_request_id"]
        dup = c.post("/api/v1/open311/v2/requests.json", data={"api_key": key, "service_code": "EWASTE",
                                                               "lat": 23.7785, "long": 90.38,
                                                               "attribute[ACTIVITY]": "dumping"})
        assert "linked to it" in dup.json()[0]["service_notice"]
        x = ET.fromstring(c.get("/api/v1/open311/v2/requests.xml", params={"jurisdiction_id": "dhaka"}).content)
        assert [e.findtext("status") for e in x] == ["closed", "open"]
        r = c.patch(f"/api/v1/service-requests/{rid}", json={"status": "resolved"}, headers=bearer(app, oper))
        assert r.status_code == 200 and r.json()["contact"]["email"] == "citizen@example.com"
        ensure_published(store, city="dhaka", datasets=["service-requests", "aqi-daily"], actor="t")
        t = pq.read_table(io.BytesIO(c.get("/api/v1/opendata/dhaka/datasets/service-requests.parquet").content))
        assert t.column("workflow_status").to_pylist() == ["resolved", "duplicate"]
        assert "citizen@example.com" not in str(t.to_pylist())
        a = pq.read_table(io.BytesIO(c.get("/api/v1/opendata/dhaka/datasets/aqi-daily.parquet").content))
        assert a.column("aqi").to_pylist() == [56.0]  # 12.0 µg/m³ for the local day (US EPA 2024, see tests/opendata)
