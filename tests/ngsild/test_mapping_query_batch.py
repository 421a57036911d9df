"""Smart Data Models mapping, query language, geo-queries and batch operations (ETSI GS CIM 009 V1.6.1)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from tests.ngsild.conftest import E

ERR = "https://uri.etsi.org/ngsi-ld/errors/"


def _hour(h_ago: int) -> str:
    t = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) - timedelta(hours=h_ago)
    return t.isoformat().replace("+00:00", "Z")


def aqo(eid="urn:ngsi-ld:AirQualityObserved:dhaka-agargaon", pm25=55.4, when=None):
    return {"id": eid, "type": "AirQualityObserved",
            "dateObserved": {"type": "Property", "value": when or _hour(1)},
            "pm25": {"type": "Property", "value": pm25, "unitCode": "GQ"},
            "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [90.38, 23.78]}}}


def test_air_quality_observed_moves_the_aqi(api):
    """Mapping (Nagar issue #8): an AirQualityObserved create and its updates write observations through
    the one ingest path, so the city's AQI endpoint moves. Worked by hand from U.S. EPA EPA-454/B-24-002
    (2024), PM2.5 breakpoints 35.5-55.4 µg/m³ -> AQI 101-150: three hours at 55.4 µg/m³ give a NowCast of
    55.4 (equal weights of equal values), so I = (150-101)/(55.4-35.5) x (55.4-35.5) + 101 = 150."""
    r = api.post(E, aqo(pm25=55.4, when=_hour(3)))
    assert r.status_code == 201, r.text
    latest = api.c.get("/api/v1/aqi/latest", params={"city": "dhaka"}, headers=api.auth).json()
    before = next(i for i in latest["items"] if i["station"] == "dhaka-agargaon")["aqi"]
    url = E + "/urn:ngsi-ld:AirQualityObserved:dhaka-agargaon/attrs/pm25"
    for h in (2, 1):
        assert api.patch(url, {"value": 55.4, "observedAt": _hour(h)}).status_code == 204
    obs = api.store.observations(stations=["dhaka-agargaon"], parameters=["pm25"])
    assert obs.column("value").to_pylist() == [55.4, 55.4, 55.4]
    latest = api.c.get("/api/v1/aqi/latest", params={"city": "dhaka"}, headers=api.auth).json()
    item = next(i for i in latest["items"] if i["station"] == "dhaka-agargaon")
    assert before is None and item["aqi"] == 150


def test_air_quality_update_and_read_reflects_latest_observation(api):
    """Mapping both ways: a PATCH of pm25 is a new observation; reading the entity overlays the latest
    stored observation (canonical unit, unitCode GQ = µg/m³, UN/CEFACT Rec. 20), including one that
    arrived by another path (the ingest API)."""
    api.post(E, aqo(pm25=20.0, when=_hour(3)))
    url = E + "/urn:ngsi-ld:AirQualityObserved:dhaka-agargaon/attrs/pm25"
    assert api.patch(url, {"value": 30.0, "observedAt": _hour(2)}).status_code == 204
    vals = api.store.observations(stations=["dhaka-agargaon"], parameters=["pm25"]).column("value").to_pylist()
    assert vals == [20.0, 30.0]
    r = api.c.post("/api/v1/observations", headers=api.auth, json=[
        {"station": "dhaka-agargaon", "parameter": "pm25", "time": _hour(1), "value": 42.0, "unit": "µg/m³"}])
    assert r.status_code == 200, r.text
    got = api.get(E + "/urn:ngsi-ld:AirQualityObserved:dhaka-agargaon").json()
    assert got["pm25"]["value"] == 42.0 and got["pm25"]["observedAt"] == _hour(1) and got["pm25"]["unitCode"] == "GQ"


def test_unknown_station_is_created_in_the_tenant_city(api):
    """Mapping: the entity id's last segment is the station id; a station that does not exist is created in
    the tenant's city at the entity's location; an id that is no valid station id is BadRequestData."""
    assert api.post(E, aqo("urn:ngsi-ld:AirQualityObserved:dhaka-mirpur")).status_code == 201
    st = api.store.get_station("dhaka-mirpur")
    assert st["city"] == "dhaka" and (st["lat"], st["lon"]) == (23.78, 90.38)
    r = api.post(E, aqo("urn:ngsi-ld:AirQualityObserved:Bad Station!"))
    assert r.status_code == 400
    # a refused observation (negative concentration) writes nothing at all
    r = api.post(E, aqo("urn:ngsi-ld:AirQualityObserved:dhaka-x", pm25=-5))
    assert r.status_code == 400 and r.json()["type"] == ERR + "BadRequestData"
    assert api.get(E + "/urn:ngsi-ld:AirQualityObserved:dhaka-x").status_code == 404


def test_device_becomes_a_station(api):
    """Mapping: a Device entity creates a Nagar station of the tenant's city."""
    r = api.post(E, {"id": "urn:ngsi-ld:Device:dhaka-dev1", "type": "Device", "name": "Gulshan sensor",
                     "location": {"type": "Point", "coordinates": [90.41, 23.79]}})
    assert r.status_code == 201, r.text
    st = api.store.get_station("dhaka-dev1")
    assert st["name"] == "Gulshan sensor" and st["city"] == "dhaka"


def _fleet(api):
    for i, (spd, lon) in enumerate([(10, 90.40), (50, 90.41), (90, 90.50)]):
        api.post(E, {"id": f"urn:ngsi-ld:Vehicle:{i}", "type": "Vehicle", "speed": spd, "name": f"bus-{i}",
                     "info": {"type": "Property", "value": {"seats": {"front": i}}},
                     "location": {"type": "Point", "coordinates": [lon, 23.80]},
                     "obs": {"type": "Property", "value": i, "observedAt": f"2024-01-0{i + 1}T00:00:00Z"}})
    api.post(E, {"id": "urn:ngsi-ld:Truck:9", "type": ["Truck", "Vehicle"], "speed": 70})


def _ids(r):
    assert r.status_code == 200, r.text
    return sorted(e["id"].rsplit(":", 1)[-1] for e in r.json())


def test_query_language(api):
    """Clause 4.9 (NGSI-LD Query Language): comparisons, ranges, lists, regex, and/or, parentheses,
    paths with '.' (observedAt member) and '[ ]' (into a JSON value)."""
    _fleet(api)
    q = lambda expr, **kw: _ids(api.get(E, params={"type": "Vehicle", "q": expr, **kw}))  # noqa: E731
    assert q("speed>50") == ["2", "9"]
    assert q("speed>=50;speed<90") == ["1", "9"]
    assert q("speed==40..80") == ["1", "9"]
    assert q("speed==10,90") == ["0", "2"]
    assert q("speed!=10") == ["1", "2", "9"]
    assert q('name~="bus-[01]"') == ["0", "1"]
    assert q("speed<20|speed>80") == ["0", "2"]
    assert q("(speed<20|speed>80);name==\"bus-2\"") == ["2"]
    assert q("info[seats][front]==1") == ["1"]
    assert q("obs.observedAt>2024-01-01T12:00:00Z") == ["1", "2"]
    assert q("info") == ["0", "1", "2"]
    r = api.get(E, params={"type": "Vehicle", "q": "speed>>1"})
    assert r.status_code == 400 and r.json()["type"] == ERR + "BadRequestData"


def test_type_selection_ids_and_pagination(api):
    """Clause 4.17 (type selection: ',' '|' or, ';' and, parentheses); clause 5.7.2 id / idPattern /
    attrs; clause 5.5.9 pagination (limit/offset) and 6.3.13 NGSILD-Results-Count with count=true."""
    _fleet(api)
    assert _ids(api.get(E, params={"type": "Truck;Vehicle"})) == ["9"]
    assert _ids(api.get(E, params={"type": "Truck,Bike"})) == ["9"]
    assert _ids(api.get(E, params={"type": "(Truck|Bike);Vehicle"})) == ["9"]
    assert _ids(api.get(E, params={"id": "urn:ngsi-ld:Vehicle:0,urn:ngsi-ld:Truck:9"})) == ["0", "9"]
    assert _ids(api.get(E, params={"idPattern": "urn:ngsi-ld:Vehicle:[12]"})) == ["1", "2"]
    assert _ids(api.get(E, params={"type": "Vehicle", "attrs": "info"})) == ["0", "1", "2"]
    r = api.get(E, params={"type": "Vehicle", "limit": 2, "offset": 1, "count": "true"})
    assert r.headers["NGSILD-Results-Count"] == "4" and len(r.json()) == 2
    assert api.get(E, params={"type": "Vehicle", "limit": 5000}).json()["type"] == ERR + "TooManyResults"
    assert api.get(E).status_code == 400  # clause 5.7.2: some filter is required


def test_geo_queries(api):
    """Clause 4.10 (geo-queries): near with maxDistance/minDistance in metres, within a Polygon,
    intersects, disjoint, equals. Hand-worked distance: 0.01° of longitude at latitude 23.80° is
    6 371 008.8 × cos(23.80°) × 0.01 × π/180 = 1 017.3 m."""
    _fleet(api)
    g = lambda **kw: _ids(api.get(E, params={"type": "Vehicle", **kw}))  # noqa: E731
    near = dict(georel="near;maxDistance==1100", geometry="Point", coordinates="[90.40,23.80]")
    assert g(**near) == ["0", "1"]
    assert g(**{**near, "georel": "near;maxDistance==1000"}) == ["0"]
    assert g(**{**near, "georel": "near;minDistance==1100"}) == ["2"]
    poly = "[[[90.39,23.7],[90.45,23.7],[90.45,23.9],[90.39,23.9],[90.39,23.7]]]"
    assert g(georel="within", geometry="Polygon", coordinates=poly) == ["0", "1"]
    assert g(georel="intersects", geometry="Polygon", coordinates=poly) == ["0", "1"]
    assert g(georel="disjoint", geometry="Polygon", coordinates=poly) == ["2"]
    assert g(georel="equals", geometry="Point", coordinates="[90.5,23.8]") == ["2"]
    r = api.get(E, params={"type": "Vehicle", "georel": "near", "geometry": "Point", "coordinates": "[1,2]"})
    assert r.status_code == 400


def test_post_query(api):
    """Clause 5.7.2 via POST /entityOperations/query (binding 6.23): a Query body with entities, q, geoQ."""
    _fleet(api)
    r = api.post("/ngsi-ld/v1/entityOperations/query", {
        "type": "Query", "entities": [{"type": "Vehicle"}], "q": "speed>20",
        "geoQ": {"georel": "near;maxDistance==2000", "geometry": "Point", "coordinates": [90.40, 23.80]}})
    assert _ids(r) == ["1"]


def test_batch_operations(api):
    """Clauses 5.6.7-5.6.10 (batch create, upsert, update, delete) with their BatchOperationResult
    (success ids + errors with ProblemDetails): 201 / 204 when all succeed, 207 otherwise."""
    ops = "/ngsi-ld/v1/entityOperations/"
    ents = [{"id": f"urn:ngsi-ld:Bin:{i}", "type": "WasteContainer", "fill": i / 10} for i in range(3)]
    r = api.post(ops + "create", ents)
    assert r.status_code == 201 and sorted(r.json()) == [e["id"] for e in ents]
    r = api.post(ops + "create", [ents[0], {"id": "urn:ngsi-ld:Bin:9", "type": "WasteContainer"}, {"type": "x"}])
    assert r.status_code == 207
    res = r.json()
    assert res["success"] == ["urn:ngsi-ld:Bin:9"]
    assert [e["error"]["type"] for e in res["errors"]] == [ERR + "AlreadyExists", ERR + "BadRequestData"]
    # upsert: replace (default) drops attributes not sent; update merges
    r = api.post(ops + "upsert", [{"id": "urn:ngsi-ld:Bin:0", "type": "WasteContainer", "temp": 30}])
    assert r.status_code == 204
    assert "fill" not in api.get(E + "/urn:ngsi-ld:Bin:0").json()
    r = api.post(ops + "upsert", [{"id": "urn:ngsi-ld:Bin:1", "type": "WasteContainer", "temp": 31},
                                  {"id": "urn:ngsi-ld:Bin:5", "type": "WasteContainer", "temp": 5}],
                 params={"options": "update"})
    assert r.status_code == 201 and r.json() == ["urn:ngsi-ld:Bin:5"]
    kv = api.get(E + "/urn:ngsi-ld:Bin:1", params={"options": "keyValues"}).json()
    assert (kv["fill"], kv["temp"]) == (0.1, 31)
    # update with noOverwrite keeps existing values
    r = api.post(ops + "update", [{"id": "urn:ngsi-ld:Bin:2", "fill": 0.9, "lid": "open"}],
                 params={"options": "noOverwrite"})
    assert r.status_code == 204
    kv = api.get(E + "/urn:ngsi-ld:Bin:2", params={"options": "keyValues"}).json()
    assert (kv["fill"], kv["lid"]) == (0.2, "open")
    r = api.post(ops + "delete", ["urn:ngsi-ld:Bin:0", "urn:ngsi-ld:Bin:404"])
    assert r.status_code == 207
    assert r.json()["success"] == ["urn:ngsi-ld:Bin:0"]
    assert r.json()["errors"][0]["error"]["type"] == ERR + "ResourceNotFound"
    assert api.get(E + "/urn:ngsi-ld:Bin:0").status_code == 404
    assert api.post(ops + "delete", []).status_code == 400


def test_updating_one_attribute_writes_only_its_observation(api):
    """Mapping: a partial update (clause 5.6.4) of pm10 writes one pm10 observation; pm25, unchanged, is
    not written again; without observedAt the new value is observed at the time of the write."""
    body = aqo(pm25=20.0, when="2024-05-01T00:00:00Z")
    body["pm10"] = {"type": "Property", "value": 40.0}
    assert api.post(E, body).status_code == 201
    assert api.patch(E + "/urn:ngsi-ld:AirQualityObserved:dhaka-agargaon/attrs/pm10", {"value": 45.0}).status_code == 204
    obs = api.store.observations(stations=["dhaka-agargaon"]).to_pylist()
    assert sorted((o["parameter"], o["value"]) for o in obs) == [("pm10", 40.0), ("pm10", 45.0), ("pm25", 20.0)]
    new = next(o for o in obs if o["value"] == 45.0)
    assert new["time"].year >= 2025
