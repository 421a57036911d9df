"""Entity operations, representations, @context, errors and tenancy, from ETSI GS CIM 009 V1.6.1."""

from __future__ import annotations

from tests.ngsild.conftest import E

ERR = "https://uri.etsi.org/ngsi-ld/errors/"
CORE = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.6.jsonld"


def vehicle(eid="urn:ngsi-ld:Vehicle:A1", **extra):
    return {"id": eid, "type": "Vehicle",
            "speed": {"type": "Property", "value": 80, "unitCode": "KMH", "observedAt": "2024-05-01T10:00:00Z"},
            "brand": {"type": "Property", "value": "Mercedes"},
            "owner": {"type": "Relationship", "object": "urn:ngsi-ld:Person:P1"},
            "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [90.38, 23.78]}},
            "name": {"type": "LanguageProperty", "languageMap": {"en": "Bus", "bn": "বাস"}}, **extra}


def test_create_201_location_and_retrieve_normalized(api):
    """CIM 009 V1.6.1 clause 5.6.1 (Create Entity) and 6.4.3.1: 201 with a Location header; clause 5.7.1
    (Retrieve Entity) gives back the normalized representation (clause 4.5.1)."""
    r = api.post(E, vehicle())
    assert r.status_code == 201, r.text
    assert r.headers["location"] == "/ngsi-ld/v1/entities/urn:ngsi-ld:Vehicle:A1"
    got = api.get(E + "/urn:ngsi-ld:Vehicle:A1").json()
    assert got["type"] == "Vehicle"
    assert got["speed"] == {"type": "Property", "value": 80, "unitCode": "KMH", "observedAt": "2024-05-01T10:00:00Z"}
    assert got["owner"] == {"type": "Relationship", "object": "urn:ngsi-ld:Person:P1"}
    assert got["location"]["value"] == {"type": "Point", "coordinates": [90.38, 23.78]}
    assert got["name"]["languageMap"]["bn"] == "বাস"


def test_create_twice_is_already_exists(api):
    """Clause 5.6.1: an existing id is an AlreadyExists error (409), as ProblemDetails (clause 5.5.2)."""
    assert api.post(E, vehicle()).status_code == 201
    r = api.post(E, vehicle())
    assert r.status_code == 409
    body = r.json()
    assert body["type"] == ERR + "AlreadyExists" and body["status"] == 409 and "urn:ngsi-ld:Vehicle:A1" in body["detail"]


def test_bad_bodies_are_bad_request_data(api):
    """Clause 5.6.1: id must be a URI and type present; attribute types limited to Property,
    Relationship, GeoProperty, LanguageProperty (clause 4.5); invalid JSON is InvalidRequest (clause
    5.5.4; error types of clause 5.5.2)."""
    for body in ({"type": "T"}, {"id": "not a uri", "type": "T"}, {"id": "urn:x:1"},
                 {"id": "urn:x:1", "type": "T", "a": {"type": "Number", "value": 1}},
                 {"id": "urn:x:1", "type": "T", "r": {"type": "Relationship", "object": 5}},
                 {"id": "urn:x:1", "type": "T", "location": {"type": "GeoProperty", "value": {"type": "Point",
                                                                                          "coordinates": [200, 5]}}},
                 {"id": "urn:x:1", "type": "T", "a": {"type": "Property", "value": 1, "observedAt": "yesterday"}},
                 {"id": "urn:x:1", "type": "T", "bad name": 1}):
        r = api.post(E, body)
        assert r.status_code == 400, (body, r.text)
        assert r.json()["type"] == ERR + "BadRequestData"
    r = api.post(E, content=b"{nope", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["type"] == ERR + "InvalidRequest"
    assert api.get(E + "/urn:x:1").status_code == 404  # nothing was stored


def test_retrieve_missing_is_resource_not_found(api):
    """Clause 5.7.1: an unknown id is ResourceNotFound (404)."""
    r = api.get(E + "/urn:ngsi-ld:Vehicle:none")
    assert r.status_code == 404 and r.json()["type"] == ERR + "ResourceNotFound"


def test_key_values_and_concise(api):
    """Clause 4.5.4 (simplified, options=keyValues / format=simplified) and concise (clause 4.5.1, with
    the concise attributes of clauses 4.5.2.3 / 4.5.3.3): values only; concise drops the "type" members."""
    api.post(E, vehicle())
    kv = api.get(E + "/urn:ngsi-ld:Vehicle:A1", params={"options": "keyValues"}).json()
    assert kv["speed"] == 80 and kv["owner"] == "urn:ngsi-ld:Person:P1"
    assert kv["location"] == {"type": "Point", "coordinates": [90.38, 23.78]}
    assert api.get(E + "/urn:ngsi-ld:Vehicle:A1", params={"format": "simplified"}).json() == kv
    assert api.get(E + "/urn:ngsi-ld:Vehicle:A1", params={"options": "keyValues", "lang": "bn"}).json()["name"] == "বাস"
    c = api.get(E + "/urn:ngsi-ld:Vehicle:A1", params={"options": "concise"}).json()
    assert c["brand"] == "Mercedes"
    assert c["speed"] == {"value": 80, "unitCode": "KMH", "observedAt": "2024-05-01T10:00:00Z"}
    assert c["owner"] == {"object": "urn:ngsi-ld:Person:P1"}
    # a concise body is accepted on create and reads back the same in normalized form
    api.post(E, {"id": "urn:ngsi-ld:Vehicle:C", "type": "Vehicle", **{k: v for k, v in c.items()
                                                                         if k not in ("id", "type")}})
    n1 = api.get(E + "/urn:ngsi-ld:Vehicle:A1").json()
    n2 = api.get(E + "/urn:ngsi-ld:Vehicle:C").json()
    assert {k: v for k, v in n1.items() if k != "id"} == {k: v for k, v in n2.items() if k != "id"}


def test_attrs_filter_and_sysattrs(api):
    """Clause 5.7.1: attrs restricts the attributes returned; options=sysAttrs adds createdAt/modifiedAt
    (clause 4.8)."""
    api.post(E, vehicle())
    got = api.get(E + "/urn:ngsi-ld:Vehicle:A1", params={"attrs": "speed,brand", "options": "sysAttrs"}).json()
    assert set(got) == {"id", "type", "speed", "brand", "createdAt", "modifiedAt"}
    assert got["speed"]["createdAt"].endswith("Z")


def test_link_header_context_expands_and_compacts(api):
    """Clause 5.5.7 / 6.3.5: terms expand with the @context of the Link header; a reader without it sees
    the full IRI; a reader with it sees the short name again. A non-allow-listed remote context is
    refused (LdContextNotAvailable; Nagar fetches nothing)."""
    ctx = {"sdm": "https://smartdatamodels.org/", "Vehicle": "sdm:Vehicle", "speed": "sdm:speed"}
    api.post(E, {"@context": ctx, **vehicle()}, headers={"Content-Type": "application/ld+json"})
    plain = api.get(E + "/urn:ngsi-ld:Vehicle:A1").json()
    assert plain["type"] == "https://smartdatamodels.org/Vehicle"
    assert "https://smartdatamodels.org/speed" in plain and "brand" in plain  # brand: default vocab
    ld = api.get(E + "/urn:ngsi-ld:Vehicle:A1", headers={"Accept": "application/ld+json"}).json()
    assert ld["@context"] == CORE
    r = api.get(E + "/urn:ngsi-ld:Vehicle:A1",
                headers={"Link": '<https://example.org/ctx.jsonld>; rel="http://www.w3.org/ns/json-ld#context"'})
    assert r.status_code == 400 and r.json()["type"] == ERR + "LdContextNotAvailable"
    # the body @context with application/json is refused (clause 6.3.5)
    r = api.post(E, {"@context": ctx, **vehicle("urn:ngsi-ld:Vehicle:B")})
    assert r.status_code == 400 and r.json()["type"] == ERR + "BadRequestData"


def test_allow_listed_context_by_url(api, tmp_path, monkeypatch):
    """Clause 6.3.5 with Nagar's allow-list: a context URL mapped to a local file in NAGAR_NGSILD_CONTEXTS."""
    import json

    (tmp_path / "c.jsonld").write_text(json.dumps({"@context": {"speed": "https://ex.org/speed"}}))
    (tmp_path / "allow.json").write_text(json.dumps({"https://ex.org/c.jsonld": str(tmp_path / "c.jsonld")}))
    monkeypatch.setenv("NAGAR_NGSILD_CONTEXTS", str(tmp_path / "allow.json"))
    link = {"Link": '<https://ex.org/c.jsonld>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'}
    assert api.post(E, vehicle(), headers=link).status_code == 201
    assert "https://ex.org/speed" in api.get(E + "/urn:ngsi-ld:Vehicle:A1").json()
    got = api.get(E + "/urn:ngsi-ld:Vehicle:A1", headers=link)
    assert got.json()["speed"]["value"] == 80
    assert got.headers["link"].startswith("<https://ex.org/c.jsonld>")


def test_append_no_overwrite_and_update(api):
    """Clause 5.6.3 (Append Entity Attributes): new attributes are added, existing ones overwritten unless
    options=noOverwrite (then 207 with notUpdated). Clause 5.6.2 (Update Entity Attributes): only
    existing attributes change; the others are reported in notUpdated (207)."""
    api.post(E, vehicle())
    url = E + "/urn:ngsi-ld:Vehicle:A1/attrs"
    assert api.post(url, {"color": {"type": "Property", "value": "red"}}).status_code == 204
    r = api.post(url, {"speed": {"type": "Property", "value": 1}, "seats": 4}, params={"options": "noOverwrite"})
    assert r.status_code == 207
    assert r.json() == {"updated": ["seats"], "notUpdated": [{"attributeName": "speed",
                                                              "reason": "attribute exists (noOverwrite)"}]}
    got = api.get(E + "/urn:ngsi-ld:Vehicle:A1", params={"options": "keyValues"}).json()
    assert (got["speed"], got["seats"], got["color"]) == (80, 4, "red")
    r = api.patch(url, {"speed": {"type": "Property", "value": 55}, "wings": {"type": "Property", "value": 2}})
    assert r.status_code == 207 and r.json()["updated"] == ["speed"]
    got = api.get(E + "/urn:ngsi-ld:Vehicle:A1", params={"options": "keyValues"}).json()
    assert got["speed"] == 55 and "wings" not in got
    assert api.patch(url, {"speed": 60}).status_code == 204


def test_partial_attribute_update_and_datasets(api):
    """Clause 5.6.4 (Partial Attribute update) and multi-attributes with datasetId (clause 4.5.5): the
    instance chosen by datasetId changes; the others stay. Clause 5.6.5 (Delete Entity Attribute):
    one instance by datasetId, or every one with deleteAll=true."""
    body = vehicle()
    body["speed"] = [{"type": "Property", "value": 80},
                     {"type": "Property", "value": 81, "datasetId": "urn:ngsi-ld:Dataset:gps"}]
    assert api.post(E, body).status_code == 201
    url = E + "/urn:ngsi-ld:Vehicle:A1/attrs/speed"
    assert api.patch(url, {"value": 99, "datasetId": "urn:ngsi-ld:Dataset:gps"}).status_code == 204
    speed = api.get(E + "/urn:ngsi-ld:Vehicle:A1").json()["speed"]
    assert sorted(i["value"] for i in speed) == [80, 99]
    assert api.patch(url, {"value": 70}).status_code == 204
    speed = api.get(E + "/urn:ngsi-ld:Vehicle:A1").json()["speed"]
    assert sorted(i["value"] for i in speed) == [70, 99]
    assert api.patch(url, {"value": 1, "datasetId": "urn:ngsi-ld:Dataset:none"}).status_code == 404
    assert api.patch(E + "/urn:ngsi-ld:Vehicle:A1/attrs/nothing", {"value": 1}).status_code == 404
    assert api.delete(url, params={"datasetId": "urn:ngsi-ld:Dataset:gps"}).status_code == 204
    assert api.get(E + "/urn:ngsi-ld:Vehicle:A1").json()["speed"]["value"] == 70
    assert api.delete(url, params={"deleteAll": "true"}).status_code == 204
    assert "speed" not in api.get(E + "/urn:ngsi-ld:Vehicle:A1").json()
    assert api.delete(url).status_code == 404


def test_two_instances_with_one_dataset_id_are_refused(api):
    """Clause 4.5.5: datasetIds of one attribute's instances are unique (the default one included)."""
    body = vehicle()
    body["speed"] = [{"type": "Property", "value": 80}, {"type": "Property", "value": 81}]
    r = api.post(E, body)
    assert r.status_code == 400 and "datasetId" in r.json()["detail"]


def test_replace_and_delete(api):
    """V1.6.1 Replace Entity (PUT /entities/{id}, clause 5.6.18): attributes not sent disappear;
    clause 5.6.6 (Delete Entity): then 404."""
    api.post(E, vehicle())
    assert api.put(E + "/urn:ngsi-ld:Vehicle:A1", {"type": "Vehicle", "speed": 10}).status_code == 204
    got = api.get(E + "/urn:ngsi-ld:Vehicle:A1", params={"options": "keyValues"}).json()
    assert got == {"id": "urn:ngsi-ld:Vehicle:A1", "type": "Vehicle", "speed": 10}
    assert api.put(E + "/urn:ngsi-ld:Vehicle:A1", {"id": "urn:other:1", "type": "Vehicle"}).status_code == 400
    assert api.delete(E + "/urn:ngsi-ld:Vehicle:A1").status_code == 204
    assert api.get(E + "/urn:ngsi-ld:Vehicle:A1").status_code == 404
    assert api.delete(E + "/urn:ngsi-ld:Vehicle:A1").status_code == 404


def test_tenancy(world):
    """Clause 4.14 (multi-tenancy): the NGSILD-Tenant header selects the tenant (a Nagar city); an
    unknown tenant, or one the caller may not see, is NonexistentTenant (404); entities of one tenant are
    invisible in another; writing without the city's write right is refused."""
    api = world["api"]
    assert api.post(E, vehicle()).status_code == 201
    r = api.get(E + "/urn:ngsi-ld:Vehicle:A1", tenant="atlantis")
    assert r.status_code == 404 and r.json()["type"] == ERR + "NonexistentTenant"
    # chattogram is open data: readable, but the entity is dhaka's
    assert api.get(E + "/urn:ngsi-ld:Vehicle:A1", tenant="chattogram").status_code == 404
    r = api.post(E, vehicle(), tenant="chattogram")
    assert r.status_code == 403
    r = api.get(E + "/urn:ngsi-ld:Vehicle:A1", tenant=None)
    assert r.status_code == 400 and "NGSILD-Tenant" in r.json()["detail"]
    # anonymous callers cannot see the private city at all, and cannot write
    c = world["client"]
    r = c.get(E + "/urn:ngsi-ld:Vehicle:A1", headers={"NGSILD-Tenant": "dhaka"})
    assert r.status_code == 404 and r.json()["type"] == ERR + "NonexistentTenant"
    assert c.post(E, json=vehicle("urn:x:2"), headers={"NGSILD-Tenant": "dhaka"}).status_code == 401
    # an analyst reads but may not write
    h = {**world["analyst"], "NGSILD-Tenant": "dhaka"}
    assert c.get(E + "/urn:ngsi-ld:Vehicle:A1", headers=h).status_code == 200
    assert c.delete(E + "/urn:ngsi-ld:Vehicle:A1", headers=h).status_code == 403


def test_unsupported_media_type(api):
    """Clause 6.3.4: bodies are application/json or application/ld+json (else 415)."""
    r = api.post(E, content=b"id=1", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415
