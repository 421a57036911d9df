from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from nagar.api.app import create_app
from nagar.core.settings import Settings
from tests.conftest import bearer, make_user


@pytest.fixture
def client(store, tmp_path):
    app = create_app(Settings(db=tmp_path / "unused.duckdb", max_batch_rows=100, secret_key="t" * 32),
                     store=store)
    admin = make_user(store, "root", platform_admin=True)
    with TestClient(app, headers=bearer(app, admin)) as c:
        yield c


def hours_ago(h: int) -> str:
    t = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) - timedelta(hours=h)
    return t.isoformat().replace("+00:00", "Z")


def test_cities_and_stations_crud(client):
    r = client.post("/api/v1/cities", json={"id": "ctg", "name": "Chattogram", "country": "bd",
                                             "timezone": "Asia/Dhaka", "lat": 22.36, "lon": 91.78})
    assert r.status_code == 201 and r.json()["country"] == "BD"
    # POST never replaces: the existing city is kept as it was
    again = client.post("/api/v1/cities", json={"id": "ctg", "name": "Overwrite", "country": "BD",
                                                 "timezone": "UTC", "lat": 0, "lon": 0})
    assert again.status_code == 409 and again.json()["field"] == "id"
    assert client.get("/api/v1/cities/ctg").json()["timezone"] == "Asia/Dhaka"
    assert client.get("/api/v1/cities/ctg").json()["standard"] == "us-epa-2024"  # the server's default
    # PUT replaces explicitly; an unknown standard is refused
    put = client.put("/api/v1/cities/ctg", json={"name": "Chattogram", "country": "BD", "timezone": "Asia/Dhaka",
                                                  "lat": 22.36, "lon": 91.78, "standard": "bd-doe"})
    assert put.status_code == 200 and put.json()["standard"] == "bd-doe"
    bad = client.put("/api/v1/cities/ctg", json={"name": "C", "country": "BD", "timezone": "Asia/Dhaka",
                                                  "lat": 22.36, "lon": 91.78, "standard": "nope"})
    assert bad.status_code == 422 and bad.json()["field"] == "standard"
    ids = [c["id"] for c in client.get("/api/v1/cities").json()["items"]]
    assert ids == ["ctg", "dhaka"]
    r = client.post("/api/v1/stations", json={"id": "ctg-khulshi", "city": "ctg", "name": "Khulshi", "lat": 22.36,
                                               "lon": 91.8, "parameters": ["PM2.5", "o3"]})
    assert r.status_code == 201 and r.json()["parameters"] == ["o3", "pm25"]
    assert [s["id"] for s in client.get("/api/v1/stations", params={"city": "ctg"}).json()["items"]] == ["ctg-khulshi"]
    assert client.get("/api/v1/stations/ctg-khulshi").json()["name"] == "Khulshi"
    dup = client.post("/api/v1/stations", json={"id": "ctg-khulshi", "city": "ctg", "name": "X", "lat": 0, "lon": 0})
    assert dup.status_code == 409
    moved = client.put("/api/v1/stations/ctg-khulshi", json={"city": "dhaka", "name": "K", "lat": 22.36, "lon": 91.8})
    assert moved.status_code == 422 and moved.json()["field"] == "city"
    renamed = client.put("/api/v1/stations/ctg-khulshi", json={"city": "ctg", "name": "TV Station", "lat": 22.36,
                                                                "lon": 91.8, "parameters": ["pm25"]})
    assert renamed.status_code == 200 and renamed.json()["name"] == "TV Station"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"id": "Bad Id", "name": "x", "country": "BD", "timezone": "Asia/Dhaka", "lat": 0, "lon": 0}, "id"),
        ({"id": "x", "name": "x", "country": "BD", "timezone": "Mars/Olympus", "lat": 0, "lon": 0}, "timezone"),
        ({"id": "x", "name": "x", "country": "BD", "timezone": "UTC", "lat": 91, "lon": 0}, "lat"),
        ({"id": "x", "name": "x", "country": "BD", "timezone": "UTC", "lat": "north", "lon": 0}, "lat"),
        ({"id": "x", "country": "BD", "timezone": "UTC", "lat": 0, "lon": 0}, "name"),
    ],
)
def test_bad_city_is_422_naming_the_field(client, body, field):
    r = client.post("/api/v1/cities", json=body)
    assert r.status_code == 422
    j = r.json()
    assert j["error"] == "invalid_input" and j["field"] == field and j["message"]


def test_station_in_unknown_city_is_404(client):
    r = client.post("/api/v1/stations", json={"id": "s", "city": "atlantis", "name": "s", "lat": 0, "lon": 0})
    assert r.status_code == 404 and r.json()["field"] == "city"


def test_unknown_things_are_404_json(client):
    assert client.get("/api/v1/stations/nope").json()["error"] == "not_found"
    assert client.get("/api/v1/cities/nope").status_code == 404
    assert client.get("/api/v1/aqi", params={"station": "st1", "standard": "no-such"}).status_code == 404


def test_post_observations_counts_and_rejections(client):
    rows = [
        {"station": "st1", "parameter": "pm25", "time": hours_ago(2), "value": 40.0, "unit": "µg/m³"},
        {"station": "st1", "parameter": "pm25", "time": hours_ago(1), "value": -5, "unit": "µg/m³"},
        {"station": "st1", "parameter": "pm25", "time": hours_ago(2), "value": 42.0, "unit": "µg/m³"},
    ]
    r = client.post("/api/v1/observations", json=rows)
    assert r.status_code == 200
    j = r.json()
    assert (j["received"], j["inserted"], j["updated"], j["rejected"]) == (3, 1, 1, 1)
    assert j["errors"] == [{"index": 1, "field": "value", "reason": "impossible value -5.0 µg/m³: below 0.0 µg/m³"}]
    again = client.post("/api/v1/observations", json={"observations": rows[:1]}).json()
    assert (again["inserted"], again["updated"]) == (0, 1)
    obs = client.get("/api/v1/observations", params={"station": "st1"}).json()
    assert obs["count"] == 1 and obs["items"][0]["value"] == 40.0


@pytest.mark.parametrize(
    "body, status, field",
    [
        (b"{not json", 422, "body"),
        (b'{"rows": []}', 422, "body"),
        (b'"a string"', 422, "observations"),
    ],
)
def test_malformed_bodies(client, body, status, field):
    r = client.post("/api/v1/observations", content=body, headers={"content-type": "application/json"})
    assert r.status_code == status and r.json()["field"] == field


def test_batch_over_limit_is_413_and_nothing_stored(client, store):
    rows = [{"station": "st1", "parameter": "pm25", "time": hours_ago(1), "value": 1.0, "unit": "µg/m³"}] * 101
    r = client.post("/api/v1/observations", json=rows)
    assert r.status_code == 413 and "limit is 100" in r.json()["message"]
    assert store.stats().observations == 0


def test_observation_query_validation(client):
    assert client.get("/api/v1/observations", params={"start": "yesterday"}).status_code == 422
    r = client.get("/api/v1/observations", params={"parameter": "plutonium"})
    assert r.status_code == 422 and r.json()["field"] == "parameter"
    r = client.get("/api/v1/observations", params={"aggregation": "week"})
    assert r.status_code == 422 and r.json()["field"] == "aggregation"


def test_aqi_for_a_station_uses_nowcast_hourly_and_24h_daily(client):
    # 12 hours at a constant 35.5 µg/m³: NowCast = 35.5, EPA 2024 -> 101 (USG), dominant pm25
    rows = [{"station": "st1", "parameter": "pm25", "time": hours_ago(h), "value": 35.5, "unit": "µg/m³"}
            for h in range(1, 13)]
    assert client.post("/api/v1/observations", json=rows).json()["inserted"] == 12
    r = client.get("/api/v1/aqi", params={"station": "st1", "standard": "us-epa-2024", "start": hours_ago(3),
                                          "end": hours_ago(0)})
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [i["aqi"] for i in items] == [101, 101, 101]
    assert items[-1]["category_key"] and items[-1]["dominant"] == "pm25_24h"
    latest = client.get("/api/v1/aqi/latest", params={"city": "dhaka", "standard": "us-epa-2024"}).json()
    by = {i["station"]: i for i in latest["items"]}
    assert by["st1"]["aqi"] == 101 and by["st2"]["aqi"] is None


def test_aqi_parameter_errors(client):
    assert client.get("/api/v1/aqi").status_code == 422
    assert client.get("/api/v1/aqi", params={"station": "st1", "city": "dhaka"}).status_code == 422
    r = client.get("/api/v1/aqi", params={"station": "st1", "start": hours_ago(1), "end": hours_ago(5)})
    assert r.status_code == 422 and r.json()["field"] == "end"


def test_standards_listed(client):
    ids = {s["id"] for s in client.get("/api/v1/standards").json()["items"]}
    assert {"us-epa-2024", "bd-doe", "in-naqi-2014"} <= ids


def test_openapi_docs(client):
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert "/api/v1/observations" in paths and "/api/v1/aqi" in paths


@pytest.mark.parametrize(
    "body, field, words",
    [
        ({"country": "ZZ"}, "country", "unknown country"),
        ({"lat": True}, "lat", "valid number"),
        ({"lat": "NaN"}, "lat", "valid number"),
    ],
)
def test_city_fields_are_checked_strictly(client, body, field, words):
    base = {"id": "k", "name": "Khulna", "country": "BD", "timezone": "Asia/Dhaka", "lat": 22.8, "lon": 89.55}
    r = client.post("/api/v1/cities", json={**base, **body})
    assert r.status_code == 422 and r.json()["field"] == field and words in r.json()["message"]


def test_json_syntax_error_names_the_body(client):
    r = client.post("/api/v1/cities", content=b'{"id": "x", "name":', headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["field"] == "body" and "not valid JSON" in r.json()["message"]


def test_naive_end_is_named(client):
    r = client.get("/api/v1/aqi", params={"city": "dhaka", "end": "2026-11-27T00:00:00"})
    assert r.status_code == 422 and r.json()["field"] == "end"


def test_daily_means_use_each_station_city_day_whatever_the_order(client, store):
    store.upsert_city(dict(id="bkk", name="Bangkok", country="TH", timezone="Asia/Bangkok", lat=13.75, lon=100.5))
    store.upsert_station(dict(id="bk1", city="bkk", name="B", lat=13.7, lon=100.5, parameters=["pm25"]))
    from tests.conftest import obs_table, utc

    # 17:30 UTC is 23:30 in Dhaka (UTC+6) but 00:30 next day in Bangkok (UTC+7)
    store.write_observations(obs_table([("st1", "pm25", utc(2025, 1, 1, 17, 30), 10.0),
                                        ("bk1", "pm25", utc(2025, 1, 1, 17, 30), 20.0)]))
    for order in (["st1", "bk1"], ["bk1", "st1"]):
        items = client.get("/api/v1/observations", params={"station": order, "aggregation": "day"}).json()["items"]
        assert {(i["station"], i["date"]) for i in items} == {("st1", "2025-01-01"), ("bk1", "2025-01-02")}


def test_a_station_far_from_its_city_is_refused_and_a_swap_is_named(client):
    """Kathmandu's centre is (27.7172, 85.3240) here. Distances by the haversine formula with
    R = 6371.0088 km, worked by hand:
    - Tokyo (35.68, 139.76): 5,160 km (central angle 0.81 rad * 6371.0088 km) -> refused;
    - (85.3240, 27.7172), latitude and longitude swapped: refused, and the swap is named, since read the
      other way round it is the centre itself (0 km);
    - (28.3, 85.3240): dlat 0.5828 deg * 111.195 km/deg = 64.8 km -> accepted (the limit is 100 km)."""
    city = client.post("/api/v1/cities", json={"id": "ktm", "name": "Kathmandu", "country": "NP",
                                                "timezone": "Asia/Kathmandu", "lat": 27.7172, "lon": 85.3240})
    assert city.status_code == 201, city.text
    far = client.post("/api/v1/stations", json={"id": "ktm-tokyo", "city": "ktm", "name": "T", "lat": 35.68,
                                                 "lon": 139.76})
    assert far.status_code == 422 and far.json()["field"] == "lat"
    assert "km from the centre of ktm" in far.json()["message"] and "within 100 km" in far.json()["message"]
    assert "swapped" not in far.json()["message"]
    swapped = client.post("/api/v1/stations", json={"id": "ktm-swap", "city": "ktm", "name": "S", "lat": 85.324,
                                                     "lon": 27.7172})
    assert swapped.status_code == 422 and "look swapped" in swapped.json()["message"]
    ok = client.post("/api/v1/stations", json={"id": "ktm-north", "city": "ktm", "name": "N", "lat": 28.3,
                                                "lon": 85.324})
    assert ok.status_code == 201
    moved = client.put("/api/v1/stations/ktm-north", json={"city": "ktm", "name": "N", "lat": 35.68, "lon": 139.76})
    assert moved.status_code == 422 and client.get("/api/v1/stations/ktm-north").json()["lat"] == 28.3
