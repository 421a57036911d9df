"""Smart Data Models @contexts shipped with Nagar (local copies, never fetched): a FIWARE client that names
the Smart Data Models context in its ``Link`` header is served like one using the core context.

Clause numbers (see nagar/ngsild/README.md, "Clause numbers"): 6.3.5 "JSON-LD @context resolution" is
checked in the V1.6.1 OpenAPI (``Headers.Link``); 5.5.7 (term expansion / compaction) and 5.5.2 (error
types, LdContextNotAvailable) are V1.9.1 numbers."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from nagar.ngsild import context as C
from tests.ngsild.conftest import E

ERR = "https://uri.etsi.org/ngsi-ld/errors/"
REL = 'rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
SDM = "https://smartdatamodels.org/context.jsonld"
ENV = "https://raw.githubusercontent.com/smart-data-models/dataModel.Environment/master/context.jsonld"
DEV = "https://raw.githubusercontent.com/smart-data-models/dataModel.Device/master/context.jsonld"
# IRIs read from the shipped copies' sources (smart-data-models/data-models context.jsonld @ d9596730;
# dataModel.Environment context.jsonld @ b8a32f70), not from Nagar's output
SDM_PM25 = "https://smart-data-models.github.io/data-models/terms.jsonld#/definitions/pm25"
SDM_AQO = "https://uri.fiware.org/ns/data-models#AirQualityObserved"
ENV_PM25 = "https://smartdatamodels.org/dataModel.Environment/pm25"


def link(url: str) -> dict:
    return {"Link": f"<{url}>; {REL}"}


def _hour(h_ago: int) -> str:
    t = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) - timedelta(hours=h_ago)
    return t.isoformat().replace("+00:00", "Z")


def aqo(station="dhaka-agargaon", pm25=55.4, when=None):
    return {"id": f"urn:ngsi-ld:AirQualityObserved:{station}", "type": "AirQualityObserved",
            "dateObserved": {"type": "Property", "value": when or _hour(1)},
            "pm25": {"type": "Property", "value": pm25, "unitCode": "GQ"},
            "refDevice": {"type": "Relationship", "object": f"urn:ngsi-ld:Device:{station}"},
            "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [90.38, 23.78]}}}


@pytest.mark.parametrize("url, pm25_iri", [(SDM, SDM_PM25), (ENV, ENV_PM25)])
def test_air_quality_observed_with_sdm_link_moves_the_aqi(api, url, pm25_iri):
    """Clause 6.3.5: the @context comes from the Link header of an application/json request; clause 5.5.7:
    its terms expand (``pm25`` -> the Smart Data Models IRI) and compact back. The entity maps to Nagar
    observations exactly as with the core context, so the AQI moves. Worked by hand from U.S. EPA
    EPA-454/B-24-002 (2024), PM2.5 breakpoints 35.5-55.4 µg/m³ -> AQI 101-150: three hours at 55.4 µg/m³
    give a NowCast of 55.4, so I = (150-101)/(55.4-35.5) x (55.4-35.5) + 101 = 150."""
    r = api.post(E, aqo(when=_hour(3)), headers=link(url))
    assert r.status_code == 201, r.text
    eid = E + "/urn:ngsi-ld:AirQualityObserved:dhaka-agargaon"
    for h in (2, 1):
        r = api.patch(eid + "/attrs/pm25", {"value": 55.4, "observedAt": _hour(h)}, headers=link(url))
        assert r.status_code == 204, r.text
    obs = api.store.observations(stations=["dhaka-agargaon"], parameters=["pm25"])
    assert obs.column("value").to_pylist() == [55.4, 55.4, 55.4]
    latest = api.c.get("/api/v1/aqi/latest", params={"city": "dhaka"}, headers=api.auth).json()
    assert next(i for i in latest["items"] if i["station"] == "dhaka-agargaon")["aqi"] == 150
    # read back with the same Link: the same short names; without it, the Smart Data Models IRI
    got = api.get(eid, headers=link(url))
    assert got.status_code == 200 and got.headers["link"].startswith(f"<{url}>")
    body = got.json()
    assert body["type"] == "AirQualityObserved"
    assert {"pm25", "dateObserved", "refDevice", "location"} <= set(body)
    assert body["pm25"]["value"] == 55.4 and body["pm25"]["unitCode"] == "GQ"
    assert pm25_iri in api.get(eid).json()


def test_sdm_and_core_contexts_give_the_same_observations(api):
    """Clause 5.5.7: the same AirQualityObserved written with the Smart Data Models context and with the
    core context (two stations) gives the same observation rows (parameter, time, value, unit)."""
    when = _hour(2)
    assert api.post(E, aqo("dhaka-sdm", pm25=31.5, when=when), headers=link(SDM)).status_code == 201
    assert api.post(E, aqo("dhaka-core", pm25=31.5, when=when)).status_code == 201

    def rows(station):
        t = api.store.observations(stations=[station]).to_pylist()
        return sorted((r["parameter"], r["time"], r["value"], r["unit"]) for r in t)

    assert rows("dhaka-sdm") == rows("dhaka-core") and len(rows("dhaka-sdm")) == 1
    # the station named by refDevice exists in the tenant city
    assert api.store.get_station("dhaka-sdm")["city"] == "dhaka"
    # the type is the Smart Data Models IRI of the global context, read back short with its Link
    plain = api.get(E + "/urn:ngsi-ld:AirQualityObserved:dhaka-sdm").json()
    assert plain["type"] == SDM_AQO and SDM_PM25 in plain


def test_device_with_sdm_device_context_becomes_a_station(api):
    """Clause 6.3.5 with the dataModel.Device context: a Device becomes a Nagar station; read back with the
    same Link, its short names return."""
    r = api.post(E, {"id": "urn:ngsi-ld:Device:dhaka-dev9", "type": "Device", "name": "Banani sensor",
                     "batteryLevel": 0.8, "location": {"type": "Point", "coordinates": [90.40, 23.79]}},
                 headers=link(DEV))
    assert r.status_code == 201, r.text
    assert api.store.get_station("dhaka-dev9")["name"] == "Banani sensor"
    got = api.get(E + "/urn:ngsi-ld:Device:dhaka-dev9", headers=link(DEV), params={"options": "keyValues"}).json()
    assert got["type"] == "Device" and got["batteryLevel"] == 0.8 and got["name"] == "Banani sensor"
    plain = api.get(E + "/urn:ngsi-ld:Device:dhaka-dev9").json()
    assert plain["type"] == "https://smartdatamodels.org/dataModel.Device/Device"
    assert "https://smartdatamodels.org/dataModel.Device/batteryLevel" in plain


def test_unknown_context_url_names_the_setting(api):
    """Clause 6.3.5 / 5.5.2: a context URL that is neither built in nor allow-listed is refused with
    LdContextNotAvailable (400 here: policy, see the README), and the message says how to add a local copy
    (NAGAR_NGSILD_CONTEXTS). Nothing is stored."""
    url = "https://example.org/my-context.jsonld"
    r = api.post(E, aqo("dhaka-unknown"), headers=link(url))
    assert r.status_code == 400 and r.json()["type"] == ERR + "LdContextNotAvailable"
    detail = r.json()["detail"]
    assert "NAGAR_NGSILD_CONTEXTS" in detail and url in detail and "copy" in detail
    assert api.get(E + "/urn:ngsi-ld:AirQualityObserved:dhaka-unknown").status_code == 404
    assert api.store.observations(stations=["dhaka-unknown"]).num_rows == 0


def test_operator_copy_overrides_a_built_in_context(api, tmp_path, monkeypatch):
    """Clause 6.3.5 with Nagar's allow-list: an entry in NAGAR_NGSILD_CONTEXTS wins over the built-in copy
    of the same URL; a file that is not a JSON object is refused with a message naming the setting."""
    url = "https://smart-data-models.github.io/dataModel.Environment/context.jsonld"
    (tmp_path / "c.jsonld").write_text(json.dumps({"@context": {"pm25": "https://ex.org/pm25"}}))
    (tmp_path / "allow.json").write_text(json.dumps({url: str(tmp_path / "c.jsonld")}))
    monkeypatch.setenv("NAGAR_NGSILD_CONTEXTS", str(tmp_path / "allow.json"))
    monkeypatch.setattr(C, "_CACHE", {})
    assert api.post(E, aqo("dhaka-over"), headers=link(url)).status_code == 201
    assert "https://ex.org/pm25" in api.get(E + "/urn:ngsi-ld:AirQualityObserved:dhaka-over").json()
    (tmp_path / "bad.json").write_text(json.dumps([url]))
    monkeypatch.setenv("NAGAR_NGSILD_CONTEXTS", str(tmp_path / "bad.json"))
    monkeypatch.setattr(C, "_CACHE", {})
    r = api.get(E + "/urn:ngsi-ld:AirQualityObserved:dhaka-over", headers=link(url))
    assert r.status_code == 400 and "NAGAR_NGSILD_CONTEXTS" in r.json()["detail"]


@pytest.mark.parametrize("name, chars, terms", [
    # character and term counts of the source files at the commits in data/SMART-DATA-MODELS-NOTICE.md
    ("sdm-data-models-context.jsonld", 125853, 1526),
    ("sdm-dataModel.Environment-context.jsonld", 9579, 116),
    ("sdm-dataModel.Device-context.jsonld", 10207, 129),
])
def test_shipped_copies_are_the_sources(name, chars, terms):
    """The packaged copies are unmodified: the source's character count and number of terms."""
    from importlib import resources

    text = resources.files("nagar.ngsild").joinpath("data/" + name).read_text(encoding="utf-8")
    assert len(text) == chars and len(json.loads(text)["@context"]) == terms
    assert name in C.BUILTIN_CONTEXTS.values()
