"""Nagar's own stations as NGSI-LD entities (Nagar issue #8 "both ways"; ETSI GS CIM 009 V1.6.1): a station
fed by the ordinary ingest API shows as an AirQualityObserved entity in query, retrieve and temporal reads,
and an NGSI-LD write to that entity is an observation of the station."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from tests.ngsild.conftest import E

AQO = "urn:ngsi-ld:AirQualityObserved:"
BANANI = AQO + "dhaka-banani"
ERR = "https://uri.etsi.org/ngsi-ld/errors/"


def _hour(h_ago: int) -> str:
    t = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) - timedelta(hours=h_ago)
    return t.isoformat().replace("+00:00", "Z")


def _station(api, sid="dhaka-banani", city="dhaka", lat=23.794, lon=90.404):
    api.store.upsert_station(dict(id=sid, city=city, name=sid.split("-")[1].title(), lat=lat, lon=lon,
                                  parameters=["pm25", "no2"]))


def _ingest(api, rows):
    """The ordinary HTTP ingest route (not NGSI-LD)."""
    r = api.c.post("/api/v1/observations", json=rows, headers=api.auth)
    assert r.status_code == 200, r.text
    assert r.json()["rejected"] == 0, r.text


def _obs(sid, prm, h, v, unit="µg/m³"):
    return {"station": sid, "parameter": prm, "time": _hour(h), "value": v, "unit": unit}


def _ids(r):
    assert r.status_code == 200, r.text
    return [e["id"] for e in r.json()]


def test_ingested_station_appears_in_type_query(api):
    """Clause 5.7.2 "Query Entities" (type selection) and clause 4.5 representations: a station ingested by
    HTTP shows as an AirQualityObserved with its latest counted readings (canonical unit, UN/CEFACT Rec. 20
    code GQ = µg/m³, observedAt), name, dateObserved and a GeoProperty Point [lon, lat]."""
    _station(api)
    _ingest(api, [_obs("dhaka-banani", "pm25", 2, 40.0), _obs("dhaka-banani", "pm25", 1, 61.5),
                  _obs("dhaka-banani", "no2", 1, 20.0, "ppb"),
                  {**_obs("dhaka-banani", "pm25", 0, 999.0), "flag": "invalid"}])
    r = api.get(E, params={"type": "AirQualityObserved"})
    ents = {e["id"]: e for e in r.json()}
    assert BANANI in ents and AQO + "dhaka-agargaon" in ents  # agargaon (conftest) has no readings: still shown
    e = ents[BANANI]
    assert e["type"] == "AirQualityObserved"
    assert e["pm25"] == {"type": "Property", "value": 61.5, "unitCode": "GQ", "observedAt": _hour(1)}
    assert e["no2"]["value"] == 20.0 and e["no2"]["unitCode"] == "61"  # ppb = UN/CEFACT 61
    assert e["location"] == {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [90.404, 23.794]}}
    assert e["name"]["value"] == "Banani" and e["dateObserved"]["value"] == _hour(1)
    kv = api.get(E, params={"type": "AirQualityObserved", "options": "keyValues", "attrs": "pm25"}).json()
    assert {"id": BANANI, "type": "AirQualityObserved", "pm25": 61.5} in kv
    r = api.get(E, params={"type": "AirQualityObserved", "count": "true", "limit": 1, "offset": 1})
    assert r.headers["NGSILD-Results-Count"] == "2" and _ids(r) == [BANANI]  # id order: agargaon, banani


def test_retrieve_station_entity(api):
    """Clause 5.7.1 "Retrieve Entity" of a station view, in normalized, concise and keyValues form; an id of
    a station that does not exist is ResourceNotFound."""
    _station(api)
    _ingest(api, [_obs("dhaka-banani", "pm25", 1, 33.3)])
    r = api.get(E + "/" + BANANI)
    assert r.status_code == 200, r.text
    assert r.json()["pm25"]["value"] == 33.3 and r.json()["location"]["value"]["coordinates"] == [90.404, 23.794]
    assert api.get(E + "/" + BANANI, params={"options": "concise"}).json()["pm25"]["value"] == 33.3
    assert api.get(E + "/" + BANANI, params={"options": "keyValues"}).json()["name"] == "Banani"
    r = api.get(E + "/" + AQO + "dhaka-nowhere")
    assert r.status_code == 404 and r.json()["type"] == ERR + "ResourceNotFound"


def test_q_and_geo_filters(api):
    """Clause 4.9 query language (``q``) and clause 4.10 geo-query (near, within) on station views: the
    latest reading and the station's position decide inclusion."""
    _station(api)
    _ingest(api, [_obs("dhaka-banani", "pm25", 1, 61.5)])
    q = lambda expr: _ids(api.get(E, params={"type": "AirQualityObserved", "q": expr}))  # noqa: E731
    assert q("pm25>60") == [BANANI]
    assert q("pm25<60") == []
    # Banani (90.404, 23.794) from (90.404, 23.803): 0.009 deg latitude = 0.009 x 111.2 km = ~1.0 km
    g = lambda **kw: _ids(api.get(E, params={"type": "AirQualityObserved", **kw}))  # noqa: E731
    near = dict(geometry="Point", coordinates="[90.404,23.803]")
    assert BANANI in g(georel="near;maxDistance==1100", **near)
    assert BANANI not in g(georel="near;maxDistance==900", **near)
    box = "[[[90.39,23.79],[90.41,23.79],[90.41,23.80],[90.39,23.80],[90.39,23.79]]]"
    # agargaon (90.38, 23.78) lies outside the box
    assert g(georel="within", geometry="Polygon", coordinates=box) == [BANANI]


def test_new_ingested_observation_changes_the_entity(api):
    """Clause 5.7.1: the entity shows the newest reading after an ordinary ingest (the broker's write
    listener drops its cached overlay), including a parameter the station had not reported before; the
    temporal API (clause 5.7.3) reads the observations table for it."""
    _station(api)
    _ingest(api, [_obs("dhaka-banani", "pm25", 2, 40.0)])
    assert api.get(E + "/" + BANANI).json()["pm25"]["value"] == 40.0
    _ingest(api, [_obs("dhaka-banani", "pm25", 1, 70.0), _obs("dhaka-banani", "pm10", 1, 120.0)])
    e = api.get(E + "/" + BANANI).json()
    assert e["pm25"]["value"] == 70.0 and e["pm10"]["value"] == 120.0
    assert BANANI in _ids(api.get(E, params={"type": "AirQualityObserved", "attrs": "pm10"}))
    r = api.get("/ngsi-ld/v1/temporal/entities/" + BANANI, params={"attrs": "pm25"})
    assert r.status_code == 200, r.text
    assert [i["value"] for i in r.json()["pm25"]] == [40.0, 70.0]


def test_patch_writes_an_observation_and_moves_the_aqi(api):
    """Clause 5.6.4 "Partial Attribute update" on a station view writes an observation through the ingest
    path. Worked by hand (U.S. EPA EPA-454/B-24-002, 2024; NowCast of AirNow's technical document):
    12.0 µg/m³ at hours -4..-2 give NowCast 12.0 -> AQI (100-51)/(35.4-9.1) x (12.0-9.1) + 51 = 56.4 -> 56.
    A PATCH of 55.4 at hour -1: weight factor max(12/55.4, 0.5) = 0.5, NowCast = (55.4 + 0.5x12 + 0.25x12 +
    0.125x12) / (1 + 0.5 + 0.25 + 0.125) = 65.9 / 1.875 = 35.15 -> 35.1 -> AQI 49/26.3 x 26.0 + 51 = 99.4 -> 99."""
    _station(api)
    _ingest(api, [_obs("dhaka-banani", "pm25", h, 12.0) for h in (4, 3, 2)])

    def aqi():
        items = api.c.get("/api/v1/aqi/latest", params={"city": "dhaka"}, headers=api.auth).json()["items"]
        return next(i for i in items if i["station"] == "dhaka-banani")["aqi"]

    assert aqi() == 56
    r = api.patch(E + "/" + BANANI + "/attrs/pm25", {"value": 55.4, "observedAt": _hour(1)})
    assert r.status_code == 204, r.text
    obs = api.store.observations(stations=["dhaka-banani"], parameters=["pm25"])
    assert sorted(obs.column("value").to_pylist()) == [12.0, 12.0, 12.0, 55.4]
    assert aqi() == 99
    assert api.get(E + "/" + BANANI).json()["pm25"]["value"] == 55.4
    # from now on it is an entity of its own: still one entity for the station in a query
    assert _ids(api.get(E, params={"type": "AirQualityObserved", "q": "pm25>50"})) == [BANANI]


def test_update_attrs_and_create_over_a_station_view(api):
    """Clause 5.6.2 "Update Entity Attributes" on a station view answers 204 and writes the observation;
    clause 5.6.1 "Create Entity" with a view's id is allowed (a view is not an entity yet): an IoT Agent's
    first create lands on the same station."""
    _station(api)
    _ingest(api, [_obs("dhaka-banani", "pm25", 2, 40.0)])
    r = api.patch(E + "/" + BANANI + "/attrs", {"pm25": {"type": "Property", "value": 45.0, "observedAt": _hour(1)}})
    assert r.status_code == 204, r.text
    _station(api, "dhaka-gulshan", lat=23.78, lon=90.41)
    r = api.post(E, {"id": AQO + "dhaka-gulshan", "type": "AirQualityObserved",
                     "pm25": {"type": "Property", "value": 22.0, "unitCode": "GQ", "observedAt": _hour(1)}})
    assert r.status_code == 201, r.text
    vals = {s: api.store.observations(stations=[s], parameters=["pm25"]).column("value").to_pylist()
            for s in ("dhaka-banani", "dhaka-gulshan")}
    assert vals == {"dhaka-banani": [40.0, 45.0], "dhaka-gulshan": [22.0]}


def test_delete_of_a_station_view_is_refused(api):
    """Clause 5.6.6 "Delete Entity" and 5.6.10 batch delete: a station view answers OperationNotSupported
    (a Nagar station is not deleted through NGSI-LD); the station and its readings stay."""
    _station(api)
    _ingest(api, [_obs("dhaka-banani", "pm25", 1, 40.0)])
    r = api.delete(E + "/" + BANANI)
    assert r.status_code == 422 and r.json()["type"] == ERR + "OperationNotSupported", r.text
    r = api.post("/ngsi-ld/v1/entityOperations/delete", [BANANI])
    assert r.status_code == 207 and r.json()["errors"][0]["error"]["type"] == ERR + "OperationNotSupported"
    assert api.get(E + "/" + BANANI).status_code == 200


def test_another_citys_station_is_invisible(api):
    """Clause 4.14 multi-tenancy: a Chattogram station is no entity of the dhaka tenant (query, retrieve),
    and shows in its own tenant."""
    from nagar.ingest.service import ingest_rows

    _station(api, "ctg-agrabad", city="chattogram", lat=22.33, lon=91.81)
    res = ingest_rows(api.store, rows=[_obs("ctg-agrabad", "pm25", 1, 30.0)], settings=api.app.state.settings,
                      scope=frozenset({"chattogram"}))  # the ingest path as Chattogram's own writer runs it
    assert res.inserted == 1
    assert AQO + "ctg-agrabad" not in _ids(api.get(E, params={"type": "AirQualityObserved"}))
    assert api.get(E + "/" + AQO + "ctg-agrabad").status_code == 404
    r = api.get(E, params={"type": "AirQualityObserved"}, tenant="chattogram")
    assert AQO + "ctg-agrabad" in _ids(r)


def test_subscription_hears_of_a_station_view(api):
    """Clause 5.8.1 / 5.8.6 (subscriptions and notifications): a reading ingested by HTTP for a station with
    no entity of its own notifies a subscription on AirQualityObserved / pm25 with the station view."""
    import json
    import threading
    import time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    got: list = []

    class H(BaseHTTPRequestHandler):
        def do_POST(self):
            got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        _station(api)
        r = api.post("/ngsi-ld/v1/subscriptions", {
            "type": "Subscription", "entities": [{"type": "AirQualityObserved"}], "watchedAttributes": ["pm25"],
            "notification": {"format": "keyValues", "endpoint": {"uri": f"http://127.0.0.1:{srv.server_address[1]}/"}}})
        assert r.status_code == 201, r.text
        _ingest(api, [_obs("dhaka-banani", "pm25", 1, 88.0)])
        end = time.monotonic() + 5
        while not got and time.monotonic() < end:
            time.sleep(0.01)
        assert got and got[0]["data"][0]["id"] == BANANI and got[0]["data"][0]["pm25"] == 88.0
    finally:
        srv.shutdown()


def test_a_new_station_shows_with_its_first_reading(api):
    """Clause 5.7.2: the tenant's views are cached, and the first reading of a station they do not know
    (ingested by HTTP) shows it at the next query, without waiting for the cache's lifetime."""
    assert _ids(api.get(E, params={"type": "AirQualityObserved"})) == [AQO + "dhaka-agargaon"]
    _station(api)
    _ingest(api, [_obs("dhaka-banani", "pm25", 1, 12.5)])
    r = api.get(E, params={"type": "AirQualityObserved", "q": "pm25==12.5"})
    assert _ids(r) == [BANANI]
