"""Temporal API (ETSI GS CIM 009 V1.6.1 clauses 5.7.3 / 5.7.4, 4.11 temporal query language, temporal,
temporalValues and aggregated representations)."""

from __future__ import annotations

from tests.ngsild.conftest import E

TE = "/ngsi-ld/v1/temporal/entities"


def _series(api):
    api.post(E, {"id": "urn:ngsi-ld:Meter:1", "type": "Meter",
                 "flow": {"type": "Property", "value": 1.0, "observedAt": "2024-01-01T00:10:00Z"}})
    for v, t in ((3.0, "00:40"), (3.0, "01:05"), (8.0, "01:50"), (10.0, "02:30")):
        r = api.patch(E + "/urn:ngsi-ld:Meter:1/attrs/flow", {"value": v, "observedAt": f"2024-01-01T{t}:00Z"})
        assert r.status_code == 204


def test_temporal_instances_timerel_and_last_n(api):
    """Clause 5.7.3 with clause 4.11: every instance in time order; timerel between [timeAt, endTimeAt),
    before, after; lastN keeps the newest n; temporalValues gives [value, time] pairs."""
    _series(api)
    got = api.get(TE + "/urn:ngsi-ld:Meter:1").json()
    assert [i["value"] for i in got["flow"]] == [1.0, 3.0, 3.0, 8.0, 10.0]
    got = api.get(TE + "/urn:ngsi-ld:Meter:1", params={"timerel": "between", "timeAt": "2024-01-01T00:40:00Z",
                                                      "endTimeAt": "2024-01-01T01:50:00Z"}).json()
    assert [i["value"] for i in got["flow"]] == [3.0, 3.0]
    got = api.get(TE + "/urn:ngsi-ld:Meter:1", params={"timerel": "before", "timeAt": "2024-01-01T00:40:00Z"}).json()
    assert [i["value"] for i in got["flow"]] == [1.0]
    got = api.get(TE + "/urn:ngsi-ld:Meter:1", params={"lastN": 2, "options": "temporalValues"}).json()
    assert got["flow"] == {"type": "Property", "values": [[8.0, "2024-01-01T01:50:00Z"], [10.0, "2024-01-01T02:30:00Z"]]}
    assert api.get(TE + "/urn:ngsi-ld:Meter:1", params={"timerel": "between", "timeAt": "2024-01-01T00:00:00Z"}
                   ).status_code == 400


def test_aggregated_temporal_representation(api):
    """Aggregated temporal representation with aggrMethods and aggrPeriodDuration PT1H from timeAt
    00:00: hour 0 holds 1, 3 -> avg 2, sum 4, totalCount 2, distinctCount 2; hour 1 holds 3, 8 -> avg 5.5,
    min 3, max 8; hour 2 holds 10 (worked by hand from the five instances written)."""
    _series(api)
    got = api.get(TE + "/urn:ngsi-ld:Meter:1", params={
        "options": "aggregatedValues", "aggrMethods": "avg,sum,min,max,totalCount,distinctCount",
        "aggrPeriodDuration": "PT1H", "timerel": "after", "timeAt": "2024-01-01T00:00:00Z"}).json()
    flow = got["flow"]
    h = ["2024-01-01T00:00:00Z", "2024-01-01T01:00:00Z", "2024-01-01T02:00:00Z", "2024-01-01T03:00:00Z"]
    assert flow["avg"] == [[2.0, h[0], h[1]], [5.5, h[1], h[2]], [10.0, h[2], h[3]]]
    assert [x[0] for x in flow["sum"]] == [4.0, 11.0, 10.0]
    assert [x[0] for x in flow["min"]] == [1.0, 3.0, 10.0] and [x[0] for x in flow["max"]] == [3.0, 8.0, 10.0]
    assert [x[0] for x in flow["totalCount"]] == [2, 2, 1] and [x[0] for x in flow["distinctCount"]] == [2, 2, 1]
    day = api.get(TE, params={"type": "Meter", "options": "aggregatedValues", "aggrMethods": "avg",
                              "aggrPeriodDuration": "P1D", "timerel": "after", "timeAt": "2024-01-01T00:00:00Z"}).json()
    assert day[0]["flow"]["avg"][0][0] == 5.0  # (1+3+3+8+10)/5
    assert api.get(TE + "/urn:ngsi-ld:Meter:1", params={"aggrMethods": "avg", "aggrPeriodDuration": "P1M"}
                   ).status_code == 400


def test_observation_backed_attributes_come_from_the_observations_table(api):
    """Temporal evolution (clause 5.7.3) of an AirQualityObserved's pm25: Nagar's observations of the
    mapped station, whatever path brought them (here two through NGSI-LD, one through the ingest API);
    aggregated over P1D from 00:00: avg (10 + 20 + 60) / 3 = 30, max 60, totalCount 3."""
    r = api.post(E, {"id": "urn:ngsi-ld:AirQualityObserved:dhaka-agargaon", "type": "AirQualityObserved",
                     "dateObserved": "2024-03-01T01:00:00Z", "pm25": {"type": "Property", "value": 10.0},
                     "name": "Agargaon"})
    assert r.status_code == 201, r.text
    assert api.patch(E + "/urn:ngsi-ld:AirQualityObserved:dhaka-agargaon/attrs/pm25",
                     {"value": 20.0, "observedAt": "2024-03-01T02:00:00Z"}).status_code == 204
    r = api.c.post("/api/v1/observations", headers=api.auth, json=[
        {"station": "dhaka-agargaon", "parameter": "pm25", "time": "2024-03-01T03:00:00Z", "value": 60.0,
         "unit": "µg/m³"}])
    assert r.status_code == 200
    url = TE + "/urn:ngsi-ld:AirQualityObserved:dhaka-agargaon"
    got = api.get(url, params={"attrs": "pm25"}).json()
    assert [(i["value"], i["observedAt"], i["unitCode"]) for i in got["pm25"]] == [
        (10.0, "2024-03-01T01:00:00Z", "GQ"), (20.0, "2024-03-01T02:00:00Z", "GQ"), (60.0, "2024-03-01T03:00:00Z", "GQ")]
    assert api.get(url, params={"attrs": "pm25", "lastN": 1, "options": "temporalValues"}).json()["pm25"] == {
        "type": "Property", "values": [[60.0, "2024-03-01T03:00:00Z"]]}
    agg = api.get(url, params={"aggrMethods": "avg,max,totalCount", "aggrPeriodDuration": "P1D",
                               "timerel": "after", "timeAt": "2024-03-01T00:00:00Z"}).json()
    assert agg["pm25"]["avg"] == [[30.0, "2024-03-01T00:00:00Z", "2024-03-02T00:00:00Z"]]
    assert agg["pm25"]["max"][0][0] == 60.0 and agg["pm25"]["totalCount"][0][0] == 3
    # a generic (string) attribute of the same entity comes from the attribute history: counted, no average
    assert agg["name"]["totalCount"][0][0] == 1 and agg["name"]["avg"][0][0] is None
    assert api.get(url).json()["name"][0]["value"] == "Agargaon"


def test_unsupported_timeproperty(api):
    """Clause 5.5.6: an operation the broker does not support is OperationNotSupported (error type of
    clause 5.5.2, 422 per clause 6.3.2); here
    timeproperty=modifiedAt (history is kept by observedAt)."""
    _series(api)
    r = api.get(TE + "/urn:ngsi-ld:Meter:1", params={"timeproperty": "modifiedAt"})
    assert r.status_code == 422 and r.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/OperationNotSupported"
