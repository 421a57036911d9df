"""The Open311 GeoReport v2 API against the specification's own examples (http://wiki.open311.org/GeoReport_v2),
in JSON and XML. Each test quotes the example it follows. Our XML output is parsed with ElementTree here:
it is our own, trusted output (the server never parses XML)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import pytest

from nagar.requests import service
from tests.requests.conftest import LAT, LON, O311, OPS

SPEC_SERVICES_XML = """<?xml version="1.0" encoding="utf-8"?>
<services>
    <service>
        <service_code>001</service_code>
        <service_name>Cans left out 24x7</service_name>
        <description>Garbage or recycling cans that have been left out for more than 24 hours after collection. Violators will be cited.</description>
        <metadata>true</metadata>
        <type>realtime</type>
        <keywords>lorem, ipsum, dolor</keywords>
        <group>sanitation</group>
    </service>
</services>"""

SPEC_DEFINITION_XML = """<?xml version="1.0" encoding="utf-8"?>
<service_definition>
    <service_code>DMV66</service_code>
    <attributes>
        <attribute>
            <variable>true</variable>
            <code>WHISHETN</code>
            <datatype>singlevaluelist</datatype>
            <required>true</required>
            <datatype_description></datatype_description>
            <order>1</order>
            <description>What is the ticket/tag/DL number?</description>
            <values>
                <value>
                    <key>123</key>
                    <name>Ford</name>
                </value>
                <value>
                    <key>124</key>
                    <name>Chrysler</name>
                </value>
            </values>
        </attribute>
    </attributes>
</service_definition>"""

SPEC_POST_BODY = ("api_key=xyz&jurisdiction_id=city.gov&service_code=001&lat=37.76524078&long=-122.4212043"
                  "&address_string=1234+5th+street&email=smit333%40sfgov.edu&device_id=tt222111&account_id=123456"
                  "&first_name=john&last_name=smith&phone=111111111"
                  "&description=A+large+sinkhole+is+destroying+the+street"
                  "&media_url=http%3A%2F%2Ffarm3.static.flickr.com%2F2002%2F2212426634_5ed477a060.jpg"
                  "&attribute[WHISPAWN]=123456&attribute[WHISDORN]=COISL001")

SPEC_POST_RESPONSE_XML = """<?xml version="1.0" encoding="utf-8"?>
<service_requests>
    <request>
        <service_request_id>293944</service_request_id>
        <service_notice>
            The City will inspect and require the responsible party to correct within 24 hours and/or issue a Correction Notice or Notice of Violation of the Public Works Code
        </service_notice>
        <account_id/>
    </request>
</service_requests>"""

SPEC_REQUESTS_XML = """<?xml version="1.0" encoding="utf-8"?>
<service_requests>
    <request>
        <service_request_id>638344</service_request_id>
        <status>closed</status>
        <status_notes>Duplicate request.</status_notes>
        <service_name>Sidewalk and Curb Issues</service_name>
        <service_code>006</service_code>
        <description></description>
        <agency_responsible></agency_responsible>
        <service_notice></service_notice>
        <requested_datetime>2010-04-14T06:37:38-08:00</requested_datetime>
        <updated_datetime>2010-04-14T06:37:38-08:00</updated_datetime>
        <expected_datetime>2010-04-15T06:37:38-08:00</expected_datetime>
        <address>8TH AVE and JUDAH ST</address>
        <address_id>545483</address_id>
        <zipcode>94122</zipcode>
        <lat>37.762221815</lat>
        <long>-122.4651145</long>
        <media_url>http://city.gov.s3.amazonaws.com/requests/media/638344.jpg </media_url>
    </request>
</service_requests>"""

SPEC_TOKEN_XML = """<?xml version="1.0" encoding="utf-8"?>
<service_requests>
    <request>
        <service_request_id>638344</service_request_id>
        <token>12345</token>
    </request>
</service_requests>"""

SPEC_ERROR_XML = """<?xml version="1.0" encoding="utf-8"?>
<errors>
    <error>
        <code>403</code>
        <description>Invalid api_key received -- can't proceed with create_request.</description>
    </error>
</errors>"""
SPEC_ERROR_JSON = [{"code": 403, "description": "Invalid api_key received -- can't proceed with create_request."}]


def xml_of(r) -> ET.Element:
    assert r.headers["content-type"] == "text/xml; charset=utf-8"
    assert r.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    return ET.fromstring(r.content)


def shape(el: ET.Element) -> list[str]:
    return [c.tag for c in el]


def spec(text: str) -> ET.Element:
    return ET.fromstring(text.encode())


def ewaste(world, fmt="json", **extra):
    fields = {"service_code": "EWASTE", "lat": LAT, "long": LON, "attribute[ACTIVITY]": "burning", **extra}
    return world.post(fmt, **fields)


# GET Service List -----------------------------------------------------------------------------------
def test_service_list_xml_has_the_spec_shape(world):
    r = world.client.get(f"{O311}/services.xml", params={"jurisdiction_id": "dhaka"})
    assert r.status_code == 200
    root, ex = xml_of(r), spec(SPEC_SERVICES_XML)
    assert root.tag == ex.tag == "services" and {c.tag for c in root} == {"service"}
    codes = [s.findtext("service_code") for s in root]
    assert codes == ["EWASTE", "AIR", "WATER", "WATERLOG", "GARBAGE", "STREETLIGHT"]
    for s in root:
        assert shape(s) == shape(ex[0])
        assert s.findtext("type") == "realtime" and s.findtext("metadata") in ("true", "false")
    garbage = root[codes.index("GARBAGE")]
    assert garbage.findtext("metadata") == "false"  # no attributes: no service definition call needed


def test_service_list_json_mirrors_the_xml(world):
    r = world.client.get(f"{O311}/services.json", params={"jurisdiction_id": "dhaka"})
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    j = r.json()
    assert [s["service_code"] for s in j][:2] == ["EWASTE", "AIR"]
    assert list(j[0]) == [c.tag for c in spec(SPEC_SERVICES_XML)[0]]
    assert j[0]["metadata"] is True and j[4]["metadata"] is False


# GET Service Definition -----------------------------------------------------------------------------
def test_service_definition_xml_and_json_follow_the_example(world):
    ex = spec(SPEC_DEFINITION_XML)
    r = world.client.get(f"{O311}/services/EWASTE.xml", params={"jurisdiction_id": "dhaka"})
    root = xml_of(r)
    assert root.tag == "service_definition" and shape(root) == shape(ex)
    attrs = root.find("attributes")
    assert [a.findtext("code") for a in attrs] == ["ACTIVITY", "ITEMS", "AMOUNT"]
    first = attrs[0]
    assert shape(first) == shape(ex.find("attributes")[0])
    assert first.findtext("datatype") == "singlevaluelist" and first.findtext("required") == "true"
    assert first.findtext("order") == "1"
    assert [(v.findtext("key"), v.findtext("name")) for v in first.find("values")][:2] == [
        ("dumping", "Dumping"), ("burning", "Burning")]
    j = world.client.get(f"{O311}/services/EWASTE.json", params={"jurisdiction_id": "dhaka"}).json()
    assert j["service_code"] == "EWASTE"
    assert j["attributes"][1]["datatype"] == "multivaluelist" and j["attributes"][1]["required"] is False
    assert set(j["attributes"][0]) == {c.tag for c in ex.find("attributes")[0]}


def test_unknown_service_code_is_404_in_the_error_format(world):
    r = world.client.get(f"{O311}/services/NOPE.json", params={"jurisdiction_id": "dhaka"})
    assert r.status_code == 404 and r.json()[0]["code"] == 404 and "NOPE" in r.json()[0]["description"]


# POST Service Request -------------------------------------------------------------------------------
def test_post_the_spec_example_request(world):
    """The spec's example body, with our key, jurisdiction, a service of ours, a Dhaka location and our
    attribute in place of the example's."""
    body = (SPEC_POST_BODY.replace("api_key=xyz", "api_key=" + quote(world.keys["dhaka"], safe=""))
            .replace("jurisdiction_id=city.gov", "jurisdiction_id=dhaka").replace("service_code=001",
                                                                                   "service_code=STREETLIGHT")
            .replace("lat=37.76524078&long=-122.4212043", f"lat={LAT}&long={LON}")
            .replace("&attribute[WHISPAWN]=123456&attribute[WHISDORN]=COISL001", "&attribute[POLE_ID]=COISL001"))
    r = world.client.post(f"{O311}/requests.xml", content=body,
                          headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    assert r.status_code == 200, r.text
    root, ex = xml_of(r), spec(SPEC_POST_RESPONSE_XML)
    assert root.tag == ex.tag and shape(root[0]) == shape(ex[0])
    assert root[0].find("account_id").text is None  # as the example: <account_id/>
    rid = int(root[0].findtext("service_request_id"))
    stored = world.store.service_request(rid)
    assert stored["attributes"] == {"POLE_ID": "COISL001"} and stored["address"] == "1234 5th street"
    assert stored["media_url"] == "http://farm3.static.flickr.com/2002/2212426634_5ed477a060.jpg"
    contact = world.store.service_request_contact(rid)
    assert contact == {"email": "smit333@sfgov.edu", "device_id": "tt222111", "account_id": "123456",
                       "first_name": "john", "last_name": "smith", "phone": "111111111"}


def test_post_json_answer(world):
    r = ewaste(world, "json", **{"attribute[ITEMS][]": ["cables", "batteries"]})
    assert r.status_code == 200
    [doc] = r.json()
    assert list(doc) == ["service_request_id", "service_notice", "account_id"] and doc["account_id"] is None
    assert "48 hours" in doc["service_notice"]
    assert world.store.service_request(int(doc["service_request_id"]))["attributes"] == {
        "ACTIVITY": "burning", "ITEMS": ["batteries", "cables"]}


def test_jurisdiction_is_optional_on_post_since_the_key_names_its_city(world):
    r = world.client.post(f"{O311}/requests.json", data={"api_key": world.keys["ctg"], "service_code": "GARBAGE",
                                                          "address_string": "Agrabad, Chattogram"})
    assert r.status_code == 200
    assert world.store.service_request(int(r.json()[0]["service_request_id"]))["city"] == "ctg"


@pytest.mark.parametrize("fields, where", [
    ({"service_code": "EWASTE", "lat": LAT, "long": LON}, "attribute[ACTIVITY]"),  # required attribute
    ({"service_code": "EWASTE", "lat": LAT, "long": LON, "attribute[ACTIVITY]": "melting"}, "attribute[ACTIVITY]"),
    ({"service_code": "EWASTE", "lat": LAT, "long": LON, "attribute[ACTIVITY]": "burning",
      "attribute[ITEMS][]": ["cables", "gold"]}, "attribute[ITEMS]"),
    ({"service_code": "WATERLOG", "lat": LAT, "long": LON, "attribute[DEPTH_CM]": "knee"}, "attribute[DEPTH_CM]"),
    ({"service_code": "GARBAGE", "lat": LAT, "long": LON, "attribute[COLOUR]": "red"}, "attribute[COLOUR]"),
    ({"service_code": "GARBAGE"}, "location"),
    ({"service_code": "GARBAGE", "lat": LAT}, "long"),
    ({"service_code": "GARBAGE", "lat": "91", "long": LON}, "lat"),
    # Tokyo, filed to Dhaka: ~4,900 km from the city's centre, over the 100 km a request may be from it
    ({"service_code": "GARBAGE", "lat": "35.68", "long": "139.76"}, "km from the centre of dhaka"),
    ({"service_code": "GARBAGE", "lat": LAT, "long": LON, "description": "x" * 4001}, "description"),
    ({"service_code": "GARBAGE", "lat": LAT, "long": LON, "media_url": "javascript:alert(1)"}, "media_url"),
    ({"lat": LAT, "long": LON}, "service_code"),
])
def test_invalid_post_is_400_and_stores_nothing(world, fields, where):
    for fmt in ("json", "xml"):
        r = world.post(fmt, **fields)
        assert r.status_code == 400, r.text
        desc = r.json()[0]["description"] if fmt == "json" else xml_of(r).findtext("error/description")
        assert where in desc
    assert world.store.service_requests(city="dhaka") == []


def test_unknown_service_on_post_is_404(world):
    r = world.post(service_code="POTHOLE", lat=LAT, long=LON)
    assert r.status_code == 404 and "POTHOLE" in r.json()[0]["description"]


# errors -----------------------------------------------------------------------------------------------
def test_invalid_api_key_answers_the_spec_example_exactly(world):
    r = world.client.post(f"{O311}/requests.json", data={"api_key": "xyz", "jurisdiction_id": "dhaka",
                                                          "service_code": "GARBAGE", "lat": LAT, "long": LON})
    assert r.status_code == 403 and r.json() == SPEC_ERROR_JSON
    r = world.client.post(f"{O311}/requests.xml", data={"api_key": "xyz", "jurisdiction_id": "dhaka",
                                                         "service_code": "GARBAGE", "lat": LAT, "long": LON})
    root, ex = xml_of(r), spec(SPEC_ERROR_XML)
    assert r.status_code == 403 and root.tag == "errors" and shape(root[0]) == shape(ex[0])
    assert root.findtext("error/code") == "403"
    assert root.findtext("error/description") == ex.findtext("error/description")


def test_key_of_another_city_missing_or_revoked_is_403(world):
    base = {"service_code": "GARBAGE", "lat": LAT, "long": LON, "jurisdiction_id": "dhaka"}
    assert world.client.post(f"{O311}/requests.json", data={**base, "api_key": world.keys["ctg"]}).status_code == 403
    assert world.client.post(f"{O311}/requests.json", data=base).status_code == 403
    key_id = world.keys["dhaka"][len("o311_"):].partition(".")[0]
    r = world.client.delete(f"{OPS}/open311-keys/{key_id}", headers=world.auth("admin"))
    assert r.status_code == 204
    assert world.post(service_code="GARBAGE", lat=LAT, long=LON).status_code == 403


def test_jurisdiction_errors(world):
    r = world.client.get(f"{O311}/services.json")  # two cities on this server: it is required
    assert r.status_code == 400 and "jurisdiction_id was not provided" in r.json()[0]["description"]
    r = world.client.get(f"{O311}/services.xml", params={"jurisdiction_id": "sfgov.org"})
    assert r.status_code == 404 and xml_of(r).findtext("error/code") == "404"


def test_wrong_format_suffix_is_400(world):
    r = world.client.get(f"{O311}/services.html", params={"jurisdiction_id": "dhaka"})
    assert r.status_code == 400 and r.headers["content-type"].startswith("text/xml")


def test_post_must_be_form_encoded(world):
    r = world.client.post(f"{O311}/requests.json", json={"api_key": world.keys["dhaka"], "service_code": "GARBAGE"})
    assert r.status_code == 400 and "x-www-form-urlencoded" in r.json()[0]["description"]


# GET Service Requests / GET Service Request ------------------------------------------------------------
def test_get_request_has_the_spec_fields_in_order(world):
    rid = ewaste(world).json()[0]["service_request_id"]
    ex = spec(SPEC_REQUESTS_XML)
    root = xml_of(world.client.get(f"{O311}/requests/{rid}.xml", params={"jurisdiction_id": "dhaka"}))
    assert root.tag == "service_requests" and len(root) == 1 and shape(root[0]) == shape(ex[0])
    req = root[0]
    assert req.findtext("status") == "open" and req.findtext("service_code") == "EWASTE"
    assert req.findtext("agency_responsible") == "Waste Management Department"
    t0 = datetime.fromisoformat(req.findtext("requested_datetime"))
    assert t0.tzinfo is not None and req.findtext("requested_datetime").endswith("Z")
    assert datetime.fromisoformat(req.findtext("expected_datetime")) - t0 == timedelta(hours=48)  # EWASTE's SLA
    assert float(req.findtext("lat")) == LAT and float(req.findtext("long")) == LON
    [j] = world.client.get(f"{O311}/requests/{rid}.json", params={"jurisdiction_id": "dhaka"}).json()
    assert list(j) == [c.tag for c in ex[0]] and j["service_request_id"] == rid and j["description"] is None


def test_get_requests_filters(world):
    a = int(ewaste(world).json()[0]["service_request_id"])
    b = int(world.post(service_code="GARBAGE", lat=LAT + 0.01, long=LON).json()[0]["service_request_id"])
    c = int(world.post(service_code="STREETLIGHT", lat=LAT + 0.02, long=LON).json()[0]["service_request_id"])
    service.update_request(world.store, request_id=b, status="resolved", actor="t")

    def ids(**q):
        r = world.client.get(f"{O311}/requests.json", params={"jurisdiction_id": "dhaka", **q})
        assert r.status_code == 200, r.text
        return [int(x["service_request_id"]) for x in r.json()]

    assert ids() == [c, b, a]  # newest first
    assert ids(service_code="GARBAGE,STREETLIGHT") == [c, b]
    assert ids(status="closed") == [b] and ids(status="open") == [c, a] and ids(status="open,closed") == [c, b, a]
    # "service_request_id ... This overrides all other arguments."
    assert ids(service_request_id=f"{a},{b}", status="closed", service_code="STREETLIGHT") == [b, a]
    now = datetime.now(timezone.utc)
    assert ids(start_date=(now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")) == [c, b, a]
    assert ids(end_date=(now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S+06:00")) == []


def test_date_range_may_not_span_more_than_90_days_and_defaults_to_90(world):
    now = datetime.now(timezone.utc)
    old = service.submit(world.store, settings=world.settings, city="dhaka", form={"service_code": "GARBAGE",
                         "lat": str(LAT), "long": str(LON)}, attributes={}, photo=None, client=None, actor="t",
                         now=now - timedelta(days=100))["request"]["id"]
    r = world.client.get(f"{O311}/requests.json", params={"jurisdiction_id": "dhaka"})
    assert r.json() == []  # the default window is the last 90 days
    q = {"jurisdiction_id": "dhaka", "start_date": "2010-05-24T00:00:00Z", "end_date": "2010-09-24T00:00:00Z"}
    r = world.client.get(f"{O311}/requests.json", params=q)
    assert r.status_code == 400 and "90 days" in r.json()[0]["description"]
    start = (now - timedelta(days=101)).strftime("%Y-%m-%dT%H:%M:%SZ")
    r = world.client.get(f"{O311}/requests.json", params={"jurisdiction_id": "dhaka", "start_date": start})
    assert [int(x["service_request_id"]) for x in r.json()] == [old]
    r = world.client.get(f"{O311}/requests.json", params={"jurisdiction_id": "dhaka", "start_date": "2010-05-24"})
    assert r.status_code == 400 and "time zone" in r.json()[0]["description"]


def test_default_limit_is_applied(world, monkeypatch):
    for i in range(3):
        world.post(service_code="GARBAGE", lat=LAT + 0.01 * i, long=LON)
    monkeypatch.setattr(service, "DEFAULT_LIMIT", 2)
    assert len(world.client.get(f"{O311}/requests.json", params={"jurisdiction_id": "dhaka"}).json()) == 2


def test_request_of_another_jurisdiction_or_unknown_is_404(world):
    rid = ewaste(world).json()[0]["service_request_id"]
    world.store.upsert_city(dict(id="khulna", name="Khulna", country="BD", timezone="Asia/Dhaka", lat=22.8,
                                 lon=89.55, open_data=True))
    assert world.client.get(f"{O311}/requests/{rid}.json", params={"jurisdiction_id": "khulna"}).status_code == 404
    assert world.client.get(f"{O311}/requests/999.json", params={"jurisdiction_id": "dhaka"}).status_code == 404
    assert world.client.get(f"{O311}/requests/abc.xml", params={"jurisdiction_id": "dhaka"}).status_code == 404


# GET service_request_id from a token --------------------------------------------------------------------
def test_token_lookup_has_the_spec_shape(world):
    rid = ewaste(world).json()[0]["service_request_id"]
    token = world.store.service_request(int(rid))["token"]
    root = xml_of(world.client.get(f"{O311}/tokens/{token}.xml", params={"jurisdiction_id": "dhaka"}))
    assert shape(root[0]) == shape(spec(SPEC_TOKEN_XML)[0])
    assert root.findtext("request/service_request_id") == rid and root.findtext("request/token") == token
    assert world.client.get(f"{O311}/tokens/{token}.json", params={"jurisdiction_id": "dhaka"}).json() == [
        {"service_request_id": rid, "token": token}]
    assert world.client.get(f"{O311}/tokens/nope.json", params={"jurisdiction_id": "dhaka"}).status_code == 404


# tenancy ----------------------------------------------------------------------------------------------
def test_private_city_is_hidden_from_anonymous_and_visible_to_its_users(world):
    r = world.client.post(f"{O311}/requests.json", data={"api_key": world.keys["ctg"], "jurisdiction_id": "ctg",
                                                          "service_code": "GARBAGE", "lat": 22.36, "long": 91.8})
    assert r.status_code == 200  # citizens file through the city's app key, signed in or not
    q = {"jurisdiction_id": "ctg"}
    assert world.client.get(f"{O311}/requests.json", params=q).status_code == 404
    assert world.client.get(f"{O311}/services.json", params=q).status_code == 404
    assert world.client.get(f"{O311}/requests.json", params=q, headers=world.auth("oper")).status_code == 404
    r = world.client.get(f"{O311}/requests.json", params=q, headers=world.auth("ctg_oper"))
    assert r.status_code == 200 and len(r.json()) == 1


def test_bad_nagar_credentials_are_401_in_the_open311_format(world):
    r = world.client.get(f"{O311}/services.json", params={"jurisdiction_id": "dhaka"},
                         headers={"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401 and r.json()[0]["code"] == 401


def test_the_only_city_is_the_default_jurisdiction(tmp_path):
    from fastapi.testclient import TestClient

    from nagar.api.app import create_app
    from nagar.core.settings import Settings
    from nagar.store.duckdb import DuckDBStore
    from tests.conftest import DHAKA

    store = DuckDBStore(tmp_path / "one.duckdb")
    store.upsert_city({**DHAKA, "open_data": True})
    with TestClient(create_app(Settings(secret_key="k" * 32, db=tmp_path / "one.duckdb"), store=store)) as c:
        r = c.get(f"{O311}/services.json")
        assert r.status_code == 200 and len(r.json()) == 6
    store.close()


def test_disabled_service_is_not_offered(world):
    r = world.client.put(f"{OPS}/services/STREETLIGHT", json={"city": "dhaka", "enabled": False},
                         headers=world.auth("admin"))
    assert r.status_code == 200 and r.json()["enabled"] is False
    codes = [s["service_code"] for s in world.client.get(f"{O311}/services.json",
                                                           params={"jurisdiction_id": "dhaka"}).json()]
    assert "STREETLIGHT" not in codes
    assert world.post(service_code="STREETLIGHT", lat=LAT, long=LON).status_code == 404
    r = world.client.put(f"{OPS}/services/GARBAGE", json={"city": "dhaka", "sla_hours": 12, "department": "drainage"},
                         headers=world.auth("admin"))
    assert r.json()["sla_hours"] == 12 and r.json()["agency_responsible"] == "Engineering Department (drainage)"
    rid = world.post(service_code="GARBAGE", lat=LAT, long=LON).json()[0]["service_request_id"]
    [j] = world.client.get(f"{O311}/requests/{rid}.json", params={"jurisdiction_id": "dhaka"}).json()
    t0 = datetime.fromisoformat(j["requested_datetime"])
    assert datetime.fromisoformat(j["expected_datetime"]) - t0 == timedelta(hours=12)
    assert world.client.put(f"{OPS}/services/GARBAGE", json={"city": "dhaka"},
                            headers=world.auth("oper")).status_code == 403
    [last] = [e for e in world.store.audit_entries() if e["action"] == "requests.service.update"][-1:]
    assert json.loads(last["details"]) == {"department": "drainage", "enabled": True, "sla_hours": 12.0}


# Service Discovery ------------------------------------------------------------------------------------
SPEC_DISCOVERY_XML = """<?xml version="1.0" encoding="UTF-8"?>
<discovery>
    <changeset>2011-02-03 14:18</changeset>
    <contact>You can email or call for assistance api@mycity.org +1 (555) 555-5555</contact>
    <key_service>You can request a key here: http://api.mycity.gov/api_key/request</key_service>
    <endpoints>
        <endpoint>
            <specification>http://wiki.open311.org/GeoReport_v2.1</specification>
            <url>http://open311.mycity.gov/v2_1</url>
            <changeset>2010-11-23 09:01</changeset>
            <type>production</type>
            <formats>
                <format>text/xml</format>
            </formats>
        </endpoint>
    </endpoints>
</discovery>"""


def test_service_discovery_follows_the_example(world):
    ex = spec(SPEC_DISCOVERY_XML)
    root = xml_of(world.client.get(f"{O311}/discovery.xml"))
    assert root.tag == "discovery" and shape(root) == shape(ex)
    assert shape(root.find("endpoints/endpoint")) == shape(ex.find("endpoints/endpoint"))
    assert root.findtext("endpoints/endpoint/specification") == "http://wiki.open311.org/GeoReport_v2"
    assert [f.text for f in root.find("endpoints/endpoint/formats")] == ["text/xml", "application/json"]
    j = world.client.get(f"{O311}/discovery.json").json()
    assert j["endpoints"][0]["url"] == "http://testserver/api/v1/open311/v2"
    # the endpoint it names answers
    assert world.client.get(j["endpoints"][0]["url"] + "/services.json", params={"jurisdiction_id": "dhaka"}).status_code == 200


def test_xml_output_is_well_formed_whatever_the_citizen_typed(world):
    text = "Smoke <b>&</b> \"ash\" \x0b\x01 ধোঁয়া"
    rid = world.post(service_code="GARBAGE", lat=LAT, long=LON, description=text).json()[0]["service_request_id"]
    root = xml_of(world.client.get(f"{O311}/requests/{rid}.xml", params={"jurisdiction_id": "dhaka"}))
    assert root.findtext("request/description") == "Smoke <b>&</b> \"ash\" \ufffd\ufffd ধোঁয়া"
    [j] = world.client.get(f"{O311}/requests/{rid}.json", params={"jurisdiction_id": "dhaka"}).json()
    assert j["description"] == text  # JSON carries it as typed
