"""Nagar's water stations as NGSI-LD WaterQualityObserved entities (nagar/ngsild/waterviews.py; ETSI GS CIM 009
V1.6.1): stations and lab samples loaded through the water domain's own functions show in retrieve, query and
temporal reads; every NGSI-LD write to such an id is OperationNotSupported and leaves the water tables as
they were."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from nagar.water import service as water
from tests.ngsild.conftest import E

WQO = "urn:ngsi-ld:WaterQualityObserved:"
BURI = WQO + "buri-1"
ERR = "https://uri.etsi.org/ngsi-ld/errors/"
T0 = datetime(2025, 3, 1, 4, 0, tzinfo=timezone.utc)


def _t(days: int) -> datetime:
    return T0 + timedelta(days=days)


def _z(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


@pytest.fixture
def wapi(api):
    with api.store._tx() as con:
        for table in ("water_samples", "water_stations"):
            con.execute(f"DELETE FROM {table}")
    water.put_stations(api.store, city="dhaka", actor="test", stations=[
        {"id": "buri-1", "name": "Buriganga at Sadarghat", "water_body": "Buriganga", "lat": 23.705, "lon": 90.41},
        {"id": "turag-2", "name": "Turag at Mirpur", "water_body": "Turag", "lat": 23.80, "lon": 90.34}])
    water.load_samples(api.store, city="dhaka", actor="test", rows=[
        {"station": "buri-1", "parameter": "ph", "time": _z(_t(0)), "value": 6.9},
        {"station": "buri-1", "parameter": "ph", "time": _z(_t(30)), "value": 7.4},
        {"station": "buri-1", "parameter": "do", "time": _z(_t(30)), "value": 2100, "unit": "µg/L"},
        {"station": "buri-1", "parameter": "arsenic", "time": _z(_t(30)), "value": "<0.01", "unit": "mg/L"},
        {"station": "buri-1", "parameter": "turbidity", "time": _z(_t(30)), "value": 48, "unit": "NTU"},
        {"station": "buri-1", "parameter": "ecoli", "time": _z(_t(20)), "value": 2400, "unit": "MPN/100 mL"},
        {"station": "turag-2", "parameter": "ph", "time": _z(_t(10)), "value": 8.1},
        {"station": "turag-2", "parameter": "bod", "time": _z(_t(10)), "value": 11.0, "unit": "mg/L"}])
    return api


def _ids(r):
    assert r.status_code == 200, r.text
    return [e["id"] for e in r.json()]


def test_retrieve_water_view(wapi):
    """Clause 5.7.1 "Retrieve Entity": the water station as a WaterQualityObserved (Smart Data Models 0.0.5
    names pH, O2, As, turbidity, escherichiaColi), each parameter's latest sample in the canonical unit with
    observedAt and its UN/CEFACT Rec. 20 code (M1 mg/L, Q30 pH; none for NTU or counts per 100 mL); a result
    below the detection limit keeps its limit as value with belowDetectionLimit true; concise and keyValues."""
    r = wapi.get(E + "/" + BURI)
    assert r.status_code == 200, r.text
    e = r.json()
    assert e["type"] == "WaterQualityObserved"
    assert e["name"]["value"] == "Buriganga at Sadarghat"
    assert e["location"] == {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [90.41, 23.705]}}
    assert e["pH"] == {"type": "Property", "value": 7.4, "observedAt": _z(_t(30)), "unitCode": "Q30"}
    assert e["O2"] == {"type": "Property", "value": 2.1, "observedAt": _z(_t(30)), "unitCode": "M1"}  # µg/L -> mg/L
    assert e["As"] == {"type": "Property", "value": 0.01, "observedAt": _z(_t(30)), "unitCode": "M1",
                       "belowDetectionLimit": {"type": "Property", "value": True}}
    assert e["turbidity"] == {"type": "Property", "value": 48.0, "observedAt": _z(_t(30))}
    assert e["escherichiaColi"]["value"] == 2400.0 and "unitCode" not in e["escherichiaColi"]
    assert e["dateObserved"]["value"] == _z(_t(30))
    assert "bod" not in e  # turag-2's parameter, not this station's
    c = wapi.get(E + "/" + BURI, params={"options": "concise"}).json()
    assert c["pH"] == {"value": 7.4, "observedAt": _z(_t(30)), "unitCode": "Q30"}
    kv = wapi.get(E + "/" + BURI, params={"options": "keyValues"}).json()
    assert kv["pH"] == 7.4 and kv["As"] == 0.01 and kv["name"] == "Buriganga at Sadarghat"
    r = wapi.get(E + "/" + WQO + "nowhere")
    assert r.status_code == 404 and r.json()["type"] == ERR + "ResourceNotFound"


def test_query_type_attrs_q_geo_count(wapi):
    """Clause 5.7.2 "Query Entities" (type selection, attrs, pagination, count), clause 4.9 ``q`` and clause
    4.10 geo-query over water views; air and water views with the same station id keep distinct ids."""
    wapi.store.upsert_station(dict(id="buri-1", city="dhaka", name="Air at Sadarghat", lat=23.706, lon=90.41,
                                   parameters=["pm25"]))
    wqo = _ids(wapi.get(E, params={"type": "WaterQualityObserved"}))
    assert wqo == [BURI, WQO + "turag-2"]
    aqo = _ids(wapi.get(E, params={"type": "AirQualityObserved"}))
    assert "urn:ngsi-ld:AirQualityObserved:buri-1" in aqo and not any(i.startswith(WQO) for i in aqo)
    assert _ids(wapi.get(E, params={"type": "WaterQualityObserved", "attrs": "bod"})) == [WQO + "turag-2"]
    assert _ids(wapi.get(E, params={"type": "WaterQualityObserved", "q": "pH>7.5"})) == [WQO + "turag-2"]
    assert _ids(wapi.get(E, params={"type": "WaterQualityObserved", "q": "As<0.05"})) == [BURI]
    near = dict(georel="near;maxDistance==2000", geometry="Point", coordinates="[90.41,23.71]")
    assert _ids(wapi.get(E, params={"type": "WaterQualityObserved", **near})) == [BURI]
    r = wapi.get(E, params={"type": "WaterQualityObserved", "count": "true", "limit": 1, "offset": 1})
    assert r.headers["NGSILD-Results-Count"] == "2" and _ids(r) == [WQO + "turag-2"]
    kv = wapi.get(E, params={"type": "WaterQualityObserved", "options": "keyValues", "attrs": "bod"}).json()
    assert kv == [{"id": WQO + "turag-2", "type": "WaterQualityObserved", "bod": 11.0}]


def test_new_samples_and_stations_show_at_once(wapi):
    """Clause 5.7.1 / 5.7.2 after the water domain writes: a sample loaded through nagar.water replaces the
    latest value at once (the store's water write listener drops the cached views), and a new water station
    is a new entity at once; another city's water stations are no entities of this tenant (clause 4.14)."""
    assert wapi.get(E + "/" + BURI).json()["pH"]["value"] == 7.4
    water.load_samples(wapi.store, city="dhaka", actor="test",
                       rows=[{"station": "buri-1", "parameter": "ph", "time": _z(_t(40)), "value": 7.9}])
    e = wapi.get(E + "/" + BURI).json()
    assert e["pH"]["value"] == 7.9 and e["dateObserved"]["value"] == _z(_t(40))
    water.put_stations(wapi.store, city="dhaka", actor="test", stations=[{"id": "balu-3", "name": "Balu"}])
    water.put_stations(wapi.store, city="chattogram", actor="test", stations=[{"id": "karna-1", "name": "Karnaphuli"}])
    ids = _ids(wapi.get(E, params={"type": "WaterQualityObserved"}))
    assert ids == [WQO + "balu-3", BURI, WQO + "turag-2"]
    assert wapi.get(E + "/" + WQO + "karna-1").status_code == 404
    assert _ids(wapi.get(E, params={"type": "WaterQualityObserved"}, tenant="chattogram")) == [WQO + "karna-1"]


def test_writes_to_a_water_view_are_refused(wapi):
    """Clauses 5.6.1 (create), 5.6.2 / 5.6.3 / 5.6.4 (attribute updates), 5.6.6 (delete), Replace Entity and
    5.6.7 / 5.6.8 / 5.6.10 (batch create, upsert, delete): every write to a water view's id answers
    OperationNotSupported (422) naming the water API; a batch fails that entity only; the water tables and
    the air stations stay as they were."""
    before = wapi.store.water_samples(stations=["buri-1"])
    attempts = [
        wapi.patch(E + "/" + BURI + "/attrs", {"pH": {"type": "Property", "value": 5.0}}),
        wapi.post(E + "/" + BURI + "/attrs", {"pH": {"type": "Property", "value": 5.0}}),
        wapi.patch(E + "/" + BURI + "/attrs/pH", {"value": 5.0}),
        wapi.put(E + "/" + BURI, {"type": "WaterQualityObserved", "pH": {"type": "Property", "value": 5.0}}),
        wapi.delete(E + "/" + BURI),
        wapi.delete(E + "/" + BURI + "/attrs/pH"),
        wapi.post(E, {"id": BURI, "type": "WaterQualityObserved", "pH": {"type": "Property", "value": 5.0}}),
    ]
    for r in attempts:
        assert r.status_code == 422, r.text
        assert r.json()["type"] == ERR + "OperationNotSupported"
        assert "/water/samples" in r.json()["detail"]
    other = {"id": "urn:ngsi-ld:Thing:x", "type": "Thing", "n": {"type": "Property", "value": 1}}
    for op in ("create", "upsert"):
        r = wapi.post(f"/ngsi-ld/v1/entityOperations/{op}",
                      [{"id": BURI, "type": "WaterQualityObserved", "pH": {"type": "Property", "value": 5.0}},
                       {**other, "id": other["id"] + op}])
        assert r.status_code == 207, r.text
        assert r.json()["success"] == [other["id"] + op]
        assert r.json()["errors"][0]["entityId"] == BURI
        assert r.json()["errors"][0]["error"]["type"] == ERR + "OperationNotSupported"
    r = wapi.post("/ngsi-ld/v1/entityOperations/delete", [BURI])
    assert r.status_code == 207 and r.json()["errors"][0]["error"]["type"] == ERR + "OperationNotSupported"
    assert wapi.store.water_samples(stations=["buri-1"]) == before
    assert wapi.store.get_station("buri-1") is None  # no air-style station was made of it
    assert wapi.get(E + "/" + BURI).json()["pH"]["value"] == 7.4


def test_stored_entity_of_the_same_id_wins(wapi):
    """Clause 5.7.1: an entity stored under a water view's id before the water station existed (it maps to an
    air-style station) is served instead of the view, as a stored entity hides an air station view."""
    r = wapi.post(E, {"id": WQO + "balu-9", "type": "WaterQualityObserved",
                      "temperature": {"type": "Property", "value": 29.0, "observedAt": _z(_t(1))}})
    assert r.status_code == 201, r.text
    water.put_stations(wapi.store, city="dhaka", actor="test", stations=[{"id": "balu-9", "name": "Balu"}])
    e = wapi.get(E + "/" + WQO + "balu-9").json()
    assert e["temperature"]["value"] == 29.0 and "name" not in e
    assert _ids(wapi.get(E, params={"type": "WaterQualityObserved"})).count(WQO + "balu-9") == 1
    r = wapi.patch(E + "/" + WQO + "balu-9" + "/attrs/temperature", {"value": 30.0})
    assert r.status_code == 204, r.text  # a stored entity is written as before


def test_temporal_from_water_samples(wapi):
    """Clause 5.7.3 "Retrieve temporal evolution of an Entity" (normalized, temporalValues, lastN, timerel)
    and aggregated values (clause 4.5.19: avg, totalCount) of a water view, read from water_samples; a
    result below the detection limit is an instance flagged belowDetectionLimit and is left out of
    aggregates."""
    water.load_samples(wapi.store, city="dhaka", actor="test", rows=[
        {"station": "buri-1", "parameter": "arsenic", "time": _z(_t(0)), "value": 0.05},
        {"station": "buri-1", "parameter": "arsenic", "time": _z(_t(10)), "value": 0.03}])
    url = "/ngsi-ld/v1/temporal/entities/" + BURI
    r = wapi.get(url, params={"attrs": "As"})
    assert r.status_code == 200, r.text
    inst = r.json()["As"]
    assert [i["value"] for i in inst] == [0.05, 0.03, 0.01]
    assert inst[0] == {"type": "Property", "value": 0.05, "observedAt": _z(_t(0)), "unitCode": "M1"}
    assert inst[2]["belowDetectionLimit"] == {"type": "Property", "value": True}
    tv = wapi.get(url, params={"attrs": "pH", "options": "temporalValues"}).json()
    assert tv["pH"] == {"type": "Property", "values": [[6.9, _z(_t(0))], [7.4, _z(_t(30))]]}
    last = wapi.get(url, params={"attrs": "pH", "lastN": 1}).json()
    assert [i["value"] for i in last["pH"]] == [7.4]
    between = wapi.get(url, params={"attrs": "As", "timerel": "between", "timeAt": _z(_t(5)),
                                    "endTimeAt": _z(_t(31))}).json()
    assert [i["value"] for i in between["As"]] == [0.03, 0.01]
    agg = wapi.get(url, params={"attrs": "As", "aggrMethods": "avg,totalCount", "aggrPeriodDuration": "P100D",
                                "timerel": "after", "timeAt": _z(_t(-1))}).json()
    span = [_z(_t(-1)), _z(_t(99))]  # periods counted from timeAt
    assert agg["As"]["totalCount"] == [[2, *span]]  # the '<0.01' result is not counted
    assert agg["As"]["avg"][0][0] == pytest.approx(0.04)
    full = wapi.get(url).json()
    assert set(full) >= {"id", "type", "pH", "O2", "As", "turbidity", "escherichiaColi"} and "name" not in full
